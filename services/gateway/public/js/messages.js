// @ts-check
/*
 * The one message banner (data-testid="message"): errors stay until dismissed or replaced, info
 * fades after a while. `show` returns a handle so a caller can clear only its own message (the
 * "switching over" notice must not wipe an error that arrived meanwhile).
 */

/** The banner element; index.html always has it. */
const banner = () => /** @type {HTMLElement} */ (document.querySelector('[data-testid="message"]'));
/** @param {HTMLElement} element */
const textOf = (element) => /** @type {HTMLElement} */ (element.querySelector('.message-text'));
let currentId = 0;
let fadeTimer;
let shownAt = 0;

export function show(kind, text, { timeoutMs = kind === 'info' ? 6000 : 0 } = {}) {
  const element = banner();
  const id = ++currentId;
  clearTimeout(fadeTimer);
  element.dataset.kind = kind;
  element.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  textOf(element).textContent = text;
  element.hidden = false;
  shownAt = Date.now();
  if (timeoutMs > 0) fadeTimer = setTimeout(() => clear(id), timeoutMs);
  return id;
}

export const error = (text) => show('error', text);
export const info = (text, options) => show('info', text, options);

/** Hides the banner; with an id, only if that message is still the one shown. */
export function clear(id) {
  if (id !== undefined && id !== currentId) return;
  clearTimeout(fadeTimer);
  const element = banner();
  element.hidden = true;
  textOf(element).textContent = '';
}

/** On navigation: hides a message shown more than `ms` ago (one shown just now explains the move). */
export function clearStale(ms) {
  if (Date.now() - shownAt > ms) clear();
}

export function installBanner() {
  banner()
    .querySelector('.message-close')
    ?.addEventListener('click', () => clear());
}
