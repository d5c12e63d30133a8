// @ts-check
/* The show page's static parts: its heading, the legend, the sign-in prompt, a standing area. */
import { h } from '../dom.js';
import { capitalize, dateTime, money } from '../format.js';

export function header(detail) {
  const { event, venue, show, hall } = detail;
  return [
    h(
      'nav',
      { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: `#/event/${encodeURIComponent(show.eventId)}` }, `← ${event?.title ?? 'Event'}`),
    ),
    h(
      'div',
      { class: 'show-head' },
      h('h1', { tabindex: -1 }, event?.title ?? 'Show'),
      h(
        'p',
        { class: 'lead' },
        h('strong', null, dateTime(show.startsAt)),
        ' · ',
        venue ? `${venue.name}, ${venue.city}` : '',
        hall ? ` · ${hall.name}` : '',
      ),
    ),
  ];
}

export function legend(detail, tiers) {
  const currency = detail.show.currency;
  const price = (tier) => detail.show.prices.find((p) => p.priceTier === tier)?.amountCents;
  const swatch = (attrs) => h('span', { class: 'swatch', ...attrs, 'aria-hidden': 'true' });
  return h(
    'div',
    { class: 'legend', 'aria-label': 'Legend' },
    h(
      'ul',
      { class: 'legend-tiers' },
      tiers.map((tier, i) =>
        h(
          'li',
          null,
          swatch({ 'data-tier': i, 'data-state': 'free' }),
          `${capitalize(tier)} ${price(tier) !== undefined ? money(price(tier), currency) : ''}`,
        ),
      ),
    ),
    h(
      'ul',
      { class: 'legend-states' },
      h('li', null, swatch({ 'data-state': 'free', 'data-selected': 'true' }), 'Selected'),
      h('li', null, swatch({ 'data-state': 'mine' }), 'Yours'),
      h('li', null, swatch({ 'data-state': 'held' }), 'Held by someone'),
      h('li', null, swatch({ 'data-state': 'sold' }), 'Sold'),
    ),
  );
}

export function signInPrompt(showId) {
  const next = encodeURIComponent(`#/show/${showId}`);
  return h(
    'div',
    { class: 'card sign-in-prompt' },
    h('h2', null, 'Sign in to choose seats'),
    h(
      'p',
      null,
      'The seat map shows which seats are free right now. Sign in or create an account to see it and book.',
    ),
    h(
      'a',
      { class: 'button primary', href: `#/login?next=${next}`, 'data-testid': 'sign-in-to-book' },
      'Sign in to see seats',
    ),
  );
}

/** A standing area: its price, what is left (`remaining`, filled live) and the quantity `input`. */
export function gaAreaBlock(area, { input, remaining, currency, tier }) {
  return h(
    'div',
    {
      class: 'ga-area card',
      'data-testid': 'ga-area',
      'data-area-id': area.id,
      'data-tier': tier,
    },
    h(
      'div',
      null,
      h('strong', null, area.name),
      ' ',
      h('span', null, money(area.amountCents, currency)),
      h('br'),
      remaining,
    ),
    h('div', { class: 'field inline' }, h('label', { for: `ga-${area.id}` }, 'Places'), input),
  );
}
