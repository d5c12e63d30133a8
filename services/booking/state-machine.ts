import type { RowDataPacket } from 'mysql2/promise';
import type { PoolConnection } from '../common/mysql';
import { pageQuery } from '../replication/keyset';
import type { LogEntry, SnapshotKey, SnapshotRow as KeyedRow, StateMachine } from '../replication/types';
import { send } from './sql';
import { applyStatements, opOfEntry } from './write/applier';

/*
 * The booking node's state as the replication log builds it (services/replication): entries are
 * applied by the one applier (write/applier.ts) the master's batches use, and snapshots are read
 * and written table by table. Every relative change is checked, so a node whose tables disagree
 * with an entry fails the apply loudly rather than diverging silently; the replication layer never
 * applies an index twice (the applied index commits with the rows).
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
  /** One entry, by the applier the master's batches use too, in one round trip. */
  async apply(connection: PoolConnection, entry: LogEntry): Promise<void> {
    await send(connection, applyStatements(opOfEntry(entry.op, entry.payload)));
  }

  /** Entries in order, all in one round trip (the statements of each are independent of results). */
  async applyEntries(connection: PoolConnection, entries: readonly LogEntry[]): Promise<void> {
    await send(
      connection,
      entries.flatMap((entry) => applyStatements(opOfEntry(entry.op, entry.payload))),
    );
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
