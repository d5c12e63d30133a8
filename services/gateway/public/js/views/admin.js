// @ts-check
/*
 * #/admin: an administrator creates events and shows and imports catalogs; everyone signed in or not
 * sees the system's health, the catalog's events and the API's routes. The page does not decide who
 * is an admin: the catalog refuses writes without the admin role, and the forms show its answer.
 */
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { explain } from '../explain.js';
import { capitalize, duration } from '../format.js';
import * as session from '../session.js';
import { importCard } from './admin-import.js';
import { newEventCard, newShowCard } from './admin-catalog.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function healthCard(signal) {
  const body = h('div', null, h('p', { class: 'muted' }, 'Checking…'));
  api.health(signal).then(
    (health) => {
      const upstream = (u) =>
        h(
          'li',
          null,
          h('span', { class: `dot ${u.serving ? 'ok' : 'bad'}`, 'aria-hidden': 'true' }),
          `${u.name} (${u.address}) — ${u.serving ? 'serving' : 'not serving'}`,
        );
      replace(
        body,
        h(
          'p',
          null,
          'Gateway: ',
          h('strong', { class: `health-${health.status}` }, health.status),
          ` · up ${Math.round(health.uptimeSeconds / 60)} min · ${health.retries} upstream retries`,
        ),
        h(
          'ul',
          { class: 'plain' },
          upstream(health.upstreams.catalog),
          health.upstreams.booking.map(upstream),
        ),
        h(
          'p',
          { class: 'muted' },
          `Live feeds: ${health.liveFeeds.shows} seat maps, ${health.liveFeeds.cluster} cluster watchers.`,
        ),
      );
    },
    (error) => replace(body, h('p', null, explain(error))),
  );
  return h('section', { class: 'card' }, h('h2', null, 'System health'), body);
}

/** The catalog's events, a page at a time; `reload()` starts over (after a create or an import). */
function eventsCard(signal) {
  const rows = h('tbody', { 'data-testid': 'admin-events' });
  const status = h('p', { class: 'muted' }, 'Loading…');
  const more = h('button', { type: 'button', class: 'button', hidden: true }, 'More events');
  let pageToken = '';
  const reload = () => {
    rows.replaceChildren();
    pageToken = '';
    void load();
  };
  const load = async () => {
    more.disabled = true;
    try {
      const answer = await api.searchEvents({ pageSize: 100, pageToken }, signal);
      rows.append(
        ...answer.events.map((event) =>
          h(
            'tr',
            null,
            h('td', null, h('a', { href: `#/event/${encodeURIComponent(event.id)}` }, event.title)),
            h('td', null, capitalize(event.kind)),
            h('td', null, event.genres.join(', ')),
            h('td', null, duration(event.durationMinutes)),
            h('td', null, h('code', null, event.id)),
          ),
        ),
      );
      pageToken = answer.nextPageToken ?? '';
      more.hidden = !pageToken;
      status.textContent = `${rows.children.length}${pageToken ? '+' : ''} events in the catalog.`;
    } catch (error) {
      status.textContent = explain(error);
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', () => void load());
  void load();
  const card = h(
    'section',
    { class: 'card' },
    h('h2', null, 'Catalog'),
    status,
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { class: 'data' },
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ['Title', 'Kind', 'Genres', 'Length', 'Id'].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        rows,
      ),
    ),
    more,
  );
  return { card, reload };
}

function routesCard(signal) {
  const rows = h('tbody');
  api.openapi(signal).then(
    (doc) => {
      for (const [path, item] of Object.entries(doc.paths ?? {}))
        for (const method of METHODS)
          if (item[method])
            rows.append(
              h(
                'tr',
                null,
                h('td', null, h('code', { class: `method ${method}` }, method.toUpperCase())),
                h('td', null, h('code', null, path)),
                h('td', null, item[method].summary ?? ''),
              ),
            );
    },
    (error) => rows.append(h('tr', null, h('td', { colspan: 3 }, explain(error)))),
  );
  return h(
    'section',
    { class: 'card' },
    h('h2', null, 'What the API offers'),
    h(
      'p',
      { class: 'muted' },
      'From ',
      h('a', { href: '/api/openapi.json' }, '/api/openapi.json'),
      ', generated from the routes’ schemas; every parameter and body on ',
      h('a', { href: '/api/docs/' }, 'the API page'),
      '.',
    ),
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { class: 'data' },
        h(
          'thead',
          null,
          h('tr', null, h('th', null, 'Method'), h('th', null, 'Path'), h('th', null, 'What it does')),
        ),
        rows,
      ),
    ),
  );
}

/** Shown instead of the forms to someone who is not signed in as an administrator. */
function adminNotice(user) {
  return h(
    'section',
    { class: 'card notice-card', 'data-testid': 'admin-sign-in' },
    h('h2', null, 'Administrators only'),
    h(
      'p',
      null,
      user
        ? `You are signed in as ${user.email}, who is not an administrator. `
        : 'Creating events and shows and importing catalogs needs an administrator account. ',
      h('a', { href: '#/login?next=%23%2Fadmin' }, user ? 'Sign in as an administrator' : 'Sign in'),
      ' (on a development machine: admin@marquee.local, password marquee-admin, unless MARQUEE_ADMIN_PASSWORD says otherwise).',
    ),
    h('p', { class: 'muted' }, 'From a terminal: ', h('code', null, 'npm run import -- --file catalog.json')),
  );
}

export function adminView({ root, signal }) {
  document.title = 'Admin · Marquee';
  const user = session.session()?.user;
  const events = eventsCard(signal);
  root.append(h('h1', { tabindex: -1 }, 'Admin'));
  if (user?.role === 'admin') {
    const show = newShowCard(signal);
    const created = (event) => {
      show.addEvent(event);
      events.reload();
    };
    root.append(
      h('div', { class: 'admin-grid two' }, newEventCard(created), show.card),
      importCard(signal, () => events.reload()),
    );
  } else {
    root.append(adminNotice(user));
  }
  root.append(h('div', { class: 'admin-grid' }, healthCard(signal), routesCard(signal)), events.card);
}
