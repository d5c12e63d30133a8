import {
  Booking,
  BookingState as BookingStateProto,
  Hold,
  HoldState,
  Role,
  User,
} from '../../../proto/gen/marquee/booking/v1/booking';
import type { BookedSeat, GaItem } from '../../../proto/gen/marquee/booking/v1/booking';
import type { Principal } from '../../common/auth';
import {
  AbortedError,
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
} from '../../common/errors';
import { BOOKING_OPS, idempotencyRecord, utcTime } from './operations';
import type {
  BookingOp,
  IdempotencyScope,
  ItemRecord,
  ShowMaterializedPayload,
  UserRegisteredPayload,
} from './operations';
import { idempotencyKey } from './state';
import type { BookingState, BookingView, HoldStateName, HoldView } from './state';

/*
 * The booking rules, pure: a command, the state it needs and `now` → the operations to apply and
 * the answer, or a domain error naming the field. No SQL, no clock, no randomness: ids, payment
 * references and `now` come in with the command. The master decides every write of a batch here in
 * arrival order, evolving the state between them (write/batcher.ts); nothing here writes.
 */

interface Keyed {
  principal: Principal;
  scope: IdempotencyScope;
}

export interface HoldCommand extends Keyed {
  kind: 'hold';
  holdId: string;
  showId: string;
  seatIds: readonly string[];
  ga: readonly { areaId: string; quantity: number }[];
  currency: string;
  ttlSeconds: number;
}

export interface ReleaseCommand extends Keyed {
  kind: 'release';
  holdId: string;
}

export interface ConfirmCommand extends Keyed {
  kind: 'confirm';
  holdId: string;
  bookingId: string;
  /** The approved charge (made before deciding: a decline decides nothing). */
  payment: { paymentId: string; amountCents: number; cardLast4: string | null };
  /**
   * When the buyer asked. A hold live then is confirmed if its seats and places are still its own:
   * taking the payment may outlast the hold, and the buyer was on time.
   */
  requestedAt: number;
}

export interface CancelCommand extends Keyed {
  kind: 'cancel';
  bookingId: string;
  refundId: string;
}

/** The sweeper's: expires those of `holdIds` that are still ACTIVE and lapsed. */
export interface ExpireCommand {
  kind: 'expire';
  holdIds: readonly string[];
}

/** A new account (its password already hashed: hashing is slow and stays out of the batch). */
export interface RegisterCommand {
  kind: 'register';
  /** Absent without an idempotency key: a second registration of the email is then ALREADY_EXISTS. */
  scope?: IdempotencyScope;
  user: UserRegisteredPayload['user'];
}

/** A show's seats and pools copied from the catalog, once, by the master (every node's state comes from the log). */
export interface MaterializeCommand {
  kind: 'materialize';
  show: ShowMaterializedPayload;
}

export type Command =
  | HoldCommand
  | ReleaseCommand
  | ConfirmCommand
  | CancelCommand
  | ExpireCommand
  | RegisterCommand
  | MaterializeCommand;

/** What a command's caller is answered with. */
export interface Answers {
  hold: Hold;
  release: Hold;
  confirm: Booking;
  cancel: Booking;
  expire: number;
  register: User;
  /** Whether this command materialised the show (false: it was there already). */
  materialize: boolean;
}

export type Decision<C extends Command = Command> =
  | { kind: 'write'; ops: BookingOp[]; answer: Answers[C['kind']] }
  /** The key was used before by this very request: its stored answer (protobuf bytes). */
  | { kind: 'replay'; response: Uint8Array };

export function decide<C extends Command>(command: C, state: BookingState, now: number): Decision<C> {
  const scope = 'scope' in command ? command.scope : undefined;
  if (scope) {
    const replay = storedAnswer(scope, state);
    if (replay) return { kind: 'replay', response: replay };
  }
  switch (command.kind) {
    case 'hold':
      return decideHold(command, state, now) as Decision<C>;
    case 'release':
      return decideRelease(command, state, now) as Decision<C>;
    case 'confirm':
      return decideConfirm(command, state, now) as Decision<C>;
    case 'cancel':
      return decideCancel(command, state, now) as Decision<C>;
    case 'expire':
      return decideExpire(command, state, now) as Decision<C>;
    case 'register':
      return decideRegister(command, state, now) as Decision<C>;
    case 'materialize':
      return decideMaterialize(command, state) as Decision<C>;
  }
}

/** The stored answer when `scope`'s key was used already; a different request under it is an error. */
function storedAnswer(scope: IdempotencyScope, state: BookingState): Uint8Array | undefined {
  const stored = state.keys.get(idempotencyKey(scope.userId, scope.key));
  if (!stored) return undefined;
  if (stored.method !== scope.method || stored.requestHash !== scope.requestHash.toString('base64'))
    throw new InvalidArgumentError('idempotency_key', 'was used for a different request');
  // Claims are written together with their answer, so a stored key without one is a bug.
  if (stored.response === null)
    throw new AbortedError('idempotency_key: the first call with this key has no stored answer; retry');
  return Buffer.from(stored.response, 'base64');
}

/** Seats (FREE, or held by a lapsed hold) and GA places, all or nothing. */
function decideHold(command: HoldCommand, state: BookingState, now: number): Decision<HoldCommand> {
  const { showId, holdId } = command;
  const items: ItemRecord[] = [];
  const problems: string[] = [];
  const taken: string[] = [];
  command.seatIds.forEach((seatId, i) => {
    const seat = state.seat(showId, seatId);
    if (!seat) throw new NotFoundError(`seat of show ${showId}`, seatId, `seat_ids[${i}]`);
    if (seat.state === 'SOLD') problems.push(`seat ${seatId} is already sold`);
    else if (seat.state === 'HELD' && seat.heldUntil !== null && seat.heldUntil > now)
      problems.push(`seat ${seatId} is already held`);
    else {
      items.push({
        kind: 'SEAT',
        itemId: seatId,
        label: seat.label,
        quantity: 1,
        amountCents: seat.amountCents,
      });
      return;
    }
    taken.push(seatId);
  });

  const lapsed = lapsedGaHolds(state, showId, now);
  const expired = new Set<HoldView>();
  const short: string[] = [];
  const shortProblems: string[] = [];
  command.ga.forEach((g, i) => {
    const pool = state.pool(showId, g.areaId);
    if (!pool)
      throw new NotFoundError(`general-admission area of show ${showId}`, g.areaId, `ga[${i}].area_id`);
    items.push({
      kind: 'GA',
      itemId: g.areaId,
      label: pool.name,
      quantity: g.quantity,
      amountCents: pool.amountCents,
    });
    if (command.ga.findIndex((other) => other.areaId === g.areaId) !== i) return; // counted once
    const asked = gaQuantity(command.ga.map(gaItem), g.areaId);
    const freed = (): number => [...expired].reduce((sum, h) => sum + gaQuantity(h.items, g.areaId), 0);
    const room = (): number => pool.capacity - pool.sold - pool.held + freed();
    // Places of lapsed holds come back first: expire the oldest that hold this area, as many as it takes.
    for (const hold of lapsed) {
      if (room() >= asked) break;
      if (gaQuantity(hold.items, g.areaId) > 0) expired.add(hold);
    }
    const remaining = room();
    if (remaining < asked) {
      short.push(g.areaId);
      shortProblems.push(
        `area ${g.areaId} has only ${Math.max(0, remaining)} places left (asked for ${asked})`,
      );
    }
  });
  // Taken seats are answered after the areas are known to exist: an unknown id is NOT_FOUND in any state.
  if (taken.length > 0) throw new FailedPreconditionError(problems.join('; '), { seat_ids: taken.join(',') });
  if (short.length > 0)
    throw new FailedPreconditionError(shortProblems.join('; '), { area_ids: short.join(',') });

  const expiresAt = now + command.ttlSeconds * 1000;
  const hold: HoldView = {
    id: holdId,
    userId: command.principal.userId,
    showId,
    state: 'ACTIVE',
    totalCents: items.reduce((sum, item) => sum + item.amountCents * item.quantity, 0),
    currency: command.currency,
    expiresAt,
    createdAt: now,
    bookingId: null,
    items,
  };
  const answer = holdAnswer(hold);
  return {
    kind: 'write',
    ops: [
      ...[...expired].map((h) => expireOp(h)),
      {
        op: BOOKING_OPS.holdCreated,
        payload: {
          hold: {
            id: holdId,
            userId: hold.userId,
            showId,
            totalCents: hold.totalCents,
            currency: hold.currency,
            expiresAt: utcTime(expiresAt),
            createdAt: utcTime(now),
          },
          items,
          idempotency: idempotencyRecord(command.scope, now, Hold.encode(answer).finish()),
        },
      },
    ],
    answer,
  };
}

function lapsedGaHolds(state: BookingState, showId: string, now: number): HoldView[] {
  return [...state.holds.values()]
    .filter((h) => h.showId === showId && h.state === 'ACTIVE' && h.expiresAt <= now)
    .filter((h) => h.items.some((i) => i.kind === 'GA'))
    .sort((a, b) => a.expiresAt - b.expiresAt || (a.id < b.id ? -1 : 1));
}

const gaItem = (g: { areaId: string; quantity: number }): ItemRecord => ({
  kind: 'GA',
  itemId: g.areaId,
  label: '',
  quantity: g.quantity,
  amountCents: 0,
});

function gaQuantity(items: readonly ItemRecord[], areaId: string): number {
  return items.filter((i) => i.kind === 'GA' && i.itemId === areaId).reduce((sum, i) => sum + i.quantity, 0);
}

function expireOp(hold: HoldView): BookingOp {
  return {
    op: BOOKING_OPS.holdExpired,
    payload: { holdId: hold.id, showId: hold.showId, items: hold.items },
  };
}

function decideRelease(command: ReleaseCommand, state: BookingState, now: number): Decision<ReleaseCommand> {
  const hold = state.holds.get(command.holdId);
  if (!hold) throw new NotFoundError('hold', command.holdId, 'hold_id');
  assertOwnerOrAdmin(command.principal, hold.userId, `hold ${hold.id}`, 'hold_id');
  if (hold.state !== 'ACTIVE')
    throw new FailedPreconditionError(`hold ${hold.id} is already ${hold.state.toLowerCase()}`);
  const answer = holdAnswer(hold, 'RELEASED');
  return {
    kind: 'write',
    ops: [
      {
        op: BOOKING_OPS.holdReleased,
        payload: {
          holdId: hold.id,
          showId: hold.showId,
          items: hold.items,
          idempotency: idempotencyRecord(command.scope, now, Hold.encode(answer).finish()),
        },
      },
    ],
    answer,
  };
}

/** Whether `hold` may be paid for now; throws the reason it may not. Also the check before charging. */
export function assertConfirmable(
  principal: Principal,
  hold: HoldView | undefined,
  holdId: string,
  now: number,
): HoldView {
  if (!hold) throw new NotFoundError('hold', holdId, 'hold_id');
  if (hold.userId !== principal.userId)
    throw new PermissionDeniedError(`hold_id: hold ${holdId} belongs to another user`);
  if (hold.state === 'CONFIRMED')
    throw new FailedPreconditionError(
      `hold ${holdId} is already confirmed as booking ${hold.bookingId ?? ''}`,
    );
  if (hold.state !== 'ACTIVE')
    throw new FailedPreconditionError(`hold ${holdId} is ${hold.state.toLowerCase()}; hold the seats again`);
  if (hold.expiresAt <= now)
    throw new FailedPreconditionError(
      `hold ${holdId} expired at ${new Date(hold.expiresAt).toISOString()}; hold the seats again`,
    );
  return hold;
}

function decideConfirm(command: ConfirmCommand, state: BookingState, now: number): Decision<ConfirmCommand> {
  const hold = assertConfirmable(
    command.principal,
    state.holds.get(command.holdId),
    command.holdId,
    Math.min(now, command.requestedAt),
  );
  const seatIds = hold.items.filter((i) => i.kind === 'SEAT').map((i) => i.itemId);
  const ga = hold.items
    .filter((i) => i.kind === 'GA')
    .map((i) => ({ areaId: i.itemId, quantity: i.quantity }));
  // Every seat and place moves, or nothing does (a view that disagrees is refused, never half-applied).
  const seatsHeld = seatIds.every((id) => {
    const seat = state.seat(hold.showId, id);
    return seat?.state === 'HELD' && seat.holdId === hold.id;
  });
  const placesHeld = ga.every((g) => (state.pool(hold.showId, g.areaId)?.held ?? 0) >= g.quantity);
  if (!seatsHeld || !placesHeld)
    throw new FailedPreconditionError(
      `hold ${hold.id} lapsed while being confirmed and some of its seats were taken; hold the seats again`,
    );
  if (command.payment.amountCents !== hold.totalCents)
    throw new AbortedError(`hold ${hold.id}: the charge does not match the hold's total; retry`);
  const booking: BookingView = {
    id: command.bookingId,
    userId: hold.userId,
    showId: hold.showId,
    holdId: hold.id,
    state: 'CONFIRMED',
    totalCents: hold.totalCents,
    currency: hold.currency,
    paymentId: command.payment.paymentId,
    refundId: null,
    createdAt: now,
    cancelledAt: null,
    items: hold.items,
  };
  const answer = bookingAnswer(booking);
  return {
    kind: 'write',
    ops: [
      {
        op: BOOKING_OPS.bookingConfirmed,
        payload: {
          booking: {
            id: booking.id,
            userId: booking.userId,
            showId: booking.showId,
            holdId: booking.holdId,
            totalCents: booking.totalCents,
            currency: booking.currency,
            paymentId: booking.paymentId,
            createdAt: utcTime(now),
          },
          seatIds,
          ga,
          cardLast4: command.payment.cardLast4,
          idempotency: idempotencyRecord(command.scope, now, Booking.encode(answer).finish()),
        },
      },
    ],
    answer,
  };
}

/** Whether `booking` may be cancelled by `principal`; throws the reason it may not. Also the check before refunding. */
export function assertCancellable(
  principal: Principal,
  booking: BookingView | undefined,
  bookingId: string,
): BookingView {
  if (!booking) throw new NotFoundError('booking', bookingId, 'booking_id');
  assertOwnerOrAdmin(principal, booking.userId, `booking ${bookingId}`, 'booking_id');
  if (booking.state !== 'CONFIRMED')
    throw new FailedPreconditionError(`booking ${bookingId} is already cancelled`);
  return booking;
}

function decideCancel(command: CancelCommand, state: BookingState, now: number): Decision<CancelCommand> {
  const booking = assertCancellable(
    command.principal,
    state.bookings.get(command.bookingId),
    command.bookingId,
  );
  const cancelled: BookingView = {
    ...booking,
    state: 'CANCELLED',
    refundId: command.refundId,
    cancelledAt: now,
  };
  const answer = bookingAnswer(cancelled);
  return {
    kind: 'write',
    ops: [
      {
        op: BOOKING_OPS.bookingCancelled,
        payload: {
          bookingId: booking.id,
          showId: booking.showId,
          userId: booking.userId,
          refundId: command.refundId,
          chargeId: booking.paymentId,
          amountCents: booking.totalCents,
          currency: booking.currency,
          cancelledAt: utcTime(now),
          seatIds: booking.items.filter((i) => i.kind === 'SEAT').map((i) => i.itemId),
          ga: booking.items
            .filter((i) => i.kind === 'GA')
            .map((i) => ({ areaId: i.itemId, quantity: i.quantity })),
          idempotency: idempotencyRecord(command.scope, now, Booking.encode(answer).finish()),
        },
      },
    ],
    answer,
  };
}

function decideExpire(command: ExpireCommand, state: BookingState, now: number): Decision<ExpireCommand> {
  const ops = [...new Set(command.holdIds)]
    .map((id) => state.holds.get(id))
    .filter((h): h is HoldView => h !== undefined && h.state === 'ACTIVE' && h.expiresAt <= now)
    .map(expireOp);
  return { kind: 'write', ops, answer: ops.length };
}

function decideRegister(
  command: RegisterCommand,
  state: BookingState,
  now: number,
): Decision<RegisterCommand> {
  const { user } = command;
  if (state.users.has(user.email)) throw new AlreadyExistsError('email: already registered');
  const answer: User = {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    role: Role.ROLE_USER,
  };
  return {
    kind: 'write',
    ops: [
      {
        op: BOOKING_OPS.userRegistered,
        payload: {
          user,
          ...(command.scope
            ? { idempotency: idempotencyRecord(command.scope, now, User.encode(answer).finish()) }
            : {}),
        },
      },
    ],
    answer,
  };
}

function decideMaterialize(command: MaterializeCommand, state: BookingState): Decision<MaterializeCommand> {
  if (state.shows.has(command.show.show.showId)) return { kind: 'write', ops: [], answer: false };
  return { kind: 'write', ops: [{ op: BOOKING_OPS.showMaterialized, payload: command.show }], answer: true };
}

/** A user touches only their own holds and bookings; an admin touches anyone's. */
export function assertOwnerOrAdmin(principal: Principal, ownerId: string, what: string, field: string): void {
  if (principal.userId !== ownerId && principal.role !== 'admin')
    throw new PermissionDeniedError(`${field}: ${what} belongs to another user`);
}

const HOLD_STATES: Record<HoldStateName, HoldState> = {
  ACTIVE: HoldState.HOLD_STATE_ACTIVE,
  CONFIRMED: HoldState.HOLD_STATE_CONFIRMED,
  RELEASED: HoldState.HOLD_STATE_RELEASED,
  EXPIRED: HoldState.HOLD_STATE_EXPIRED,
};

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Seats and GA items in a stable order (by id), the same at creation and on every later read. */
export function itemsToProto(items: readonly ItemRecord[]): { seats: BookedSeat[]; ga: GaItem[] } {
  const seats: BookedSeat[] = [];
  const ga: GaItem[] = [];
  for (const item of items) {
    if (item.kind === 'SEAT')
      seats.push({ seatId: item.itemId, label: item.label, amountCents: item.amountCents });
    else ga.push({ areaId: item.itemId, quantity: item.quantity, amountCents: item.amountCents });
  }
  seats.sort((a, b) => byId(a.seatId, b.seatId));
  ga.sort((a, b) => byId(a.areaId, b.areaId));
  return { seats, ga };
}

export function holdAnswer(hold: HoldView, state: HoldStateName = hold.state): Hold {
  return {
    id: hold.id,
    showId: hold.showId,
    ...itemsToProto(hold.items),
    totalCents: hold.totalCents,
    currency: hold.currency,
    expiresAt: new Date(hold.expiresAt).toISOString(),
    state: HOLD_STATES[state],
  };
}

export function bookingAnswer(booking: BookingView): Booking {
  return {
    id: booking.id,
    userId: booking.userId,
    showId: booking.showId,
    holdId: booking.holdId,
    ...itemsToProto(booking.items),
    totalCents: booking.totalCents,
    currency: booking.currency,
    state:
      booking.state === 'CONFIRMED'
        ? BookingStateProto.BOOKING_STATE_CONFIRMED
        : BookingStateProto.BOOKING_STATE_CANCELLED,
    paymentId: booking.paymentId,
    refundId: booking.refundId ?? '',
    createdAt: new Date(booking.createdAt).toISOString(),
    cancelledAt: booking.cancelledAt === null ? '' : new Date(booking.cancelledAt).toISOString(),
  };
}
