/*
 * The booking operations: what a decision produces, what the log carries and what every node's
 * applier turns into rows (write/applier.ts). They carry the resulting rows, ids and times, never
 * the request, so applying one needs no clock, randomness or catalog.
 * Times are UTC DATETIME(3) literals (utcTime); binary columns are base64.
 */

/** The caller's idempotency key for one write (DESIGN.md: writes carry a key kept 24 h). */
export interface IdempotencyScope {
  /** The caller's user id; Register, which has no caller yet, uses "email:<address>". */
  userId: string;
  key: string;
  method: string;
  requestHash: Buffer;
}

/** A UTC DATETIME(3) literal. Strings, not Dates, so formatting never depends on a driver time zone. */
export function utcTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 23);
}

/** The milliseconds of a utcTime literal. */
export function utcMs(literal: string): number {
  return Date.parse(`${literal.replace(' ', 'T')}Z`);
}

export const BOOKING_OPS = {
  holdCreated: 'booking.hold.created',
  holdReleased: 'booking.hold.released',
  holdExpired: 'booking.hold.expired',
  bookingConfirmed: 'booking.booking.confirmed',
  bookingCancelled: 'booking.booking.cancelled',
  userRegistered: 'booking.user.registered',
  idempotencyStored: 'booking.idempotency.stored',
  showMaterialized: 'booking.show.materialized',
} as const;

export interface IdempotencyRecord {
  userId: string;
  key: string;
  method: string;
  requestHash: string;
  response: string | null;
  createdAt: string;
}

export interface ItemRecord {
  kind: 'SEAT' | 'GA';
  itemId: string;
  label: string;
  quantity: number;
  amountCents: number;
}

export interface HoldCreatedPayload {
  hold: {
    id: string;
    userId: string;
    showId: string;
    totalCents: number;
    currency: string;
    expiresAt: string;
    createdAt: string;
  };
  items: ItemRecord[];
  idempotency?: IdempotencyRecord;
}

/** Released or expired: ACTIVE → state, its seats (still held by it) FREE, its places back. */
export interface HoldFreedPayload {
  holdId: string;
  showId: string;
  items: ItemRecord[];
  idempotency?: IdempotencyRecord;
}

export interface BookingConfirmedPayload {
  booking: {
    id: string;
    userId: string;
    showId: string;
    holdId: string;
    totalCents: number;
    currency: string;
    paymentId: string;
    createdAt: string;
  };
  seatIds: string[];
  ga: { areaId: string; quantity: number }[];
  cardLast4: string | null;
  idempotency?: IdempotencyRecord;
}

export interface BookingCancelledPayload {
  bookingId: string;
  showId: string;
  userId: string;
  refundId: string;
  chargeId: string;
  amountCents: number;
  currency: string;
  cancelledAt: string;
  seatIds: string[];
  ga: { areaId: string; quantity: number }[];
  idempotency?: IdempotencyRecord;
}

export interface UserRegisteredPayload {
  user: {
    id: string;
    email: string;
    displayName: string;
    passwordHash: string;
    passwordSalt: string;
    passwordParams: string;
    role: 'user' | 'admin';
    createdAt: string;
  };
  idempotency?: IdempotencyRecord;
}

export interface IdempotencyStoredPayload {
  idempotency: IdempotencyRecord;
}

export interface ShowMaterializedPayload {
  show: { showId: string; currency: string; startsAt: string; materializedAt: string };
  /** [seatId, position, label, priceTier, amountCents] */
  seats: [string, number, string, string, number][];
  /** [areaId, position, name, priceTier, amountCents, capacity] */
  pools: [string, number, string, string, number, number][];
}

export type BookingOp =
  | { op: typeof BOOKING_OPS.holdCreated; payload: HoldCreatedPayload }
  | { op: typeof BOOKING_OPS.holdReleased; payload: HoldFreedPayload }
  | { op: typeof BOOKING_OPS.holdExpired; payload: HoldFreedPayload }
  | { op: typeof BOOKING_OPS.bookingConfirmed; payload: BookingConfirmedPayload }
  | { op: typeof BOOKING_OPS.bookingCancelled; payload: BookingCancelledPayload }
  | { op: typeof BOOKING_OPS.userRegistered; payload: UserRegisteredPayload }
  | { op: typeof BOOKING_OPS.idempotencyStored; payload: IdempotencyStoredPayload }
  | { op: typeof BOOKING_OPS.showMaterialized; payload: ShowMaterializedPayload };

/** The idempotency row as the write's transaction leaves it (claim plus answer). */
export function idempotencyRecord(
  scope: IdempotencyScope,
  nowMs: number,
  response: Uint8Array | null,
): IdempotencyRecord {
  return {
    userId: scope.userId,
    key: scope.key,
    method: scope.method,
    requestHash: scope.requestHash.toString('base64'),
    response: response === null ? null : Buffer.from(response).toString('base64'),
    createdAt: utcTime(nowMs),
  };
}
