import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { PoolConnection } from '../common/mysql';
import { pageQuery } from '../replication/keyset';
import type { LogEntry, SnapshotKey, SnapshotRow as KeyedRow, StateMachine } from '../replication/types';
import { BOOKING_OPS } from './domain/operations';
import type {
  BookingCancelledPayload,
  BookingConfirmedPayload,
  HoldCreatedPayload,
  HoldFreedPayload,
  IdempotencyRecord,
  ItemRecord,
  ShowMaterializedPayload,
  UserRegisteredPayload,
} from './domain/operations';

/*
 * The booking node's state as a slave rebuilds it from the master's log (services/replication).
 * Every op carries the rows the master's transaction produced; applying is idempotent: rows are
 * upserted by id, and relative changes (seat states, pool counts) are made only by the apply that
 * performs the op's transition (hold inserted, hold ACTIVE → RELEASED/EXPIRED, booking inserted,
 * booking CONFIRMED → CANCELLED), so re-applying an entry changes nothing.
 * A relative change that finds no row (a show this node lacks) fails the apply loudly rather than
 * letting the node diverge silently.
 */

type ColumnKind = 'text' | 'number' | 'time' | 'binary';

interface TableSpec {
  key: string[];
  /**
   * Key columns that are ENUMs. InnoDB orders an ENUM by its index (SEAT before GA), and compares it
   * with a number by that index but with a string as text: a snapshot page carries such a column's
   * index in its key, so "after this key" follows the order the rows come in.
   */
  enumKey?: string[];
  columns: Column[];
}

interface Column {
  name: string;
  kind: ColumnKind;
  nullable?: boolean;
}

const c = (name: string, kind: ColumnKind = 'text', nullable = false): Column => ({ name, kind, nullable });

/** Every booking table, its primary key and columns, in BOOKING_SCHEMA order: what a snapshot carries. */
const TABLES: Readonly<Record<string, TableSpec>> = {
  users: {
    key: ['id'],
    columns: [
      c('id'),
      c('email'),
      c('display_name'),
      c('password_hash', 'binary'),
      c('password_salt', 'binary'),
      c('password_params'),
      c('role'),
      c('created_at', 'time'),
    ],
  },
  shows: {
    key: ['show_id'],
    columns: [c('show_id'), c('currency'), c('starts_at'), c('materialized_at', 'time')],
  },
  seats: {
    key: ['show_id', 'seat_id'],
    columns: [
      c('show_id'),
      c('seat_id'),
      c('position', 'number'),
      c('label'),
      c('price_tier'),
      c('amount_cents', 'number'),
      c('state'),
      c('hold_id', 'text', true),
      c('held_until', 'time', true),
      c('booking_id', 'text', true),
    ],
  },
  ga_pools: {
    key: ['show_id', 'area_id'],
    columns: [
      c('show_id'),
      c('area_id'),
      c('position', 'number'),
      c('name'),
      c('price_tier'),
      c('amount_cents', 'number'),
      c('capacity', 'number'),
      c('held', 'number'),
      c('sold', 'number'),
    ],
  },
  holds: {
    key: ['id'],
    columns: [
      c('id'),
      c('user_id'),
      c('show_id'),
      c('state'),
      c('total_cents', 'number'),
      c('currency'),
      c('expires_at', 'time'),
      c('created_at', 'time'),
      c('booking_id', 'text', true),
    ],
  },
  hold_items: {
    key: ['hold_id', 'kind', 'item_id'],
    enumKey: ['kind'],
    columns: [
      c('hold_id'),
      c('kind'),
      c('item_id'),
      c('label'),
      c('quantity', 'number'),
      c('amount_cents', 'number'),
    ],
  },
  bookings: {
    key: ['id'],
    columns: [
      c('id'),
      c('user_id'),
      c('show_id'),
      c('hold_id'),
      c('state'),
      c('total_cents', 'number'),
      c('currency'),
      c('payment_id'),
      c('refund_id', 'text', true),
      c('created_at', 'time'),
      c('cancelled_at', 'time', true),
    ],
  },
  payments: {
    key: ['id'],
    columns: [
      c('id'),
      c('kind'),
      c('booking_id'),
      c('user_id'),
      c('amount_cents', 'number'),
      c('currency'),
      c('card_last4', 'text', true),
      c('charge_id', 'text', true),
      c('created_at', 'time'),
    ],
  },
  idempotency: {
    key: ['user_id', 'key'],
    columns: [
      c('user_id'),
      c('key'),
      c('method'),
      c('request_hash', 'binary'),
      c('response', 'binary', true),
      c('created_at', 'time'),
    ],
  },
};

/** The booking tables a snapshot covers. */
export const SNAPSHOT_TABLES: readonly string[] = Object.keys(TABLES);

/** A snapshot row's values, in TABLES column order (times as text, binaries base64). */
type RowValues = (string | number | null)[];

/** One row of the whole state, with its table: for comparing nodes in tests and benches. */
export interface SnapshotRow {
  t: string;
  r: RowValues;
}

const RESTORE_CHUNK = 500;

const quote = (name: string): string => `\`${name}\``;

export class BookingStateMachine implements StateMachine {
  async apply(connection: PoolConnection, entry: LogEntry): Promise<void> {
    const payload: unknown = JSON.parse(entry.payload);
    switch (entry.op) {
      case BOOKING_OPS.holdCreated:
        return applyHoldCreated(connection, payload as HoldCreatedPayload);
      case BOOKING_OPS.holdReleased:
        return applyHoldFreed(connection, payload as HoldFreedPayload, 'RELEASED');
      case BOOKING_OPS.holdExpired:
        return applyHoldFreed(connection, payload as HoldFreedPayload, 'EXPIRED');
      case BOOKING_OPS.bookingConfirmed:
        return applyConfirmed(connection, payload as BookingConfirmedPayload);
      case BOOKING_OPS.bookingCancelled:
        return applyCancelled(connection, payload as BookingCancelledPayload);
      case BOOKING_OPS.userRegistered:
        return applyUser(connection, payload as UserRegisteredPayload);
      case BOOKING_OPS.idempotencyStored:
        return storeIdempotency(connection, (payload as { idempotency?: IdempotencyRecord }).idempotency);
      case BOOKING_OPS.showMaterialized:
        return applyShow(connection, payload as ShowMaterializedPayload);
      default:
        throw new Error(`booking state machine: unknown op ${JSON.stringify(entry.op)} at ${entry.index}`);
    }
  }

  readonly snapshotTables = SNAPSHOT_TABLES;

  async readSnapshot(
    connection: PoolConnection,
    table: string,
    after: SnapshotKey | undefined,
    limit: number,
  ): Promise<KeyedRow[]> {
    const { key, enumKey = [], columns } = tableOf(table);
    const select = [
      ...columns.map((col) =>
        col.kind === 'time' ? `CAST(${quote(col.name)} AS CHAR) AS ${quote(col.name)}` : quote(col.name),
      ),
      ...enumKey.map((name) => `${quote(name)} + 0 AS ${quote(`${name}_index`)}`),
    ].join(', ');
    const page = pageQuery(quote(table), select, key.map(quote), after, limit);
    const [found] = await connection.query<RowDataPacket[]>(page.sql, page.values);
    return found.map((row) => ({
      key: key.map((name) => (enumKey.includes(name) ? Number(row[`${name}_index`]) : String(row[name]))),
      row: columns.map((col) => toSnapshotValue(row[col.name], col)),
    }));
  }

  async writeSnapshot(
    connection: PoolConnection,
    table: string,
    into: string,
    rows: readonly unknown[],
  ): Promise<void> {
    const { columns } = tableOf(table);
    const values = rows.map((r, i) => {
      if (!Array.isArray(r) || r.length !== columns.length)
        throw new Error(`booking snapshot row ${i} is not a row of ${table}`);
      return r.map((value: unknown, j) => fromSnapshotValue(value, columns[j]!, i));
    });
    const names = columns.map((col) => quote(col.name)).join(', ');
    for (let i = 0; i < values.length; i += RESTORE_CHUNK)
      await connection.query(`INSERT INTO ${quote(into)} (${names}) VALUES ?`, [
        values.slice(i, i + RESTORE_CHUNK),
      ]);
  }
}

function tableOf(table: string): TableSpec {
  const found = SNAPSHOT_TABLES.includes(table) ? TABLES[table] : undefined;
  if (!found) throw new Error(`booking snapshot: ${JSON.stringify(table)} is not a booking table`);
  return found;
}

/**
 * Every replicated row of the node, table by table (the whole state in memory: for tests and benches
 * that compare nodes, never for replication, which streams).
 */
export async function allSnapshotRows(connection: PoolConnection, batch = 5000): Promise<SnapshotRow[]> {
  const machine = new BookingStateMachine();
  const rows: SnapshotRow[] = [];
  for (const t of SNAPSHOT_TABLES) {
    let after: SnapshotKey | undefined;
    for (;;) {
      const page = await machine.readSnapshot(connection, t, after, batch);
      for (const { row } of page) rows.push({ t, r: row as RowValues });
      after = page.at(-1)?.key;
      if (page.length < batch) break;
    }
  }
  return rows;
}

function toSnapshotValue(value: unknown, col: Column): string | number | null {
  if (value === null || value === undefined) return null;
  if (col.kind === 'binary') return Buffer.from(value as Uint8Array).toString('base64');
  if (col.kind === 'number') return Number(value);
  return String(value);
}

function fromSnapshotValue(value: unknown, col: Column, row: number): unknown {
  const bad = (): Error => new Error(`booking snapshot row ${row}: ${col.name} is not a valid ${col.kind}`);
  if (value === null) {
    if (!col.nullable) throw bad();
    return null;
  }
  if (col.kind === 'number') {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw bad();
    return value;
  }
  if (typeof value !== 'string') throw bad();
  if (col.kind === 'binary') return Buffer.from(value, 'base64');
  if (col.kind === 'time' && !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?$/.test(value)) throw bad();
  return value;
}

function affectedRows(result: unknown): number {
  return (result as ResultSetHeader).affectedRows;
}

async function run(connection: PoolConnection, text: string, values: unknown[]): Promise<number> {
  const [result] = await connection.query(text, values);
  return affectedRows(result);
}

/** Fails the apply when a relative change found fewer rows than the master changed. */
function expectRows(found: number, expected: number, what: string): void {
  if (found < expected)
    throw new Error(
      `booking state machine: ${what} matched ${found} rows, expected ${expected} (missing show?)`,
    );
}

async function storeIdempotency(
  connection: PoolConnection,
  record: IdempotencyRecord | undefined,
): Promise<void> {
  if (!record) return;
  await connection.query(
    `INSERT INTO idempotency (user_id, \`key\`, method, request_hash, response, created_at) VALUES (?, ?, ?, ?, ?, ?)
     ON DUPLICATE KEY UPDATE method = VALUES(method), request_hash = VALUES(request_hash),
       response = VALUES(response), created_at = VALUES(created_at)`,
    [
      record.userId,
      record.key,
      record.method,
      Buffer.from(record.requestHash, 'base64'),
      record.response === null ? null : Buffer.from(record.response, 'base64'),
      record.createdAt,
    ],
  );
}

async function applyHoldCreated(connection: PoolConnection, p: HoldCreatedPayload): Promise<void> {
  const { hold, items } = p;
  const inserted = await run(
    connection,
    `INSERT IGNORE INTO holds (id, user_id, show_id, state, total_cents, currency, expires_at, created_at)
     VALUES (?, ?, ?, 'ACTIVE', ?, ?, ?, ?)`,
    [hold.id, hold.userId, hold.showId, hold.totalCents, hold.currency, hold.expiresAt, hold.createdAt],
  );
  if (inserted === 1) {
    if (items.length > 0)
      await connection.query(
        'INSERT IGNORE INTO hold_items (hold_id, kind, item_id, label, quantity, amount_cents) VALUES ?',
        [items.map((i) => [hold.id, i.kind, i.itemId, i.label, i.quantity, i.amountCents])],
      );
    const seatIds = seatsOf(items);
    if (seatIds.length > 0)
      expectRows(
        await run(
          connection,
          `UPDATE seats SET state = 'HELD', hold_id = ?, held_until = ?, booking_id = NULL
           WHERE show_id = ? AND seat_id IN (?)`,
          [hold.id, hold.expiresAt, hold.showId, seatIds],
        ),
        seatIds.length,
        `hold ${hold.id}: seats`,
      );
    for (const g of items.filter((i) => i.kind === 'GA'))
      expectRows(
        await run(connection, 'UPDATE ga_pools SET held = held + ? WHERE show_id = ? AND area_id = ?', [
          g.quantity,
          hold.showId,
          g.itemId,
        ]),
        1,
        `hold ${hold.id}: pool ${g.itemId}`,
      );
  }
  await storeIdempotency(connection, p.idempotency);
}

async function applyHoldFreed(
  connection: PoolConnection,
  p: HoldFreedPayload,
  state: 'RELEASED' | 'EXPIRED',
): Promise<void> {
  const flipped = await run(connection, "UPDATE holds SET state = ? WHERE id = ? AND state = 'ACTIVE'", [
    state,
    p.holdId,
  ]);
  if (flipped === 1) {
    const seatIds = seatsOf(p.items);
    // Only seats still held by this hold: a lapsed hold's seats may belong to a newer hold by now.
    if (seatIds.length > 0)
      await connection.query(
        `UPDATE seats SET state = 'FREE', hold_id = NULL, held_until = NULL
         WHERE show_id = ? AND seat_id IN (?) AND hold_id = ? AND state = 'HELD'`,
        [p.showId, seatIds, p.holdId],
      );
    for (const g of p.items.filter((i) => i.kind === 'GA'))
      await connection.query('UPDATE ga_pools SET held = held - ? WHERE show_id = ? AND area_id = ?', [
        g.quantity,
        p.showId,
        g.itemId,
      ]);
  }
  await storeIdempotency(connection, p.idempotency);
}

async function applyConfirmed(connection: PoolConnection, p: BookingConfirmedPayload): Promise<void> {
  const b = p.booking;
  const inserted = await run(
    connection,
    `INSERT IGNORE INTO bookings (id, user_id, show_id, hold_id, state, total_cents, currency, payment_id, created_at)
     VALUES (?, ?, ?, ?, 'CONFIRMED', ?, ?, ?, ?)`,
    [b.id, b.userId, b.showId, b.holdId, b.totalCents, b.currency, b.paymentId, b.createdAt],
  );
  if (inserted === 1) {
    if (p.seatIds.length > 0)
      expectRows(
        await run(
          connection,
          `UPDATE seats SET state = 'SOLD', booking_id = ?, hold_id = NULL, held_until = NULL
           WHERE show_id = ? AND seat_id IN (?)`,
          [b.id, b.showId, p.seatIds],
        ),
        p.seatIds.length,
        `booking ${b.id}: seats`,
      );
    for (const g of p.ga)
      expectRows(
        await run(
          connection,
          'UPDATE ga_pools SET held = held - ?, sold = sold + ? WHERE show_id = ? AND area_id = ?',
          [g.quantity, g.quantity, b.showId, g.areaId],
        ),
        1,
        `booking ${b.id}: pool ${g.areaId}`,
      );
    await connection.query("UPDATE holds SET state = 'CONFIRMED', booking_id = ? WHERE id = ?", [
      b.id,
      b.holdId,
    ]);
    await connection.query(
      `INSERT IGNORE INTO payments (id, kind, booking_id, user_id, amount_cents, currency, card_last4, created_at)
       VALUES (?, 'CHARGE', ?, ?, ?, ?, ?, ?)`,
      [b.paymentId, b.id, b.userId, b.totalCents, b.currency, p.cardLast4, b.createdAt],
    );
  }
  await storeIdempotency(connection, p.idempotency);
}

async function applyCancelled(connection: PoolConnection, p: BookingCancelledPayload): Promise<void> {
  const flipped = await run(
    connection,
    "UPDATE bookings SET state = 'CANCELLED', refund_id = ?, cancelled_at = ? WHERE id = ? AND state = 'CONFIRMED'",
    [p.refundId, p.cancelledAt, p.bookingId],
  );
  if (flipped === 1) {
    if (p.seatIds.length > 0)
      await connection.query(
        `UPDATE seats SET state = 'FREE', booking_id = NULL
         WHERE show_id = ? AND seat_id IN (?) AND booking_id = ? AND state = 'SOLD'`,
        [p.showId, p.seatIds, p.bookingId],
      );
    for (const g of p.ga)
      await connection.query('UPDATE ga_pools SET sold = sold - ? WHERE show_id = ? AND area_id = ?', [
        g.quantity,
        p.showId,
        g.areaId,
      ]);
    await connection.query(
      `INSERT IGNORE INTO payments (id, kind, booking_id, user_id, amount_cents, currency, charge_id, created_at)
       VALUES (?, 'REFUND', ?, ?, ?, ?, ?, ?)`,
      [p.refundId, p.bookingId, p.userId, p.amountCents, p.currency, p.chargeId, p.cancelledAt],
    );
  }
  await storeIdempotency(connection, p.idempotency);
}

async function applyUser(connection: PoolConnection, p: UserRegisteredPayload): Promise<void> {
  const u = p.user;
  await connection.query(
    `INSERT INTO users (id, email, display_name, password_hash, password_salt, password_params, role, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON DUPLICATE KEY UPDATE display_name = VALUES(display_name), password_hash = VALUES(password_hash),
       password_salt = VALUES(password_salt), password_params = VALUES(password_params), role = VALUES(role)`,
    [
      u.id,
      u.email,
      u.displayName,
      Buffer.from(u.passwordHash, 'base64'),
      Buffer.from(u.passwordSalt, 'base64'),
      u.passwordParams,
      u.role,
      u.createdAt,
    ],
  );
  await storeIdempotency(connection, p.idempotency);
}

async function applyShow(connection: PoolConnection, p: ShowMaterializedPayload): Promise<void> {
  const { show } = p;
  await connection.query(
    'INSERT IGNORE INTO shows (show_id, currency, starts_at, materialized_at) VALUES (?, ?, ?, ?)',
    [show.showId, show.currency, show.startsAt, show.materializedAt],
  );
  for (let i = 0; i < p.seats.length; i += RESTORE_CHUNK)
    await connection.query(
      'INSERT IGNORE INTO seats (show_id, seat_id, position, label, price_tier, amount_cents) VALUES ?',
      [p.seats.slice(i, i + RESTORE_CHUNK).map((s) => [show.showId, ...s])],
    );
  if (p.pools.length > 0)
    await connection.query(
      'INSERT IGNORE INTO ga_pools (show_id, area_id, position, name, price_tier, amount_cents, capacity) VALUES ?',
      [p.pools.map((pool) => [show.showId, ...pool])],
    );
}

function seatsOf(items: readonly ItemRecord[]): string[] {
  return items.filter((i) => i.kind === 'SEAT').map((i) => i.itemId);
}
