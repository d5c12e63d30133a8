import type { Connection as CoreConnection } from 'mysql2/typings/mysql/lib/Connection';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Pool, PoolConnection } from '../common/mysql';

export interface Statement {
  sql: string;
  values?: readonly unknown[];
}

export type Result = ResultSetHeader | RowDataPacket[];

export function sql(text: string, ...values: unknown[]): Statement {
  return { sql: text, values };
}

export { utcTime as sqlTime } from './domain/operations';

export function rows<T>(result: Result | undefined): T[] {
  if (!Array.isArray(result)) throw new Error('expected rows');
  return result as unknown as T[];
}

/**
 * Sends statements in as few round trips as the connection allows: all in one when the pool was
 * opened with multipleStatements (the production pool), else one by one. The booking paths are
 * bound by round trips to MySQL, so this is where their throughput comes from.
 */
export async function send(connection: PoolConnection, statements: readonly Statement[]): Promise<Result[]> {
  if (statements.length === 0) return [];
  if (statements.length > 1 && connection.connection.config.multipleStatements) {
    const text = statements.map((s) => connection.format(s.sql, s.values ? [...s.values] : [])).join(';\n');
    return (await rawQuery(connection, text)) as Result[];
  }
  const results: Result[] = [];
  for (const s of statements)
    results.push(
      (await rawQuery(connection, connection.format(s.sql, s.values ? [...s.values] : []))) as Result,
    );
  return results;
}

/**
 * A query on the callback connection underneath the promise wrapper: the wrapper captures a stack
 * trace for every query, which costs more than the rest of our per-statement work together.
 */
function rawQuery(connection: PoolConnection, text: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // mysql2's typings call this the promise Connection; at run time it is the callback one.
    const core = connection.connection as unknown as CoreConnection;
    core.query<ResultSetHeader>(text, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

/** One transaction on one connection. The first `run` opens it in the same round trip. */
export class Tx {
  private opened = false;

  constructor(readonly connection: PoolConnection) {}

  get started(): boolean {
    return this.opened;
  }

  async run(...statements: Statement[]): Promise<Result[]> {
    if (this.opened) return send(this.connection, statements);
    this.opened = true; // set first: if the batch fails part-way the transaction may be open
    const results = await send(this.connection, [sql('START TRANSACTION'), ...statements]);
    return results.slice(1);
  }

  /** Runs `statements` and COMMIT in one round trip; a failing statement leaves COMMIT unsent. */
  async commit(...statements: Statement[]): Promise<Result[]> {
    if (!this.opened && statements.length === 0) return [];
    const results = await this.run(...statements, sql('COMMIT'));
    this.opened = false;
    return results.slice(0, -1);
  }
}

const GUARD_PREFIX = 'marquee-guard:';
const SIGNAL_EXCEPTION = 1644;

/**
 * A check inside a compound statement (write/applier.ts): fails the batch (so the COMMIT after it
 * never runs) unless the statement just before it changed exactly `expectedRows` rows. This is what
 * lets a transaction decide on affected-row counts and still commit in the same round trip.
 * MariaDB runs it server-side; ROW_COUNT() is the previous statement's count.
 */
export function guardCheck(expectedRows: number, tag: string): Statement {
  return sql(
    "IF ROW_COUNT() <> ? THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = ?; END IF;",
    expectedRows,
    GUARD_PREFIX + tag,
  );
}

/** The tag of the guard that failed `error`, or undefined when the error is something else. */
export function failedGuard(error: unknown): string | undefined {
  const { errno, message } = error as { errno?: number; message?: unknown };
  if (errno !== SIGNAL_EXCEPTION || typeof message !== 'string' || !message.startsWith(GUARD_PREFIX))
    return undefined;
  return message.slice(GUARD_PREFIX.length);
}

/** A read outside any transaction (autocommit). */
export async function queryRows<T>(pool: Pool, text: string, ...values: unknown[]): Promise<T[]> {
  const [result] = await pool.query(text, values);
  return rows<T>(result as Result);
}
