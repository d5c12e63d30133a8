// @ts-check
/*
 * The signed-in user: {token, expiresAt, user} in sessionStorage (one tab's session; closing the tab
 * signs out). Listeners hear every change so the header and pages can follow.
 */

const KEY = 'marquee.session';
const listeners = new Set();

function read() {
  try {
    const session = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
    if (!session?.token) return null;
    if (session.expiresAt && Date.parse(session.expiresAt) <= Date.now()) return null;
    return session;
  } catch {
    return null;
  }
}

let current = read();

export function session() {
  return current;
}

export function token() {
  return current?.token ?? null;
}

export function signedIn() {
  return current !== null;
}

export function signIn(answer) {
  current = { token: answer.token, expiresAt: answer.expiresAt, user: answer.user };
  sessionStorage.setItem(KEY, JSON.stringify(current));
  for (const listener of listeners) listener(current);
}

export function signOut() {
  current = null;
  sessionStorage.removeItem(KEY);
  for (const listener of listeners) listener(null);
}

/** Calls `listener(session | null)` on every sign-in and sign-out; returns the unsubscribe. */
export function onSessionChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
