// @ts-check
/*
 * Hash routing: '#/show/shw_1?x=1' → the matching view with its params and query. Each navigation
 * gets an AbortController; leaving a page aborts it, which cancels the page's fetches and lets the
 * page stop its live feeds and timers (signal.addEventListener('abort', ...)).
 */

let routes = [];
let fallback = '#/events';
/** @type {AbortController | null} */
let current = null;
/** @type {(error: unknown, root: HTMLElement) => void} */
let onError = () => {};
let firstRender = true;
const listeners = new Set();

/** routes: [{pattern: /^\/event\/([^/]+)$/, section: 'events', view: async (ctx) => {}}] */
export function start(table, { root, defaultHash, onViewError }) {
  routes = table;
  fallback = defaultHash;
  onError = onViewError ?? onError;
  window.addEventListener('hashchange', () => render(root));
  render(root);
}

/** Calls `listener(section)` after each navigation (the header marks the current section). */
export function onNavigate(listener) {
  listeners.add(listener);
}

export function go(hash) {
  if (location.hash === hash) render(document.getElementById('main'));
  else location.hash = hash;
}

/** The current hash's path and query: '#/events?q=x' → {path: '/events', query: URLSearchParams}. */
export function parse(hash = location.hash) {
  const raw = hash.replace(/^#/, '') || '/';
  const [path, search = ''] = raw.split('?');
  return { path, query: new URLSearchParams(search) };
}

/** Rewrites the query of the current page without a navigation (filters, so a reload keeps them). */
export function replaceQuery(params) {
  const { path } = parse();
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  const text = search.toString();
  history.replaceState(null, '', `#${path}${text ? `?${text}` : ''}`);
}

function render(root) {
  const { path, query } = parse();
  const found = routes
    .map((r) => ({ route: r, match: r.pattern.exec(path) }))
    .find(({ match }) => match !== null);
  const route = found?.route;
  const match = found?.match;
  if (!route || !match) {
    location.replace(fallback);
    return;
  }
  current?.abort();
  const controller = new AbortController();
  current = controller;
  root.replaceChildren();
  root.setAttribute('aria-busy', 'true');
  for (const listener of listeners) listener(route.section);
  const params = match.slice(1).map(decodeURIComponent);
  if (!firstRender) window.scrollTo(0, 0);
  const moveFocus = !firstRender;
  firstRender = false;
  Promise.resolve(route.view({ root, params, query, signal: controller.signal }))
    .catch((error) => {
      if (!controller.signal.aborted) onError(error, root);
    })
    .finally(() => {
      if (current !== controller) return;
      root.removeAttribute('aria-busy');
      // Screen readers: after a navigation, start reading at the new page's heading.
      const focused = document.activeElement;
      if (moveFocus && (focused === document.body || !focused?.isConnected || focused?.closest('.site-nav')))
        root.querySelector('h1')?.focus({ preventScroll: true });
    });
}
