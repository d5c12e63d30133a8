import { Type } from 'typebox';
import {
  AccessToken,
  BEARER,
  BookingId,
  EventId,
  HoldId,
  IdempotencyHeaders,
  PageSize,
  PageToken,
  ShowId,
  answer,
  errors,
  streamed,
} from './common';
import {
  Availability,
  Booking,
  Card,
  Cluster,
  Event,
  EventKind,
  Health,
  Hold,
  HoldRequest,
  ImportProgressLine,
  ImportRequest,
  MetricsSummary,
  NewEvent,
  NonEmpty,
  NewShow,
  Recommendations,
  Session,
  Show,
  ShowDetail,
  User,
  Venue,
} from './models';

/*
 * One schema per route of the HTTP API: what fastify validates the request with, what the handler's
 * types come from (the TypeBox type provider), and what the OpenAPI document at /api/openapi.json
 * says (operationId, summary, parameters, bodies, answers). Handlers register with these by name.
 */

/** GET /api/health */
export const health = {
  operationId: 'health',
  tags: ['gateway'],
  summary: 'The gateway and which upstreams answer',
  description:
    'Always 200 while the gateway runs; `status` is `degraded` when the catalog or a booking node does not answer its grpc.health.v1 check.',
  response: {
    200: answer('Health', Health),
  },
};

/** GET /api/openapi.json */
export const openapi = {
  operationId: 'openapi',
  tags: ['gateway'],
  summary: 'This document',
  response: {
    200: answer('OpenAPI 3.1', Type.Object({})),
  },
};

/** GET /api/events */
export const searchEvents = {
  operationId: 'searchEvents',
  tags: ['catalog'],
  summary: 'Search events (catalog SearchEvents)',
  querystring: Type.Object({
    q: Type.Optional(
      Type.String({ description: 'Words matched against title, description, cast and artists' }),
    ),
    genre: Type.Optional(Type.String()),
    city: Type.Optional(Type.String()),
    from: Type.Optional(
      Type.String({ format: 'date', description: 'Events with a show on or after this day' }),
    ),
    to: Type.Optional(
      Type.String({ format: 'date', description: 'Events with a show on or before this day' }),
    ),
    kind: Type.Optional(EventKind),
    pageSize: Type.Optional(PageSize),
    pageToken: Type.Optional(PageToken),
  }),
  response: {
    200: answer(
      'A page of events',
      Type.Object(
        {
          events: Type.Array(Event),
          nextPageToken: Type.Union([Type.String(), Type.Null()]),
        },
        { additionalProperties: false },
      ),
    ),
    ...errors(400, 500, 503, 504),
  },
};

/** POST /api/events */
export const createEvent = {
  operationId: 'createEvent',
  tags: ['admin'],
  summary: 'Create an event (catalog CreateEvent; admin)',
  description:
    'Sent once: a create is not idempotent, so the gateway does not retry it; after a 503 or 504 look at the catalog before trying again.',
  security: BEARER,
  body: NewEvent,
  response: {
    201: answer('The event created', Event),
    ...errors(400, 401, 403, 500, 503, 504),
  },
};

/** GET /api/events/{eventId} */
export const getEvent = {
  operationId: 'getEvent',
  tags: ['catalog'],
  summary: 'An event with its first 100 shows (catalog GetEvent + ListShows)',
  params: Type.Object({ eventId: EventId }),
  response: {
    200: answer(
      'The event',
      Type.Object(
        {
          event: Event,
          shows: Type.Array(Show),
          nextShowsPageToken: Type.Union([Type.String(), Type.Null()]),
        },
        { additionalProperties: false },
      ),
    ),
    ...errors(400, 404, 500, 503, 504),
  },
};

/** GET /api/events/{eventId}/shows */
export const listShows = {
  operationId: 'listShows',
  tags: ['catalog'],
  summary: 'Shows of an event, earliest first, a page at a time (catalog ListShows)',
  params: Type.Object({ eventId: EventId }),
  querystring: Type.Object({
    pageSize: Type.Optional(PageSize),
    pageToken: Type.Optional(PageToken),
  }),
  response: {
    200: answer(
      'A page of shows',
      Type.Object(
        {
          shows: Type.Array(Show),
          nextPageToken: Type.Union([Type.String(), Type.Null()]),
        },
        { additionalProperties: false },
      ),
    ),
    ...errors(400, 404, 500, 503, 504),
  },
};

/** POST /api/events/{eventId}/shows */
export const createShow = {
  operationId: 'createShow',
  tags: ['admin'],
  summary: 'Create a show of the event (catalog CreateShow; admin)',
  description:
    'Sent once, like createEvent. 404 names the event, venue or hall that does not exist; 400 names a missing or extra price tier.',
  security: BEARER,
  params: Type.Object({ eventId: EventId }),
  body: NewShow,
  response: {
    201: answer('The show created', Show),
    ...errors(400, 401, 403, 404, 500, 503, 504),
  },
};

/** GET /api/shows/{showId} */
export const getShow = {
  operationId: 'getShow',
  tags: ['catalog'],
  summary: 'A show with its event, venue, hall plan, seats and prices (catalog GetShow)',
  params: Type.Object({ showId: ShowId }),
  response: {
    200: answer('The show', ShowDetail),
    ...errors(400, 404, 500, 503, 504),
  },
};

/** GET /api/shows/{showId}/availability */
export const getAvailability = {
  operationId: 'getAvailability',
  tags: ['seats'],
  summary: "Seat map: every seat's state and the general-admission pools (booking GetAvailability)",
  description:
    'States only: the booking API does not say who holds a seat, so a UI marks its own seats as "mine" from the hold it made (POST /api/holds returns the held seats).',
  security: BEARER,
  params: Type.Object({ showId: ShowId }),
  response: {
    200: answer('Availability', Availability),
    ...errors(400, 401, 404, 500, 503, 504),
  },
};

/** GET /api/shows/{showId}/events */
export const watchShow = {
  operationId: 'watchShow',
  tags: ['seats'],
  summary: 'Server-sent events: live seat-map changes of a show',
  description:
    'text/event-stream. First a `snapshot` event (an Availability plus `at` and `lamport`), then `seats` events with only what changed ({showId, seats:[{seatId,state}], pools:[{areaId,capacity,held,sold,remaining}], at, lamport}); a full `snapshot` again when most seats changed. `upstream-error` tells (once per run of failures) that the booking group is not answering; polling goes on, and `upstream-ok` ({showId, at, lamport}) says when it answers again. `error` then end of stream: the token stopped working or the show is gone. A `: heartbeat` comment every 15 s. EventSource cannot send headers, so the token may be given as `access_token` instead of the Authorization header. Errors before the stream starts (401, 404) are ordinary JSON errors.',
  security: BEARER,
  params: Type.Object({ showId: ShowId }),
  querystring: Type.Object({
    access_token: Type.Optional(AccessToken),
  }),
  response: {
    200: streamed('An event stream', 'text/event-stream', Type.String()),
    ...errors(400, 401, 404, 500, 503, 504),
  },
};

/** POST /api/auth/register */
export const register = {
  operationId: 'register',
  tags: ['accounts'],
  summary: 'Create an account and sign in (booking Register)',
  headers: IdempotencyHeaders,
  body: Type.Object(
    {
      email: Type.String({ minLength: 1, description: 'An email address (checked by the booking service)' }),
      password: Type.String({
        minLength: 1,
        description: '8 to 128 characters (checked by the booking service)',
      }),
      displayName: Type.Optional(Type.String({ description: 'At most 100 characters' })),
    },
    { additionalProperties: false },
  ),
  response: {
    201: answer('Signed in', Session),
    ...errors(400, 409, 500, 503, 504),
  },
};

/** POST /api/auth/login */
export const login = {
  operationId: 'login',
  tags: ['accounts'],
  summary: 'Sign in (booking Login)',
  body: Type.Object(
    {
      email: NonEmpty,
      password: NonEmpty,
    },
    { additionalProperties: false },
  ),
  response: {
    200: answer('Signed in', Session),
    ...errors(400, 401, 500, 503, 504),
  },
};

/** GET /api/me */
export const me = {
  operationId: 'me',
  tags: ['accounts'],
  summary: 'The signed-in user (booking WhoAmI)',
  security: BEARER,
  response: {
    200: answer('The user', User),
    ...errors(401, 500, 503, 504),
  },
};

/** POST /api/holds */
export const hold = {
  operationId: 'hold',
  tags: ['holds'],
  summary: 'Hold seats and/or general-admission places, all or nothing (booking HoldSeats)',
  description:
    'Retried on another booking node with the same idempotency key while the group is unavailable (an election), for at most MARQUEE_GATEWAY_RETRY_MS: one hold, never two. A seat already held or sold is 409 FAILED_PRECONDITION with `field` pointing at it (e.g. `seatIds[1]`) and `details.seatIds` listing every such seat; a full GA area likewise with `details.areaIds`.',
  security: BEARER,
  headers: IdempotencyHeaders,
  body: HoldRequest,
  response: {
    201: answer('The hold (state active, with its expiry)', Hold),
    ...errors(400, 401, 404, 409, 500, 503, 504),
  },
};

/** DELETE /api/holds/{holdId} */
export const releaseHold = {
  operationId: 'releaseHold',
  tags: ['holds'],
  summary: "Give a hold's seats back (booking ReleaseHold)",
  security: BEARER,
  params: Type.Object({ holdId: HoldId }),
  headers: IdempotencyHeaders,
  response: {
    200: answer('The hold, now released', Hold),
    ...errors(400, 401, 403, 404, 409, 500, 503, 504),
  },
};

/** POST /api/holds/{holdId}/checkout */
export const checkout = {
  operationId: 'checkout',
  tags: ['holds'],
  summary: 'Pay for a hold with the simulated card; it becomes a booking (booking ConfirmBooking)',
  description:
    'Any Luhn-valid number with a future expiry is approved; 4000 0000 0000 0002 is declined (409 FAILED_PRECONDITION, field card.number, the hold is kept). An expired hold is 409 FAILED_PRECONDITION.',
  security: BEARER,
  params: Type.Object({ holdId: HoldId }),
  headers: IdempotencyHeaders,
  body: Type.Object(
    {
      card: Card,
    },
    { additionalProperties: false },
  ),
  response: {
    201: answer('The booking', Booking),
    ...errors(400, 401, 403, 404, 409, 500, 503, 504),
  },
};

/** GET /api/bookings */
export const listBookings = {
  operationId: 'listBookings',
  tags: ['bookings'],
  summary: 'My bookings, newest first (booking ListMyBookings)',
  security: BEARER,
  querystring: Type.Object({
    pageSize: Type.Optional(PageSize),
    pageToken: Type.Optional(PageToken),
  }),
  response: {
    200: answer(
      'A page of bookings',
      Type.Object(
        {
          bookings: Type.Array(Booking),
          nextPageToken: Type.Union([Type.String(), Type.Null()]),
        },
        { additionalProperties: false },
      ),
    ),
    ...errors(400, 401, 500, 503, 504),
  },
};

/** GET /api/bookings/{bookingId} */
export const getBooking = {
  operationId: 'getBooking',
  tags: ['bookings'],
  summary: 'One of my bookings (booking GetBooking)',
  security: BEARER,
  params: Type.Object({ bookingId: BookingId }),
  response: {
    200: answer('The booking', Booking),
    ...errors(400, 401, 403, 404, 500, 503, 504),
  },
};

/** POST /api/bookings/{bookingId}/cancel */
export const cancelBooking = {
  operationId: 'cancelBooking',
  tags: ['bookings'],
  summary: 'Cancel one of my bookings: refund and free its seats (booking CancelBooking)',
  security: BEARER,
  params: Type.Object({ bookingId: BookingId }),
  headers: IdempotencyHeaders,
  // No body, or an empty object: a cancel takes no options.
  body: Type.Union([Type.Object({}, { additionalProperties: false }), Type.Null()]),
  response: {
    200: answer('The booking, now cancelled', Booking),
    ...errors(400, 401, 403, 404, 409, 500, 503, 504),
  },
};

/** GET /api/cluster */
export const cluster = {
  operationId: 'cluster',
  tags: ['cluster'],
  summary: 'ClusterService.Status of every configured booking node',
  response: {
    200: answer('The group', Cluster),
  },
};

/** GET /api/cluster/events */
export const watchCluster = {
  operationId: 'watchCluster',
  tags: ['cluster'],
  summary: 'Server-sent events: role, term, master, index and lag changes of the booking nodes',
  description:
    "text/event-stream. First a `snapshot` (same body as GET /api/cluster); then `node` events {node: NodeView, changed: [field names], at, lamport} when a node's role, term, masterId, canServeWrites, commit/applied index, lag, etcd lease holder or reachability changed; and `master` events {from, to, term, at, lamport} when the group's master changes (`to` null: no master, an election is running). Nodes are polled every 250 ms while someone watches. A `: heartbeat` comment every 15 s.",
  response: {
    200: streamed('An event stream', 'text/event-stream', Type.String()),
  },
};

/** GET /api/metrics/summary */
export const metricsSummary = {
  operationId: 'metricsSummary',
  tags: ['cluster'],
  summary:
    'Request rate, p99 latency, errors, term and lag of each process, read from their /metrics endpoints',
  description:
    "Scrapes every endpoint in MARQUEE_METRICS_ADDRS (the catalog, the booking nodes and the recommendation service under `npm start`) and reduces each to a few numbers. Rates and the p99 are taken over the interval since this gateway's previous scrape of that process (null on the first); calls to health checks and reflection are left out. A process whose endpoint does not answer is listed with `reachable: false` and the reason, never as an error of this route. Scrapes are shared: a request within a second of the last scrape gets its answer.",
  response: {
    200: answer('One entry per configured endpoint, in configuration order', MetricsSummary),
  },
};

/** GET /api/recommendations */
export const recommendations = {
  operationId: 'recommendations',
  tags: ['recommendations'],
  summary: "Events for you (recommendation Recommend), with the catalog's details and a reason each",
  description:
    "With a bearer token: the signed-in user's picks (never an event they booked, never one without a show to come). Without one: popular events for anyone. Events the catalog no longer has are left out.",
  querystring: Type.Object({
    k: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, description: 'How many, 1..20 (default 8)' })),
    city: Type.Optional(Type.String({ description: 'Prefer events playing in this city' })),
  }),
  response: {
    200: answer('The picks, best first', Recommendations),
    ...errors(400, 401, 500, 503, 504),
  },
};

/** GET /api/venues */
export const listVenues = {
  operationId: 'listVenues',
  tags: ['catalog'],
  summary: 'List venues with their halls, seat maps and price tiers (catalog ListVenues)',
  querystring: Type.Object({
    city: Type.Optional(Type.String()),
    pageSize: Type.Optional(PageSize),
    pageToken: Type.Optional(PageToken),
  }),
  response: {
    200: answer(
      'A page of venues',
      Type.Object(
        {
          venues: Type.Array(Venue),
          nextPageToken: Type.Union([Type.String(), Type.Null()]),
        },
        { additionalProperties: false },
      ),
    ),
    ...errors(400, 500, 503, 504),
  },
};

/** POST /api/catalog/imports */
export const importCatalog = {
  operationId: 'importCatalog',
  tags: ['admin'],
  summary: 'Import a catalog document, streaming progress (catalog ImportCatalog; admin)',
  description:
    'Answers 200 with newline-delimited JSON: one progress object per line while the import runs, the last with phase "done". Errors found before the import starts (not an admin, a bad document) are ordinary HTTP errors; a failure after progress has been sent arrives as a last line {"error": {...}}. Idempotent: records are matched by their external id, so running it again completes an interrupted import and adds nothing twice.',
  security: BEARER,
  body: ImportRequest,
  response: {
    200: streamed('Progress lines', 'application/x-ndjson', ImportProgressLine),
    ...errors(400, 401, 403, 500, 503, 504),
  },
};

/** GET /api/events/{eventId}/similar */
export const similarEvents = {
  operationId: 'similarEvents',
  tags: ['recommendations'],
  summary:
    'Events like this one (recommendation SimilarEvents): booked by the same people, or alike in content',
  params: Type.Object({ eventId: EventId }),
  querystring: Type.Object({
    k: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, description: 'How many, 1..20 (default 4)' })),
  }),
  response: {
    200: answer('Similar events, most similar first', Recommendations),
    ...errors(400, 404, 500, 503, 504),
  },
};
