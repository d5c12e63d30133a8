// @ts-check
/* #/event/<id>: the event, and its shows by day with venue and prices. */
import * as api from '../api.js';
import { similarEventsSection } from './recommendations.js';
import { h, replace } from '../dom.js';
import { capitalize, day, dayKey, duration, list, money, time } from '../format.js';
import { poster } from '../poster.js';
import { placeOf } from '../catalog-cache.js';

function fromPrice(show) {
  if (!show.prices.length) return '';
  const lowest = Math.min(...show.prices.map((p) => p.amountCents));
  return show.prices.length > 1 ? `from ${money(lowest, show.currency)}` : money(lowest, show.currency);
}

function showLink(show, signal) {
  const venue = h('span', { class: 'show-venue' }, '…');
  const hall = h('span', { class: 'muted' }, ` · ${show.hallId}`);
  placeOf(show, signal).then((place) => {
    if (!place?.venue) return;
    venue.textContent = `${place.venue.name}, ${place.venue.city}`;
    hall.textContent = ` · ${place.hallName}`;
  });
  return h(
    'a',
    {
      class: 'show-link',
      href: `#/show/${encodeURIComponent(show.id)}`,
      'data-testid': 'show-link',
      'data-show-id': show.id,
    },
    h('span', { class: 'show-time' }, time(show.startsAt)),
    h('span', { class: 'show-where' }, venue, hall),
    h('span', { class: 'show-price' }, fromPrice(show)),
  );
}

export async function eventView({ root, params, signal }) {
  const [eventId] = params;
  root.append(h('p', { class: 'muted loading' }, 'Loading the event…'));
  const answer = await api.getEvent(eventId, signal);
  const { event, shows } = answer;
  document.title = `${event.title} · Marquee`;

  // Shows by the buyer's calendar day, earliest first.
  const byDay = new Map();
  for (const show of [...shows].sort((a, b) => a.startsAt.localeCompare(b.startsAt))) {
    const key = dayKey(show.startsAt);
    if (!byDay.has(key)) byDay.set(key, []);
    byDay.get(key).push(show);
  }

  const people = event.kind === 'movie' ? event.cast : event.artists;
  replace(
    root,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/events' }, '← All events')),
    h(
      'article',
      { class: 'event-detail' },
      poster(event, { className: 'poster large' }),
      h(
        'div',
        { class: 'event-info' },
        h('h1', { tabindex: -1 }, event.title),
        h(
          'p',
          { class: 'event-card-meta' },
          [capitalize(event.kind), duration(event.durationMinutes), event.genres.join(', ')]
            .filter(Boolean)
            .join(' · '),
        ),
        event.description ? h('p', { class: 'lead' }, event.description) : null,
        people.length
          ? h('p', null, h('strong', null, event.kind === 'movie' ? 'With ' : 'Featuring '), list(people))
          : null,
      ),
    ),
    h(
      'section',
      { class: 'shows', 'aria-labelledby': 'shows-title' },
      h('h2', { id: 'shows-title' }, shows.length ? 'Pick a show' : 'No shows scheduled'),
      shows.length === 0
        ? h('p', { class: 'muted' }, 'There are no upcoming shows of this event yet. Check back soon.')
        : null,
      [...byDay.values()].map((dayShows) =>
        h(
          'div',
          { class: 'show-day' },
          h('h3', null, day(dayShows[0].startsAt)),
          h(
            'div',
            { class: 'show-list' },
            dayShows.map((show) => showLink(show, signal)),
          ),
        ),
      ),
      answer.nextShowsPageToken ? h('p', { class: 'muted' }, 'Showing the first 100 shows.') : null,
    ),
    similarEventsSection(event.id, signal),
  );
}
