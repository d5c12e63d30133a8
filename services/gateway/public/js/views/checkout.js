// @ts-check
/*
 * The show page's side panel, by phase: the selection and the Hold button; the hold with its
 * countdown and the simulated card form; the booking confirmation. It renders and reports clicks;
 * the show page (show.js) makes the calls and owns the state.
 */
import * as api from '../api.js';
import { h } from '../dom.js';
import { countdown, money, seatName } from '../format.js';

/** Test cards of the simulated payment service (services/booking/payments.ts). */
export const TEST_CARD = '4242 4242 4242 4242';
export const DECLINED_CARD = '4000 0000 0000 0002';

function lines(seats, gaItems, currency) {
  return h(
    'ul',
    { class: 'ticket-lines' },
    seats.map((seat) =>
      h(
        'li',
        null,
        h('span', null, seat.label || seatName(seat)),
        h('span', null, money(seat.amountCents, currency)),
      ),
    ),
    gaItems.map((item) =>
      h(
        'li',
        null,
        h('span', null, `${item.quantity} × ${item.name}`),
        h('span', null, money(item.quantity * item.amountCents, currency)),
      ),
    ),
  );
}

function total(cents, currency) {
  return h('p', { class: 'total' }, h('span', null, 'Total'), h('strong', null, money(cents, currency)));
}

/** Phase 1: what is selected, and the Hold button. */
export function selectionPanel({ seats, gaItems, currency, busy, onHold }) {
  const count = seats.length + gaItems.reduce((sum, g) => sum + g.quantity, 0);
  const cents =
    seats.reduce((sum, seat) => sum + seat.amountCents, 0) +
    gaItems.reduce((sum, g) => sum + g.quantity * g.amountCents, 0);
  return h(
    'div',
    { class: 'panel-body' },
    h('h2', null, 'Your selection'),
    count === 0
      ? h('p', { class: 'muted' }, 'Choose seats on the map (up to 10), or standing places below it.')
      : [lines(seats, gaItems, currency), total(cents, currency)],
    h(
      'button',
      {
        type: 'button',
        class: 'button primary block',
        'data-testid': 'hold-button',
        disabled: count === 0 || busy,
        onclick: onHold,
      },
      busy ? 'Holding…' : count === 0 ? 'Hold seats' : `Hold ${count} ${count === 1 ? 'place' : 'places'}`,
    ),
    h('p', { class: 'fine-print' }, 'Held seats are kept for you for a few minutes while you pay.'),
  );
}

/** Phase 2: the hold, its countdown (ticks via `countdownElement`), and the card form. */
export function holdPanel({ hold, gaNames, holderName, busy, onPay, onRelease }) {
  const remaining = h(
    'span',
    { 'data-testid': 'hold-countdown', class: 'countdown', role: 'timer' },
    countdown(Date.parse(hold.expiresAt) - api.serverNow()),
  );
  const year = new Date().getFullYear() + 2;
  const field = (id, label, attrs, hint) =>
    h(
      'div',
      { class: 'field' },
      h('label', { for: id }, label),
      h('input', { id, 'data-testid': id, name: id, required: true, ...attrs }),
      hint ? h('small', null, hint) : null,
    );
  const form = h(
    'form',
    {
      class: 'card-form',
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        const data = new FormData(event.target);
        onPay({
          number: String(data.get('card-number')).replace(/[\s-]/g, ''),
          expMonth: Number(data.get('card-exp-month')),
          expYear: Number(data.get('card-exp-year')),
          cvc: String(data.get('card-cvc')).trim(),
          holderName: String(data.get('card-holder')).trim() || undefined,
        });
      },
    },
    h('h3', null, 'Pay with card'),
    h(
      'p',
      { class: 'fine-print' },
      'Payments are simulated — no real card is charged. The test card ',
      h('code', null, TEST_CARD),
      ' is accepted; ',
      h('code', null, DECLINED_CARD),
      ' is always declined, to see what a refusal looks like.',
    ),
    field('card-number', 'Card number', {
      value: TEST_CARD,
      inputmode: 'numeric',
      autocomplete: 'cc-number',
    }),
    h(
      'div',
      { class: 'field-row' },
      field('card-exp-month', 'Month', {
        value: '12',
        inputmode: 'numeric',
        autocomplete: 'cc-exp-month',
        maxlength: 2,
      }),
      field('card-exp-year', 'Year', {
        value: String(year),
        inputmode: 'numeric',
        autocomplete: 'cc-exp-year',
        maxlength: 4,
      }),
      field('card-cvc', 'CVC', { value: '123', inputmode: 'numeric', autocomplete: 'cc-csc', maxlength: 4 }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'card-holder' }, 'Name on card ', h('span', { class: 'muted' }, '(optional)')),
      h('input', {
        id: 'card-holder',
        name: 'card-holder',
        value: holderName ?? '',
        autocomplete: 'cc-name',
        maxlength: 100,
      }),
    ),
    h(
      'button',
      { type: 'submit', class: 'button primary block', 'data-testid': 'pay-button', disabled: busy },
      busy ? 'Paying…' : `Pay ${money(hold.totalCents, hold.currency)}`,
    ),
  );
  const gaItems = hold.ga.map((g) => ({ ...g, name: gaNames.get(g.areaId) ?? g.areaId }));
  return {
    countdownElement: remaining,
    element: h(
      'div',
      { class: 'panel-body' },
      h('h2', null, 'Seats held for you'),
      h('p', { class: 'hold-timer' }, 'Time left to pay: ', remaining),
      lines(hold.seats, gaItems, hold.currency),
      total(hold.totalCents, hold.currency),
      form,
      h(
        'button',
        {
          type: 'button',
          class: 'button ghost block',
          'data-testid': 'release-button',
          disabled: busy,
          onclick: onRelease,
        },
        'Release these seats',
      ),
    ),
  };
}

/** Phase 3: the booking. */
export function confirmationPanel({ booking, gaNames }) {
  const gaItems = booking.ga.map((g) => ({ ...g, name: gaNames.get(g.areaId) ?? g.areaId }));
  return h(
    'div',
    {
      class: 'panel-body confirmation',
      'data-testid': 'booking-confirmation',
      'data-booking-id': booking.id,
    },
    h('p', { class: 'confirmation-badge', 'aria-hidden': 'true' }, '✓'),
    h('h2', { tabindex: -1 }, 'You’re booked!'),
    h('p', null, 'Booking ', h('code', null, booking.id), ' is confirmed.'),
    lines(booking.seats, gaItems, booking.currency),
    total(booking.totalCents, booking.currency),
    h(
      'p',
      { class: 'fine-print' },
      `Payment ${booking.paymentId}. You can cancel from My bookings for a full refund.`,
    ),
    h('a', { class: 'button primary block', href: '#/bookings' }, 'See my bookings'),
  );
}
