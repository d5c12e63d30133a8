import type { RowDataPacket } from 'mysql2/promise';
import type { PoolConnection } from '../../common/mysql';
import { pageQuery } from '../keyset';
import type { LogEntry, SnapshotKey, SnapshotRow, StateMachine } from '../types';

/** The tests' state: a key/value table. `append` is order-sensitive, so a reordering shows in the checksum. */
export const KV_SCHEMA = [
  'CREATE TABLE IF NOT EXISTS kv (k VARCHAR(64) NOT NULL PRIMARY KEY, v TEXT NOT NULL) ENGINE=InnoDB',
];

export type KvChange =
  | { op: 'kv.put'; k: string; v: string }
  | { op: 'kv.append'; k: string; v: string }
  // `count` rows `${k}000001`... each holding `v`: a large state in one entry (snapshot tests).
  | { op: 'kv.fill'; k: string; v: string; count: number };

/** Makes the change on `connection` (the master's side of the same transaction as the entry). */
export async function applyKv(connection: PoolConnection, change: KvChange): Promise<void> {
  if (change.op === 'kv.fill') {
    const rows = Array.from({ length: change.count }, (_, i) => [
      `${change.k}${String(i + 1).padStart(6, '0')}`,
      change.v,
    ]);
    for (let i = 0; i < rows.length; i += 500)
      await connection.query('INSERT INTO kv (k, v) VALUES ? ON DUPLICATE KEY UPDATE v = VALUES(v)', [
        rows.slice(i, i + 500),
      ]);
  } else if (change.op === 'kv.put') {
    await connection.query('INSERT INTO kv (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)', [
      change.k,
      change.v,
    ]);
  } else {
    await connection.query(
      'INSERT INTO kv (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = CONCAT(v, VALUES(v))',
      [change.k, change.v],
    );
  }
}

export class KvMachine implements StateMachine {
  async apply(connection: PoolConnection, entry: LogEntry): Promise<void> {
    const { k, v, count } = JSON.parse(entry.payload) as { k: string; v: string; count?: number };
    if (entry.op === 'kv.fill') return applyKv(connection, { op: entry.op, k, v, count: count ?? 0 });
    if (entry.op !== 'kv.put' && entry.op !== 'kv.append') throw new Error(`unknown op ${entry.op}`);
    await applyKv(connection, { op: entry.op, k, v });
  }

  readonly snapshotTables = ['kv'];

  async readSnapshot(
    connection: PoolConnection,
    table: string,
    after: SnapshotKey | undefined,
    limit: number,
  ): Promise<SnapshotRow[]> {
    if (table !== 'kv') throw new Error(`no table ${table}`);
    const page = pageQuery('kv', 'k, v', ['k'], after, limit);
    const [rows] = await connection.query<RowDataPacket[]>(page.sql, page.values);
    return rows.map((row) => ({ key: [String(row.k)], row: { k: String(row.k), v: String(row.v) } }));
  }

  async writeSnapshot(
    connection: PoolConnection,
    table: string,
    into: string,
    rows: readonly unknown[],
  ): Promise<void> {
    if (table !== 'kv') throw new Error(`no table ${table}`);
    const values = rows.map((row) => {
      const { k, v } = row as { k?: unknown; v?: unknown };
      if (typeof k !== 'string' || typeof v !== 'string') throw new Error('snapshot row is not {k, v}');
      return [k, v];
    });
    if (values.length > 0) await connection.query(`INSERT INTO \`${into}\` (k, v) VALUES ?`, [values]);
  }
}
