import { BookingState, HoldState } from '../../proto/gen/marquee/booking/v1/booking';
import type { BookedSeat, Booking, GaItem, Hold } from '../../proto/gen/marquee/booking/v1/booking';
import type { Principal } from '../common/auth';
import { PermissionDeniedError } from '../common/errors';

/** Rows as mysql2 returns them, and their mapping to the API messages (pure). */

export type HoldStateName = 'ACTIVE' | 'CONFIRMED' | 'RELEASED' | 'EXPIRED';
export type BookingStateName = 'CONFIRMED' | 'CANCELLED';

export interface HoldRow {
  id: string;
  user_id: string;
  show_id: string;
  state: HoldStateName;
  total_cents: number;
  currency: string;
  expires_at: Date;
  booking_id: string | null;
}

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

export const HOLD_COLUMNS = 'id, user_id, show_id, state, total_cents, currency, expires_at, booking_id';
export const ITEM_COLUMNS = 'hold_id, kind, item_id, label, quantity, amount_cents';
export const BOOKING_COLUMNS =
  'id, user_id, show_id, hold_id, state, total_cents, currency, payment_id, refund_id, created_at, cancelled_at';

const HOLD_STATES: Record<HoldStateName, HoldState> = {
  ACTIVE: HoldState.HOLD_STATE_ACTIVE,
  CONFIRMED: HoldState.HOLD_STATE_CONFIRMED,
  RELEASED: HoldState.HOLD_STATE_RELEASED,
  EXPIRED: HoldState.HOLD_STATE_EXPIRED,
};

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Seats and GA items in a stable order (by id), the same at creation and on every later read. */
export function itemsToProto(items: readonly ItemRow[]): { seats: BookedSeat[]; ga: GaItem[] } {
  const seats: BookedSeat[] = [];
  const ga: GaItem[] = [];
  for (const item of items) {
    if (item.kind === 'SEAT')
      seats.push({ seatId: item.item_id, label: item.label, amountCents: Number(item.amount_cents) });
    else
      ga.push({
        areaId: item.item_id,
        quantity: Number(item.quantity),
        amountCents: Number(item.amount_cents),
      });
  }
  seats.sort((a, b) => byId(a.seatId, b.seatId));
  ga.sort((a, b) => byId(a.areaId, b.areaId));
  return { seats, ga };
}

export function holdToProto(row: HoldRow, items: readonly ItemRow[], state: HoldStateName = row.state): Hold {
  return {
    id: row.id,
    showId: row.show_id,
    ...itemsToProto(items),
    totalCents: Number(row.total_cents),
    currency: row.currency,
    expiresAt: row.expires_at.toISOString(),
    state: HOLD_STATES[state],
  };
}

export function bookingToProto(row: BookingRow, items: readonly ItemRow[]): Booking {
  return {
    id: row.id,
    userId: row.user_id,
    showId: row.show_id,
    holdId: row.hold_id,
    ...itemsToProto(items),
    totalCents: Number(row.total_cents),
    currency: row.currency,
    state:
      row.state === 'CONFIRMED' ? BookingState.BOOKING_STATE_CONFIRMED : BookingState.BOOKING_STATE_CANCELLED,
    paymentId: row.payment_id,
    refundId: row.refund_id ?? '',
    createdAt: row.created_at.toISOString(),
    cancelledAt: row.cancelled_at ? row.cancelled_at.toISOString() : '',
  };
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

/** A user touches only their own holds and bookings; an admin touches anyone's. */
export function assertOwnerOrAdmin(principal: Principal, ownerId: string, what: string, field: string): void {
  if (principal.userId !== ownerId && principal.role !== 'admin')
    throw new PermissionDeniedError(`${field}: ${what} belongs to another user`);
}
