/*
 * #/admin: what an administrator can see from the browser. The gateway exposes no catalog write
 * routes and no import (CatalogService's CreateEvent, CreateShow and ImportCatalog are gRPC-only,
 * behind an admin token), so this page says so, points at the command line, and shows read-only:
 * the system's health, the catalog's events and the API's routes.
 */
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { explain } from '../explain.js';
import { capitalize, duration } from '../format.js';
import * as session from '../session.js';

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

function eventsCard(signal) {
  const rows = h('tbody');
  const status = h('p', { class: 'muted' }, 'Loading…');
  const more = h('button', { type: 'button', class: 'button', hidden: true }, 'More events');
  let pageToken = '';
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
      pageToken = answer.nextPageToken;
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
  return h(
    'section',
    { class: 'card' },
    h('h2', null, 'Catalog (read-only)'),
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
    h('p', { class: 'muted' }, 'From ', h('a', { href: '/api/openapi.json' }, '/api/openapi.json'), '.'),
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

export function adminView({ root, signal }) {
  document.title = 'Admin · Marquee';
  const user = session.session()?.user;
  root.append(
    h('h1', { tabindex: -1 }, 'Admin'),
    h(
      'section',
      { class: 'card notice-card', 'data-testid': 'admin-unavailable' },
      h('h2', null, 'Editing the catalog is not available in the browser yet'),
      h(
        'p',
        null,
        'The web gateway has no routes to create events or shows, nor to import a catalog: those are gRPC calls of the catalog service (',
        h('code', null, 'CreateEvent'),
        ', ',
        h('code', null, 'CreateShow'),
        ', ',
        h('code', null, 'ImportCatalog'),
        ') that need an admin token. Until the gateway offers them, import from a terminal — it shows a progress bar:',
      ),
      h(
        'pre',
        null,
        h('code', null, 'npm run import -- --file catalog.json     # or --url https://…, or --demo'),
      ),
      h(
        'p',
        { class: 'muted' },
        user
          ? `You are signed in as ${user.email} (role: ${user.role}).`
          : 'Admin tools will need an administrator account.',
        ' Below is what can be seen read-only.',
      ),
    ),
    h('div', { class: 'admin-grid' }, healthCard(signal), routesCard(signal)),
    eventsCard(signal),
  );
}
