import { createHash } from 'node:crypto';
import type { IdempotencyScope } from './domain/operations';
import { sql, sqlTime } from './sql';
import type { Statement } from './sql';

/**
 * Idempotency keys. Every write carries one; its row (the request's hash and the first answer) is
 * part of the write's own operation, written in the same batch as the change (write/batcher.ts), so
 * a crash can never leave a write without its key, nor a key without its write. The decision looks
 * the key up first (domain/decide.ts): a retry gets the stored answer, also a concurrent one (the
 * master's one writer decides them in order), and the same key with a different request is
 * INVALID_ARGUMENT. Only successes are stored: a call that failed wrote nothing, so retrying it with
 * the same key simply tries again. Keys are purged after the retention window.
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

export function purgeStatement(beforeMs: number, limit: number): Statement {
  return sql('DELETE FROM idempotency WHERE created_at < ? LIMIT ?', sqlTime(beforeMs), limit);
}
