import type { RowDataPacket } from 'mysql2/promise';
import type { PoolConnection } from '../../common/mysql';
import type { LogEntry, StateMachine } from '../types';

/** The tests' state: a key/value table. `append` is order-sensitive, so a reordering shows in the checksum. */
export const KV_SCHEMA = [
  'CREATE TABLE IF NOT EXISTS kv (k VARCHAR(64) NOT NULL PRIMARY KEY, v TEXT NOT NULL) ENGINE=InnoDB',
];

export type KvChange = { op: 'kv.put'; k: string; v: string } | { op: 'kv.append'; k: string; v: string };

/** Makes the change on `connection` (the master's side of the same transaction as the entry). */
export async function applyKv(connection: PoolConnection, change: KvChange): Promise<void> {
  if (change.op === 'kv.put') {
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
    const { k, v } = JSON.parse(entry.payload) as { k: string; v: string };
    if (entry.op !== 'kv.put' && entry.op !== 'kv.append') throw new Error(`unknown op ${entry.op}`);
    await applyKv(connection, { op: entry.op, k, v });
  }

  async snapshot(connection: PoolConnection): Promise<unknown[]> {
    const [rows] = await connection.query<RowDataPacket[]>('SELECT k, v FROM kv ORDER BY k');
    return rows.map((row) => ({ k: String(row.k), v: String(row.v) }));
  }

  async restore(connection: PoolConnection, rows: readonly unknown[]): Promise<void> {
    await connection.query('DELETE FROM kv');
    for (const row of rows) {
      const { k, v } = row as { k?: unknown; v?: unknown };
      if (typeof k !== 'string' || typeof v !== 'string') throw new Error('snapshot row is not {k, v}');
      await connection.query('INSERT INTO kv (k, v) VALUES (?, ?)', [k, v]);
    }
  }
}
