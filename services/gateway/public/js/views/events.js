// @ts-check
/* #/events: search and filter the catalog (text, kind, genre, city, dates), a poster per event. */
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { explain } from '../explain.js';
import { capitalize, duration } from '../format.js';
import { poster } from '../poster.js';
import * as router from '../router.js';
import { recommendationsPanel } from './recommendations.js';

const KINDS = ['movie', 'concert', 'theatre', 'sport', 'comedy', 'other'];
const PAGE_SIZE = 24;
const DEBOUNCE_MS = 250;
/** Genres seen in any answer so far: the catalog has no genre list, so the filter learns them. */
const knownGenres = new Set();

export function eventCard(event) {
  const meta = [capitalize(event.kind), duration(event.durationMinutes)].filter(Boolean).join(' · ');
  return h(
    'a',
    {
      class: 'event-card',
      href: `#/event/${encodeURIComponent(event.id)}`,
      'data-testid': 'event-card',
      'data-event-id': event.id,
    },
    poster(event),
    h(
      'span',
      { class: 'event-card-body' },
      h('span', { class: 'event-card-title' }, event.title),
      h('span', { class: 'event-card-meta' }, meta),
      event.genres.length
        ? h(
            'span',
            { class: 'chips' },
            event.genres.map((g) => h('span', { class: 'chip' }, g)),
          )
        : null,
    ),
  );
}

function option(value, label, selected) {
  return h('option', { value, selected: value === selected }, label);
}

export function eventsView({ root, query, signal }) {
  document.title = 'Events · Marquee';
  const filters = {
    q: query.get('q') ?? '',
    kind: query.get('kind') ?? '',
    genre: query.get('genre') ?? '',
    city: query.get('city') ?? '',
    from: query.get('from') ?? '',
    to: query.get('to') ?? '',
  };
  if (filters.genre) knownGenres.add(filters.genre);

  const search = h('input', {
    id: 'search-input',
    'data-testid': 'search-input',
    type: 'search',
    placeholder: 'Title, cast, artist…',
    value: filters.q,
    autocomplete: 'off',
  });
  const kind = h(
    'select',
    { id: 'filter-kind', 'data-testid': 'filter-kind' },
    option('', 'Any kind', filters.kind),
    KINDS.map((k) => option(k, capitalize(k), filters.kind)),
  );
  const genre = h('select', { id: 'filter-genre', 'data-testid': 'filter-genre' });
  const city = h('input', {
    id: 'filter-city',
    'data-testid': 'filter-city',
    type: 'text',
    placeholder: 'Any city',
    value: filters.city,
  });
  const from = h('input', {
    id: 'filter-from',
    'data-testid': 'filter-from',
    type: 'date',
    value: filters.from,
  });
  const to = h('input', { id: 'filter-to', 'data-testid': 'filter-to', type: 'date', value: filters.to });
  const clearButton = h(
    'button',
    { type: 'button', class: 'button ghost', 'aria-label': 'Clear all filters' },
    'Clear',
  );
  const status = h('p', { class: 'results-status', 'aria-live': 'polite' });
  const grid = h('div', { class: 'event-grid' });
  const more = h('button', { type: 'button', class: 'button', hidden: true }, 'Show more events');

  function fillGenres() {
    replace(
      genre,
      option('', 'Any genre', filters.genre),
      [...knownGenres].sort().map((g) => option(g, g, filters.genre)),
    );
  }
  fillGenres();

  let searchController = null;
  let nextPageToken = null;

  async function load(append) {
    searchController?.abort();
    const controller = new AbortController();
    searchController = controller;
    signal.addEventListener('abort', () => controller.abort());
    if (!append) {
      grid.setAttribute('aria-busy', 'true');
      status.textContent = 'Searching…';
    }
    more.disabled = true;
    try {
      const answer = await api.searchEvents(
        { ...filters, pageSize: PAGE_SIZE, pageToken: append ? nextPageToken : '' },
        controller.signal,
      );
      if (controller.signal.aborted) return;
      const before = knownGenres.size;
      for (const event of answer.events) for (const g of event.genres) knownGenres.add(g);
      if (knownGenres.size !== before) fillGenres();
      const cards = answer.events.map(eventCard);
      if (append) grid.append(...cards);
      else replace(grid, cards);
      nextPageToken = answer.nextPageToken;
      more.hidden = !nextPageToken;
      const shown = grid.children.length;
      status.textContent =
        shown === 0
          ? 'No events match these filters — try fewer words or clear the filters.'
          : `${shown}${nextPageToken ? '+' : ''} event${shown === 1 ? '' : 's'}`;
    } catch (error) {
      if (controller.signal.aborted) return;
      status.textContent = explain(error);
      if (!append) replace(grid);
    } finally {
      if (searchController === controller) {
        grid.removeAttribute('aria-busy');
        more.disabled = false;
      }
    }
  }

  let debounce;
  function changed(delay) {
    filters.q = search.value.trim();
    filters.kind = kind.value;
    filters.genre = genre.value;
    filters.city = city.value.trim();
    filters.from = from.value;
    filters.to = to.value;
    if (filters.from && filters.to && filters.to < filters.from) {
      status.textContent = 'The "to" date is before the "from" date.';
      return;
    }
    router.replaceQuery(filters);
    clearTimeout(debounce);
    debounce = setTimeout(() => void load(false), delay);
  }
  signal.addEventListener('abort', () => clearTimeout(debounce));

  search.addEventListener('input', () => changed(DEBOUNCE_MS));
  city.addEventListener('input', () => changed(DEBOUNCE_MS));
  for (const input of [kind, genre, from, to]) input.addEventListener('change', () => changed(0));
  clearButton.addEventListener('click', () => {
    search.value = city.value = from.value = to.value = kind.value = genre.value = '';
    changed(0);
    search.focus();
  });
  more.addEventListener('click', () => void load(true));

  const wideScreen = matchMedia('(min-width: 760px)').matches;
  const field = (id, label, input) => h('div', { class: 'field' }, h('label', { for: id }, label), input);
  root.append(
    h(
      'div',
      { class: 'events-head' },
      h(
        'div',
        null,
        h('h1', { tabindex: -1 }, 'What’s on'),
        h('p', { class: 'lead' }, 'Films, concerts and more — pick a show and choose your seats.'),
      ),
    ),
    h(
      'div',
      { class: 'events-layout' },
      h(
        'div',
        { class: 'events-main' },
        h(
          'form',
          { class: 'filters card', role: 'search', onsubmit: (event) => event.preventDefault() },
          h('div', { class: 'field search-field' }, h('label', { for: 'search-input' }, 'Search'), search),
          h(
            'details',
            {
              class: 'more-filters',
              open:
                wideScreen ||
                Boolean(filters.kind || filters.genre || filters.city || filters.from || filters.to),
            },
            h('summary', null, 'Filters: kind, genre, city, dates'),
            h(
              'div',
              { class: 'filter-grid' },
              field('filter-kind', 'Kind', kind),
              field('filter-genre', 'Genre', genre),
              field('filter-city', 'City', city),
              field('filter-from', 'From', from),
              field('filter-to', 'To', to),
              h('div', { class: 'field filter-actions' }, clearButton),
            ),
          ),
        ),
        status,
        grid,
        h('div', { class: 'more' }, more),
      ),
      recommendationsPanel(signal),
    ),
  );
  return load(false);
}
