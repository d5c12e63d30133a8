import { SeatState } from '../../proto/gen/marquee/booking/v1/booking';
import type { Availability, Booking, Hold } from '../../proto/gen/marquee/booking/v1/booking';
import type { Principal } from '../common/auth';
import { newId } from '../common/ids';
import type { Logger } from '../common/logger';
import type { Pool } from '../common/mysql';
import type { Page } from '../common/pagination';
import { getBooking, listBookings } from './bookings';
import { assertCancellable, assertConfirmable } from './domain/decide';
import type { CancelCommand, ConfirmCommand } from './domain/decide';
import type { IdempotencyScope } from './domain/operations';
import { idempotencyKey } from './domain/state';
import { purgeStatement } from './idempotency';
import type { Inventory } from './inventory';
import type { PaymentProcessor, ValidCard } from './payments';
import { NotAcknowledgedError } from './replication';
import { queryRows, sqlTime } from './sql';
import type { WriteBatcher } from './write/batcher';
import { readState } from './write/loader';

/** What the store shares with its parts. */
export interface StoreContext {
  pool: Pool;
  clock: () => number;
  holdTtlSeconds: number;
  payments: PaymentProcessor;
  logger: Logger;
}

export interface HoldRequest {
  showId: string;
  seatIds: readonly string[];
  ga: readonly { areaId: string; quantity: number }[];
}

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

/**
 * BookingStore on MySQL. Every write is a command decided by the pure domain and written by the
 * batcher (write/batcher.ts) with whatever else is waiting; reads go to the tables directly.
 */
export class MysqlBookingStore implements BookingStore {
  /** Cancels of one booking on this node, one at a time: the refund must not be paid twice. */
  private readonly cancelling = new Map<string, Promise<unknown>>();

  constructor(
    private readonly ctx: StoreContext,
    private readonly inventory: Inventory,
    private readonly idempotencyTtlHours: number,
    /** The node's one writer, shared with accounts and inventory. */
    private readonly batcher: WriteBatcher,
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
    // Materialises the show first (a replicated write of its own): the decision reads its seat rows.
    const catalog = await this.inventory.get(request.showId, deadline);
    return this.batcher.submit({
      kind: 'hold',
      principal,
      scope,
      holdId: newId('hold'),
      showId: request.showId,
      seatIds: request.seatIds,
      ga: request.ga,
      currency: catalog.currency,
      ttlSeconds: this.ctx.holdTtlSeconds,
    });
  }

  release(principal: Principal, scope: IdempotencyScope, holdId: string): Promise<Hold> {
    return this.batcher.submit({ kind: 'release', principal, scope, holdId });
  }

  /**
   * Charges the card, then books. A retry of a confirm that went through is answered from its key
   * without a second charge; a hold that cannot be paid for is refused before charging; a charge
   * whose booking was then refused is refunded (unless the write's outcome is unknown: reconcile).
   */
  async confirm(
    principal: Principal,
    scope: IdempotencyScope,
    holdId: string,
    card: ValidCard,
  ): Promise<Booking> {
    const now = this.ctx.clock();
    const command: ConfirmCommand = {
      kind: 'confirm',
      principal,
      scope,
      holdId,
      bookingId: newId('bk'),
      payment: { paymentId: '', amountCents: -1, cardLast4: card.last4 },
      requestedAt: now,
    };
    const state = await readState(this.ctx.pool, [command], now);
    if (state.keys.has(idempotencyKey(scope.userId, scope.key))) return this.batcher.submit(command);
    const hold = assertConfirmable(principal, state.holds.get(holdId), holdId, now);
    const charge = {
      ...(await this.ctx.payments.charge({
        amountCents: hold.totalCents,
        currency: hold.currency,
        card,
        reference: command.bookingId,
      })),
      amountCents: hold.totalCents,
      currency: hold.currency,
    };
    try {
      return await this.batcher.submit({
        ...command,
        payment: { paymentId: charge.paymentId, amountCents: hold.totalCents, cardLast4: card.last4 },
      });
    } catch (error) {
      if (error instanceof NotAcknowledgedError) {
        // Written here (or maybe written): the charge belongs to that booking; a retry replays it.
        this.ctx.logger.warn(
          { err: error, bookingId: command.bookingId, paymentId: charge.paymentId },
          'paid booking not acknowledged; if it was not written, reconcile this payment',
        );
      } else await this.refundQuietly(charge, command.bookingId);
      throw error;
    }
  }

  /** Cancels a CONFIRMED booking (owner or admin): refunds the charge, then frees the seats and places. */
  cancel(principal: Principal, scope: IdempotencyScope, bookingId: string): Promise<Booking> {
    const previous = this.cancelling.get(bookingId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.cancelNow(principal, scope, bookingId));
    this.cancelling.set(bookingId, next);
    const forget = (): void => {
      if (this.cancelling.get(bookingId) === next) this.cancelling.delete(bookingId);
    };
    next.then(forget, forget);
    return next;
  }

  private async cancelNow(
    principal: Principal,
    scope: IdempotencyScope,
    bookingId: string,
  ): Promise<Booking> {
    const command: CancelCommand = { kind: 'cancel', principal, scope, bookingId, refundId: '' };
    const state = await readState(this.ctx.pool, [command], this.ctx.clock());
    if (state.keys.has(idempotencyKey(scope.userId, scope.key))) return this.batcher.submit(command);
    const booking = assertCancellable(principal, state.bookings.get(bookingId), bookingId);
    const { refundId } = await this.ctx.payments.refund({
      paymentId: booking.paymentId,
      amountCents: booking.totalCents,
      currency: booking.currency,
    });
    try {
      return await this.batcher.submit({ ...command, refundId });
    } catch (error) {
      if (!(error instanceof NotAcknowledgedError))
        this.ctx.logger.error(
          { bookingId, refundId },
          'refunded but the cancellation was not written; reconcile this payment',
        );
      throw error;
    }
  }

  private async refundQuietly(
    charge: { paymentId: string; amountCents: number; currency: string },
    bookingId: string,
  ): Promise<void> {
    try {
      await this.ctx.payments.refund(charge);
      this.ctx.logger.warn(
        { bookingId, paymentId: charge.paymentId },
        'booking not written; charge refunded',
      );
    } catch (error) {
      this.ctx.logger.error(
        { err: error, bookingId, paymentId: charge.paymentId },
        'refund of an unwritten booking failed; reconcile this payment',
      );
    }
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
    const expired = this.batcher.isMaster() ? await this.expireLapsed() : 0;
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

  private async expireLapsed(): Promise<number> {
    const due = await queryRows<{ id: string }>(
      this.ctx.pool,
      "SELECT id FROM holds WHERE state = 'ACTIVE' AND expires_at <= ? ORDER BY expires_at LIMIT ?",
      sqlTime(this.ctx.clock()),
      SWEEP_BATCH,
    );
    if (due.length === 0) return 0;
    return this.batcher.submit({ kind: 'expire', holdIds: due.map((h) => h.id) });
  }
}
