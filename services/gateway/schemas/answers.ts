import type { Static, TSchema } from 'typebox';
import type * as routes from './route-schemas';

/*
 * The types a client of the HTTP API reads and sends, by operationId, from the route schemas. The
 * web UI's JSDoc uses them (`import('../../schemas/answers').Answer<'hold'>`), so a field renamed or
 * retyped in a schema fails the browser code's type check too, not only the gateway's.
 */

type Routes = typeof routes;

type Success<R> = R extends { response: { 200: infer S extends TSchema } }
  ? Static<S>
  : R extends { response: { 201: infer S extends TSchema } }
    ? Static<S>
    : never;

/** The body of a route's 2xx answer, e.g. Answer<'searchEvents'> = {events, nextPageToken}. */
export type Answer<Name extends keyof Routes> = Success<Routes[Name]>;

/** The JSON body a route takes, e.g. Request<'hold'> = {showId, seatIds?, ga?}. */
export type RequestBody<Name extends keyof Routes> = Routes[Name] extends { body: infer S extends TSchema }
  ? Static<S>
  : never;
