// @ts-check
/* Wiring: the header, the message banner, the API's slow-call notice, and the page routes. */
import * as api from './api.js';
import { h, replace } from './dom.js';
import { explain } from './explain.js';
import * as messages from './messages.js';
import * as router from './router.js';
import * as session from './session.js';
import { adminView } from './views/admin.js';
import { bookingsView } from './views/bookings.js';
import { eventView } from './views/event.js';
import { eventsView } from './views/events.js';
import { loginView } from './views/login.js';
import { operatorView } from './views/operator.js';
import { showView } from './views/show.js';

const ROUTES = [
  { pattern: /^\/events$/, section: 'events', view: eventsView },
  { pattern: /^\/event\/([^/]+)$/, section: 'events', view: eventView },
  { pattern: /^\/show\/([^/]+)$/, section: 'events', view: showView },
  { pattern: /^\/bookings$/, section: 'bookings', view: bookingsView },
  { pattern: /^\/operator$/, section: 'operator', view: operatorView },
  { pattern: /^\/admin$/, section: 'admin', view: adminView },
  { pattern: /^\/login$/, section: 'login', view: loginView },
];

function renderAuth() {
  const slot = document.getElementById('auth-slot');
  const current = session.session();
  if (!current) {
    replace(
      slot,
      h('a', { href: '#/login', 'data-testid': 'nav-login', 'data-section': 'login' }, 'Sign in'),
    );
    return;
  }
  const user = current.user ?? {};
  replace(
    slot,
    h(
      'span',
      {
        class: 'auth-user',
        'data-testid': 'auth-user',
        title: user.displayName ? `Signed in as ${user.displayName}` : null,
      },
      user.email ?? '',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'link-button',
        'data-testid': 'nav-logout',
        onclick: () => {
          session.signOut();
          messages.info('You are signed out.');
          router.go('#/events');
        },
      },
      'Sign out',
    ),
  );
}

function markSection(section) {
  for (const link of document.querySelectorAll('.site-nav [data-section]')) {
    if (link instanceof HTMLElement && link.dataset.section === section)
      link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function installSlowNotice() {
  // Slow calls are nearly always the gateway waiting out an election (it retries for up to ~10 s).
  const slowCalls = new Set();
  let notice;
  api.events.addEventListener('slow', (event) => {
    slowCalls.add(/** @type {CustomEvent<number>} */ (event).detail);
    notice = messages.info('The booking system is switching over — retrying, this can take a few seconds…', {
      timeoutMs: 0,
    });
  });
  api.events.addEventListener('settled', (event) => {
    slowCalls.delete(/** @type {CustomEvent<number>} */ (event).detail);
    if (slowCalls.size === 0) messages.clear(notice);
  });
  api.events.addEventListener('unauthorized', () => {
    if (!session.signedIn()) return;
    session.signOut();
    messages.error('Your session has ended — please sign in again.');
  });
}

function viewError(error, root) {
  const text = explain(error);
  messages.error(text);
  root.append(
    h(
      'section',
      { class: 'empty-state' },
      h('h1', { tabindex: -1 }, 'This page could not be loaded'),
      h('p', null, text),
      h('p', null, h('a', { class: 'button', href: '#/events' }, 'Back to events')),
    ),
  );
}

messages.installBanner();
installSlowNotice();
renderAuth();
session.onSessionChange(renderAuth);
router.onNavigate((section) => {
  messages.clearStale(1500);
  renderAuth();
  markSection(section);
});
router.start(ROUTES, {
  root: document.getElementById('main'),
  defaultHash: '#/events',
  onViewError: viewError,
});
