// @ts-check
/*
 * "Recommended for you" (the events page) and "You may also like" (an event page): cards from
 * GET /api/recommendations and GET /api/events/:id/similar, each with the service's reason ("because
 * you booked …"). Best effort: when the recommendation service is down the panel says so quietly and
 * never raises the page's error banner.
 */
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { poster } from '../poster.js';
import * as session from '../session.js';

function picksList(items, testId) {
  return h(
    'ul',
    { class: 'recs-list', 'data-testid': testId },
    items.map(({ event, reason }) =>
      h(
        'li',
        { 'data-testid': 'recommendation', 'data-event-id': event.id },
        h(
          'a',
          { href: `#/event/${encodeURIComponent(event.id)}` },
          poster(event, { className: 'poster mini' }),
          h(
            'span',
            { class: 'recs-text' },
            h('span', null, event.title),
            h('small', { class: 'muted' }, reason),
          ),
        ),
      ),
    ),
  );
}

function unavailable(body, error, signal) {
  if (signal.aborted) return;
  replace(
    body,
    h(
      'p',
      { class: 'muted' },
      error?.status === 503 || error?.status === 504
        ? 'Picks are unavailable right now.'
        : 'Picks could not be loaded.',
    ),
  );
}

export function recommendationsPanel(signal) {
  const body = h('div', { class: 'recs-body' }, h('p', { class: 'muted' }, 'Looking for picks…'));
  const signedIn = session.signedIn();
  const panel = h(
    'aside',
    { class: 'card recs', 'data-testid': 'recommendations', 'aria-labelledby': 'recs-title' },
    h('h2', { id: 'recs-title' }, signedIn ? 'Recommended for you' : 'Popular right now'),
    body,
  );
  api.recommendations(signal, signedIn).then(
    (answer) => {
      if (answer.items.length === 0) {
        replace(
          body,
          h('p', { class: 'muted' }, 'No picks yet — book a show and we will learn what you like.'),
        );
        return;
      }
      replace(
        body,
        picksList(answer.items.slice(0, 6), 'recommendation-list'),
        signedIn
          ? null
          : h('p', { class: 'muted' }, h('a', { href: '#/login' }, 'Sign in'), ' for picks of your own.'),
      );
    },
    (error) => unavailable(body, error, signal),
  );
  return panel;
}

/** "You may also like" on an event page; hidden when there is nothing to show. */
export function similarEventsSection(eventId, signal) {
  const body = h('div', { class: 'recs-body' });
  const section = h(
    'section',
    {
      class: 'card recs similar',
      'data-testid': 'similar-events',
      'aria-labelledby': 'similar-title',
      hidden: true,
    },
    h('h2', { id: 'similar-title' }, 'You may also like'),
    body,
  );
  api.similarEvents(eventId, signal).then(
    (answer) => {
      if (answer.items.length === 0) return;
      replace(body, picksList(answer.items, 'similar-list'));
      section.hidden = false;
    },
    () => undefined, // a nicety: the event page works without it
  );
  return section;
}
