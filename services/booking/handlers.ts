import type { AccountServiceServer, BookingServiceServer } from '../../proto/gen/marquee/booking/v1/booking';
import { requireUser } from '../common/auth';
import type { Principal } from '../common/auth';
import { UnauthenticatedError } from '../common/errors';
import { InvalidArgumentError } from '../common/errors';
import type { AsyncHandlers, CallContext } from '../common/grpc-server';
import { nextPageToken, readPage } from '../common/pagination';
import { requiredEmail, requiredId, requiredIdempotencyKey } from '../common/validate';
import type { Accounts } from './accounts';
import { scopeFor } from './idempotency';
import { validateCard } from './payments';
import { parseHoldRequest, parseRegister } from './requests';
import type { BookingStore } from './store';

export interface HandlerDeps {
  accounts: Accounts;
  store: BookingStore;
  tokenSecret: string;
  clock: () => number;
}

/**
 * Register has no idempotency_key field in its message, so its key travels as the optional
 * `idempotency-key` request header. Without one a retried registration answers ALREADY_EXISTS,
 * which a client resolves by logging in.
 */
function optionalHeaderKey(context: CallContext): string | undefined {
  const value = context.metadata.get('idempotency-key')[0];
  if (value === undefined) return undefined;
  return requiredIdempotencyKey(String(value), 'idempotency-key');
}

export function accountHandlers(deps: HandlerDeps): AsyncHandlers<AccountServiceServer> {
  return {
    register: async (request, context) => {
      const input = parseRegister(request);
      const key = optionalHeaderKey(context);
      return deps.accounts.register(input, key);
    },
    login: async (request) => {
      const email = requiredEmail(request.email, 'email');
      if (typeof request.password !== 'string' || request.password.length === 0)
        throw new InvalidArgumentError('password', 'is required');
      if (request.password.length > 128)
        throw new InvalidArgumentError('password', 'must be at most 128 characters');
      return deps.accounts.login(email, request.password);
    },
    whoAmI: async (_request, context) =>
      deps.accounts.whoAmI(requireUser(context.metadata, deps.tokenSecret, deps.clock())),
  };
}

const VERIFIED_TOKENS_MAX = 10_000;

/**
 * `requireUser`, remembering tokens it verified: a client sends the same bearer token on every call,
 * and checking its HMAC (and decoding its JSON) each time was a visible part of a booking's CPU.
 * The cache is keyed by the whole header (payload and signature), so only a byte-identical token
 * that already verified is taken from it; its expiry is still checked on every call. Bounded: when
 * full it starts over (a miss only costs one verification).
 */
export function cachedAuthenticator(
  tokenSecret: string,
  clock: () => number,
): (context: CallContext) => Principal {
  const verified = new Map<string, { principal: Principal; expiresAtMs: number }>();
  return (context) => {
    const header = context.metadata.get('authorization')[0];
    const known = typeof header === 'string' ? verified.get(header) : undefined;
    const now = clock();
    if (known) {
      if (known.expiresAtMs > now) return known.principal;
      verified.delete(header as string);
      throw new UnauthenticatedError('authorization: token expired; log in again');
    }
    const principal = requireUser(context.metadata, tokenSecret, now); // throws on anything invalid
    const expiresAtMs = tokenExpiryMs(String(header));
    if (typeof header === 'string' && expiresAtMs !== undefined) {
      if (verified.size >= VERIFIED_TOKENS_MAX) verified.clear();
      verified.set(header, { principal, expiresAtMs });
    }
    return principal;
  };
}

/** The `exp` of a token that has just been verified, in ms; undefined if it cannot be read. */
function tokenExpiryMs(header: string): number | undefined {
  const body = /^Bearer\s+([^.\s]+)\./i.exec(header)?.[1];
  if (!body) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Every handler authenticates, then validates everything, then calls the store once. */
export function bookingHandlers(deps: HandlerDeps): AsyncHandlers<BookingServiceServer> {
  const caller = cachedAuthenticator(deps.tokenSecret, deps.clock);
  return {
    getAvailability: async (request, context) => {
      caller(context);
      return deps.store.availability(requiredId(request.showId, 'show_id'), context.deadline);
    },
    holdSeats: async (request, context) => {
      const principal = caller(context);
      const hold = parseHoldRequest(request);
      const key = requiredIdempotencyKey(request.idempotencyKey);
      return deps.store.hold(
        principal,
        scopeFor(principal.userId, key, 'HoldSeats', hold),
        hold,
        context.deadline,
      );
    },
    releaseHold: async (request, context) => {
      const principal = caller(context);
      const holdId = requiredId(request.holdId, 'hold_id');
      const key = requiredIdempotencyKey(request.idempotencyKey);
      return deps.store.release(
        principal,
        scopeFor(principal.userId, key, 'ReleaseHold', { holdId }),
        holdId,
      );
    },
    confirmBooking: async (request, context) => {
      const principal = caller(context);
      const holdId = requiredId(request.holdId, 'hold_id');
      const card = validateCard(request.card, deps.clock());
      const key = requiredIdempotencyKey(request.idempotencyKey);
      // The full card number stays out of the stored hash; last four digits and expiry tell cards apart.
      const hashed = { holdId, card: { last4: card.last4, expMonth: card.expMonth, expYear: card.expYear } };
      return deps.store.confirm(
        principal,
        scopeFor(principal.userId, key, 'ConfirmBooking', hashed),
        holdId,
        card,
      );
    },
    cancelBooking: async (request, context) => {
      const principal = caller(context);
      const bookingId = requiredId(request.bookingId, 'booking_id');
      const key = requiredIdempotencyKey(request.idempotencyKey);
      return deps.store.cancel(
        principal,
        scopeFor(principal.userId, key, 'CancelBooking', { bookingId }),
        bookingId,
      );
    },
    getBooking: async (request, context) => {
      const principal = caller(context);
      return deps.store.get(principal, requiredId(request.bookingId, 'booking_id'));
    },
    listMyBookings: async (request, context) => {
      const principal = caller(context);
      const page = readPage(request.pageSize, request.pageToken);
      const { bookings, fetched } = await deps.store.listMine(principal, page);
      return { bookings, nextPageToken: nextPageToken(page, fetched) };
    },
  };
}
