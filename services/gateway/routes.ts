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
import {
  bearerToken,
  idempotencyKey,
  objectAt,
  objectBody,
  optionalArray,
  optionalString,
  queryInteger,
  queryString,
  queryWord,
  requiredInteger,
  requiredString,
  stringItem,
} from './request';
import type { ShowFeeds } from './show-feed';
import { SseStream } from './sse';
import type { Upstreams } from './upstreams';
import {
  EVENT_KINDS,
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
  openapi: unknown;
  heartbeatMs: number;
  startedAt: number;
  /** Open event streams, ended at shutdown. */
  streams: Set<SseStream>;
}

type Query = Record<string, unknown>;

/** Awaits an upstream call, turning its error into the client's terms (field names, seats). */
async function upstream<T>(call: Promise<T>, context: RequestContext = {}): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw fromUpstream(error, context);
  }
}

/** The page a list route asks for: `pageSize` (1..100, default 20) and an opaque `pageToken`. */
function page(query: Query): { pageSize: number; pageToken: string } {
  return {
    pageSize: queryInteger(query, 'pageSize', { min: 1, max: 100 }, 20),
    pageToken: queryString(query, 'pageToken') ?? '',
  };
}

const PAGE_RENAMES = { page_size: 'pageSize', page_token: 'pageToken' };

export function registerRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { upstreams } = deps;

  // ---- gateway

  app.get('/api/health', async () => {
    const { catalog, recommendation, booking } = await upstreams.health();
    const degraded = !catalog.serving || !recommendation.serving || booking.some((b) => !b.serving);
    return {
      status: degraded ? 'degraded' : 'ok',
      service: 'gateway',
      uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
      ...deps.stamp(),
      upstreams: { catalog, recommendation, booking },
      retries: upstreams.retries,
      liveFeeds: { shows: deps.showFeeds.pollers().length, cluster: deps.clusterFeed.size },
    };
  });

  app.get('/api/openapi.json', async () => deps.openapi);

  // ---- catalog (public)

  app.get('/api/events', async (request) => {
    const query = request.query as Query;
    const kind = queryWord(query, 'kind', EVENT_KINDS);
    const answer = await upstream<SearchEventsResponse>(
      upstreams.catalog((c) => c.searchEvents.bind(c), {
        query: queryString(query, 'q') ?? '',
        genre: queryString(query, 'genre') ?? '',
        city: queryString(query, 'city') ?? '',
        fromDate: queryString(query, 'from') ?? '',
        toDate: queryString(query, 'to') ?? '',
        kind: kind === undefined ? 0 : eventKindOf(kind),
        ...page(query),
      }),
      { renames: { query: 'q', from_date: 'from', to_date: 'to', ...PAGE_RENAMES } },
    );
    return { events: answer.events.map(eventView), nextPageToken: answer.nextPageToken || null };
  });

  app.get<{ Params: { eventId: string } }>('/api/events/:eventId', async (request) => {
    const eventId = pathEventId(request.params.eventId);
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

  app.get<{ Params: { eventId: string } }>('/api/events/:eventId/shows', async (request) => {
    const answer = await upstream<ListShowsResponse>(
      upstreams.catalog((c) => c.listShows.bind(c), {
        eventId: pathEventId(request.params.eventId),
        ...page(request.query as Query),
      }),
      { renames: PAGE_RENAMES },
    );
    return { shows: answer.shows.map(showView), nextPageToken: answer.nextPageToken || null };
  });

  app.get<{ Params: { showId: string } }>('/api/shows/:showId', async (request) => {
    const detail = await upstream<ShowDetail>(
      upstreams.catalog((c) => c.getShow.bind(c), { showId: request.params.showId }),
    );
    return showDetailView(detail);
  });

  // ---- seat maps

  app.get<{ Params: { showId: string } }>('/api/shows/:showId/availability', async (request) => {
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

  app.get<{ Params: { showId: string } }>('/api/shows/:showId/events', async (request, reply) => {
    const token = bearerToken(request.headers, request.query as Query);
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

  app.post('/api/auth/register', async (request, reply) => {
    const body = objectBody(request.body, ['email', 'password', 'displayName']);
    const key = idempotencyKey(request.headers);
    // Set before the call: an answer whose outcome is unknown (503) tells a client that sent no key
    // which key to retry with.
    void reply.header('idempotency-key', key);
    const session = await upstream<Session>(
      upstreams.booking(
        (n) => n.accounts.register.bind(n.accounts),
        {
          email: requiredString(body, 'email'),
          password: requiredString(body, 'password'),
          displayName: optionalString(body, 'displayName'),
        },
        { headers: { 'idempotency-key': key } },
      ),
    );
    void reply.code(201);
    return sessionView(session);
  });

  app.post('/api/auth/login', async (request) => {
    const body = objectBody(request.body, ['email', 'password']);
    const session = await upstream<Session>(
      upstreams.booking((n) => n.accounts.login.bind(n.accounts), {
        email: requiredString(body, 'email'),
        password: requiredString(body, 'password'),
      }),
    );
    return sessionView(session);
  });

  app.get('/api/me', async (request) => {
    const token = bearerToken(request.headers);
    const user = await upstream<User>(
      upstreams.booking((n) => n.accounts.whoAmI.bind(n.accounts), {}, { token }),
    );
    return userView(user);
  });

  // ---- holds and checkout

  app.post('/api/holds', async (request, reply) => {
    const token = bearerToken(request.headers);
    const body = objectBody(request.body, ['showId', 'seatIds', 'ga']);
    const showId = requiredString(body, 'showId');
    const seatIds = optionalArray(body, 'seatIds', stringItem);
    const ga = optionalArray(body, 'ga', (value, path) => {
      const item = objectAt(value, path, ['areaId', 'quantity']);
      return {
        areaId: requiredString(item, 'areaId', path),
        quantity: requiredInteger(item, 'quantity', path),
      };
    });
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

  app.delete<{ Params: { holdId: string } }>('/api/holds/:holdId', async (request, reply) => {
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

  app.post<{ Params: { holdId: string } }>('/api/holds/:holdId/checkout', async (request, reply) => {
    const token = bearerToken(request.headers);
    const body = objectBody(request.body, ['card']);
    if (body.card === undefined || body.card === null) throw invalid('card', 'is required');
    const card = objectAt(body.card, 'card', ['number', 'expMonth', 'expYear', 'cvc', 'holderName']);
    const key = idempotencyKey(request.headers);
    void reply.header('idempotency-key', key);
    const booking = await upstream<Booking>(
      upstreams.booking(
        (n) => n.booking.confirmBooking.bind(n.booking),
        {
          holdId: request.params.holdId,
          card: {
            number: requiredString(card, 'number', 'card'),
            expMonth: requiredInteger(card, 'expMonth', 'card'),
            expYear: requiredInteger(card, 'expYear', 'card'),
            cvc: requiredString(card, 'cvc', 'card'),
            holderName: optionalString(card, 'holderName', 'card'),
          },
          idempotencyKey: key,
        },
        { token },
      ),
    );
    void reply.code(201);
    return bookingView(booking);
  });

  // ---- bookings

  app.get('/api/bookings', async (request) => {
    const token = bearerToken(request.headers);
    const answer = await upstream<ListMyBookingsResponse>(
      upstreams.booking((n) => n.booking.listMyBookings.bind(n.booking), page(request.query as Query), {
        token,
      }),
      { renames: PAGE_RENAMES },
    );
    return { bookings: answer.bookings.map(bookingView), nextPageToken: answer.nextPageToken || null };
  });

  app.get<{ Params: { bookingId: string } }>('/api/bookings/:bookingId', async (request) => {
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

  app.post<{ Params: { bookingId: string } }>('/api/bookings/:bookingId/cancel', async (request, reply) => {
    const token = bearerToken(request.headers);
    objectBody(request.body, [], false);
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

  app.get('/api/cluster', async () => {
    const nodes = await upstreams.clusterStatus();
    return { master: currentMaster(nodes), nodes, ...deps.stamp() };
  });

  app.get('/api/cluster/events', async (_request, reply) => {
    const nodes = await upstreams.clusterStatus();
    const stream = openStream(reply, deps);
    stream.send('snapshot', { master: currentMaster(nodes), nodes, ...deps.stamp() });
    deps.clusterFeed.subscribe(stream, nodes);
  });
}

/**
 * An event id from the path (`/api/events//shows` gives ''): required here, since the catalog's
 * ListShows lists the whole catalog's shows without one.
 */
function pathEventId(eventId: string): string {
  if (eventId === '') throw invalid('eventId', 'is required');
  return eventId;
}

/** Takes the response over from fastify and starts an event stream on it. */
function openStream(reply: FastifyReply, deps: RouteDeps): SseStream {
  void reply.hijack();
  const stream = new SseStream(reply.raw, { 'x-lamport': String(deps.stamp().lamport) }, deps.heartbeatMs);
  deps.streams.add(stream);
  stream.onClose(() => deps.streams.delete(stream));
  return stream;
}
