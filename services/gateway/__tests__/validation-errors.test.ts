import type { FastifySchemaValidationError } from 'fastify/types/schema';
import { schemaValidatorCompiler } from '../schema-validators';
import * as schema from '../schemas/route-schemas';
import { validationError } from '../validation-errors';
import type { RequestPart } from '../validation-errors';

/*
 * A request that fails its route schema is answered in the gateway's one error shape, naming the
 * field as the client wrote it. These run the real route schemas through the validators fastify
 * uses (schema-validators.ts), without a server; api.test.ts checks the same over HTTP.
 */

const compile = schemaValidatorCompiler();

/** The 400 body for `value` as the given part of a request to a route with `routeSchema`. */
function refusal(part: RequestPart, routeSchema: object, value: unknown) {
  const validate = compile({ schema: routeSchema, method: 'POST', url: '/x', httpPart: part }) as ((
    data: unknown,
  ) => boolean) & { errors?: FastifySchemaValidationError[] | null };
  if (validate(value)) return undefined;
  const error = validationError(part, validate.errors ?? []);
  return { status: error.status, ...error.body().error };
}

describe('validation errors name the field the client wrote', () => {
  it('a nested body field by its JSON path, with what came instead', () => {
    expect(refusal('body', schema.hold.body, { showId: 's', ga: [{ areaId: 'A', quantity: '2' }] })).toEqual({
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'ga[0].quantity',
      message: 'ga[0].quantity: must be an integer (got a string)',
    });
  });

  it('an unknown field before the required one it stands for (a typo), listing the known ones', () => {
    expect(
      refusal('body', schema.hold.body, { showId: 's', ga: [{ area: 'A', quantity: 1 }] }),
    ).toMatchObject({
      field: 'ga[0].area',
      message: 'ga[0].area: is not a known field (expected areaId, quantity)',
    });
  });

  it('a missing or blank required field is "required"; a missing body says what it needs', () => {
    expect(refusal('body', schema.hold.body, { seatIds: ['A-1'] })).toMatchObject({
      field: 'showId',
      message: 'showId: is required',
    });
    expect(refusal('body', schema.hold.body, { showId: '' })).toMatchObject({ field: 'showId' });
    expect(refusal('body', schema.login.body, null)).toMatchObject({
      field: 'body',
      message: 'body: a JSON object with email, password is required',
    });
  });

  it('a JSON body keeps its types: a number is not taken for a string', () => {
    expect(refusal('body', schema.login.body, { email: 'a@b.c', password: 12345678 })).toMatchObject({
      field: 'password',
      message: 'password: must be a string (got 12345678)',
    });
  });

  it('a query parameter is coerced from text, checked against its range, and refused when given twice', () => {
    expect(refusal('querystring', schema.searchEvents.querystring, { pageSize: '20' })).toBeUndefined();
    expect(refusal('querystring', schema.searchEvents.querystring, { pageSize: '500' })).toMatchObject({
      field: 'pageSize',
      message: 'pageSize: must be an integer between 1 and 100 (got "500")',
    });
    expect(refusal('querystring', schema.searchEvents.querystring, { genre: ['a', 'b'] })).toMatchObject({
      field: 'genre',
      message: 'genre: must be given once',
    });
    expect(refusal('querystring', schema.searchEvents.querystring, { kind: 'opera' })).toMatchObject({
      field: 'kind',
      message: expect.stringContaining('must be one of movie, concert'),
    });
  });

  it('a header by the name it is written with', () => {
    expect(refusal('headers', schema.hold.headers, { 'idempotency-key': 'short' })).toMatchObject({
      field: 'Idempotency-Key',
      message: 'Idempotency-Key: must be 8 to 128 printable ASCII characters without spaces',
    });
  });

  it('an int32 field out of range', () => {
    expect(
      refusal('body', schema.hold.body, { showId: 's', ga: [{ areaId: 'A', quantity: 2 ** 31 }] }),
    ).toMatchObject({ field: 'ga[0].quantity', message: 'ga[0].quantity: is out of range' });
  });
});
