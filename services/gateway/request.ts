import { randomUUID } from 'node:crypto';
import { status as Code } from '@grpc/grpc-js';
import { HttpError } from './http-errors';

/*
 * What a handler reads from the request's headers beyond its schema (schemas/): the bearer token
 * (a missing or malformed one is 401, not 400) and the idempotency key a write travels with.
 */

type Query = Record<string, unknown>;

type Headers = Record<string, string | string[] | undefined>;

/**
 * The bearer token of `Authorization: Bearer <token>`. EventSource cannot send headers, so the
 * server-sent-event routes also take it as the `access_token` query parameter (RFC 6750 §2.3).
 */
export function bearerToken(headers: Headers, query?: Query): string {
  const header = headers.authorization;
  if (header === undefined && query !== undefined) {
    const fromQuery = query.access_token;
    if (typeof fromQuery === 'string' && fromQuery !== '') return fromQuery;
  }
  if (header === undefined || header === '')
    throw new HttpError(
      Code.UNAUTHENTICATED,
      'Authorization: a "Bearer <token>" header is required (log in: POST /api/auth/login)',
      'Authorization',
    );
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match?.[1])
    throw new HttpError(Code.UNAUTHENTICATED, 'Authorization: expected "Bearer <token>"', 'Authorization');
  return match[1];
}

/**
 * The `Idempotency-Key` header (its form is checked by the route schema), or a new key for this
 * request. The same key goes with every retry the gateway makes, so a write lands at most once.
 */
export function idempotencyKey(headers: { 'idempotency-key'?: string | string[] }): string {
  const value = headers['idempotency-key'];
  return typeof value === 'string' ? value : `gw-${randomUUID()}`;
}
