import { Booking } from '../../proto/gen/marquee/booking/v1/booking';
import type { Principal } from '../common/auth';
import { FailedPreconditionError, NotFoundError, PermissionDeniedError } from '../common/errors';
import { newId } from '../common/ids';
import type { Page } from '../common/pagination';
import type { StoreContext } from './holds';
import { answerStatement, claimStatement } from './idempotency';
import type { IdempotencyScope } from './idempotency';
import type { ValidCard } from './payments';
import { BOOKING_OPS, idempotencyRecord } from './domain/operations';
import { acknowledge, appendOp } from './replication';
import {
  BOOKING_COLUMNS,
  HOLD_COLUMNS,
  ITEM_COLUMNS,
  assertOwnerOrAdmin,
  bookingToProto,
  groupItems,
} from './records';
import type { BookingRow, HoldRow, ItemRow } from './records';
import { failedGuard, guard, queryRows, rows, sql, sqlTime, transact } from './sql';
import type { Statement } from './sql';

/**
 * Pays for a hold and turns it into a booking, in one transaction of two round trips:
 * [START, claim key, lock hold, read items], charge the card, [seats HELD → SOLD, pools held → sold
 * (each checked by a guard), INSERT booking and payment, hold CONFIRMED, store answer, COMMIT].
 * The card is charged before anything is written, so a decline rolls back the claim and leaves the
 * hold as it was. If the transaction fails after an approved charge, the charge is refunded.
 */
export async function confirmBooking(
  ctx: StoreContext,
  principal: Principal,
  scope: IdempotencyScope,
  holdId: string,
  card: ValidCard,
): Promise<Booking> {
  const now = ctx.clock();
  const bookingId = newId('bk');
  // Kept across deadlock retries: the processor is told the same reference, and we charge once.
  let charge: { paymentId: string; amountCents: number; currency: string } | undefined;
  // Set when the connection died during the final batch: its COMMIT may or may not have run.
  let outcomeUnknown = false;
  let confirmed: { booking: Booking; index: number | undefined };
  try {
    confirmed = await transact(
      ctx.pool,
      () => `hold ${holdId}`,
      async (tx) => {
        const [, holdRows, itemRows] = await tx.run(
          claimStatement(scope, now, null),
          sql(`SELECT ${HOLD_COLUMNS} FROM holds WHERE id = ? FOR UPDATE`, holdId),
          sql(`SELECT ${ITEM_COLUMNS} FROM hold_items WHERE hold_id = ?`, holdId),
        );
        const hold = rows<HoldRow>(holdRows)[0];
        if (!hold) throw new NotFoundError('hold', holdId, 'hold_id');
        if (hold.user_id !== principal.userId)
          throw new PermissionDeniedError(`hold_id: hold ${holdId} belongs to another user`);
        if (hold.state === 'CONFIRMED')
          throw new FailedPreconditionError(
            `hold ${holdId} is already confirmed as booking ${hold.booking_id ?? ''}`,
          );
        if (hold.state !== 'ACTIVE')
          throw new FailedPreconditionError(
            `hold ${holdId} is ${hold.state.toLowerCase()}; hold the seats again`,
          );
        if (hold.expires_at.getTime() <= now) {
          throw new FailedPreconditionError(
            `hold ${holdId} expired at ${hold.expires_at.toISOString()}; hold the seats again`,
          );
        }
        const items = rows<ItemRow>(itemRows);
        charge ??= {
          ...(await ctx.payments.charge({
            amountCents: Number(hold.total_cents),
            currency: hold.currency,
            card,
            reference: bookingId,
          })),
          amountCents: Number(hold.total_cents),
          currency: hold.currency,
        };
        const row: BookingRow = {
          id: bookingId,
          user_id: principal.userId,
          show_id: hold.show_id,
          hold_id: holdId,
          state: 'CONFIRMED',
          total_cents: Number(hold.total_cents),
          currency: hold.currency,
          payment_id: charge.paymentId,
          refund_id: null,
          created_at: new Date(now),
          cancelled_at: null,
        };
        const booking = bookingToProto(row, items);
        const answer = Buffer.from(Booking.encode(booking).finish());
        const seatIds = items.filter((i) => i.kind === 'SEAT').map((i) => i.item_id);
        const seatCount = seatIds.length;
        const pools = items.filter((i) => i.kind === 'GA');
        const statements: Statement[] = [];
        if (seatCount > 0) {
          // By primary key (seat ids from the hold's items): a scan by show would lock the whole show.
          statements.push(
            sql(
              `UPDATE seats SET state = 'SOLD', booking_id = ?, hold_id = NULL, held_until = NULL
               WHERE show_id = ? AND seat_id IN (?) AND hold_id = ? AND state = 'HELD'`,
              bookingId,
              hold.show_id,
              seatIds,
              holdId,
            ),
            // The hold was live when we locked it, but a seat of a hold that lapsed meanwhile may
            // have been taken by another hold: every seat and place moves, or nothing does.
            guard(seatCount, 'seats'),
          );
        }
        for (const p of pools) {
          statements.push(
            sql(
              'UPDATE ga_pools SET held = held - ?, sold = sold + ? WHERE show_id = ? AND area_id = ? AND held >= ?',
              p.quantity,
              p.quantity,
              hold.show_id,
              p.item_id,
              p.quantity,
            ),
            guard(1, 'ga'),
          );
        }
        statements.push(
          sql(
            `INSERT INTO bookings (id, user_id, show_id, hold_id, state, total_cents, currency, payment_id, created_at) VALUES (?, ?, ?, ?, 'CONFIRMED', ?, ?, ?, ?)`,
            bookingId,
            principal.userId,
            hold.show_id,
            holdId,
            row.total_cents,
            row.currency,
            charge.paymentId,
            sqlTime(now),
          ),
          sql(
            `INSERT INTO payments (id, kind, booking_id, user_id, amount_cents, currency, card_last4, created_at) VALUES (?, 'CHARGE', ?, ?, ?, ?, ?, ?)`,
            charge.paymentId,
            bookingId,
            principal.userId,
            row.total_cents,
            row.currency,
            card.last4,
            sqlTime(now),
          ),
          sql("UPDATE holds SET state = 'CONFIRMED', booking_id = ? WHERE id = ?", bookingId, holdId),
          answerStatement(scope, answer),
        );
        try {
          // Replicated: the batch without COMMIT, then the log entry together with COMMIT (appendOp).
          if (ctx.replication) await tx.run(...statements);
          else await tx.commit(...statements);
        } catch (error) {
          // A statement error stops the batch before COMMIT; only a lost connection leaves it unknown.
          if ((error as { fatal?: boolean }).fatal === true) outcomeUnknown = true;
          if (!failedGuard(error)) throw error;
          throw new FailedPreconditionError(
            `hold ${holdId} lapsed while being confirmed and some of its seats were taken; hold the seats again`,
          );
        }
        if (!ctx.replication) return { booking, index: undefined };
        const paymentId = charge.paymentId;
        const index = await appendOp(ctx.replication, tx, {
          op: BOOKING_OPS.bookingConfirmed,
          payload: {
            booking: {
              id: bookingId,
              userId: principal.userId,
              showId: hold.show_id,
              holdId,
              totalCents: row.total_cents,
              currency: row.currency,
              paymentId,
              createdAt: sqlTime(now),
            },
            seatIds,
            ga: pools.map((p) => ({ areaId: p.item_id, quantity: Number(p.quantity) })),
            cardLast4: card.last4,
            idempotency: idempotencyRecord(scope, now, answer),
          },
        });
        // COMMIT is transact's; a connection lost there leaves the outcome unknown as well.
        outcomeUnknown = true;
        return { booking, index };
      },
    );
  } catch (error) {
    // Refunding after an unknown outcome could refund a booking that exists: leave it to reconciliation.
    if (charge && !outcomeUnknown) await refundQuietly(ctx, charge, bookingId);
    if (charge && outcomeUnknown)
      ctx.logger.error(
        { err: error, bookingId, paymentId: charge.paymentId },
        'commit of a paid booking failed; reconcile this payment',
      );
    throw error;
  }
  // Committed: a failure to replicate is UNAVAILABLE, never a refund (the booking exists here).
  await acknowledge(ctx.replication, confirmed.index);
  return confirmed.booking;
}

async function refundQuietly(
  ctx: StoreContext,
  charge: { paymentId: string; amountCents: number; currency: string },
  bookingId: string,
): Promise<void> {
  try {
    await ctx.payments.refund(charge);
    ctx.logger.warn({ bookingId, paymentId: charge.paymentId }, 'booking not written; charge refunded');
  } catch (error) {
    ctx.logger.error(
      { err: error, bookingId, paymentId: charge.paymentId },
      'refund of an unwritten booking failed; reconcile this payment',
    );
  }
}

/**
 * Cancels a CONFIRMED booking (owner or admin): refunds the charge, frees the seats and places.
 * [START, claim key, lock booking, read items], refund, [writes, store answer, COMMIT].
 */
export async function cancelBooking(
  ctx: StoreContext,
  principal: Principal,
  scope: IdempotencyScope,
  bookingId: string,
): Promise<Booking> {
  const now = ctx.clock();
  // Kept across deadlock retries so a retried transaction does not refund twice.
  let refund: { refundId: string } | undefined;
  let committed = false;
  let cancelled: { booking: Booking; index: number | undefined };
  try {
    cancelled = await transact(
      ctx.pool,
      () => `booking ${bookingId}`,
      async (tx) => {
        const [, bookingRows, itemRows] = await tx.run(
          claimStatement(scope, now, null),
          sql(`SELECT ${BOOKING_COLUMNS} FROM bookings WHERE id = ? FOR UPDATE`, bookingId),
          sql(
            `SELECT i.hold_id, i.kind, i.item_id, i.label, i.quantity, i.amount_cents FROM hold_items i JOIN bookings b ON b.hold_id = i.hold_id WHERE b.id = ?`,
            bookingId,
          ),
        );
        const row = rows<BookingRow>(bookingRows)[0];
        if (!row) throw new NotFoundError('booking', bookingId, 'booking_id');
        assertOwnerOrAdmin(principal, row.user_id, `booking ${bookingId}`, 'booking_id');
        if (row.state !== 'CONFIRMED')
          throw new FailedPreconditionError(`booking ${bookingId} is already cancelled`);
        const items = rows<ItemRow>(itemRows);
        refund ??= await ctx.payments.refund({
          paymentId: row.payment_id,
          amountCents: Number(row.total_cents),
          currency: row.currency,
        });
        const { refundId } = refund;
        const cancelledRow: BookingRow = {
          ...row,
          state: 'CANCELLED',
          refund_id: refundId,
          cancelled_at: new Date(now),
        };
        const booking = bookingToProto(cancelledRow, items);
        const answer = Buffer.from(Booking.encode(booking).finish());
        const statements: Statement[] = [
          sql(
            "UPDATE bookings SET state = 'CANCELLED', refund_id = ?, cancelled_at = ? WHERE id = ? AND state = 'CONFIRMED'",
            refundId,
            sqlTime(now),
            bookingId,
          ),
        ];
        const seatIds = items.filter((i) => i.kind === 'SEAT').map((i) => i.item_id);
        if (seatIds.length > 0) {
          statements.push(
            sql(
              "UPDATE seats SET state = 'FREE', booking_id = NULL WHERE show_id = ? AND seat_id IN (?) AND booking_id = ? AND state = 'SOLD'",
              row.show_id,
              seatIds,
              bookingId,
            ),
          );
        }
        for (const item of items) {
          if (item.kind === 'GA')
            statements.push(
              sql(
                'UPDATE ga_pools SET sold = sold - ? WHERE show_id = ? AND area_id = ?',
                item.quantity,
                row.show_id,
                item.item_id,
              ),
            );
        }
        statements.push(
          sql(
            `INSERT INTO payments (id, kind, booking_id, user_id, amount_cents, currency, charge_id, created_at) VALUES (?, 'REFUND', ?, ?, ?, ?, ?, ?)`,
            refundId,
            bookingId,
            row.user_id,
            Number(row.total_cents),
            row.currency,
            row.payment_id,
            sqlTime(now),
          ),
          answerStatement(scope, answer),
        );
        // The booking row is locked and CONFIRMED, so its seats are SOLD to it: no count to check.
        if (!ctx.replication) {
          await tx.commit(...statements);
          return { booking, index: undefined };
        }
        await tx.run(...statements);
        const index = await appendOp(ctx.replication, tx, {
          op: BOOKING_OPS.bookingCancelled,
          payload: {
            bookingId,
            showId: row.show_id,
            userId: row.user_id,
            refundId,
            chargeId: row.payment_id,
            amountCents: Number(row.total_cents),
            currency: row.currency,
            cancelledAt: sqlTime(now),
            seatIds,
            ga: items
              .filter((i) => i.kind === 'GA')
              .map((i) => ({ areaId: i.item_id, quantity: Number(i.quantity) })),
            idempotency: idempotencyRecord(scope, now, answer),
          },
        });
        return { booking, index };
      },
    );
    committed = true;
  } finally {
    if (refund && !committed)
      ctx.logger.error(
        { bookingId, refundId: refund.refundId },
        'refunded but the cancellation was not written; reconcile this payment',
      );
  }
  await acknowledge(ctx.replication, cancelled.index);
  return cancelled.booking;
}

/** One booking, for its owner or an admin; anyone else gets PERMISSION_DENIED. */
export async function getBooking(
  ctx: StoreContext,
  principal: Principal,
  bookingId: string,
): Promise<Booking> {
  const found = await queryRows<BookingRow>(
    ctx.pool,
    `SELECT ${BOOKING_COLUMNS} FROM bookings WHERE id = ?`,
    bookingId,
  );
  const row = found[0];
  if (!row) throw new NotFoundError('booking', bookingId, 'booking_id');
  assertOwnerOrAdmin(principal, row.user_id, `booking ${bookingId}`, 'booking_id');
  const items = await queryRows<ItemRow>(
    ctx.pool,
    `SELECT ${ITEM_COLUMNS} FROM hold_items WHERE hold_id = ?`,
    row.hold_id,
  );
  return bookingToProto(row, items);
}

/** The caller's bookings, newest first; fetches one extra row to know whether a next page exists. */
export async function listBookings(
  ctx: StoreContext,
  userId: string,
  page: Page,
): Promise<{ bookings: Booking[]; fetched: number }> {
  const found = await queryRows<BookingRow>(
    ctx.pool,
    `SELECT ${BOOKING_COLUMNS} FROM bookings WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
    userId,
    page.size + 1,
    page.offset,
  );
  const shown = found.slice(0, page.size);
  const items =
    shown.length === 0
      ? []
      : await queryRows<ItemRow>(
          ctx.pool,
          `SELECT ${ITEM_COLUMNS} FROM hold_items WHERE hold_id IN (?)`,
          shown.map((b) => b.hold_id),
        );
  const grouped = groupItems(items);
  return {
    bookings: shown.map((b) => bookingToProto(b, grouped.get(b.hold_id) ?? [])),
    fetched: found.length,
  };
}
