import { randomUUID } from 'node:crypto';
import { status as Code } from '@grpc/grpc-js';
import { HttpError, invalid } from './http-errors';

/*
 * What the gateway checks itself before calling upstream: the shape of the JSON body (object, known
 * fields, types, required fields), query parameters and headers. Each failure names the field the
 * way the client wrote it. Rules about values (an email's form, a card's checksum, id syntax) stay
 * with the service that owns them; their messages come back renamed (http-errors.ts).
 */

export type Json = Record<string, unknown>;

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** The body as an object with only `fields`; `required` says whether an absent body is an error. */
export function objectBody(body: unknown, fields: readonly string[], required = true): Json {
  if (body === undefined || body === null) {
    if (!required) return {};
    throw invalid('body', `a JSON object with ${fields.join(', ')} is required`);
  }
  return objectAt(body, 'body', fields);
}

/** `value` as an object with only `fields`, at path `path` ('body' for the body itself). */
export function objectAt(value: unknown, path: string, fields: readonly string[]): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(path, `must be a JSON object (got ${typeOf(value)})`);
  const prefix = path === 'body' ? '' : `${path}.`;
  for (const key of Object.keys(value)) {
    if (!fields.includes(key))
      throw invalid(`${prefix}${key}`, `is not a known field (expected ${fields.join(', ')})`);
  }
  return value as Json;
}

function fieldPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export function requiredString(object: Json, key: string, path = ''): string {
  const value = object[key];
  const field = fieldPath(path, key);
  if (value === undefined || value === null) throw invalid(field, 'is required');
  if (typeof value !== 'string') throw invalid(field, `must be a string (got ${typeOf(value)})`);
  if (value.trim() === '') throw invalid(field, 'is required');
  return value;
}

export function optionalString(object: Json, key: string, path = ''): string {
  const value = object[key];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string')
    throw invalid(fieldPath(path, key), `must be a string (got ${typeOf(value)})`);
  return value;
}

export function requiredInteger(object: Json, key: string, path = ''): number {
  const value = object[key];
  const field = fieldPath(path, key);
  if (value === undefined || value === null) throw invalid(field, 'is required');
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw invalid(field, `must be an integer (got ${typeOf(value) === 'a number' ? value : typeOf(value)})`);
  // int32 on the wire: anything larger would be silently truncated by the encoder.
  if (value < -2147483648 || value > 2147483647) throw invalid(field, 'is out of range');
  return value;
}

/** An optional array; each item is checked by `item(value, itemPath)`. */
export function optionalArray<T>(
  object: Json,
  key: string,
  item: (value: unknown, path: string) => T,
  path = '',
): T[] {
  const value = object[key];
  const field = fieldPath(path, key);
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(field, `must be an array (got ${typeOf(value)})`);
  // Generous: the services enforce their own, smaller limits with a clear message.
  if (value.length > 1000) throw invalid(field, `must have at most 1000 items (got ${value.length})`);
  return value.map((v, i) => item(v, `${field}[${i}]`));
}

export function stringItem(value: unknown, path: string): string {
  if (typeof value !== 'string') throw invalid(path, `must be a string (got ${typeOf(value)})`);
  return value;
}

type Query = Record<string, unknown>;

/** A query parameter given at most once; '' and absent are both undefined. */
export function queryString(query: Query, name: string): string | undefined {
  const value = query[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(name, 'must be given once');
  return value;
}

/** A query parameter that must be a whole number in [min, max]; absent → `fallback`. */
export function queryInteger(
  query: Query,
  name: string,
  range: { min: number; max: number },
  fallback: number,
): number {
  const text = queryString(query, name);
  if (text === undefined) return fallback;
  const value = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(value >= range.min && value <= range.max))
    throw invalid(
      name,
      `must be an integer between ${range.min} and ${range.max} (got ${JSON.stringify(text)})`,
    );
  return value;
}

/** A query parameter from a fixed list of words. */
export function queryWord<W extends string>(query: Query, name: string, words: readonly W[]): W | undefined {
  const text = queryString(query, name);
  if (text === undefined) return undefined;
  const word = text.toLowerCase() as W;
  if (!words.includes(word))
    throw invalid(name, `must be one of ${words.join(', ')} (got ${JSON.stringify(text)})`);
  return word;
}

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
 * The `Idempotency-Key` header (8 to 128 printable characters), or a new key for this request. The
 * same key goes with every retry the gateway makes, so a write lands at most once.
 */
export function idempotencyKey(headers: Headers): string {
  const value = headers['idempotency-key'];
  if (value === undefined) return `gw-${randomUUID()}`;
  if (typeof value !== 'string') throw invalid('Idempotency-Key', 'must be given once');
  if (value.length < 8 || value.length > 128 || !/^[\x21-\x7e]+$/.test(value))
    throw invalid('Idempotency-Key', 'must be 8 to 128 printable ASCII characters without spaces');
  return value;
}
