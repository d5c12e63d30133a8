import { BOOKING_OPS, utcMs } from './operations';
import type { BookingOp, ItemRecord } from './operations';

/*
 * The part of the booking state a decision reads, in memory. On the master it is the rows a batch
 * needs, read under lock (write/loader.ts); in property tests it is the whole state. `evolve` moves
 * it by one operation exactly as the applier moves the tables, so the decisions later in a batch
 * see what the earlier ones left.
 */

export type SeatStateName = 'FREE' | 'HELD' | 'SOLD';
export type HoldStateName = 'ACTIVE' | 'CONFIRMED' | 'RELEASED' | 'EXPIRED';

export interface SeatView {
  showId: string;
  seatId: string;
  label: string;
  amountCents: number;
  state: SeatStateName;
  holdId: string | null;
  /** Epoch ms; null unless HELD. */
  heldUntil: number | null;
  bookingId: string | null;
}

export interface PoolView {
  showId: string;
  areaId: string;
  name: string;
  amountCents: number;
  capacity: number;
  held: number;
  sold: number;
}

export interface HoldView {
  id: string;
  userId: string;
  showId: string;
  state: HoldStateName;
  totalCents: number;
  currency: string;
  expiresAt: number;
  createdAt: number;
  bookingId: string | null;
  items: ItemRecord[];
}

export interface BookingView {
  id: string;
  userId: string;
  showId: string;
  holdId: string;
  state: 'CONFIRMED' | 'CANCELLED';
  totalCents: number;
  currency: string;
  paymentId: string;
  refundId: string | null;
  createdAt: number;
  cancelledAt: number | null;
  items: ItemRecord[];
}

export interface KeyView {
  userId: string;
  key: string;
  method: string;
  /** base64 */
  requestHash: string;
  /** base64; a committed claim always has its answer. */
  response: string | null;
}

export const seatKey = (showId: string, seatId: string): string => `${showId}\u0000${seatId}`;
export const poolKey = (showId: string, areaId: string): string => `${showId}\u0000${areaId}`;
export const idempotencyKey = (userId: string, key: string): string => `${userId}\u0000${key}`;

export class BookingState {
  readonly seats = new Map<string, SeatView>();
  readonly pools = new Map<string, PoolView>();
  readonly holds = new Map<string, HoldView>();
  readonly bookings = new Map<string, BookingView>();
  readonly keys = new Map<string, KeyView>();
  /** Registered emails → user id. */
  readonly users = new Map<string, string>();
  /** Materialised shows. */
  readonly shows = new Set<string>();

  seat(showId: string, seatId: string): SeatView | undefined {
    return this.seats.get(seatKey(showId, seatId));
  }

  pool(showId: string, areaId: string): PoolView | undefined {
    return this.pools.get(poolKey(showId, areaId));
  }

  addSeat(seat: SeatView): void {
    this.seats.set(seatKey(seat.showId, seat.seatId), seat);
  }

  addPool(pool: PoolView): void {
    this.pools.set(poolKey(pool.showId, pool.areaId), pool);
  }

  addKey(key: KeyView): void {
    this.keys.set(idempotencyKey(key.userId, key.key), key);
  }
}

/**
 * Moves `state` by one operation, as write/applier.ts moves the tables (the two are kept equal by
 * the applier's tests). Rows the view does not hold are left alone: a partial view only answers for
 * what it loaded. Shows and users are not part of the view.
 */
export function evolve(state: BookingState, op: BookingOp): void {
  switch (op.op) {
    case BOOKING_OPS.holdCreated: {
      const { hold, items } = op.payload;
      const expiresAt = utcMs(hold.expiresAt);
      state.holds.set(hold.id, {
        id: hold.id,
        userId: hold.userId,
        showId: hold.showId,
        state: 'ACTIVE',
        totalCents: hold.totalCents,
        currency: hold.currency,
        expiresAt,
        createdAt: utcMs(hold.createdAt),
        bookingId: null,
        items,
      });
      for (const item of items) {
        if (item.kind === 'SEAT') {
          const seat = state.seat(hold.showId, item.itemId);
          if (seat)
            Object.assign(seat, { state: 'HELD', holdId: hold.id, heldUntil: expiresAt, bookingId: null });
        } else {
          const pool = state.pool(hold.showId, item.itemId);
          if (pool) pool.held += item.quantity;
        }
      }
      break;
    }
    case BOOKING_OPS.holdReleased:
    case BOOKING_OPS.holdExpired: {
      const { holdId, showId, items } = op.payload;
      const hold = state.holds.get(holdId);
      if (hold) hold.state = op.op === BOOKING_OPS.holdReleased ? 'RELEASED' : 'EXPIRED';
      for (const item of items) {
        if (item.kind === 'SEAT') {
          // Only seats still held by this hold: a lapsed hold's seat may be another hold's by now.
          const seat = state.seat(showId, item.itemId);
          if (seat && seat.state === 'HELD' && seat.holdId === holdId)
            Object.assign(seat, { state: 'FREE', holdId: null, heldUntil: null });
        } else {
          const pool = state.pool(showId, item.itemId);
          if (pool) pool.held -= item.quantity;
        }
      }
      break;
    }
    case BOOKING_OPS.bookingConfirmed: {
      const { booking, seatIds, ga } = op.payload;
      const hold = state.holds.get(booking.holdId);
      if (hold) Object.assign(hold, { state: 'CONFIRMED', bookingId: booking.id });
      state.bookings.set(booking.id, {
        id: booking.id,
        userId: booking.userId,
        showId: booking.showId,
        holdId: booking.holdId,
        state: 'CONFIRMED',
        totalCents: booking.totalCents,
        currency: booking.currency,
        paymentId: booking.paymentId,
        refundId: null,
        createdAt: utcMs(booking.createdAt),
        cancelledAt: null,
        items: hold?.items ?? [],
      });
      for (const seatId of seatIds) {
        const seat = state.seat(booking.showId, seatId);
        if (seat)
          Object.assign(seat, { state: 'SOLD', holdId: null, heldUntil: null, bookingId: booking.id });
      }
      for (const g of ga) {
        const pool = state.pool(booking.showId, g.areaId);
        if (pool) {
          pool.held -= g.quantity;
          pool.sold += g.quantity;
        }
      }
      break;
    }
    case BOOKING_OPS.bookingCancelled: {
      const p = op.payload;
      const booking = state.bookings.get(p.bookingId);
      if (booking)
        Object.assign(booking, {
          state: 'CANCELLED',
          refundId: p.refundId,
          cancelledAt: utcMs(p.cancelledAt),
        });
      for (const seatId of p.seatIds) {
        const seat = state.seat(p.showId, seatId);
        if (seat && seat.state === 'SOLD' && seat.bookingId === p.bookingId)
          Object.assign(seat, { state: 'FREE', bookingId: null });
      }
      for (const g of p.ga) {
        const pool = state.pool(p.showId, g.areaId);
        if (pool) pool.sold -= g.quantity;
      }
      break;
    }
    case BOOKING_OPS.userRegistered:
      state.users.set(op.payload.user.email, op.payload.user.id);
      break;
    case BOOKING_OPS.showMaterialized: {
      const { show, seats, pools } = op.payload;
      state.shows.add(show.showId);
      for (const [seatId, , label, , amountCents] of seats)
        state.addSeat({
          showId: show.showId,
          seatId,
          label,
          amountCents,
          state: 'FREE',
          holdId: null,
          heldUntil: null,
          bookingId: null,
        });
      for (const [areaId, , name, , amountCents, capacity] of pools)
        state.addPool({ showId: show.showId, areaId, name, amountCents, capacity, held: 0, sold: 0 });
      break;
    }
    case BOOKING_OPS.idempotencyStored:
      break;
  }
  const record = 'idempotency' in op.payload ? op.payload.idempotency : undefined;
  if (record)
    state.addKey({
      userId: record.userId,
      key: record.key,
      method: record.method,
      requestHash: record.requestHash,
      response: record.response,
    });
}
