import { InvalidArgumentError } from './errors';

/**
 * Request validators. Each throws InvalidArgumentError naming the field, so a handler validates
 * everything before it writes anything. proto3 sends absent strings as '' and absent numbers as 0.
 */

export function requiredString(
  value: unknown,
  field: string,
  options: { max?: number; min?: number } = {},
): string {
  if (typeof value !== 'string') throw new InvalidArgumentError(field, 'must be a string');
  const trimmed = value.trim();
  if (trimmed.length === 0) throw new InvalidArgumentError(field, 'is required');
  return checkLength(trimmed, field, options);
}

export function optionalString(value: unknown, field: string, options: { max?: number } = {}): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new InvalidArgumentError(field, 'must be a string');
  return checkLength(value.trim(), field, options);
}

function checkLength(value: string, field: string, options: { max?: number; min?: number }): string {
  const max = options.max ?? 200;
  if (value.length > max)
    throw new InvalidArgumentError(field, `must be at most ${max} characters (got ${value.length})`);
  if (options.min !== undefined && value.length < options.min) {
    throw new InvalidArgumentError(field, `must be at least ${options.min} characters`);
  }
  return value;
}

const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** An id we issued or a short code: letters, digits and `_.:-`, at most 64 characters. */
export function requiredId(value: unknown, field: string): string {
  const id = requiredString(value, field, { max: 64 });
  if (!ID_PATTERN.test(id)) throw new InvalidArgumentError(field, `${JSON.stringify(id)} is not a valid id`);
  return id;
}

export function requiredInt(value: unknown, field: string, range: { min: number; max: number }): number {
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw new InvalidArgumentError(field, 'must be an integer');
  if (value < range.min || value > range.max) {
    throw new InvalidArgumentError(field, `must be between ${range.min} and ${range.max} (got ${value})`);
  }
  return value;
}

export function stringList(
  value: unknown,
  field: string,
  options: { maxItems: number; maxLength?: number },
): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InvalidArgumentError(field, 'must be a list');
  if (value.length > options.maxItems) {
    throw new InvalidArgumentError(
      field,
      `must have at most ${options.maxItems} items (got ${value.length})`,
    );
  }
  return value.map((item, i) => requiredString(item, `${field}[${i}]`, { max: options.maxLength ?? 200 }));
}

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** A calendar day `YYYY-MM-DD`, or '' when absent. */
export function optionalDate(value: unknown, field: string): string {
  const text = optionalString(value, field, { max: 10 });
  if (text === '') return '';
  if (!DATE_PATTERN.test(text) || Number.isNaN(Date.parse(`${text}T00:00:00Z`))) {
    throw new InvalidArgumentError(field, `must be a date like 2026-12-31 (got ${JSON.stringify(text)})`);
  }
  return text;
}

/** An RFC 3339 instant with a zone, returned as a Date. */
export function requiredTimestamp(value: unknown, field: string): Date {
  const text = requiredString(value, field, { max: 40 });
  const hasZone = /(Z|[+-]\d{2}:\d{2})$/.test(text);
  const millis = Date.parse(text);
  if (!hasZone || !/^\d{4}-\d{2}-\d{2}T/.test(text) || Number.isNaN(millis)) {
    throw new InvalidArgumentError(
      field,
      `must be an RFC 3339 time like 2026-12-31T20:00:00Z (got ${JSON.stringify(text)})`,
    );
  }
  return new Date(millis);
}

export function requiredEmail(value: unknown, field: string): string {
  const email = requiredString(value, field, { max: 254 }).toLowerCase();
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email))
    throw new InvalidArgumentError(field, `${JSON.stringify(email)} is not an email address`);
  return email;
}

/** Idempotency keys are chosen by clients: 8 to 128 printable characters. */
export function requiredIdempotencyKey(value: unknown, field = 'idempotency_key'): string {
  const key = requiredString(value, field, { max: 128, min: 8 });
  if (!/^[\x21-\x7e]+$/.test(key))
    throw new InvalidArgumentError(field, 'must be printable ASCII without spaces');
  return key;
}

export function requiredUrlOrEmpty(value: unknown, field: string): string {
  const text = optionalString(value, field, { max: 500 });
  if (text === '') return '';
  try {
    const url = new URL(text);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new InvalidArgumentError(
      field,
      `must be an http(s) URL (got ${JSON.stringify(text.slice(0, 60))})`,
    );
  }
  return text;
}
