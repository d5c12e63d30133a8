import { status as Code } from '@grpc/grpc-js';
import { isGrpcError } from '../common/errors';

/**
 * gRPC → HTTP, in ONE table (google.rpc.Code meanings). Codes not listed are 500. The gateway's own
 * errors (bad JSON, a missing field, an unknown route) use the same codes, so every error body has
 * one shape: `{ error: { code, message, field?, details? } }`.
 */
export const HTTP_STATUS_BY_CODE: Readonly<Partial<Record<Code, number>>> = Object.freeze({
  [Code.INVALID_ARGUMENT]: 400,
  [Code.OUT_OF_RANGE]: 400,
  [Code.UNAUTHENTICATED]: 401,
  [Code.PERMISSION_DENIED]: 403,
  [Code.NOT_FOUND]: 404,
  [Code.ALREADY_EXISTS]: 409,
  [Code.FAILED_PRECONDITION]: 409,
  [Code.ABORTED]: 409,
  [Code.RESOURCE_EXHAUSTED]: 429,
  [Code.UNIMPLEMENTED]: 501,
  [Code.UNAVAILABLE]: 503,
  [Code.DEADLINE_EXCEEDED]: 504,
});

/** The HTTP status for a google.rpc.Code. */
export function httpStatusOf(code: Code): number {
  return HTTP_STATUS_BY_CODE[code] ?? 500;
}

/** The code's name as sent in error bodies, e.g. "FAILED_PRECONDITION". */
export function codeName(code: Code): string {
  return Code[code] ?? 'UNKNOWN';
}

export type ErrorDetails = Readonly<Record<string, string | readonly string[]>>;

export interface ErrorBody {
  error: { code: string; message: string; field?: string; details?: ErrorDetails };
}

/** An error the gateway answers as it is: its status comes from the table. */
export class HttpError extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly field?: string,
    readonly details?: ErrorDetails,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  get status(): number {
    return httpStatusOf(this.code);
  }

  body(): ErrorBody {
    return {
      error: {
        code: codeName(this.code),
        message: this.message,
        ...(this.field === undefined ? {} : { field: this.field }),
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

/** Bad input found by the gateway itself; `field` is the name the client used (JSON body, query, header). */
export function invalid(field: string, problem: string): HttpError {
  return new HttpError(Code.INVALID_ARGUMENT, `${field}: ${problem}`, field);
}

/**
 * How the names of an upstream error are put back into the client's words. gRPC messages use proto
 * field names (`seat_ids[1]`, `card.exp_month`); the REST API uses JSON names (`seatIds[1]`,
 * `card.expMonth`), and some fields came from elsewhere (a header, a query parameter).
 */
export interface RequestContext {
  /** Proto field name → the name the client used, e.g. { from_date: 'from', query: 'q' }. */
  renames?: Readonly<Record<string, string>>;
  /**
   * The proto message that the JSON body stands for, e.g. 'event' for CreateEvent, whose body is the
   * event's fields: `event.duration_minutes` is then the body's `durationMinutes`.
   */
  body?: string;
  /** The request's seat ids and GA area ids, to point `field` at the item a conflict names. */
  seatIds?: readonly string[];
  areaIds?: readonly string[];
}

/** Fields that travel outside the JSON body. */
const COMMON_RENAMES: Readonly<Record<string, string>> = {
  idempotency_key: 'Idempotency-Key',
  'idempotency-key': 'Idempotency-Key',
  authorization: 'Authorization',
};

/** `ga[0].area_id` → `ga[0].areaId`, each path segment renamed on its own. */
export function jsonFieldPath(protoPath: string, renames: Readonly<Record<string, string>> = {}): string {
  const all = { ...COMMON_RENAMES, ...renames };
  const whole = all[protoPath];
  if (whole !== undefined) return whole;
  return protoPath
    .split('.')
    .map((segment) => {
      const match = /^([^[]*)(.*)$/.exec(segment)!;
      const name = match[1]!;
      const renamed = all[name] ?? name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
      return renamed + match[2]!;
    })
    .join('.');
}

const DETAIL_PREFIX = 'x-error-';

/** Codes whose message, when it leads with "name: ", is about that input field. */
const FIELD_LEAD_CODES: ReadonlySet<Code> = new Set([
  Code.INVALID_ARGUMENT,
  Code.OUT_OF_RANGE,
  Code.NOT_FOUND,
  Code.ALREADY_EXISTS,
  Code.FAILED_PRECONDITION,
  Code.PERMISSION_DENIED,
  Code.UNAUTHENTICATED,
]);

/** The x-error-* metadata of a gRPC error (the field it names, the seats it conflicts on, ...). */
function errorDetails(error: { metadata?: { toJSON(): Record<string, unknown[]> } }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, values] of Object.entries(error.metadata?.toJSON() ?? {})) {
    if (!key.startsWith(DETAIL_PREFIX)) continue;
    const value = values[0];
    if (typeof value === 'string') out[key.slice(DETAIL_PREFIX.length)] = value;
  }
  return out;
}

function splitList(value: string | undefined): string[] {
  return value === undefined || value === '' ? [] : value.split(',');
}

/**
 * An upstream gRPC error as the HTTP error the client sees: status from the table, the message with
 * its leading field renamed, `field` from x-error-field (or from the seats/areas a conflict names),
 * and `details` listing those seats/areas. Anything else (a programming error) is returned as is.
 */
export function fromUpstream(error: unknown, context: RequestContext = {}): unknown {
  if (error instanceof HttpError || !isGrpcError(error)) return error;
  const found = errorDetails(error);
  const renames = context.renames ?? {};
  const bodyPrefix = context.body === undefined ? undefined : `${context.body}.`;
  const named = (protoPath: string): string =>
    jsonFieldPath(
      bodyPrefix !== undefined && protoPath.startsWith(bodyPrefix)
        ? protoPath.slice(bodyPrefix.length)
        : protoPath,
      renames,
    );
  let message = error.details || codeName(error.code);
  let field = found.field === undefined ? undefined : named(found.field);
  // Messages lead with the proto field name ("seat_ids[1]: ..."): say it the way the client does.
  const lead = /^([A-Za-z0-9_.[\]-]+): /.exec(message)?.[1];
  if (lead !== undefined && /[_a-z]/.test(lead)) {
    const leadField = named(lead);
    message = leadField + message.slice(lead.length);
    // Some errors name their field only in the message ("hold_id: hold ... belongs to another user").
    if (field === undefined && FIELD_LEAD_CODES.has(error.code)) field = leadField;
  }
  const details: Record<string, readonly string[]> = {};
  const seats = splitList(found.seat_ids);
  if (seats.length > 0) {
    details.seatIds = seats;
    const index = context.seatIds?.findIndex((id) => seats.includes(id)) ?? -1;
    field ??= index >= 0 ? `seatIds[${index}]` : 'seatIds';
  }
  const areas = splitList(found.area_ids);
  if (areas.length > 0) {
    details.areaIds = areas;
    const index = context.areaIds?.findIndex((id) => areas.includes(id)) ?? -1;
    field ??= index >= 0 ? `ga[${index}].areaId` : 'ga';
  }
  return new HttpError(error.code, message, field, Object.keys(details).length > 0 ? details : undefined);
}
