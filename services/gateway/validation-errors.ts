import type { FastifySchemaValidationError } from 'fastify/types/schema';
import { invalid } from './http-errors';
import type { HttpError } from './http-errors';
import { MAX_INT32, MIN_INT32 } from './schemas/models';

/*
 * A request that fails its route schema, as the error the client gets: 400 INVALID_ARGUMENT with
 * `field` the name the client used (`seatIds[1]`, `card.expMonth`, `pageSize`, `Idempotency-Key`)
 * and a message that says what was expected and what came. Works from Ajv's verbose errors
 * (schema-validators.ts), the first one found.
 */

/** The part of the request the schema was for (fastify's validationContext). */
export type RequestPart = 'body' | 'querystring' | 'params' | 'headers';

interface SchemaNode {
  type?: string;
  minimum?: number;
  maximum?: number;
  format?: string;
  properties?: Record<string, unknown>;
  enum?: unknown[];
}

type ValidationError = FastifySchemaValidationError & { data?: unknown; parentSchema?: SchemaNode };

/** Headers are named as they are usually written. */
const HEADER_NAMES: Readonly<Record<string, string>> = { 'idempotency-key': 'Idempotency-Key' };

const FORMATS: Readonly<Record<string, string>> = {
  date: 'a date (YYYY-MM-DD)',
  'date-time': 'an RFC 3339 date and time',
  uri: 'a URL',
  email: 'an email address',
};

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** `/ga/0/quantity` → `ga[0].quantity`. */
function pathOf(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce(
      (path, segment) =>
        /^\d+$/.test(segment) ? `${path}[${segment}]` : path === '' ? segment : `${path}.${segment}`,
      '',
    );
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/**
 * The error to report: an unknown field first (it is what the client wrote, often a typo for the
 * required field also reported). Ajv lists a union's failed branches before the union itself; the
 * first branch error that is not "must be null" (the empty branch of an optional body) is the useful
 * one.
 */
function firstUseful(errors: readonly ValidationError[]): ValidationError | undefined {
  return (
    errors.find((e) => e.keyword === 'additionalProperties') ??
    errors.find((e) => e.keyword !== 'anyOf' && !(e.keyword === 'type' && e.params.type === 'null')) ??
    errors[0]
  );
}

function fieldOf(part: RequestPart, error: ValidationError): string {
  const path = pathOf(error.instancePath);
  const key =
    error.keyword === 'required'
      ? join(path, String(error.params.missingProperty))
      : error.keyword === 'additionalProperties'
        ? join(path, String(error.params.additionalProperty))
        : path;
  if (part === 'headers') return HEADER_NAMES[key] ?? key;
  return key === '' ? 'body' : key;
}

function expectedFields(schema: SchemaNode | undefined): string {
  const names = Object.keys(schema?.properties ?? {});
  return names.length === 0 ? 'no fields' : names.join(', ');
}

function typeProblem(part: RequestPart, error: ValidationError, field: string): string {
  const { data, parentSchema } = error;
  const expected = String(error.params.type);
  if (field === 'body' && (data === null || data === undefined))
    return `a JSON object with ${expectedFields(parentSchema)} is required`;
  if (data === null || data === undefined) return 'is required';
  if (part !== 'body' && Array.isArray(data)) return 'must be given once';
  if (
    expected === 'integer' &&
    parentSchema?.minimum !== undefined &&
    parentSchema.maximum !== undefined &&
    part !== 'body'
  )
    return rangeProblem(parentSchema, data);
  const got = typeof data === 'number' ? String(data) : typeOf(data);
  const name = { object: 'a JSON object', array: 'an array', integer: 'an integer', number: 'a number' }[
    expected
  ];
  return `must be ${name ?? `a ${expected}`} (got ${got})`;
}

function rangeProblem(schema: SchemaNode, data: unknown): string {
  if (schema.minimum === MIN_INT32 && schema.maximum === MAX_INT32) return 'is out of range';
  return `must be an integer between ${schema.minimum} and ${schema.maximum} (got ${JSON.stringify(String(data))})`;
}

function problemOf(part: RequestPart, error: ValidationError, field: string): string {
  const { params, data, parentSchema } = error;
  // The key's rules are one sentence, whichever of them failed.
  if (field === 'Idempotency-Key') return 'must be 8 to 128 printable ASCII characters without spaces';
  switch (error.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return `is not a known field (expected ${expectedFields(parentSchema)})`;
    case 'type':
      return typeProblem(part, error, field);
    case 'minimum':
    case 'maximum':
      return parentSchema?.minimum !== undefined && parentSchema.maximum !== undefined
        ? rangeProblem(parentSchema, data)
        : `must be ${error.keyword === 'minimum' ? 'at least' : 'at most'} ${String(params.limit)}`;
    case 'minLength':
      return params.limit === 1 ? 'is required' : `must be at least ${String(params.limit)} characters`;
    case 'maxLength':
      return `must be at most ${String(params.limit)} characters`;
    case 'maxItems':
      return `must have at most ${String(params.limit)} items (got ${Array.isArray(data) ? data.length : '?'})`;
    case 'enum':
      return `must be one of ${(parentSchema?.enum ?? []).join(', ')} (got ${JSON.stringify(data)})`;
    case 'format':
      return `must be ${FORMATS[String(params.format)] ?? `in format ${String(params.format)}`} (got ${JSON.stringify(data)})`;
    default:
      return error.message ?? 'is not valid';
  }
}

/** The HTTP error for a request that failed its schema. */
export function validationError(
  part: RequestPart,
  errors: readonly FastifySchemaValidationError[],
): HttpError {
  const error = firstUseful(errors as readonly ValidationError[]);
  if (error === undefined) return invalid(part === 'querystring' ? 'query' : part, 'is not valid');
  const field = fieldOf(part, error);
  return invalid(field, problemOf(part, error, field));
}
