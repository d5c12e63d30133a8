import { Type } from 'typebox';
import type { Static } from 'typebox';

/*
 * The bodies the HTTP API takes and answers, as TypeBox schemas: fastify validates requests with
 * them, handlers get their TypeScript types from them (Static<typeof X>), and @fastify/swagger
 * writes them into the OpenAPI document. Request schemas check shape and type only; rules about
 * values (an email's form, a card's checksum, how many seats) stay with the service that owns them,
 * whose messages come back renamed to the JSON names (http-errors.ts).
 */

/** A whole number that fits the int32 fields of the gRPC messages (a larger one would be truncated). */
export const MIN_INT32 = -2147483648;
export const MAX_INT32 = 2147483647;
export const Int32 = Type.Integer({ minimum: MIN_INT32, maximum: MAX_INT32 });

/** A string that must be given and not blank ('' is refused as "is required"). */
export const NonEmpty = Type.String({ minLength: 1 });

export const ErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: 'google.rpc.Code name, e.g. INVALID_ARGUMENT' }),
        message: Type.String({ description: 'For people; leads with the field it is about' }),
        field: Type.Optional(
          Type.String({
            description:
              "The field in the client's terms: a JSON path in the body (`seatIds[1]`, `card.expMonth`, `ga[0].areaId`), a path or query parameter (`holdId`, `pageSize`) or a header (`Authorization`, `Idempotency-Key`)",
          }),
        ),
        details: Type.Optional(
          Type.Object(
            {
              seatIds: Type.Optional(Type.Array(Type.String())),
              areaIds: Type.Optional(Type.Array(Type.String())),
            },
            { additionalProperties: false, description: 'The seats or GA areas a conflict is about' },
          ),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBody>;

export const EventKind = Type.Enum(['movie', 'concert', 'theatre', 'sport', 'comedy', 'other']);
export type EventKind = Static<typeof EventKind>;

export const Event = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    kind: Type.String({ description: 'an EventKind, or unspecified' }),
    genres: Type.Array(Type.String()),
    durationMinutes: Type.Integer(),
    description: Type.String(),
    cast: Type.Array(Type.String()),
    artists: Type.Array(Type.String()),
    posterUrl: Type.String(),
  },
  { additionalProperties: false },
);
export type Event = Static<typeof Event>;

export const Price = Type.Object(
  {
    priceTier: Type.String(),
    amountCents: Int32,
  },
  { additionalProperties: false },
);
export type Price = Static<typeof Price>;

export const Show = Type.Object(
  {
    id: Type.String(),
    eventId: Type.String(),
    venueId: Type.String(),
    hallId: Type.String(),
    startsAt: Type.String({ format: 'date-time' }),
    currency: Type.String(),
    prices: Type.Array(Price),
  },
  { additionalProperties: false },
);
export type Show = Static<typeof Show>;

export const Availability = Type.Object(
  {
    showId: Type.String(),
    currency: Type.String(),
    seats: Type.Array(
      Type.Object(
        {
          seatId: Type.String(),
          label: Type.String(),
          priceTier: Type.String(),
          amountCents: Type.Integer(),
          state: Type.Enum(['free', 'held', 'sold', 'unspecified']),
        },
        { additionalProperties: false },
      ),
    ),
    pools: Type.Array(
      Type.Object(
        {
          areaId: Type.String(),
          name: Type.String(),
          priceTier: Type.String(),
          amountCents: Type.Integer(),
          capacity: Type.Integer(),
          held: Type.Integer(),
          sold: Type.Integer(),
          remaining: Type.Integer(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type Availability = Static<typeof Availability>;

export const HoldRequest = Type.Object(
  {
    showId: NonEmpty,
    seatIds: Type.Optional(Type.Array(Type.String(), { maxItems: 1000 })),
    ga: Type.Optional(
      Type.Array(
        Type.Object(
          {
            areaId: Type.String(),
            quantity: Int32,
          },
          { additionalProperties: false },
        ),
        { maxItems: 1000 },
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      "At least one seat or one GA item. Limits on counts (10 seats, 1..10 places per area) are the booking service's.",
  },
);
export type HoldRequest = Static<typeof HoldRequest>;

export const Card = Type.Object(
  {
    number: Type.String({ minLength: 1, examples: ['4242 4242 4242 4242'] }),
    expMonth: Int32,
    expYear: Int32,
    cvc: NonEmpty,
    holderName: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type Card = Static<typeof Card>;

/** A seat of a hold or booking, with its price. */
const BookedSeat = Type.Object(
  { seatId: Type.String(), label: Type.String(), amountCents: Type.Integer() },
  { additionalProperties: false },
);

/** General-admission places of a hold or booking. */
const BookedGa = Type.Object(
  {
    areaId: Type.String(),
    quantity: Type.Integer(),
    amountCents: Type.Integer({ description: 'per ticket' }),
  },
  { additionalProperties: false },
);

export const Hold = Type.Object(
  {
    id: Type.String(),
    showId: Type.String(),
    seats: Type.Array(BookedSeat),
    ga: Type.Array(BookedGa),
    totalCents: Type.Integer(),
    currency: Type.String(),
    expiresAt: Type.String({ format: 'date-time' }),
    state: Type.Enum(['active', 'confirmed', 'released', 'expired', 'unspecified']),
  },
  { additionalProperties: false },
);
export type Hold = Static<typeof Hold>;

export const Booking = Type.Object(
  {
    id: Type.String(),
    userId: Type.String(),
    showId: Type.String(),
    holdId: Type.String(),
    seats: Type.Array(BookedSeat),
    ga: Type.Array(BookedGa),
    totalCents: Type.Integer(),
    currency: Type.String(),
    state: Type.Enum(['confirmed', 'cancelled', 'unspecified']),
    paymentId: Type.String(),
    refundId: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    cancelledAt: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type Booking = Static<typeof Booking>;

export const User = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    displayName: Type.String(),
    role: Type.Enum(['user', 'admin', 'unspecified']),
  },
  { additionalProperties: false },
);
export type User = Static<typeof User>;

export const Session = Type.Object(
  {
    token: Type.String({ description: 'Send as `Authorization: Bearer <token>`' }),
    expiresAt: Type.String({ format: 'date-time' }),
    user: Type.Union([User, Type.Null()]),
  },
  { additionalProperties: false },
);
export type Session = Static<typeof Session>;

export const NodeView = Type.Union([
  Type.Object(
    {
      nodeId: Type.Integer(),
      address: Type.String({ description: 'peer address polled' }),
      reachable: Type.Literal(true),
      role: Type.Enum(['master', 'slave', 'candidate', 'unspecified']),
      term: Type.Integer(),
      masterId: Type.Union([Type.Integer(), Type.Null()]),
      lamport: Type.Integer(),
      canServeWrites: Type.Boolean(),
      commitIndex: Type.Integer(),
      appliedIndex: Type.Integer(),
      lagEntries: Type.Union([Type.Integer(), Type.Null()], {
        description: "This node's lag as the current master reports it; null on the master",
      }),
      slaves: Type.Array(
        Type.Object(
          {
            nodeId: Type.Integer(),
            matchIndex: Type.Integer(),
            lagEntries: Type.Integer(),
            lastAckMs: Type.Integer(),
          },
          { additionalProperties: false },
        ),
      ),
      etcdLeaseHolder: Type.Union([Type.Integer(), Type.Null()]),
      etcdLeaseToken: Type.Union([Type.Integer(), Type.Null()], {
        description:
          "The lease holder's fencing token: the etcd revision that began its tenure; grows with every tenure",
      }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      nodeId: Type.Integer(),
      address: Type.String(),
      reachable: Type.Literal(false),
      error: Type.String(),
    },
    { additionalProperties: false },
  ),
]);
export type NodeView = Static<typeof NodeView>;

export const Cluster = Type.Object(
  {
    master: Type.Union(
      [
        Type.Object(
          {
            nodeId: Type.Integer(),
            term: Type.Integer(),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: 'The node answering master that can serve writes; null during an election' },
    ),
    nodes: Type.Array(NodeView),
    at: Type.String({ format: 'date-time' }),
    lamport: Type.Integer({ description: "The gateway's Lamport clock" }),
  },
  { additionalProperties: false },
);
export type Cluster = Static<typeof Cluster>;

export const MetricsTarget = Type.Object(
  {
    name: Type.String({ description: "The endpoint's name in MARQUEE_METRICS_ADDRS, e.g. booking-2" }),
    address: Type.String({ description: 'host:port of its /metrics endpoint' }),
    reachable: Type.Boolean(),
    error: Type.Union([Type.String(), Type.Null()], { description: 'Why the endpoint could not be read' }),
    nodeId: Type.Union([Type.Integer(), Type.Null()], { description: 'Booking nodes' }),
    windowSeconds: Type.Union([Type.Number(), Type.Null()], {
      description: 'Seconds since the previous scrape, over which rates and p99 are taken',
    }),
    requests: Type.Union([Type.Integer(), Type.Null()], {
      description: 'gRPC calls answered since the process started',
    }),
    errors: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Of those, calls that ended with a code other than OK',
    }),
    requestsPerSecond: Type.Union([Type.Number(), Type.Null()]),
    p99Ms: Type.Union([Type.Number(), Type.Null()], {
      description:
        '99th percentile of unary call latency over the window, estimated from the histogram; null without calls in it',
    }),
    cacheHitRatio: Type.Union([Type.Number(), Type.Null()], {
      description: 'Catalog: read-cache hits per lookup over the window',
    }),
    term: Type.Union([Type.Integer(), Type.Null()], { description: 'Booking nodes: the election term' }),
    role: Type.Union([Type.String({ description: 'slave, candidate or master' }), Type.Null()], {
      description: 'Booking nodes in cluster mode',
    }),
    lagEntries: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Booking nodes: entries behind the master, as the master reports it (0 on the master)',
    }),
  },
  { additionalProperties: false },
);
export type MetricsTarget = Static<typeof MetricsTarget>;

export const MetricsSummary = Type.Object(
  {
    targets: Type.Array(MetricsTarget),
    at: Type.String({ format: 'date-time' }),
    lamport: Type.Integer({ description: "The gateway's Lamport clock" }),
  },
  { additionalProperties: false },
);
export type MetricsSummary = Static<typeof MetricsSummary>;

export const Health = Type.Object(
  {
    status: Type.Enum(['ok', 'degraded']),
    service: Type.Literal('gateway'),
    uptimeSeconds: Type.Integer(),
    at: Type.String(),
    lamport: Type.Integer(),
    upstreams: Type.Object(
      {
        catalog: Type.Object(
          {
            name: Type.String(),
            address: Type.String(),
            nodeId: Type.Optional(Type.Integer()),
            serving: Type.Boolean(),
            error: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
        booking: Type.Array(
          Type.Object(
            {
              name: Type.String(),
              address: Type.String(),
              nodeId: Type.Optional(Type.Integer()),
              serving: Type.Boolean(),
              error: Type.Optional(Type.String()),
            },
            { additionalProperties: false },
          ),
        ),
        recommendation: Type.Object(
          {
            name: Type.String(),
            address: Type.String(),
            nodeId: Type.Optional(Type.Integer()),
            serving: Type.Boolean(),
            error: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    retries: Type.Integer({ description: 'Upstream attempts retried since start' }),
    liveFeeds: Type.Object(
      {
        shows: Type.Integer(),
        cluster: Type.Integer(),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type Health = Static<typeof Health>;

export const Hall = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    sections: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          name: Type.String(),
          priceTier: Type.String(),
          rows: Type.Array(
            Type.Object(
              {
                label: Type.String(),
                seatCount: Type.Integer(),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    gaAreas: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          name: Type.String(),
          priceTier: Type.String(),
          capacity: Type.Integer(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type Hall = Static<typeof Hall>;

export const VenueSummary = Type.Object(
  { id: Type.String(), name: Type.String(), city: Type.String(), address: Type.String() },
  { additionalProperties: false },
);
export type VenueSummary = Static<typeof VenueSummary>;

export const Venue = Type.Object(
  { ...VenueSummary.properties, halls: Type.Array(Hall) },
  { additionalProperties: false },
);
export type Venue = Static<typeof Venue>;

/** References the catalog left unset are null. */
export const ShowDetail = Type.Object(
  {
    show: Type.Union([Show, Type.Null()]),
    event: Type.Union([Event, Type.Null()]),
    venue: Type.Union([VenueSummary, Type.Null()]),
    hall: Type.Union([Hall, Type.Null()]),
    seats: Type.Array(
      Type.Object(
        {
          id: Type.String({ description: '<section>-<row>-<number>' }),
          label: Type.String(),
          sectionId: Type.String(),
          row: Type.String(),
          number: Type.Integer(),
          priceTier: Type.String(),
          amountCents: Type.Integer(),
        },
        { additionalProperties: false },
      ),
    ),
    gaAreas: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          name: Type.String(),
          priceTier: Type.String(),
          capacity: Type.Integer(),
          amountCents: Type.Integer(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ShowDetail = Static<typeof ShowDetail>;

export const NewEvent = Type.Object(
  {
    title: NonEmpty,
    kind: EventKind,
    genres: Type.Optional(Type.Array(Type.String())),
    durationMinutes: Type.Optional(Int32),
    description: Type.Optional(Type.String()),
    cast: Type.Optional(Type.Array(Type.String())),
    artists: Type.Optional(Type.Array(Type.String())),
    posterUrl: Type.Optional(Type.String({ description: 'An http(s) URL' })),
  },
  { additionalProperties: false },
);
export type NewEvent = Static<typeof NewEvent>;

export const NewShow = Type.Object(
  {
    venueId: NonEmpty,
    hallId: NonEmpty,
    startsAt: Type.String({ minLength: 1, description: 'RFC 3339, e.g. 2031-05-01T19:30:00Z' }),
    currency: Type.String({ minLength: 1, description: 'ISO 4217, e.g. EUR' }),
    prices: Type.Array(Price, { description: 'Exactly one price for every price tier the hall uses' }),
  },
  { additionalProperties: false },
);
export type NewShow = Static<typeof NewShow>;

export const ImportRequest = Type.Object(
  {
    document: Type.Optional(
      Type.Object(
        {},
        { description: 'The catalog document itself (movies, theaters, showtimes), at most 4 MiB' },
      ),
    ),
    sourceUrl: Type.Optional(
      Type.String({ description: 'Where the catalog service fetches the document (http or https)' }),
    ),
  },
  {
    description: 'Exactly one of document or sourceUrl (docs/IMPORT.md describes the document).',
    additionalProperties: false,
  },
);
export type ImportRequest = Static<typeof ImportRequest>;

export const ImportProgressLine = Type.Object(
  {
    phase: Type.Optional(Type.Enum(['fetch', 'venues', 'events', 'shows', 'done'])),
    done: Type.Optional(Type.Integer()),
    total: Type.Optional(Type.Integer()),
    created: Type.Optional(Type.Integer()),
    updated: Type.Optional(Type.Integer()),
    unchanged: Type.Optional(Type.Integer()),
    error: Type.Optional(ErrorBody.properties.error),
  },
  { description: 'One line of the progress stream: a progress report, or (last, after a failure) an error.' },
);
export type ImportProgressLine = Static<typeof ImportProgressLine>;

export const Recommendations = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          event: Event,
          score: Type.Number(),
          reason: Type.String({
            description:
              'Why, for people: "because you booked …", "similar to … (same genre: Jazz)", "popular in Lyon"',
          }),
        },
        { additionalProperties: false },
      ),
    ),
    modelVersion: Type.String({ description: 'Which trained model answered' }),
  },
  { additionalProperties: false },
);
export type Recommendations = Static<typeof Recommendations>;
