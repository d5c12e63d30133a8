import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type {
  Availability,
  Booking,
  Hold,
  ListMyBookingsResponse,
  Session,
  User,
} from '../../proto/gen/marquee/booking/v1/booking';
import type {
  Event,
  ListShowsResponse,
  SearchEventsResponse,
  ShowDetail,
} from '../../proto/gen/marquee/catalog/v1/catalog';
import type { ClusterFeed } from './cluster-feed';
import { fromUpstream, invalid } from './http-errors';
import type { RequestContext } from './http-errors';
import { bearerToken, idempotencyKey } from './request';
import type { Health } from './schemas/models';
import * as schema from './schemas/route-schemas';
import { PAGE_SIZE_DEFAULT } from './schemas/common';
import type { ShowFeeds } from './show-feed';
import { SseStream } from './sse';
import type { Upstreams } from './upstreams';
import {
  availabilityView,
  bookingView,
  currentMaster,
  eventKindOf,
  eventView,
  holdView,
  sessionView,
  showDetailView,
  showView,
  userView,
} from './views';

export interface RouteDeps {
  upstreams: Upstreams;
  showFeeds: ShowFeeds;
  clusterFeed: ClusterFeed;
  /** Wall time and the gateway's Lamport clock, for bodies and events that report a moment. */
  stamp: () => { at: string; lamport: number };
  /** The OpenAPI document, generated from the route schemas once every route is registered. */
  openapi: () => unknown;
  heartbeatMs: number;
  startedAt: number;
  /** Open event streams, ended at shutdown. */
  streams: Set<SseStream>;
}

/** Awaits an upstream call, turning its error into the client's terms (field names, seats). */
async function upstream<T>(call: Promise<T>, context: RequestContext = {}): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw fromUpstream(error, context);
  }
}

/** The page a list route asks for (its schema checked the range). */
function page(query: { pageSize?: number; pageToken?: string }): { pageSize: number; pageToken: string } {
  return { pageSize: query.pageSize ?? PAGE_SIZE_DEFAULT, pageToken: query.pageToken ?? '' };
}

const PAGE_RENAMES = { page_size: 'pageSize', page_token: 'pageToken' };

export function registerRoutes(fastify: FastifyInstance, deps: RouteDeps): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { upstreams } = deps;

  // ---- gateway

  app.get('/api/health', { schema: schema.health }, async () => {
    const { catalog, recommendation, booking } = await upstreams.health();
    const degraded = !catalog.serving || !recommendation.serving || booking.some((b) => !b.serving);
    const health: Health = {
      status: degraded ? 'degraded' : 'ok',
      service: 'gateway',
      uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
      ...deps.stamp(),
      upstreams: { catalog, recommendation, booking },
      retries: upstreams.retries,
      liveFeeds: { shows: deps.showFeeds.pollers().length, cluster: deps.clusterFeed.size },
    };
    return health;
  });

  app.get('/api/openapi.json', { schema: schema.openapi }, async () => deps.openapi());

  // ---- catalog (public)

  app.get(
    '/api/events',
    {
      schema: schema.searchEvents,
      // `?kind=Movie` as well as `?kind=movie` (as before the schema; the enum itself stays lowercase).
      preValidation: async (request) => {
        const query = request.query as Record<string, unknown>;
        if (typeof query.kind === 'string') query.kind = query.kind.toLowerCase();
      },
    },
    async (request) => {
      const { query } = request;
      const answer = await upstream<SearchEventsResponse>(
        upstreams.catalog((c) => c.searchEvents.bind(c), {
          query: query.q ?? '',
          genre: query.genre ?? '',
          city: query.city ?? '',
          fromDate: query.from ?? '',
          toDate: query.to ?? '',
          kind: query.kind === undefined ? 0 : eventKindOf(query.kind),
          ...page(query),
        }),
        { renames: { query: 'q', from_date: 'from', to_date: 'to', ...PAGE_RENAMES } },
      );
      return { events: answer.events.map(eventView), nextPageToken: answer.nextPageToken || null };
    },
  );

  app.get('/api/events/:eventId', { schema: schema.getEvent }, async (request) => {
    const { eventId } = request.params;
    const [event, shows] = await Promise.all([
      upstream<Event>(upstreams.catalog((c) => c.getEvent.bind(c), { eventId })),
      upstream<ListShowsResponse>(
        upstreams.catalog((c) => c.listShows.bind(c), { eventId, pageSize: 100, pageToken: '' }),
      ),
    ]);
    return {
      event: eventView(event),
      shows: shows.shows.map(showView),
      nextShowsPageToken: shows.nextPageToken || null,
    };
  });

  app.get('/api/events/:eventId/shows', { schema: schema.listShows }, async (request) => {
    const answer = await upstream<ListShowsResponse>(
      upstreams.catalog((c) => c.listShows.bind(c), {
        eventId: request.params.eventId,
        ...page(request.query),
      }),
      { renames: PAGE_RENAMES },
    );
    return { shows: answer.shows.map(showView), nextPageToken: answer.nextPageToken || null };
  });

  app.get('/api/shows/:showId', { schema: schema.getShow }, async (request) => {
    const detail = await upstream<ShowDetail>(
      upstreams.catalog((c) => c.getShow.bind(c), { showId: request.params.showId }),
    );
    return showDetailView(detail);
  });

  // ---- seat maps

  app.get('/api/shows/:showId/availability', { schema: schema.getAvailability }, async (request) => {
    const token = bearerToken(request.headers);
    const availability = await upstream<Availability>(
      upstreams.booking(
        (n) => n.booking.getAvailability.bind(n.booking),
        { showId: request.params.showId },
        { token },
      ),
    );
    return availabilityView(availability);
  });

  app.get('/api/shows/:showId/events', { schema: schema.watchShow }, async (request, reply) => {
    const token = bearerToken(request.headers, request.query);
    const showId = request.params.showId;
    // The first read proves the token and the show id; it is the subscriber's snapshot.
    const snapshot = availabilityView(
      await upstream<Availability>(
        upstreams.booking((n) => n.booking.getAvailability.bind(n.booking), { showId }, { token }),
      ),
    );
    const stream = openStream(reply, deps);
    stream.send('snapshot', { ...snapshot, ...deps.stamp() });
    deps.showFeeds.subscribe(showId, token, stream, snapshot);
  });

  // ---- accounts

  app.post('/api/auth/register', { schema: schema.register }, async (request, reply) => {
    const { body } = request;
    const key = idempotencyKey(request.headers);
    // Set before the call: an answer whose outcome is unknown (503) tells a client that sent no key
    // which key to retry with.
    void reply.header('idempotency-key', key);
    const session = await upstream<Session>(
      upstreams.booking(
        (n) => n.accounts.register.bind(n.accounts),
        { email: body.email, password: body.password, displayName: body.displayName ?? '' },
        { headers: { 'idempotency-key': key } },
      ),
    );
    void reply.code(201);
    return sessionView(session);
  });

  app.post('/api/auth/login', { schema: schema.login }, async (request) => {
    const { email, password } = request.body;
    const session = await upstream<Session>(
      upstreams.booking((n) => n.accounts.login.bind(n.accounts), { email, password }),
    );
    return sessionView(session);
  });

  app.get('/api/me', { schema: schema.me }, async (request) => {
    const token = bearerToken(request.headers);
    const user = await upstream<User>(
      upstreams.booking((n) => n.accounts.whoAmI.bind(n.accounts), {}, { token }),
    );
    return userView(user);
  });

  // ---- holds and checkout

  app.post('/api/holds', { schema: schema.hold }, async (request, reply) => {
    const token = bearerToken(request.headers);
    const { showId, seatIds = [], ga = [] } = request.body;
    if (seatIds.length === 0 && ga.length === 0)
      throw invalid('seatIds', 'name at least one seat (seatIds) or general-admission places (ga)');
    const key = idempotencyKey(request.headers);
    void reply.header('idempotency-key', key);
    const hold = await upstream<Hold>(
      upstreams.booking(
        (n) => n.booking.holdSeats.bind(n.booking),
        { showId, seatIds, ga, idempotencyKey: key },
        { token },
      ),
      { seatIds, areaIds: ga.map((g) => g.areaId) },
    );
    void reply.code(201);
    return holdView(hold);
  });

  app.delete('/api/holds/:holdId', { schema: schema.releaseHold }, async (request, reply) => {
    const token = bearerToken(request.headers);
    const key = idempotencyKey(request.headers);
    void reply.header('idempotency-key', key);
    const hold = await upstream<Hold>(
      upstreams.booking(
        (n) => n.booking.releaseHold.bind(n.booking),
        { holdId: request.params.holdId, idempotencyKey: key },
        { token },
      ),
    );
    return holdView(hold);
  });

  app.post('/api/holds/:holdId/checkout', { schema: schema.checkout }, async (request, reply) => {
    const token = bearerToken(request.headers);
    const { card } = request.body;
    const key = idempotencyKey(request.headers);
    void reply.header('idempotency-key', key);
    const booking = await upstream<Booking>(
      upstreams.booking(
        (n) => n.booking.confirmBooking.bind(n.booking),
        {
          holdId: request.params.holdId,
          card: { ...card, holderName: card.holderName ?? '' },
          idempotencyKey: key,
        },
        { token },
      ),
    );
    void reply.code(201);
    return bookingView(booking);
  });

  // ---- bookings

  app.get('/api/bookings', { schema: schema.listBookings }, async (request) => {
    const token = bearerToken(request.headers);
    const answer = await upstream<ListMyBookingsResponse>(
      upstreams.booking((n) => n.booking.listMyBookings.bind(n.booking), page(request.query), {
        token,
      }),
      { renames: PAGE_RENAMES },
    );
    return { bookings: answer.bookings.map(bookingView), nextPageToken: answer.nextPageToken || null };
  });

  app.get('/api/bookings/:bookingId', { schema: schema.getBooking }, async (request) => {
    const token = bearerToken(request.headers);
    const booking = await upstream<Booking>(
      upstreams.booking(
        (n) => n.booking.getBooking.bind(n.booking),
        { bookingId: request.params.bookingId },
        { token },
      ),
    );
    return bookingView(booking);
  });

  app.post('/api/bookings/:bookingId/cancel', { schema: schema.cancelBooking }, async (request, reply) => {
    const token = bearerToken(request.headers);
    const key = idempotencyKey(request.headers);
    void reply.header('idempotency-key', key);
    const booking = await upstream<Booking>(
      upstreams.booking(
        (n) => n.booking.cancelBooking.bind(n.booking),
        { bookingId: request.params.bookingId, idempotencyKey: key },
        { token },
      ),
    );
    return bookingView(booking);
  });

  // ---- cluster (operators; open like ClusterService.Status itself)

  app.get('/api/cluster', { schema: schema.cluster }, async () => {
    const nodes = await upstreams.clusterStatus();
    return { master: currentMaster(nodes), nodes, ...deps.stamp() };
  });

  app.get('/api/cluster/events', { schema: schema.watchCluster }, async (_request, reply) => {
    const nodes = await upstreams.clusterStatus();
    const stream = openStream(reply, deps);
    stream.send('snapshot', { master: currentMaster(nodes), nodes, ...deps.stamp() });
    deps.clusterFeed.subscribe(stream, nodes);
  });
}

/** Takes the response over from fastify and starts an event stream on it. */
function openStream(reply: FastifyReply, deps: RouteDeps): SseStream {
  void reply.hijack();
  const stream = new SseStream(reply.raw, { 'x-lamport': String(deps.stamp().lamport) }, deps.heartbeatMs);
  deps.streams.add(stream);
  stream.onClose(() => deps.streams.delete(stream));
  return stream;
}
