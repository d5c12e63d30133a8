// @ts-check
/* #/login: sign in or create an account; the token goes to sessionStorage (session.js). */
import * as api from '../api.js';
import { h } from '../dom.js';
import { explain } from '../explain.js';
import * as messages from '../messages.js';
import * as router from '../router.js';
import * as session from '../session.js';

/** Where to go after signing in: a `next` hash from this app (#/show/...), else the events. */
function nextHash(query) {
  const next = query.get('next') ?? '';
  return /^#\/[\w/-]*$/.test(next) && !next.startsWith('#/login') ? next : '#/events';
}

export function loginView({ root, query }) {
  document.title = 'Sign in · Marquee';
  const email = h('input', {
    id: 'auth-email',
    'data-testid': 'auth-email',
    type: 'email',
    name: 'email',
    autocomplete: 'username',
    required: true,
  });
  const password = h('input', {
    id: 'auth-password',
    'data-testid': 'auth-password',
    type: 'password',
    name: 'password',
    autocomplete: 'current-password',
    minlength: 8,
    required: true,
  });
  const name = h('input', {
    id: 'auth-name',
    'data-testid': 'auth-name',
    type: 'text',
    name: 'displayName',
    autocomplete: 'nickname',
    maxlength: 80,
  });
  const errorBox = h('p', { class: 'form-error', 'data-testid': 'auth-error', role: 'alert', hidden: true });
  const loginButton = h(
    'button',
    { type: 'submit', class: 'button primary', 'data-testid': 'auth-login' },
    'Sign in',
  );
  const registerButton = h(
    'button',
    { type: 'button', class: 'button', 'data-testid': 'auth-register' },
    'Create account',
  );

  async function submit(kind) {
    errorBox.hidden = true;
    const values = { email: email.value.trim(), password: password.value, name: name.value.trim() };
    if (!values.email || !values.password) {
      errorBox.textContent = 'Enter your email and a password.';
      errorBox.hidden = false;
      (values.email ? password : email).focus();
      return;
    }
    if (kind === 'register' && values.password.length < 8) {
      errorBox.textContent = 'Choose a password of at least 8 characters.';
      errorBox.hidden = false;
      password.focus();
      return;
    }
    loginButton.disabled = registerButton.disabled = true;
    try {
      const answer =
        kind === 'register'
          ? await api.register(values.email, values.password, values.name)
          : await api.login(values.email, values.password);
      session.signIn(answer);
      const who = answer.user?.displayName || answer.user?.email;
      messages.info(kind === 'register' ? `Welcome to Marquee, ${who}!` : `Welcome back, ${who}.`);
      router.go(nextHash(query));
    } catch (error) {
      errorBox.textContent = explain(error, { signingIn: true });
      errorBox.hidden = false;
    } finally {
      loginButton.disabled = registerButton.disabled = false;
    }
  }

  registerButton.addEventListener('click', () => void submit('register'));
  const form = h(
    'form',
    {
      class: 'card auth-form',
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        void submit('login');
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'auth-email' }, 'Email'), email),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'auth-password' }, 'Password'),
      password,
      h('small', null, 'At least 8 characters.'),
    ),
    h(
      'div',
      { class: 'field' },
      h(
        'label',
        { for: 'auth-name' },
        'Display name ',
        h('span', { class: 'muted' }, '(new accounts, optional)'),
      ),
      name,
    ),
    errorBox,
    h('div', { class: 'actions' }, loginButton, registerButton),
  );

  const signedIn = session.session();
  root.append(
    h(
      'section',
      { class: 'narrow' },
      h('h1', { tabindex: -1 }, 'Sign in or create an account'),
      h(
        'p',
        { class: 'lead' },
        query.get('next')
          ? 'Sign in to see which seats are free and to book them.'
          : 'You need an account to hold seats, pay and see your bookings.',
      ),
      signedIn ? h('p', { class: 'notice' }, `You are signed in as ${signedIn.user?.email}.`) : null,
      form,
    ),
  );
  email.focus();
}
