import { UnavailableError } from '../common/errors';
import { traceParentOf } from '../common/tracing';
import type { PreparedAppend } from '../replication/log-store';
import type { ReplicationNode } from '../replication/node';
import type { NewEntry } from '../replication/types';
import type { IdempotencyScope } from './idempotency';
import { sql, sqlTime } from './sql';
import type { Tx } from './sql';

/*
 * The booking store's optional replication dependency (DESIGN.md, Replication). When present, every
 * write appends one log entry as the last statement of its own transaction and, after COMMIT, waits
 * for the ack policy before answering. When absent, the store is the single-node store, unchanged.
 *
 * Entries carry the resulting rows, ids and times (never the request), so a slave replays them
 * without a clock, randomness or the catalog: see state-machine.ts for how each op is applied.
 */

export interface BookingReplication {
  /** Whether this node is the master now: only the master writes state (a slave applies the log). */
  isMaster(): boolean;
  /**
   * The log append as statements for the write's final batch (sent with its COMMIT); throws
   * UnavailableError when this node is not the master.
   */
  prepareAppend(entry: Omit<NewEntry, 'term'>): PreparedAppend;
  /** After COMMIT: resolves when the ack policy holds for `index`; UnavailableError otherwise. */
  replicate(index: number): Promise<void>;
  /** Resolves when everything this node's log holds now is acknowledged (before replaying an answer). */
  barrier(): Promise<void>;
  /** The process's Lamport clock: one tick per appended entry. */
  tick(): number;
}

/** The dependency over a ReplicationNode (whose role the election drives). */
export function replicationOf(node: ReplicationNode, tick: () => number): BookingReplication {
  return {
    isMaster: () => node.isMaster,
    prepareAppend: (entry) => node.prepareAppend(entry),
    replicate: (index) => node.replicate(index),
    barrier: async () => {
      const { lastIndex } = await node.log.state();
      await node.replicate(lastIndex);
    },
    tick,
  };
}

/**
 * The write committed on this node but the ack policy did not hold (no majority reachable, or the
 * node was deposed). UNAVAILABLE; a retry with the same idempotency key replays the stored answer
 * once it is acknowledged. Never turned into a replay by idempotent() itself.
 */
export class NotAcknowledgedError extends UnavailableError {
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const details = cause instanceof UnavailableError ? cause.details : {};
    super(
      `the write is not acknowledged by the booking group (${reason}); retry with the same idempotency key`,
      details,
    );
  }
}

/**
 * A read that would first have to write state (materialise a show) on a node that is not the master:
 * every node's state comes from the log, so only the master may. UNAVAILABLE; in cluster mode the
 * call is sent on to the master instead (forwarding.ts).
 */
export class MasterOnlyError extends UnavailableError {}

/** Waits for the ack policy of `index` (no-op without replication or index). */
export async function acknowledge(
  replication: BookingReplication | undefined,
  index: number | undefined,
): Promise<void> {
  if (!replication || index === undefined) return;
  try {
    await replication.replicate(index);
  } catch (error) {
    throw new NotAcknowledgedError(error);
  }
}

/** Before replaying a stored answer: it must be acknowledged too (it may be a failed write's tail). */
export async function barrier(replication: BookingReplication | undefined): Promise<void> {
  if (!replication) return;
  try {
    await replication.barrier();
  } catch (error) {
    throw new NotAcknowledgedError(error);
  }
}

// ---- Ops and their payloads -------------------------------------------------------------------
// Times are UTC DATETIME(3) literals (sqlTime); binary columns are base64.

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
    createdAt: sqlTime(nowMs),
  };
}

export function itemRecords(
  items: readonly {
    kind: 'SEAT' | 'GA';
    item_id: string;
    label: string;
    quantity: number;
    amount_cents: number;
  }[],
): ItemRecord[] {
  return items.map((i) => ({
    kind: i.kind,
    itemId: i.item_id,
    label: i.label,
    quantity: Number(i.quantity),
    amountCents: Number(i.amount_cents),
  }));
}

/**
 * Appends `op` to the log and COMMITs `tx` (which must be open and have nothing left to do), in one
 * round trip; returns the index, or undefined without replication (the caller commits then). Then
 * the caller calls acknowledge(index). A fenced append (a newer term was seen) fails before COMMIT.
 */
export async function appendOp(
  replication: BookingReplication | undefined,
  tx: Tx,
  op: BookingOp,
): Promise<number | undefined> {
  if (!replication) return undefined;
  const append = replication.prepareAppend({
    lamport: replication.tick(),
    op: op.op,
    payload: JSON.stringify(op.payload),
    // The request's trace follows the entry to the slaves (replication/entry-tracing.ts).
    traceParent: traceParentOf(),
  });
  try {
    const results = await tx.commit(...append.statements.map((s) => sql(s.sql, ...s.values)));
    return append.index(results.slice(-append.statements.length));
  } catch (error) {
    throw append.fenced(error) ?? error;
  }
}
