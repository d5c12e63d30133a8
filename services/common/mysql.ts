import mysql from 'mysql2/promise';
import type { Pool, PoolConnection } from 'mysql2/promise';
import { AbortedError } from './errors';

export type { Pool, PoolConnection };

/**
 * Opens a pool on `database` of the server at `serverUrl` (mysql://user:pass@host:port), creating
 * the database first when missing. Each service owns its database; nothing reads another's tables.
 */
export async function openDatabase(
  serverUrl: string,
  database: string,
  connectionLimit = 16,
  options: { multipleStatements?: boolean } = {},
): Promise<Pool> {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(database))
    throw new Error(`database name ${JSON.stringify(database)} is not a plain identifier`);
  const admin = await mysql.createConnection(serverUrl);
  try {
    await admin.query(
      `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
    );
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return mysql.createPool({
    uri: url.toString(),
    connectionLimit,
    waitForConnections: true,
    // Times are stored and read as UTC DATETIME(3); the server's zone never enters.
    timezone: 'Z',
    dateStrings: false,
    supportBigNumbers: true,
    bigNumberStrings: false,
    // Lets a store send several statements in one round trip (values are still escaped by the driver).
    multipleStatements: options.multipleStatements ?? false,
  });
}

/** Runs schema statements in order (each CREATE ... IF NOT EXISTS, so re-running is harmless). */
export async function migrate(pool: Pool, statements: readonly string[]): Promise<void> {
  for (const statement of statements) await pool.query(statement);
}

const DEADLOCK = 1213;
const LOCK_WAIT_TIMEOUT = 1205;

/**
 * Runs `work` in one transaction: commit on success, rollback on any throw. Deadlocks and lock-wait
 * timeouts are retried a few times with a short jittered pause, then reported as ABORTED.
 */
export async function withTransaction<T>(
  pool: Pool,
  work: (connection: PoolConnection) => Promise<T>,
  retries = 4,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const connection = await pool.getConnection();
    try {
      await connection.beginTransaction();
      const result = await work(connection);
      await connection.commit();
      return result;
    } catch (error) {
      await connection.rollback().catch(() => undefined); // the original error is what matters
      const errno = (error as { errno?: number }).errno;
      if (errno !== DEADLOCK && errno !== LOCK_WAIT_TIMEOUT) throw error;
      if (attempt >= retries)
        throw new AbortedError(
          'the write conflicted with concurrent writes; retry with the same idempotency key',
        );
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (attempt + 1)));
    } finally {
      connection.release();
    }
  }
}

export function isDuplicateKey(error: unknown): boolean {
  return (error as { errno?: number }).errno === 1062;
}
