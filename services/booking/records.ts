import type { Booking } from '../../proto/gen/marquee/booking/v1/booking';
import { bookingAnswer } from './domain/decide';

/** Rows as mysql2 returns them for the reads of bookings, and their mapping to the API messages (pure). */

export type BookingStateName = 'CONFIRMED' | 'CANCELLED';

export interface ItemRow {
  hold_id: string;
  kind: 'SEAT' | 'GA';
  item_id: string;
  label: string;
  quantity: number;
  amount_cents: number;
}

export interface BookingRow {
  id: string;
  user_id: string;
  show_id: string;
  hold_id: string;
  state: BookingStateName;
  total_cents: number;
  currency: string;
  payment_id: string;
  refund_id: string | null;
  created_at: Date;
  cancelled_at: Date | null;
}

export const ITEM_COLUMNS = 'hold_id, kind, item_id, label, quantity, amount_cents';
export const BOOKING_COLUMNS =
  'id, user_id, show_id, hold_id, state, total_cents, currency, payment_id, refund_id, created_at, cancelled_at';

/** The booking as the API shows it: the same message a write answers with (domain/decide.ts). */
export function bookingToProto(row: BookingRow, items: readonly ItemRow[]): Booking {
  return bookingAnswer({
    id: row.id,
    userId: row.user_id,
    showId: row.show_id,
    holdId: row.hold_id,
    state: row.state,
    totalCents: Number(row.total_cents),
    currency: row.currency,
    paymentId: row.payment_id,
    refundId: row.refund_id,
    createdAt: row.created_at.getTime(),
    cancelledAt: row.cancelled_at ? row.cancelled_at.getTime() : null,
    items: items.map((i) => ({
      kind: i.kind,
      itemId: i.item_id,
      label: i.label,
      quantity: Number(i.quantity),
      amountCents: Number(i.amount_cents),
    })),
  });
}

/** Items grouped by hold id (for lists). */
export function groupItems(items: readonly ItemRow[]): Map<string, ItemRow[]> {
  const groups = new Map<string, ItemRow[]>();
  for (const item of items) {
    const group = groups.get(item.hold_id);
    if (group) group.push(item);
    else groups.set(item.hold_id, [item]);
  }
  return groups;
}
