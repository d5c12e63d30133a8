// @ts-check
/*
 * ApiError → a sentence a buyer understands. The gateway's messages are precise but written for
 * developers ("seat BALC-A-2 is already held"); this turns the common cases into plain words and
 * falls back on the gateway's own message, which always names the problem.
 */
import { seatName } from './format.js';

/** @typedef {import('./api.js').ApiError} ApiError */

/** @type {Record<string, string>} */
const FIELD_NAMES = {
  email: 'Email',
  password: 'Password',
  displayName: 'Display name',
  'card.number': 'Card number',
  'card.expMonth': 'Expiry month',
  'card.expYear': 'Expiry year',
  'card.cvc': 'CVC',
  'card.holderName': 'Name on card',
};

const sentence = (text) => (text ? text[0].toUpperCase() + text.slice(1) : text);

/** The seats a conflict names (details.seatIds), as people say them, using `seatsById` for labels. */
function takenSeats(error, seatsById) {
  const ids = error.details?.seatIds ?? [];
  return ids.map((id) => seatName(seatsById?.get(id) ?? { seatId: id }));
}

export const isSeatTaken = (error) => error.status === 409 && (error.details?.seatIds?.length ?? 0) > 0;
export const isDeclined = (error) => error.status === 409 && /declined/i.test(error.message);
export const isHoldExpired = (error) =>
  error.status === 409 && /hold .*(expired|is released)/i.test(error.message);
export const isUnavailable = (error) => error.status === 503 || error.status === 504 || error.status === 0;

/**
 * By name, not instanceof: a page may hold an ApiError from another copy of api.js (a cached one).
 * @param {Error} error
 * @returns {error is ApiError}
 */
const isApiError = (error) => error.name === 'ApiError';

/**
 * A human sentence for any error. `context.seatsById` (Map id → seat) lets seat conflicts say "A7",
 * `context.areaNames` (Map id → name) names standing areas; `context.signingIn` keeps a login's own 401 text.
 */
export function explain(error, context = {}) {
  if (!(error instanceof Error)) return 'Something went wrong. Please try again.';
  if (!isApiError(error)) return `Something went wrong in this page: ${error.message}`;
  if (isSeatTaken(error)) {
    const seats = takenSeats(error, context.seatsById);
    const sold = /sold/.test(error.message);
    if (seats.length === 1)
      return `Seat ${seats[0]} was just ${sold ? 'sold to' : 'taken by'} someone else — pick another seat.`;
    return `Seats ${seats.join(', ')} were just taken by someone else — pick other seats.`;
  }
  if (error.status === 409 && error.details?.areaIds?.length) {
    const short = /area (\S+) has only (\d+) places? left/.exec(error.message);
    if (!short) return `Not enough places left: ${error.message}.`;
    const name = context.areaNames?.get(short[1]) ?? short[1];
    return short[2] === '0'
      ? `${name} just sold out — choose seats instead.`
      : `Only ${short[2]} places left in ${name} — choose fewer places.`;
  }
  if (isDeclined(error))
    return 'Payment declined: the card issuer refused the charge. Your seats are still held — try another card (test card 4242 4242 4242 4242 always works).';
  if (error.code === 'ALREADY_EXISTS' && error.field === 'email')
    return 'An account with this email already exists — sign in instead.';
  if (isHoldExpired(error))
    return 'Your hold has expired and the seats went back on sale. Pick your seats again — they may still be free.';
  switch (error.status) {
    case 0:
      return 'Marquee cannot be reached right now. Check your connection and try again.';
    case 503:
      return 'The booking system is switching over to a new master and has not finished yet. Nothing was charged or booked twice — please try again in a moment.';
    case 504:
      return 'The booking system took too long to answer. Nothing was booked twice — please try again in a moment.';
    case 401:
      return context.signingIn ? sentence(error.message) + '.' : 'Please sign in (again) to continue.';
    case 403:
      return 'That belongs to another account.';
    case 404:
      return `Not found: ${error.message}. It may have been removed.`;
    case 429:
      return 'Too many requests at once — wait a few seconds and try again.';
    default: {
      const field = error.field === null ? undefined : FIELD_NAMES[error.field];
      const text = error.message.replace(/^[\w.[\]]+: /, '');
      // A server fault: the trace id lets an operator find every log line of this request.
      const reference = error.status >= 500 && error.traceId ? ` (reference: ${error.traceId})` : '';
      return field ? `${field}: ${text}.${reference}` : `${sentence(error.message)}.${reference}`;
    }
  }
}
