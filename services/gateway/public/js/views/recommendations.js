/*
 * "Recommended for you": GET /api/recommendations answers 501 until the recommendation service exists
 * (issue 6); the panel says so kindly and never raises the page's error banner.
 */
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { poster } from '../poster.js';

export function recommendationsPanel(signal) {
  const body = h('div', { class: 'recs-body' }, h('p', { class: 'muted' }, 'Looking for picks…'));
  const panel = h(
    'aside',
    { class: 'card recs', 'data-testid': 'recommendations', 'aria-labelledby': 'recs-title' },
    h('h2', { id: 'recs-title' }, 'Recommended for you'),
    body,
  );
  api.recommendations(signal).then(
    (answer) => {
      const events = answer?.events ?? answer?.recommendations ?? [];
      if (events.length === 0) {
        replace(
          body,
          h('p', { class: 'muted' }, 'No picks yet — book a show and we will learn what you like.'),
        );
        return;
      }
      replace(
        body,
        h(
          'ul',
          { class: 'recs-list' },
          events
            .slice(0, 4)
            .map((event) =>
              h(
                'li',
                null,
                h(
                  'a',
                  { href: `#/event/${encodeURIComponent(event.id)}` },
                  poster(event, { className: 'poster mini' }),
                  event.title,
                ),
              ),
            ),
        ),
      );
    },
    (error) => {
      if (signal.aborted) return;
      if (error.status === 501) {
        replace(
          body,
          h(
            'p',
            { class: 'coming-soon' },
            h('span', { class: 'badge' }, 'Coming soon'),
            ' Personal picks based on what you book.',
          ),
          h('p', { class: 'muted' }, 'Until then, search or browse everything that’s on.'),
        );
      } else {
        replace(body, h('p', { class: 'muted' }, 'Picks are unavailable right now.'));
      }
    },
  );
  return panel;
}
