import Ajv from 'ajv';
import type { Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

/*
 * The validators fastify checks requests with, compiled from the route schemas (schemas/). Two Ajv
 * instances because the parts of a request differ: a query string, path or header is text, so
 * `?pageSize=20` is coerced to the integer its schema names (and a parameter given twice arrives as
 * an array, refused); a JSON body already has types, so `"password": 12345678` must stay a number
 * and be refused, not turned into the string "12345678".
 * Unknown body fields are refused (fastify's default would drop them silently). Every error is
 * collected (`allErrors`), so that validation-errors.ts can report an unknown field (a typo: `area`
 * for `areaId`) before the required field it stands for; `verbose` keeps each failing value and
 * schema, from which it words the message.
 */

const COMMON: Options = { allErrors: true, useDefaults: true, removeAdditional: false, verbose: true };

function ajvWith(options: Options): Ajv {
  const ajv = new Ajv({ ...COMMON, ...options });
  addFormats(ajv, ['date', 'date-time', 'uri', 'email']);
  return ajv;
}

export function schemaValidatorCompiler(): FastifySchemaCompiler<object> {
  const text = ajvWith({ coerceTypes: 'array' });
  const json = ajvWith({ coerceTypes: false });
  return ({ schema, httpPart }) => (httpPart === 'body' ? json : text).compile(schema);
}
