import type { Booking } from '../../proto/gen/marquee/booking/v1/booking';
import type { Principal } from '../common/auth';
import { NotFoundError } from '../common/errors';
import type { Page } from '../common/pagination';
import type { StoreContext } from './store';
import { assertOwnerOrAdmin } from './domain/decide';
import { BOOKING_COLUMNS, ITEM_COLUMNS, bookingToProto, groupItems } from './records';
import type { BookingRow, ItemRow } from './records';
import { queryRows } from './sql';

/* Reads of bookings (any node may serve them); writes go through write/batcher.ts. */

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
