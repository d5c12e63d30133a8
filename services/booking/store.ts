import { Booking, Hold, SeatState } from '../../proto/gen/marquee/booking/v1/booking';
import type { Availability } from '../../proto/gen/marquee/booking/v1/booking';
import type { Principal } from '../common/auth';
import type { Page } from '../common/pagination';
import { cancelBooking, confirmBooking, getBooking, listBookings } from './bookings';
import { createHold, expireLapsedHolds, releaseHold } from './holds';
import type { HoldRequest, StoreContext } from './holds';
import { idempotent, purgeStatement } from './idempotency';
import type { IdempotencyScope } from './idempotency';
import type { Inventory } from './inventory';
import type { ValidCard } from './payments';
import { queryRows, sqlTime } from './sql';

export type { HoldRequest, StoreContext };

/** The booking operations, on validated input; every write takes its idempotency scope. */
export interface BookingStore {
  availability(showId: string, deadline: Date | number): Promise<Availability>;
  hold(
    principal: Principal,
    scope: IdempotencyScope,
    request: HoldRequest,
    deadline: Date | number,
  ): Promise<Hold>;
  release(principal: Principal, scope: IdempotencyScope, holdId: string): Promise<Hold>;
  confirm(principal: Principal, scope: IdempotencyScope, holdId: string, card: ValidCard): Promise<Booking>;
  cancel(principal: Principal, scope: IdempotencyScope, bookingId: string): Promise<Booking>;
  get(principal: Principal, bookingId: string): Promise<Booking>;
  listMine(principal: Principal, page: Page): Promise<{ bookings: Booking[]; fetched: number }>;
  /** Expires lapsed holds and purges old idempotency keys; returns what it did. */
  sweep(options: { purgeKeys: boolean }): Promise<{ expired: number; purged: number }>;
}

interface SeatStateRow {
  seat_id: string;
  label: string;
  price_tier: string;
  amount_cents: number;
  state: 'FREE' | 'HELD' | 'SOLD';
  held_until: Date | null;
}

interface PoolStateRow {
  area_id: string;
  name: string;
  price_tier: string;
  amount_cents: number;
  capacity: number;
  held: number;
  sold: number;
  lapsed: number | string;
}

const SEAT_STATES = {
  FREE: SeatState.SEAT_STATE_FREE,
  HELD: SeatState.SEAT_STATE_HELD,
  SOLD: SeatState.SEAT_STATE_SOLD,
};

const SWEEP_BATCH = 200;
const PURGE_BATCH = 5000;

/** BookingStore on MySQL (see holds.ts and bookings.ts for the transactions). */
export class MysqlBookingStore implements BookingStore {
  constructor(
    private readonly ctx: StoreContext,
    private readonly inventory: Inventory,
    private readonly idempotencyTtlHours: number,
  ) {}

  /** Seats with their state (a lapsed hold shows as FREE) and pools counting only live holds. */
  async availability(showId: string, deadline: Date | number): Promise<Availability> {
    const catalog = await this.inventory.get(showId, deadline);
    const now = this.ctx.clock();
    const [seats, pools] = await Promise.all([
      queryRows<SeatStateRow>(
        this.ctx.pool,
        'SELECT seat_id, label, price_tier, amount_cents, state, held_until FROM seats WHERE show_id = ? ORDER BY position',
        showId,
      ),
      queryRows<PoolStateRow>(
        this.ctx.pool,
        `SELECT p.area_id, p.name, p.price_tier, p.amount_cents, p.capacity, p.held, p.sold,
           (SELECT COALESCE(SUM(i.quantity), 0) FROM holds h JOIN hold_items i ON i.hold_id = h.id
            WHERE h.show_id = p.show_id AND h.state = 'ACTIVE' AND h.expires_at <= ? AND i.kind = 'GA' AND i.item_id = p.area_id) AS lapsed
         FROM ga_pools p WHERE p.show_id = ? ORDER BY p.position`,
        sqlTime(now),
        showId,
      ),
    ]);
    return {
      showId,
      currency: catalog.currency,
      seats: seats.map((s) => {
        const lapsed = s.state === 'HELD' && (s.held_until === null || s.held_until.getTime() <= now);
        return {
          seatId: s.seat_id,
          label: s.label,
          priceTier: s.price_tier,
          amountCents: Number(s.amount_cents),
          state: lapsed ? SeatState.SEAT_STATE_FREE : SEAT_STATES[s.state],
        };
      }),
      pools: pools.map((p) => {
        const held = Math.max(0, Number(p.held) - Number(p.lapsed));
        const sold = Number(p.sold);
        const capacity = Number(p.capacity);
        return {
          areaId: p.area_id,
          name: p.name,
          priceTier: p.price_tier,
          amountCents: Number(p.amount_cents),
          capacity,
          held,
          sold,
          remaining: Math.max(0, capacity - held - sold),
        };
      }),
    };
  }

  async hold(
    principal: Principal,
    scope: IdempotencyScope,
    request: HoldRequest,
    deadline: Date | number,
  ): Promise<Hold> {
    const catalog = await this.inventory.get(request.showId, deadline);
    const { value } = await idempotent(
      this.ctx.pool,
      scope,
      (b) => Hold.decode(b),
      () => createHold(this.ctx, principal, scope, catalog, request),
      this.ctx.replication,
    );
    return value;
  }

  async release(principal: Principal, scope: IdempotencyScope, holdId: string): Promise<Hold> {
    const { value } = await idempotent(
      this.ctx.pool,
      scope,
      (b) => Hold.decode(b),
      () => releaseHold(this.ctx, principal, scope, holdId),
      this.ctx.replication,
    );
    return value;
  }

  async confirm(
    principal: Principal,
    scope: IdempotencyScope,
    holdId: string,
    card: ValidCard,
  ): Promise<Booking> {
    const { value } = await idempotent(
      this.ctx.pool,
      scope,
      (b) => Booking.decode(b),
      () => confirmBooking(this.ctx, principal, scope, holdId, card),
      this.ctx.replication,
    );
    return value;
  }

  async cancel(principal: Principal, scope: IdempotencyScope, bookingId: string): Promise<Booking> {
    const { value } = await idempotent(
      this.ctx.pool,
      scope,
      (b) => Booking.decode(b),
      () => cancelBooking(this.ctx, principal, scope, bookingId),
      this.ctx.replication,
    );
    return value;
  }

  get(principal: Principal, bookingId: string): Promise<Booking> {
    return getBooking(this.ctx, principal, bookingId);
  }

  listMine(principal: Principal, page: Page): Promise<{ bookings: Booking[]; fetched: number }> {
    return listBookings(this.ctx, principal.userId, page);
  }

  async sweep(options: { purgeKeys: boolean }): Promise<{ expired: number; purged: number }> {
    // Expiry is a replicated write: only the master expires (a slave doing it alone would diverge).
    // Keys are node-local tidying: every node purges its own.
    const replication = this.ctx.replication;
    const expired =
      replication && !replication.isMaster() ? 0 : await expireLapsedHolds(this.ctx, SWEEP_BATCH);
    let purged = 0;
    if (options.purgeKeys) {
      const cutoff = this.ctx.clock() - this.idempotencyTtlHours * 3600 * 1000;
      const statement = purgeStatement(cutoff, PURGE_BATCH);
      const [result] = await this.ctx.pool.query(
        statement.sql,
        statement.values ? [...statement.values] : [],
      );
      purged = (result as { affectedRows: number }).affectedRows;
    }
    return { expired, purged };
  }
}
