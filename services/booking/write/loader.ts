import type { Command } from '../domain/decide';
import { BookingState } from '../domain/state';
import type { HoldStateName, HoldView, SeatStateName } from '../domain/state';
import { BOOKING_OPS } from '../domain/operations';
import type { BookingOp, ItemRecord } from '../domain/operations';
import type { BookingRow, ItemRow } from '../records';
import type { Pool } from '../../common/mysql';
import { rows, send, sql, sqlTime } from '../sql';
import type { Result, Statement } from '../sql';

/*
 * The rows a batch of commands needs, read in one round trip (the batch's first, under lock on the
 * master) into the domain's in-memory view. Each command asks only for what its decision reads:
 * a hold its seats, pools and the lapsed holds that may give GA places back; a confirm its hold with
 * the hold's seats and pools; a cancel its booking with its items; every keyed write its key.
 * On a master the tables may trail the log by an unapplied tail (write/batcher.ts), replayed onto
 * the view after the load: a command about a hold or booking that tail created also loads the rows
 * the tail will change for it (the tables cannot find them through rows they do not hold yet).
 */

export interface LoadPlan {
  readonly statements: readonly Statement[];
  /** The view from the statements' results (same order, same length). */
  read(results: readonly Result[]): BookingState;
}

/** How many lapsed holds of a show one GA decision may expire at most (the sweeper gets the rest). */
const LAPSED_PER_SHOW = 100;

interface HoldRowSql {
  id: string;
  user_id: string;
  show_id: string;
  state: HoldStateName;
  total_cents: number;
  currency: string;
  expires_at: Date;
  created_at: Date;
  booking_id: string | null;
}

const HOLD_SELECT =
  'h.id, h.user_id, h.show_id, h.state, h.total_cents, h.currency, h.expires_at, h.created_at, h.booking_id';
const ITEM_SELECT = 'i.hold_id, i.kind, i.item_id, i.label, i.quantity, i.amount_cents';
const SEAT_SELECT =
  's.show_id, s.seat_id, s.label, s.amount_cents, s.state, s.hold_id, s.held_until, s.booking_id';
const POOL_SELECT = 'p.show_id, p.area_id, p.name, p.amount_cents, p.capacity, p.held, p.sold';
const BOOKING_SELECT =
  'b.id, b.user_id, b.show_id, b.hold_id, b.state, b.total_cents, b.currency, b.payment_id, b.refund_id, b.created_at, b.cancelled_at';

type Reader = (result: Result, state: BookingState, items: Map<string, ItemRecord[]>) => void;

export function loadPlan(
  commands: readonly Command[],
  now: number,
  lock: boolean,
  unapplied: readonly BookingOp[] = [],
): LoadPlan {
  const tail = tailReferences(unapplied);
  const forUpdate = lock ? ' FOR UPDATE' : '';
  const statements: Statement[] = [];
  const readers: Reader[] = [];
  const add = (statement: Statement, reader: Reader): void => {
    statements.push(statement);
    readers.push(reader);
  };

  const keys = commands.flatMap((c) => {
    const scope = 'scope' in c ? c.scope : undefined;
    return scope ? [[scope.userId, scope.key]] : [];
  });
  if (keys.length > 0)
    add(
      sql(
        `SELECT user_id, \`key\`, method, request_hash, response FROM idempotency WHERE (user_id, \`key\`) IN (?)${forUpdate}`,
        keys,
      ),
      readKeys,
    );

  const holdIds = unique(
    commands.flatMap((c) =>
      c.kind === 'release' || c.kind === 'confirm' ? [c.holdId] : c.kind === 'expire' ? c.holdIds : [],
    ),
  );
  const confirmIds = unique(commands.flatMap((c) => (c.kind === 'confirm' ? [c.holdId] : [])));
  const bookingIds = unique(commands.flatMap((c) => (c.kind === 'cancel' ? [c.bookingId] : [])));
  const holdCommands = commands.filter((c) => c.kind === 'hold');

  // A booking of the tail: its hold, which the tables may hold already.
  const tailHoldIds = unique(bookingIds.flatMap((id) => tail.holdOfBooking.get(id) ?? []));
  const loadHoldIds = unique([...holdIds, ...tailHoldIds]);
  if (loadHoldIds.length > 0) addHolds('h.id IN (?)', [loadHoldIds]);
  if (bookingIds.length > 0) {
    add(
      sql(`SELECT ${BOOKING_SELECT} FROM bookings b WHERE b.id IN (?)${forUpdate}`, bookingIds),
      readBookings,
    );
    addHolds('h.id IN (SELECT hold_id FROM bookings WHERE id IN (?))', [bookingIds]);
  }
  // Lapsed holds holding GA places of the shows asked for: their places may be given back first.
  for (const showId of unique(holdCommands.filter((c) => c.ga.length > 0).map((c) => c.showId)))
    addHolds(
      `h.id IN (SELECT id FROM (SELECT h2.id FROM holds h2 WHERE h2.state = 'ACTIVE' AND h2.expires_at <= ? AND h2.show_id = ?
         AND EXISTS (SELECT 1 FROM hold_items gi WHERE gi.hold_id = h2.id AND gi.kind = 'GA')
         ORDER BY h2.expires_at, h2.id LIMIT ${LAPSED_PER_SHOW}) lapsed)`,
      [sqlTime(now), showId],
    );

  // A hold of the tail being confirmed: its seats and places (the tables cannot join to it yet).
  const tailHolds = confirmIds.flatMap((id) => tail.holds.get(id) ?? []);
  const seatPairs = uniquePairs([
    ...holdCommands.flatMap((c) => c.seatIds.map((id): [string, string] => [c.showId, id])),
    ...tailHolds.flatMap((h) =>
      h.items.filter((i) => i.kind === 'SEAT').map((i): [string, string] => [h.showId, i.itemId]),
    ),
  ]);
  if (seatPairs.length > 0)
    add(
      sql(`SELECT ${SEAT_SELECT} FROM seats s WHERE (s.show_id, s.seat_id) IN (?)${forUpdate}`, seatPairs),
      readSeats,
    );
  const poolPairs = uniquePairs([
    ...holdCommands.flatMap((c) => c.ga.map((g): [string, string] => [c.showId, g.areaId])),
    ...tailHolds.flatMap((h) =>
      h.items.filter((i) => i.kind === 'GA').map((i): [string, string] => [h.showId, i.itemId]),
    ),
  ]);
  if (poolPairs.length > 0)
    add(
      sql(`SELECT ${POOL_SELECT} FROM ga_pools p WHERE (p.show_id, p.area_id) IN (?)${forUpdate}`, poolPairs),
      readPools,
    );
  if (confirmIds.length > 0) {
    // A confirm moves its hold's seats and places: the decision checks they are still the hold's.
    add(
      sql(
        `SELECT ${SEAT_SELECT} FROM holds h JOIN hold_items i ON i.hold_id = h.id AND i.kind = 'SEAT'
         JOIN seats s ON s.show_id = h.show_id AND s.seat_id = i.item_id WHERE h.id IN (?)${forUpdate}`,
        confirmIds,
      ),
      readSeats,
    );
    add(
      sql(
        `SELECT ${POOL_SELECT} FROM holds h JOIN hold_items i ON i.hold_id = h.id AND i.kind = 'GA'
         JOIN ga_pools p ON p.show_id = h.show_id AND p.area_id = i.item_id WHERE h.id IN (?)${forUpdate}`,
        confirmIds,
      ),
      readPools,
    );
  }

  const emails = unique(commands.flatMap((c) => (c.kind === 'register' ? [c.user.email] : [])));
  if (emails.length > 0)
    add(sql(`SELECT id, email FROM users WHERE email IN (?)${forUpdate}`, emails), readUsers);
  const showIds = unique(commands.flatMap((c) => (c.kind === 'materialize' ? [c.show.show.showId] : [])));
  if (showIds.length > 0)
    add(sql(`SELECT show_id FROM shows WHERE show_id IN (?)${forUpdate}`, showIds), readShows);

  function addHolds(where: string, values: unknown[]): void {
    add(sql(`SELECT ${HOLD_SELECT} FROM holds h WHERE ${where}${forUpdate}`, ...values), readHolds);
    add(
      sql(
        `SELECT ${ITEM_SELECT} FROM hold_items i JOIN holds h ON h.id = i.hold_id WHERE ${where}`,
        ...values,
      ),
      readItems,
    );
  }

  return {
    statements,
    read(results) {
      if (results.length !== readers.length) throw new Error('the load returned a result per statement');
      const state = new BookingState();
      const items = new Map<string, ItemRecord[]>();
      // Items first: holds and bookings take theirs from this map.
      readers.forEach((reader, i) => {
        if (reader === readItems) reader(results[i]!, state, items);
      });
      readers.forEach((reader, i) => {
        if (reader !== readItems) reader(results[i]!, state, items);
      });
      return state;
    },
  };
}

/** The view `commands` need, read outside any transaction (checks before charging or refunding). */
export async function readState(
  pool: Pool,
  commands: readonly Command[],
  now: number,
): Promise<BookingState> {
  const plan = loadPlan(commands, now, false);
  const connection = await pool.getConnection();
  try {
    return plan.read(await send(connection, plan.statements));
  } finally {
    connection.release();
  }
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

function uniquePairs(pairs: readonly [string, string][]): [string, string][] {
  const seen = new Set<string>();
  return pairs.filter(([a, b]) => {
    const key = `${a}\u0000${b}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** What an unapplied tail created that a command may name: its holds (with items) and bookings. */
function tailReferences(unapplied: readonly BookingOp[]): {
  holds: Map<string, { showId: string; items: readonly ItemRecord[] }>;
  holdOfBooking: Map<string, string>;
} {
  const holds = new Map<string, { showId: string; items: readonly ItemRecord[] }>();
  const holdOfBooking = new Map<string, string>();
  for (const op of unapplied) {
    if (op.op === BOOKING_OPS.holdCreated)
      holds.set(op.payload.hold.id, { showId: op.payload.hold.showId, items: op.payload.items });
    else if (op.op === BOOKING_OPS.bookingConfirmed)
      holdOfBooking.set(op.payload.booking.id, op.payload.booking.holdId);
  }
  return { holds, holdOfBooking };
}

const readKeys: Reader = (result, state) => {
  for (const r of rows<{
    user_id: string;
    key: string;
    method: string;
    request_hash: Buffer;
    response: Buffer | null;
  }>(result))
    state.addKey({
      userId: r.user_id,
      key: r.key,
      method: r.method,
      requestHash: r.request_hash.toString('base64'),
      response: r.response === null ? null : r.response.toString('base64'),
    });
};

const readItems: Reader = (result, _state, items) => {
  for (const r of rows<ItemRow>(result)) {
    const list = items.get(r.hold_id) ?? [];
    if (list.some((i) => i.kind === r.kind && i.itemId === r.item_id)) continue; // read twice
    list.push({
      kind: r.kind,
      itemId: r.item_id,
      label: r.label,
      quantity: Number(r.quantity),
      amountCents: Number(r.amount_cents),
    });
    items.set(r.hold_id, list);
  }
};

const readHolds: Reader = (result, state, items) => {
  for (const r of rows<HoldRowSql>(result)) {
    const hold: HoldView = {
      id: r.id,
      userId: r.user_id,
      showId: r.show_id,
      state: r.state,
      totalCents: Number(r.total_cents),
      currency: r.currency,
      expiresAt: r.expires_at.getTime(),
      createdAt: r.created_at.getTime(),
      bookingId: r.booking_id,
      items: items.get(r.id) ?? [],
    };
    state.holds.set(hold.id, hold);
  }
};

const readBookings: Reader = (result, state, items) => {
  for (const r of rows<BookingRow>(result))
    state.bookings.set(r.id, {
      id: r.id,
      userId: r.user_id,
      showId: r.show_id,
      holdId: r.hold_id,
      state: r.state,
      totalCents: Number(r.total_cents),
      currency: r.currency,
      paymentId: r.payment_id,
      refundId: r.refund_id,
      createdAt: r.created_at.getTime(),
      cancelledAt: r.cancelled_at === null ? null : r.cancelled_at.getTime(),
      items: items.get(r.hold_id) ?? [],
    });
};

const readSeats: Reader = (result, state) => {
  for (const r of rows<{
    show_id: string;
    seat_id: string;
    label: string;
    amount_cents: number;
    state: SeatStateName;
    hold_id: string | null;
    held_until: Date | null;
    booking_id: string | null;
  }>(result))
    state.addSeat({
      showId: r.show_id,
      seatId: r.seat_id,
      label: r.label,
      amountCents: Number(r.amount_cents),
      state: r.state,
      holdId: r.hold_id,
      heldUntil: r.held_until === null ? null : r.held_until.getTime(),
      bookingId: r.booking_id,
    });
};

const readUsers: Reader = (result, state) => {
  for (const r of rows<{ id: string; email: string }>(result)) state.users.set(r.email, r.id);
};

const readShows: Reader = (result, state) => {
  for (const r of rows<{ show_id: string }>(result)) state.shows.add(r.show_id);
};

const readPools: Reader = (result, state) => {
  for (const r of rows<{
    show_id: string;
    area_id: string;
    name: string;
    amount_cents: number;
    capacity: number;
    held: number;
    sold: number;
  }>(result))
    state.addPool({
      showId: r.show_id,
      areaId: r.area_id,
      name: r.name,
      amountCents: Number(r.amount_cents),
      capacity: Number(r.capacity),
      held: Number(r.held),
      sold: Number(r.sold),
    });
};
