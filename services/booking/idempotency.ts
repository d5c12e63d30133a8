import { createHash } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import { AbortedError, DomainError, InvalidArgumentError } from '../common/errors';
import { isDuplicateKey } from '../common/mysql';
import type { Pool } from '../common/mysql';
import { NotAcknowledgedError, barrier } from './replication';
import type { BookingReplication } from './replication';
import type { IdempotencyScope } from './domain/operations';
import { sql, sqlTime } from './sql';
import type { Statement } from './sql';

/**
 * Idempotent writes. Every write claims its (caller, key) row in the SAME transaction as the write,
 * as the transaction's first statement:
 *  - a retry after success hits the primary key, the write rolls back, and we answer with the stored
 *    response of the first call;
 *  - two concurrent calls with one key serialise on that row: the second insert waits for the
 *    first transaction, then fails with a duplicate key and replays the first answer (or, if the
 *    first rolled back, goes ahead as if it had been first);
 *  - a crash can never leave a write without its key, nor a key without its write.
 * Only successes are stored: a call that failed (seat taken, card declined, conflict) wrote nothing,
 * so retrying it with the same key simply tries again. Keys are purged after the retention window.
 */
export type { IdempotencyScope } from './domain/operations';

/** JSON with object keys sorted, so equal requests hash equally whatever order fields were built in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * SHA-256 of the method and the validated request. Callers leave secrets out (passwords, full card
 * numbers): the hash is stored for a day and an unsalted hash of a secret is as good as the secret.
 */
export function requestHash(method: string, request: unknown): Buffer {
  return createHash('sha256').update(method).update('\n').update(canonicalJson(request)).digest();
}

export function scopeFor(userId: string, key: string, method: string, request: unknown): IdempotencyScope {
  return { userId, key, method, requestHash: requestHash(method, request) };
}

/** The claim: the first statement of the write's transaction. `response` may be filled in later. */
export function claimStatement(scope: IdempotencyScope, nowMs: number, response: Buffer | null): Statement {
  return sql(
    'INSERT INTO idempotency (user_id, `key`, method, request_hash, response, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    scope.userId,
    scope.key,
    scope.method,
    scope.requestHash,
    response,
    sqlTime(nowMs),
  );
}

export function answerStatement(scope: IdempotencyScope, response: Buffer): Statement {
  return sql(
    'UPDATE idempotency SET response = ? WHERE user_id = ? AND `key` = ?',
    response,
    scope.userId,
    scope.key,
  );
}

export function purgeStatement(beforeMs: number, limit: number): Statement {
  return sql('DELETE FROM idempotency WHERE created_at < ? LIMIT ?', sqlTime(beforeMs), limit);
}

interface StoredRow extends RowDataPacket {
  method: string;
  request_hash: Buffer;
  response: Buffer | null;
}

/** The stored answer for `scope`, `undefined` when the key is unused; a different request is an error. */
export async function storedAnswer(pool: Pool, scope: IdempotencyScope): Promise<Buffer | undefined> {
  const [found] = await pool.query<StoredRow[]>(
    'SELECT method, request_hash, response FROM idempotency WHERE user_id = ? AND `key` = ?',
    [scope.userId, scope.key],
  );
  const row = found[0];
  if (!row) return undefined;
  if (row.method !== scope.method || !row.request_hash.equals(scope.requestHash)) {
    throw new InvalidArgumentError('idempotency_key', 'was used for a different request');
  }
  // Claims are committed together with their answer, so a committed claim without one is a bug.
  if (row.response === null)
    throw new AbortedError('idempotency_key: the first call with this key has no stored answer; retry');
  return row.response;
}

/**
 * Runs `write` (which must claim `scope` in its transaction). When it fails because the key was
 * already claimed, or with a domain error that a first successful call would explain (the seats are
 * now held by that call), answers with the stored response instead.
 * With replication, a write that committed but was not acknowledged stays UNAVAILABLE, and a stored
 * answer is replayed only once everything in this node's log is acknowledged (it may be such a write).
 */
export async function idempotent<T>(
  pool: Pool,
  scope: IdempotencyScope,
  decode: (bytes: Uint8Array) => T,
  write: () => Promise<T>,
  replication?: BookingReplication,
): Promise<{ value: T; replayed: boolean }> {
  try {
    return { value: await write(), replayed: false };
  } catch (error) {
    if (error instanceof NotAcknowledgedError) throw error;
    if (!isDuplicateKey(error) && !(error instanceof DomainError)) throw error;
    const stored = await storedAnswer(pool, scope);
    if (stored === undefined) throw error;
    await barrier(replication);
    return { value: decode(stored), replayed: true };
  }
}
