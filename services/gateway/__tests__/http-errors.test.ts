import { Metadata, status as Code } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { HttpError, fromUpstream, httpStatusOf, jsonFieldPath } from '../http-errors';

/** A client-side gRPC error as grpc-js makes it, with x-error-* trailers. */
function grpcError(code: Code, details: string, trailers: Record<string, string> = {}): ServiceError {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return Object.assign(new Error(`${code} ${Code[code]}: ${details}`), { code, details, metadata });
}

describe('google.rpc.Code → HTTP status (the one table)', () => {
  it.each([
    ['INVALID_ARGUMENT', 400],
    ['OUT_OF_RANGE', 400],
    ['UNAUTHENTICATED', 401],
    ['PERMISSION_DENIED', 403],
    ['NOT_FOUND', 404],
    ['ALREADY_EXISTS', 409],
    ['FAILED_PRECONDITION', 409],
    ['ABORTED', 409],
    ['RESOURCE_EXHAUSTED', 429],
    ['UNIMPLEMENTED', 501],
    ['UNAVAILABLE', 503],
    ['DEADLINE_EXCEEDED', 504],
    ['OK', 500],
    ['CANCELLED', 500],
    ['UNKNOWN', 500],
    ['INTERNAL', 500],
    ['DATA_LOSS', 500],
  ] as const)('%s → %i', (name, status) => {
    expect(httpStatusOf(Code[name])).toBe(status);
  });

  it('a code grpc-js does not know is 500', () => {
    expect(httpStatusOf(99 as Code)).toBe(500);
  });
});

describe('proto field paths → the JSON names the client used', () => {
  it.each([
    ['seat_ids[1]', 'seatIds[1]'],
    ['ga[0].area_id', 'ga[0].areaId'],
    ['card.exp_month', 'card.expMonth'],
    ['email', 'email'],
    ['idempotency_key', 'Idempotency-Key'],
    ['idempotency-key', 'Idempotency-Key'],
    ['authorization', 'Authorization'],
  ])('%s → %s', (proto, json) => {
    expect(jsonFieldPath(proto)).toBe(json);
  });

  it('a route may rename a field (query parameters)', () => {
    expect(jsonFieldPath('from_date', { from_date: 'from' })).toBe('from');
  });
});

describe('an upstream error as the client sees it', () => {
  it('keeps the code, takes the field from x-error-field and renames the message lead', () => {
    const mapped = fromUpstream(
      grpcError(Code.INVALID_ARGUMENT, 'card.exp_month: must be between 1 and 12', {
        'x-error-field': 'card.exp_month',
      }),
    );
    expect(mapped).toBeInstanceOf(HttpError);
    expect((mapped as HttpError).status).toBe(400);
    expect((mapped as HttpError).body()).toEqual({
      error: {
        code: 'INVALID_ARGUMENT',
        message: 'card.expMonth: must be between 1 and 12',
        field: 'card.expMonth',
      },
    });
  });

  it('points a seat conflict at the first taken seat of the request and lists the taken seats', () => {
    const mapped = fromUpstream(
      grpcError(Code.FAILED_PRECONDITION, 'seat B-2 is already sold', { 'x-error-seat_ids': 'B-2' }),
      { seatIds: ['A-1', 'B-2'] },
    ) as HttpError;
    expect(mapped.status).toBe(409);
    expect(mapped.body().error).toEqual({
      code: 'FAILED_PRECONDITION',
      message: 'seat B-2 is already sold',
      field: 'seatIds[1]',
      details: { seatIds: ['B-2'] },
    });
  });

  it('points a full GA area at its item', () => {
    const mapped = fromUpstream(
      grpcError(Code.FAILED_PRECONDITION, 'area PIT has only 1 places left (asked for 2)', {
        'x-error-area_ids': 'PIT',
      }),
      { areaIds: ['FLOOR', 'PIT'] },
    ) as HttpError;
    expect(mapped.body().error).toMatchObject({ field: 'ga[1].areaId', details: { areaIds: ['PIT'] } });
  });

  it('takes the field from the message lead when only the message names it', () => {
    const denied = fromUpstream(
      grpcError(Code.PERMISSION_DENIED, 'hold_id: hold h1 belongs to another user'),
    ) as HttpError;
    expect(denied.body().error).toEqual({
      code: 'PERMISSION_DENIED',
      message: 'holdId: hold h1 belongs to another user',
      field: 'holdId',
    });
    // Not for codes that are about the system rather than the input.
    const down = fromUpstream(grpcError(Code.UNAVAILABLE, 'catalog: could not fetch show')) as HttpError;
    expect(down.body().error).toEqual({ code: 'UNAVAILABLE', message: 'catalog: could not fetch show' });
    expect(down.status).toBe(503);
  });

  it('leaves its own errors and programming errors alone', () => {
    const own = new HttpError(Code.NOT_FOUND, 'no route');
    expect(fromUpstream(own)).toBe(own);
    const bug = new TypeError('x is undefined');
    expect(fromUpstream(bug)).toBe(bug);
  });
});
