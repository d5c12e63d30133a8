// @ts-check
/* #/bookings: my bookings, newest first, each with its show and a Cancel button (refund). */
import * as api from '../api.js';
import { showDetail } from '../catalog-cache.js';
import { h, replace } from '../dom.js';
import { explain } from '../explain.js';
import { dateTime, money } from '../format.js';
import * as messages from '../messages.js';
import * as session from '../session.js';

function stateBadge(state) {
  return h(
    'span',
    { class: `badge state-${state}` },
    state === 'confirmed' ? 'Confirmed' : state === 'cancelled' ? 'Cancelled' : state,
  );
}

function bookingRow(booking, signal) {
  const title = h('a', { href: `#/show/${encodeURIComponent(booking.showId)}` }, 'Show');
  const when = h('span', { class: 'muted' }, '');
  showDetail(booking.showId, signal).then(
    (detail) => {
      title.textContent = detail.event?.title ?? 'Show';
      places.textContent = placesText((id) => detail.gaAreas.find((a) => a.id === id)?.name ?? id);
      when.textContent = [
        dateTime(detail.show.startsAt),
        detail.venue && `${detail.venue.name}, ${detail.venue.city}`,
      ]
        .filter(Boolean)
        .join(' · ');
    },
    () => {
      when.textContent = 'show details unavailable';
    },
  );
  const placesText = (areaName) =>
    [
      ...booking.seats.map((seat) => seat.label),
      ...booking.ga.map((g) => `${g.quantity} × ${areaName(g.areaId)}`),
    ].join(', ');
  const places = h(
    'p',
    null,
    placesText((id) => id),
  );
  const row = h('li', {
    class: 'card booking-row',
    'data-testid': 'booking-row',
    'data-booking-id': booking.id,
    'data-state': booking.state,
  });
  const cancel = h(
    'button',
    { type: 'button', class: 'button danger', 'data-testid': 'cancel-button' },
    'Cancel booking',
  );
  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    cancel.textContent = 'Cancelling…';
    try {
      const updated = await api.cancelBooking(booking.id);
      row.replaceWith(bookingRow(updated, signal));
      messages.info(
        `Booking cancelled — ${money(updated.totalCents, updated.currency)} refunded to your card; the seats are back on sale.`,
      );
    } catch (error) {
      cancel.disabled = false;
      cancel.textContent = 'Cancel booking';
      messages.error(explain(error));
    }
  });
  return replace(
    row,
    h('div', { class: 'booking-main' }, h('h2', null, title), when, places),
    h(
      'div',
      { class: 'booking-side' },
      stateBadge(booking.state),
      h('strong', null, money(booking.totalCents, booking.currency)),
      h('small', { class: 'muted' }, `Booked ${dateTime(booking.createdAt)}`),
      booking.state === 'confirmed' ? cancel : null,
      booking.refundId ? h('small', { class: 'muted' }, `Refund ${booking.refundId}`) : null,
    ),
  );
}

export async function bookingsView({ root, signal }) {
  document.title = 'My bookings · Marquee';
  root.append(h('h1', { tabindex: -1 }, 'My bookings'));
  if (!session.signedIn()) {
    root.append(
      h(
        'div',
        { class: 'card empty-state' },
        h('p', null, 'Sign in to see your bookings.'),
        h('a', { class: 'button primary', href: '#/login?next=%23%2Fbookings' }, 'Sign in'),
      ),
    );
    return;
  }
  const list = h('ul', { class: 'booking-list' });
  const more = h('button', { type: 'button', class: 'button', hidden: true }, 'Show older bookings');
  const status = h('p', { class: 'muted', 'aria-live': 'polite' }, 'Loading your bookings…');
  root.append(status, list, h('div', { class: 'more' }, more));
  let pageToken = '';

  async function load() {
    more.disabled = true;
    const answer = await api.bookings(pageToken, signal);
    list.append(...answer.bookings.map((booking) => bookingRow(booking, signal)));
    pageToken = answer.nextPageToken ?? '';
    more.hidden = !pageToken;
    more.disabled = false;
    status.textContent = '';
    if (list.children.length === 0)
      replace(status, 'No bookings yet. ', h('a', { href: '#/events' }, 'Find something to see'), '.');
  }
  more.addEventListener('click', () =>
    load().catch((error) => {
      more.disabled = false;
      messages.error(explain(error));
    }),
  );
  try {
    await load();
  } catch (error) {
    if (signal.aborted) return;
    status.textContent = explain(error);
  }
}
