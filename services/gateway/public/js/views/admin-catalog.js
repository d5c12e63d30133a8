// @ts-check
/*
 * Admin: create an event, then a show of it in a venue's hall with a price for each tier the hall
 * uses. The browser only shapes the request; the catalog checks it and its errors come back naming
 * the field, which the form marks.
 */
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { explain } from '../explain.js';
import { capitalize } from '../format.js';
import * as messages from '../messages.js';
import { clearError, field, listOf, showError } from './admin-forms.js';

const KINDS = ['movie', 'concert', 'theatre', 'sport', 'comedy', 'other'];

/** The "New event" card; `onCreated(event)` runs after a create succeeds. */
export function newEventCard(onCreated) {
  const input = (name, attrs = {}) =>
    h('input', { id: `new-event-${name}`, name, 'data-testid': `new-event-${name}`, ...attrs });
  const title = input('title', { required: true, maxlength: 200 });
  const kind = h(
    'select',
    { id: 'new-event-kind', name: 'kind', 'data-testid': 'new-event-kind' },
    KINDS.map((k) => h('option', { value: k }, capitalize(k))),
  );
  const genres = input('genres', { placeholder: 'Drama, Mystery' });
  const duration = input('durationMinutes', { type: 'number', min: 0, max: 1440, value: '120' });
  const description = h('textarea', {
    id: 'new-event-description',
    name: 'description',
    rows: 3,
    'data-testid': 'new-event-description',
  });
  const people = input('people', { placeholder: 'Ines Marlow, Teodor Brandt' });
  const poster = input('posterUrl', { type: 'url', placeholder: 'https://… (optional)' });
  const errorBox = h('p', {
    class: 'form-error',
    role: 'alert',
    'data-testid': 'new-event-error',
    hidden: true,
  });
  const submit = h(
    'button',
    { type: 'submit', class: 'button primary', 'data-testid': 'new-event-submit' },
    'Create event',
  );

  const form = h(
    'form',
    { novalidate: true },
    field('Title', title),
    h('div', { class: 'field-pair' }, field('Kind', kind), field('Length (minutes)', duration)),
    field('Genres', genres, 'Comma-separated.'),
    field('Cast or artists', people, 'Comma-separated: cast for movies, artists for live events.'),
    field('Description', description),
    field('Poster URL', poster, 'Leave empty for a generated poster.'),
    errorBox,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError(form, errorBox);
    const isMovie = kind.value === 'movie';
    const body = {
      title: title.value.trim(),
      kind: kind.value,
      genres: listOf(genres.value),
      durationMinutes: duration.value === '' ? 0 : Number(duration.value),
      description: description.value.trim(),
      [isMovie ? 'cast' : 'artists']: listOf(people.value),
      posterUrl: poster.value.trim(),
    };
    if (!Number.isInteger(body.durationMinutes)) {
      showError(form, errorBox, 'Length: enter whole minutes.', 'durationMinutes');
      return;
    }
    submit.disabled = true;
    try {
      const created = await api.createEvent(body);
      messages.info(`Event “${created.title}” created. Add a show below.`);
      form.reset();
      onCreated(created);
    } catch (error) {
      // "cast" and "artists" are one input here.
      const named = error.field === 'cast' || error.field === 'artists' ? 'people' : error.field;
      showError(form, errorBox, explain(error), named);
    } finally {
      submit.disabled = false;
    }
  });
  return h('section', { class: 'card', 'data-testid': 'new-event' }, h('h2', null, 'New event'), form);
}

/** The price tiers a hall uses (sections and standing areas), in first-seen order. */
function tiersOf(hall) {
  const tiers = [...hall.sections.map((s) => s.priceTier), ...hall.gaAreas.map((a) => a.priceTier)];
  return [...new Set(tiers)];
}

/** "2031-05-01T19:30" in the browser's time zone → RFC 3339 UTC. */
function toUtc(localValue) {
  const date = new Date(localValue);
  return Number.isNaN(date.getTime()) ? localValue : date.toISOString();
}

/**
 * The "New show" card: events to choose from (the catalog's first 100, events created on this page
 * first), venues with their halls, and a price input per tier of the chosen hall. Returns the card
 * and `addEvent(event)`, which puts a new event at the top and selects it.
 */
export function newShowCard(signal) {
  const eventSelect = h('select', { id: 'new-show-event', name: 'eventId', 'data-testid': 'new-show-event' });
  const venueSelect = h('select', { id: 'new-show-venue', name: 'venueId', 'data-testid': 'new-show-venue' });
  const hallSelect = h('select', { id: 'new-show-hall', name: 'hallId', 'data-testid': 'new-show-hall' });
  const startsAt = h('input', {
    id: 'new-show-starts',
    name: 'startsAt',
    type: 'datetime-local',
    required: true,
    'data-testid': 'new-show-starts',
  });
  const currency = h('input', {
    id: 'new-show-currency',
    name: 'currency',
    value: 'EUR',
    maxlength: 3,
    'data-testid': 'new-show-currency',
  });
  const priceFields = h('div', { class: 'price-fields', 'data-testid': 'new-show-prices' });
  const status = h('p', { class: 'muted' }, 'Loading events and venues…');
  const errorBox = h('p', {
    class: 'form-error',
    role: 'alert',
    'data-testid': 'new-show-error',
    hidden: true,
  });
  const result = h('p', { 'data-testid': 'new-show-result', hidden: true });
  const submit = h(
    'button',
    { type: 'submit', class: 'button primary', 'data-testid': 'new-show-submit' },
    'Create show',
  );
  let venues = [];

  const hall = () =>
    venues.find((v) => v.id === venueSelect.value)?.halls.find((x) => x.id === hallSelect.value);
  const showPrices = () => {
    const chosen = hall();
    replace(
      priceFields,
      chosen
        ? tiersOf(chosen).map((tier, i) =>
            field(
              `Price “${tier}” (${currency.value.toUpperCase() || 'EUR'})`,
              h('input', {
                id: `new-show-price-${i}`,
                name: `prices[${i}].amountCents`,
                type: 'number',
                min: 0,
                step: '0.01',
                required: true,
                'data-tier': tier,
                'data-testid': `new-show-price-${tier}`,
              }),
            ),
          )
        : h('p', { class: 'muted' }, 'Choose a venue with a hall to set prices.'),
    );
  };
  const showHalls = () => {
    const venue = venues.find((v) => v.id === venueSelect.value);
    replace(
      hallSelect,
      (venue?.halls ?? []).map((x) => h('option', { value: x.id }, `${x.name} (${x.id})`)),
    );
    showPrices();
  };
  venueSelect.addEventListener('change', showHalls);
  hallSelect.addEventListener('change', showPrices);
  currency.addEventListener('change', showPrices);

  const addEvent = (event) => {
    eventSelect.prepend(h('option', { value: event.id }, event.title));
    eventSelect.value = event.id;
  };

  Promise.all([api.searchEvents({ pageSize: 100 }, signal), api.venues(signal)]).then(
    ([foundEvents, foundVenues]) => {
      for (const event of foundEvents.events)
        eventSelect.append(h('option', { value: event.id }, event.title));
      venues = foundVenues.venues;
      replace(
        venueSelect,
        venues.map((v) => h('option', { value: v.id }, `${v.name}, ${v.city}`)),
      );
      showHalls();
      status.textContent = venues.length === 0 ? 'There is no venue yet: import a catalog first.' : '';
      status.hidden = venues.length > 0;
    },
    (error) => {
      status.textContent = explain(error);
    },
  );

  const form = h(
    'form',
    { novalidate: true },
    status,
    field('Event', eventSelect),
    h('div', { class: 'field-pair' }, field('Venue', venueSelect), field('Hall', hallSelect)),
    h(
      'div',
      { class: 'field-pair' },
      field('Starts at', startsAt, 'Your local time.'),
      field('Currency', currency, 'ISO 4217, e.g. EUR.'),
    ),
    priceFields,
    errorBox,
    result,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError(form, errorBox);
    result.hidden = true;
    const prices = [...priceFields.querySelectorAll('input[data-tier]')].map((input) => ({
      priceTier: input.dataset.tier,
      amountCents: Math.round(Number(input.value) * 100),
    }));
    const missing = [...priceFields.querySelectorAll('input[data-tier]')].findIndex(
      (input) => input.value === '',
    );
    if (!eventSelect.value)
      return showError(form, errorBox, 'Choose an event (create one first).', 'eventId');
    if (!startsAt.value) return showError(form, errorBox, 'Enter when the show starts.', 'startsAt');
    if (missing >= 0)
      return showError(form, errorBox, 'Enter a price for every tier.', `prices[${missing}].amountCents`);
    submit.disabled = true;
    try {
      const show = await api.createShow(eventSelect.value, {
        venueId: venueSelect.value,
        hallId: hallSelect.value,
        startsAt: toUtc(startsAt.value),
        currency: currency.value.trim(),
        prices,
      });
      replace(
        result,
        'Show created: ',
        h(
          'a',
          { href: `#/show/${encodeURIComponent(show.id)}`, 'data-testid': 'new-show-link' },
          'open its seat map',
        ),
        '.',
      );
      result.hidden = false;
      messages.info('Show created.');
    } catch (error) {
      showError(form, errorBox, explain(error), error.field);
    } finally {
      submit.disabled = false;
    }
  });
  const card = h('section', { class: 'card', 'data-testid': 'new-show' }, h('h2', null, 'New show'), form);
  return { card, addEvent };
}
