import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { Booking, Hold } from '../../../../proto/gen/marquee/booking/v1/booking';
import type { Principal } from '../../../common/auth';
import { decide } from '../decide';
import type {
  CancelCommand,
  Command,
  ConfirmCommand,
  Decision,
  HoldCommand,
  ReleaseCommand,
} from '../decide';
import type { IdempotencyScope } from '../operations';
import { BookingState, evolve } from '../state';

/*
 * A small world for the domain tests: one show built straight into a BookingState, users, and
 * command builders that carry an idempotency scope hashed from the request (as the handlers do).
 */

export const SHOW = 'show-1';
export const T0 = Date.UTC(2026, 11, 7, 20, 0, 0);

export interface ShowSpec {
  seats: readonly { seatId: string; amountCents: number }[];
  pools: readonly { areaId: string; amountCents: number; capacity: number }[];
}

const cents = fc.integer({ min: 1, max: 40 }).map((n) => n * 250);

/** A small show: 2–5 seats and 1–2 GA areas of 1–4 places (the domain's and the batcher's random runs). */
export const specArb: fc.Arbitrary<ShowSpec> = fc
  .record({
    seats: fc.array(cents, { minLength: 2, maxLength: 5 }),
    pools: fc.array(fc.record({ amountCents: cents, capacity: fc.integer({ min: 1, max: 4 }) }), {
      minLength: 1,
      maxLength: 2,
    }),
  })
  .map(({ seats, pools }) => ({
    seats: seats.map((amountCents, i) => ({ seatId: `A-${i + 1}`, amountCents })),
    pools: pools.map((p, i) => ({ areaId: `GA-${i + 1}`, ...p })),
  }));

export function stateOf(spec: ShowSpec): BookingState {
  const state = new BookingState();
  for (const seat of spec.seats)
    state.addSeat({
      showId: SHOW,
      seatId: seat.seatId,
      label: `Seat ${seat.seatId}`,
      amountCents: seat.amountCents,
      state: 'FREE',
      holdId: null,
      heldUntil: null,
      bookingId: null,
    });
  for (const pool of spec.pools)
    state.addPool({
      showId: SHOW,
      areaId: pool.areaId,
      name: `Area ${pool.areaId}`,
      amountCents: pool.amountCents,
      capacity: pool.capacity,
      held: 0,
      sold: 0,
    });
  return state;
}

export const user = (userId: string, role: Principal['role'] = 'user'): Principal => ({
  userId,
  email: `${userId}@example.test`,
  role,
});

export function scope(userId: string, key: string, method: string, request: unknown): IdempotencyScope {
  const requestHash = createHash('sha256')
    .update(method)
    .update('\n')
    .update(JSON.stringify(request))
    .digest();
  return { userId, key, method, requestHash };
}

export interface HoldRequest {
  seatIds?: readonly string[];
  ga?: readonly { areaId: string; quantity: number }[];
}

export function holdCommand(
  who: Principal,
  key: string,
  request: HoldRequest,
  holdId: string,
  ttlSeconds = 60,
): HoldCommand {
  const seatIds = request.seatIds ?? [];
  const ga = request.ga ?? [];
  return {
    kind: 'hold',
    principal: who,
    scope: scope(who.userId, key, 'HoldSeats', { showId: SHOW, seatIds, ga }),
    holdId,
    showId: SHOW,
    seatIds,
    ga,
    currency: 'EUR',
    ttlSeconds,
  };
}

export const releaseCommand = (who: Principal, key: string, holdId: string): ReleaseCommand => ({
  kind: 'release',
  principal: who,
  scope: scope(who.userId, key, 'ReleaseHold', { holdId }),
  holdId,
});

export function confirmCommand(
  who: Principal,
  key: string,
  holdId: string,
  bookingId: string,
  amountCents: number,
  paymentId = `pay-${bookingId}`,
  /** When the buyer asked; by default at the moment of deciding. */
  requestedAt = Number.POSITIVE_INFINITY,
): ConfirmCommand {
  return {
    kind: 'confirm',
    principal: who,
    scope: scope(who.userId, key, 'ConfirmBooking', { holdId }),
    holdId,
    bookingId,
    payment: { paymentId, amountCents, cardLast4: '4242' },
    requestedAt,
  };
}

export const cancelCommand = (
  who: Principal,
  key: string,
  bookingId: string,
  refundId: string,
): CancelCommand => ({
  kind: 'cancel',
  principal: who,
  scope: scope(who.userId, key, 'CancelBooking', { bookingId }),
  bookingId,
  refundId,
});

/** Decides `command` and, on a write, evolves every operation into `state` (as the batcher does). */
export function apply<C extends Command>(state: BookingState, command: C, now: number): Decision<C> {
  const decision = decide(command, state, now);
  if (decision.kind === 'write') for (const op of decision.ops) evolve(state, op);
  return decision;
}

/** The protobuf bytes a write's answer is stored as (what a replay must return). */
export function answerBytes(kind: Command['kind'], answer: unknown): Buffer {
  if (kind === 'hold' || kind === 'release') return Buffer.from(Hold.encode(answer as Hold).finish());
  if (kind === 'confirm' || kind === 'cancel') return Buffer.from(Booking.encode(answer as Booking).finish());
  throw new Error(`${kind} has no stored answer`);
}

/** The whole state as text: equal texts, equal states (the maps in their insertion order). */
export function fingerprint(state: BookingState): string {
  return JSON.stringify(
    [state.seats, state.pools, state.holds, state.bookings, state.keys].map((m) => [...m]),
  );
}

/** What `fn` threw, for assertions on a DomainError's code, details and message. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
