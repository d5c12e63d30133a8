import { Type } from 'typebox';
import type { TSchema } from 'typebox';
import { ErrorBody } from './models';

/*
 * Pieces shared by the route schemas (route-schemas.ts): path ids, paging, the Idempotency-Key
 * header, the bearer security requirement and the error answers every route documents.
 */

/** Routes that need `Authorization: Bearer <token>` (the gateway checks it in the handler: 401). */
export const BEARER = [{ bearer: [] }];

/** A path parameter; '' (as in `/api/events//shows`) is refused, naming it. */
const pathId = (description: string) => Type.String({ minLength: 1, description });

export const EventId = pathId('An event id (catalog)');
export const ShowId = pathId('A show id (catalog)');
export const HoldId = pathId('A hold id (from POST /api/holds)');
export const BookingId = pathId('A booking id (from checkout)');

/** Items on a page when `pageSize` is not given. */
export const PAGE_SIZE_DEFAULT = 20;
export const PageSize = Type.Integer({ minimum: 1, maximum: 100, default: PAGE_SIZE_DEFAULT });
export const PageToken = Type.String({ description: 'nextPageToken of the previous page' });
export const AccessToken = Type.String({
  description: 'The bearer token, for EventSource clients that cannot send an Authorization header',
});

/** Headers of a write that a retry must not repeat. */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 8,
      maxLength: 128,
      pattern: '^[\\x21-\\x7e]+$',
      description:
        "8 to 128 printable ASCII characters. A retry with the same key returns the first answer. Absent: the gateway makes one for this request and uses it for all its own retries. Every write's answer, errors included, carries the key in its Idempotency-Key header.",
    }),
  ),
});

const ERROR_DESCRIPTIONS = {
  400: 'INVALID_ARGUMENT / OUT_OF_RANGE: bad JSON, a missing field, a wrong type or value; `field` names it',
  401: 'UNAUTHENTICATED: no, malformed or expired token; wrong email or password',
  403: "PERMISSION_DENIED: someone else's hold or booking; a catalog write without the admin role",
  404: 'NOT_FOUND: unknown id (or unknown route)',
  409: 'ALREADY_EXISTS / FAILED_PRECONDITION / ABORTED: seat taken, hold expired, card declined, already cancelled, email registered',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL and any other code',
  503: 'UNAVAILABLE: the upstream did not answer (node down, election) even after retries',
  504: 'DEADLINE_EXCEEDED: the upstream did not answer in time',
} as const;

type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS;

/** The error answers a route documents, each the one error body (http-errors.ts). */
export function errors<S extends ErrorStatus>(...statuses: S[]): Record<S, typeof ErrorBody> {
  return Object.fromEntries(
    statuses.map((status) => [status, Type.With(ErrorBody, { description: ERROR_DESCRIPTIONS[status] })]),
  ) as unknown as Record<S, typeof ErrorBody>;
}

/** A 2xx answer: its body schema with the description the OpenAPI document shows. */
export function answer<T extends TSchema>(description: string, schema: T): T {
  return Type.With(schema, { description }) as T;
}

/** A 200 whose body is not one JSON value (an event stream, JSON lines): documented, not typed. */
export function streamed(description: string, contentType: string, schema: TSchema) {
  return { description, content: { [contentType]: { schema } } };
}
