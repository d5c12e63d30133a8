import type { ItemRecord } from '../operations';
import type { BookingState, HoldView } from '../state';

/*
 * What must hold of a BookingState after any sequence of decisions, each stated over the whole view.
 * Returns the violations (empty when all hold), so a failing property shows every broken rule at once.
 */

/** Money moved by the payment processor so far: charges approved and refunds made. */
export interface Ledger {
  chargedCents: number;
  refundedCents: number;
}

const seatIdsOf = (items: readonly ItemRecord[]): string[] =>
  items.filter((i) => i.kind === 'SEAT').map((i) => i.itemId);

const gaOf = (
  items: readonly ItemRecord[],
  showId: string,
  pool: { showId: string; areaId: string },
): number =>
  showId !== pool.showId
    ? 0
    : items
        .filter((i) => i.kind === 'GA' && i.itemId === pool.areaId)
        .reduce((sum, i) => sum + i.quantity, 0);

const totalOf = (items: readonly ItemRecord[]): number =>
  items.reduce((sum, i) => sum + i.amountCents * i.quantity, 0);

export function violations(state: BookingState, now: number, ledger: Ledger): string[] {
  const out: string[] = [];
  const holds = [...state.holds.values()];
  const bookings = [...state.bookings.values()];
  const confirmed = bookings.filter((b) => b.state === 'CONFIRMED');

  // Seats: each state with exactly the references it should have.
  for (const seat of state.seats.values()) {
    const name = `seat ${seat.seatId}`;
    if (seat.state === 'FREE') {
      if (seat.holdId !== null || seat.heldUntil !== null || seat.bookingId !== null)
        out.push(`${name} is FREE but points at hold ${seat.holdId} / booking ${seat.bookingId}`);
    } else if (seat.state === 'HELD') {
      const hold = seat.holdId === null ? undefined : state.holds.get(seat.holdId);
      if (!hold || hold.state !== 'ACTIVE')
        out.push(`${name} is HELD by ${seat.holdId}, which is ${hold?.state ?? 'missing'}, not ACTIVE`);
      else if (!seatIdsOf(hold.items).includes(seat.seatId))
        out.push(`${name} is HELD by ${hold.id}, which does not list it`);
      else if (seat.heldUntil !== hold.expiresAt)
        out.push(`${name} is held until ${seat.heldUntil}, its hold ${hold.id} until ${hold.expiresAt}`);
      if (seat.bookingId !== null) out.push(`${name} is HELD but points at booking ${seat.bookingId}`);
    } else {
      const owners = confirmed.filter(
        (b) => b.showId === seat.showId && seatIdsOf(b.items).includes(seat.seatId),
      );
      if (owners.length !== 1 || owners[0]?.id !== seat.bookingId)
        out.push(
          `${name} is SOLD to ${seat.bookingId} but CONFIRMED bookings listing it are [${owners.map((b) => b.id).join(', ')}]`,
        );
      if (seat.holdId !== null || seat.heldUntil !== null)
        out.push(`${name} is SOLD but still points at hold ${seat.holdId}`);
    }
  }
  // No two CONFIRMED bookings share a seat, and each of their seats is SOLD to them.
  for (const booking of confirmed)
    for (const seatId of seatIdsOf(booking.items)) {
      const seat = state.seat(booking.showId, seatId);
      if (seat?.state !== 'SOLD' || seat.bookingId !== booking.id)
        out.push(`booking ${booking.id} lists seat ${seatId}, which is ${seat?.state} to ${seat?.bookingId}`);
    }

  // GA pools: counts within bounds and equal to the holds and bookings that make them up.
  for (const pool of state.pools.values()) {
    const name = `area ${pool.areaId}`;
    if (pool.held < 0 || pool.sold < 0) out.push(`${name} has held ${pool.held}, sold ${pool.sold}`);
    if (pool.held + pool.sold > pool.capacity)
      out.push(`${name} has held ${pool.held} + sold ${pool.sold} > capacity ${pool.capacity}`);
    const held = holds
      .filter((h) => h.state === 'ACTIVE')
      .reduce((sum, h) => sum + gaOf(h.items, h.showId, pool), 0);
    if (pool.held !== held) out.push(`${name} counts ${pool.held} held; its ACTIVE holds hold ${held}`);
    const sold = confirmed.reduce((sum, b) => sum + gaOf(b.items, b.showId, pool), 0);
    if (pool.sold !== sold) out.push(`${name} counts ${pool.sold} sold; its CONFIRMED bookings have ${sold}`);
  }

  // Holds: a live hold owns all its seats; a finished one owns none; totals are their items'.
  for (const hold of holds) {
    const name = `hold ${hold.id} (${hold.state})`;
    if (hold.totalCents !== totalOf(hold.items))
      out.push(`${name} totals ${hold.totalCents}, its items ${totalOf(hold.items)}`);
    const pointing = [...state.seats.values()].filter((s) => s.holdId === hold.id).map((s) => s.seatId);
    if (hold.state !== 'ACTIVE' && pointing.length > 0)
      out.push(`${name} still holds seats ${pointing.join(', ')}`);
    if (hold.state === 'ACTIVE' && hold.expiresAt > now)
      for (const seatId of seatIdsOf(hold.items))
        if (!pointing.includes(seatId)) out.push(`live ${name} lists seat ${seatId} but does not hold it`);
    if (hold.state === 'CONFIRMED') {
      const booking = hold.bookingId === null ? undefined : state.bookings.get(hold.bookingId);
      if (!booking || booking.holdId !== hold.id) out.push(`${name} has no booking pointing back at it`);
    } else if (hold.bookingId !== null) out.push(`${name} points at booking ${hold.bookingId}`);
  }

  // Money: every booking is its hold's, for its hold's total; what was charged and not refunded is
  // exactly what CONFIRMED bookings are worth.
  for (const booking of bookings) {
    const hold: HoldView | undefined = state.holds.get(booking.holdId);
    if (hold?.state !== 'CONFIRMED' || hold.bookingId !== booking.id)
      out.push(`booking ${booking.id}'s hold ${booking.holdId} is ${hold?.state} for ${hold?.bookingId}`);
    else if (
      booking.totalCents !== hold.totalCents ||
      JSON.stringify(booking.items) !== JSON.stringify(hold.items)
    )
      out.push(`booking ${booking.id} differs from its hold in total or items`);
    if ((booking.state === 'CANCELLED') !== (booking.refundId !== null && booking.cancelledAt !== null))
      out.push(`booking ${booking.id} is ${booking.state} with refund ${booking.refundId}`);
  }
  const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
  const confirmedCents = sum(confirmed.map((b) => b.totalCents));
  const confirmedHoldCents = sum(
    holds
      .filter((h) => h.state === 'CONFIRMED' && state.bookings.get(h.bookingId ?? '')?.state === 'CONFIRMED')
      .map((h) => h.totalCents),
  );
  if (confirmedCents !== confirmedHoldCents)
    out.push(`CONFIRMED bookings total ${confirmedCents}, their holds ${confirmedHoldCents}`);
  const everBooked = sum(bookings.map((b) => b.totalCents));
  const confirmedHolds = sum(holds.filter((h) => h.state === 'CONFIRMED').map((h) => h.totalCents));
  if (everBooked !== confirmedHolds)
    out.push(`bookings ever made total ${everBooked}, CONFIRMED holds ${confirmedHolds}`);
  if (ledger.chargedCents - ledger.refundedCents !== confirmedCents)
    out.push(
      `charged ${ledger.chargedCents} - refunded ${ledger.refundedCents} != CONFIRMED bookings ${confirmedCents}`,
    );
  return out;
}
