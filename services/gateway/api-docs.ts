import swagger from '@fastify/swagger';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/*
 * The OpenAPI document is generated, not kept: @fastify/swagger collects every route's schema
 * (schemas/route-schemas.ts) as the route is registered, and this file adds only what no route
 * says: the API's description, its tags and the bearer scheme. GET /api/openapi.json serves the
 * document; /api/docs is a readable page of it, swagger-ui from the npm package's own files.
 */

/** Where the API page is served (under /api/, so nginx passes it to the gateway). */
export const API_DOCS_PREFIX = '/api/docs';

const DOCUMENT: FastifyDynamicSwaggerOptions['openapi'] = {
  openapi: '3.1.0',
  info: {
    title: 'Marquee gateway',
    version: '1.0.0',
    description:
      "JSON REST API over Marquee's gRPC services (catalog, booking, cluster status). Errors are `{error: {code, message, field?, details?}}` with code a google.rpc.Code name; HTTP status by code: INVALID_ARGUMENT/OUT_OF_RANGE 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403, NOT_FOUND 404, ALREADY_EXISTS/FAILED_PRECONDITION/ABORTED 409, RESOURCE_EXHAUSTED 429, UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED 504, anything else 500. Every response carries `X-Lamport`: the gateway's Lamport clock (the latest stamp it has seen or issued); stamps sent by clients are ignored. Retrying: a write with the same `Idempotency-Key` returns the first answer, so repeat it with the same key on 502, 503, 504 or a lost connection (the outcome is unknown there: it may have committed); never on 500. The gateway itself repeats booking calls on gRPC UNAVAILABLE, ABORTED, DEADLINE_EXCEEDED and on an unknown outcome (INTERNAL, UNKNOWN, CANCELLED from a reset stream) for up to MARQUEE_GATEWAY_RETRY_MS, and answers an outcome still unknown then with 503, never 500. gRPC clients (grpcurl through :50050) follow the same rule with the request's idempotencyKey.",
  },
  tags: [
    {
      name: 'gateway',
    },
    {
      name: 'catalog',
    },
    {
      name: 'seats',
    },
    {
      name: 'accounts',
    },
    {
      name: 'holds',
    },
    {
      name: 'bookings',
    },
    {
      name: 'cluster',
    },
    {
      name: 'recommendations',
    },
    {
      name: 'admin',
      description:
        'Catalog writes and imports; need a token with the admin role (log in as the configured admin).',
    },
  ],
  components: {
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description:
          'The token from POST /api/auth/login or /api/auth/register, passed on to the booking service as gRPC `authorization` metadata',
      },
    },
  },
};

/** Registers the document generator; call before any route, so that each is collected. */
export async function registerApiDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, { openapi: DOCUMENT });
  await app.register(swaggerUi, { routePrefix: API_DOCS_PREFIX, staticCSP: true });
}
