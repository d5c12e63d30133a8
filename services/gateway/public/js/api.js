// @ts-check
/*
 * The gateway's JSON API (GET /api/openapi.json, from services/gateway/schemas). One `call` does what every request needs:
 * the bearer token, an Idempotency-Key on writes (kept across this client's own retries, so a retried
 * "Book" books once), a calm notice when a call is slow (the gateway itself retries through an
 * election for up to ~10 s), a retry when the outcome is unknown or the group asks for one, and one
 * error type.
 */
import * as session from './session.js';

/**
 * Bodies by the route's operationId, typed from the gateway's route schemas: a field renamed there
 * fails this code's type check.
 * @template {keyof typeof import('../../schemas/route-schemas')} Name
 * @typedef {import('../../schemas/answers').Answer<Name>} Answer
 */
/**
 * @template {keyof typeof import('../../schemas/route-schemas')} Name
 * @typedef {import('../../schemas/answers').RequestBody<Name>} RequestBody
 */
/** @typedef {import('../../schemas/models').ErrorBody} ErrorBody */

/**
 * @typedef {object} CallOptions
 * @property {unknown} [body] sent as JSON
 * @property {boolean} [auth] send the session's bearer token
 * @property {AbortSignal} [signal]
 * @property {boolean} [quiet] a background refresh: no slow notice, no retries
 * @property {boolean} [once] a write the server does not deduplicate: never repeated
 */

/** An answer that was not 2xx, in the gateway's error shape ({code, message, field, details}). */
export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status, 0 for a lost connection
   * @param {Partial<ErrorBody> | null} body
   */
  constructor(status, body) {
    /** @type {Partial<ErrorBody['error']>} */
    const error = body?.error ?? {};
    super(error.message || `the server answered ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = error.code || (status === 0 ? 'NETWORK' : 'UNKNOWN');
    /** @type {string | null} */
    this.field = error.field ?? null;
    /** @type {{ seatIds?: string[], areaIds?: string[] }} */
    this.details = error.details ?? {};
    /**
     * The request's trace id (X-Trace-Id): quote it, and `npm run logs -- --trace <id>` finds it.
     * @type {string | null}
     */
    this.traceId = null;
  }
}

const hex = (bytes) =>
  Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');

/**
 * A W3C `traceparent` for one call (its retries share it): the trace starts in the browser and
 * the gateway, the services and their logs continue it.
 */
function newTraceparent() {
  return `00-${hex(16)}-${hex(8)}-01`;
}

/** Hears slow calls and ended sessions: 'slow' / 'settled' (detail: call id), 'unauthorized'. */
export const events = new EventTarget();

const SLOW_AFTER_MS = 1500;
const RETRY_DELAYS_MS = [1000, 3000];
/** HTTP answers after which a call is repeated (see `call`); 0 stands for a lost connection. */
const OUTCOME_UNKNOWN_STATUSES = new Set([0, 502, 503, 504]);
let callIds = 0;

/** Difference between the server's clock and ours, from the Date header, for hold countdowns. */
let serverOffsetMs = 0;
export const serverNow = () => Date.now() + serverOffsetMs;

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  );
}

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

/**
 * @param {string} method
 * @param {string} path
 * @param {Record<string, string>} headers
 * @param {string | undefined} body
 * @param {AbortSignal | undefined} signal
 * @returns {Promise<{ status: number, body: any, traceId?: string | null }>}
 */
async function attempt(method, path, headers, body, signal) {
  let response;
  try {
    response = await fetch(path, { method, headers, body, signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    return { status: 0, body: { error: { code: 'NETWORK', message: 'the network request failed' } } };
  }
  // The Date header has whole seconds: only a clearly wrong local clock is corrected.
  const date = Date.parse(response.headers.get('date') ?? '');
  if (!Number.isNaN(date)) {
    const offset = date + 500 - Date.now();
    serverOffsetMs = Math.abs(offset) > 1500 ? offset : 0;
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { error: { message: text.slice(0, 200) } };
  }
  return { status: response.status, body: parsed, traceId: response.headers.get('x-trace-id') };
}

/**
 * `call('POST', '/api/holds', {body, auth: true, signal})` → the parsed answer, or throws ApiError.
 * Retries twice, writes with the same Idempotency-Key each time, when the answer says nothing about
 * the outcome: a lost connection (0), 502 (nginx: the gateway died mid-request), 503 (the group is
 * electing, or could not tell whether the write landed), 504. A repeated write returns the first
 * answer, so a "Book" that committed ends as a booking, never as an error. A 500 is a real failure
 * the server reported and is not retried. (The gateway's own gRPC retry rule: services/common/errors.ts.)
 * `quiet`: a background refresh — no slow notice and no retries (the next refresh is the retry).
 * `once`: a write the server does not deduplicate by key (catalog admin): never repeated.
 * @template T the answer's body (the route's schema, through Answer<operationId>)
 * @param {string} method
 * @param {string} path
 * @param {CallOptions} [options]
 * @returns {Promise<T>}
 */
export async function call(method, path, { body, auth = false, signal, quiet = false, once = false } = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (auth) {
    const token = session.token();
    if (!token) throw new ApiError(401, { error: { code: 'UNAUTHENTICATED', message: 'sign in first' } });
    headers.authorization = `Bearer ${token}`;
  }
  if (method !== 'GET') headers['idempotency-key'] = newKey();
  headers.traceparent = newTraceparent();
  const payload = body === undefined ? undefined : JSON.stringify(body);

  const id = ++callIds;
  let slow = false;
  const slowTimer = quiet
    ? undefined
    : setTimeout(() => {
        slow = true;
        events.dispatchEvent(new CustomEvent('slow', { detail: id }));
      }, SLOW_AFTER_MS);
  try {
    for (let tries = 0; ; tries++) {
      const answer = await attempt(method, path, headers, payload, signal);
      if (answer.status >= 200 && answer.status < 300) return answer.body;
      const retryable = OUTCOME_UNKNOWN_STATUSES.has(answer.status);
      if (retryable && !quiet && !once && tries < RETRY_DELAYS_MS.length) {
        if (!slow) {
          slow = true;
          events.dispatchEvent(new CustomEvent('slow', { detail: id }));
        }
        await sleep(RETRY_DELAYS_MS[tries] ?? 0, signal);
        continue;
      }
      if (answer.status === 401 && auth) events.dispatchEvent(new CustomEvent('unauthorized'));
      const error = new ApiError(answer.status, answer.body);
      error.traceId = answer.traceId ?? null;
      throw error;
    }
  } finally {
    clearTimeout(slowTimer);
    if (slow) events.dispatchEvent(new CustomEvent('settled', { detail: id }));
  }
}

/** @param {Record<string, string | number | null | undefined>} params */
const query = (params) => {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
};
const enc = encodeURIComponent;

// ---- catalog
/** @type {(params: Record<string, string | number | undefined>, signal?: AbortSignal) => Promise<Answer<'searchEvents'>>} */
export const searchEvents = (params, signal) => call('GET', `/api/events${query(params)}`, { signal });
/** @type {(eventId: string, signal?: AbortSignal) => Promise<Answer<'getEvent'>>} */
export const getEvent = (eventId, signal) => call('GET', `/api/events/${enc(eventId)}`, { signal });
/** @type {(showId: string, signal?: AbortSignal) => Promise<Answer<'getShow'>>} */
export const getShow = (showId, signal) => call('GET', `/api/shows/${enc(showId)}`, { signal });

// ---- accounts
/** @type {(email: string, password: string, displayName?: string) => Promise<Answer<'register'>>} */
export const register = (email, password, displayName) =>
  call('POST', '/api/auth/register', {
    body: displayName ? { email, password, displayName } : { email, password },
  });
/** @type {(email: string, password: string) => Promise<Answer<'login'>>} */
export const login = (email, password) => call('POST', '/api/auth/login', { body: { email, password } });
/** @type {(signal?: AbortSignal) => Promise<Answer<'me'>>} */
export const me = (signal) => call('GET', '/api/me', { auth: true, signal });

// ---- seats, holds, bookings
/** @type {(showId: string, signal?: AbortSignal, quiet?: boolean) => Promise<Answer<'getAvailability'>>} */
export const availability = (showId, signal, quiet = false) =>
  call('GET', `/api/shows/${enc(showId)}/availability`, { auth: true, signal, quiet });
/** @type {(showId: string, seatIds: string[], ga: NonNullable<RequestBody<'hold'>['ga']>) => Promise<Answer<'hold'>>} */
export const hold = (showId, seatIds, ga) =>
  call('POST', '/api/holds', { body: { showId, seatIds, ga }, auth: true });
/** @type {(holdId: string) => Promise<Answer<'releaseHold'>>} */
export const releaseHold = (holdId) => call('DELETE', `/api/holds/${enc(holdId)}`, { auth: true });
/** @type {(holdId: string, card: RequestBody<'checkout'>['card']) => Promise<Answer<'checkout'>>} */
export const checkout = (holdId, card) =>
  call('POST', `/api/holds/${enc(holdId)}/checkout`, { body: { card }, auth: true });
/** @type {(pageToken?: string, signal?: AbortSignal) => Promise<Answer<'listBookings'>>} */
export const bookings = (pageToken, signal) =>
  call('GET', `/api/bookings${query({ pageSize: 50, pageToken })}`, { auth: true, signal });
/** @type {(bookingId: string) => Promise<Answer<'cancelBooking'>>} */
export const cancelBooking = (bookingId) =>
  call('POST', `/api/bookings/${enc(bookingId)}/cancel`, { body: {}, auth: true });

// ---- admin (the catalog refuses these unless the token has the admin role)
/** @type {(signal?: AbortSignal) => Promise<Answer<'listVenues'>>} */
export const venues = (signal) => call('GET', `/api/venues${query({ pageSize: 100 })}`, { signal });
/** @type {(event: RequestBody<'createEvent'>) => Promise<Answer<'createEvent'>>} */
export const createEvent = (event) => call('POST', '/api/events', { body: event, auth: true, once: true });
/** @type {(eventId: string, show: RequestBody<'createShow'>) => Promise<Answer<'createShow'>>} */
export const createShow = (eventId, show) =>
  call('POST', `/api/events/${enc(eventId)}/shows`, { body: show, auth: true, once: true });

/**
 * For an import's failure line: the status the gateway would have answered for its code.
 * @type {Record<string, number>}
 */
const LINE_ERROR_STATUS = {
  INVALID_ARGUMENT: 400,
  PERMISSION_DENIED: 403,
  FAILED_PRECONDITION: 409,
  UNAVAILABLE: 503,
};

/**
 * Runs a catalog import: `source` is {document} or {sourceUrl}. The answer is one JSON object per
 * line while the catalog works; `onProgress` gets each, and the last one (phase "done") is returned.
 * An error before the first line is an ordinary error answer; one after it is a last line {error}.
 * Not retried: an import is idempotent, but whether to run it again is the admin's call.
 * @param {RequestBody<'importCatalog'>} source
 * @param {(line: import('../../schemas/models').ImportProgressLine) => void} onProgress
 * @param {AbortSignal} [signal]
 */
export async function importCatalog(source, onProgress, signal) {
  const token = session.token();
  if (!token) throw new ApiError(401, { error: { code: 'UNAUTHENTICATED', message: 'sign in first' } });
  let response;
  try {
    response = await fetch('/api/catalog/imports', {
      method: 'POST',
      headers: {
        accept: 'application/x-ndjson, application/json',
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        traceparent: newTraceparent(),
      },
      body: JSON.stringify(source),
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, { error: { code: 'NETWORK', message: 'the network request failed' } });
  }
  if (!response.ok || !(response.headers.get('content-type') ?? '').startsWith('application/x-ndjson')) {
    const text = await response.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = { error: { message: text.slice(0, 200) } };
    }
    if (response.status === 401) events.dispatchEvent(new CustomEvent('unauthorized'));
    throw new ApiError(response.ok ? 500 : response.status, body);
  }
  if (response.body === null) throw new ApiError(500, null);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  let last = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffered += value;
    const lines = buffered.split('\n');
    buffered = done ? '' : (lines.pop() ?? '');
    for (const line of lines) {
      if (line.trim() === '') continue;
      const item = JSON.parse(line);
      // The status was 200 when the failure came; the error's code says what it was.
      if (item.error) throw new ApiError(LINE_ERROR_STATUS[item.error.code] ?? 500, item);
      last = item;
      onProgress(item);
    }
    if (done) break;
  }
  if (last?.phase !== 'done')
    throw new ApiError(0, { error: { code: 'NETWORK', message: 'the import stopped before it finished' } });
  return last;
}

// ---- the rest
/** Signed in: the user's own picks (the token goes along); otherwise popular events for anyone. */
/** @type {(signal?: AbortSignal, personal?: boolean) => Promise<Answer<'recommendations'>>} */
export const recommendations = (signal, personal = false) =>
  call('GET', '/api/recommendations', { signal, quiet: true, auth: personal });
/** @type {(eventId: string, signal?: AbortSignal) => Promise<Answer<'similarEvents'>>} */
export const similarEvents = (eventId, signal) =>
  call('GET', `/api/events/${enc(eventId)}/similar`, { signal, quiet: true });
/** @type {(signal?: AbortSignal, quiet?: boolean) => Promise<Answer<'cluster'>>} */
export const cluster = (signal, quiet = false) => call('GET', '/api/cluster', { signal, quiet });
/**
 * Request rate, p99, errors, term and lag of each process, read from their /metrics.
 * @type {(signal?: AbortSignal) => Promise<Answer<'metricsSummary'>>}
 */
export const metricsSummary = (signal) => call('GET', '/api/metrics/summary', { signal, quiet: true });
/** @type {(signal?: AbortSignal) => Promise<Answer<'health'>>} */
export const health = (signal) => call('GET', '/api/health', { signal });
/** @type {(signal?: AbortSignal) => Promise<{ paths: Record<string, Record<string, { summary?: string }>> }>} */
export const openapi = (signal) => call('GET', '/api/openapi.json', { signal });

/** Server-sent event URLs; EventSource cannot send headers, so the token rides in the query. */
/** @param {string} showId */
export const showEventsUrl = (showId) =>
  `/api/shows/${enc(showId)}/events${query({ access_token: session.token() })}`;
export const clusterEventsUrl = () => '/api/cluster/events';
