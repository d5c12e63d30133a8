import http from 'node:http';
import pino from 'pino';
import type { Event, Show, Venue } from '../../../proto/gen/marquee/catalog/v1/catalog';
import { freePort } from '../../../scripts/lib/processes';
import { freshDatabase, testMysqlUrl } from '../../../test/databases';
import { loadConfig as loadBookingConfig } from '../../booking/config';
import { startBookingServer } from '../../booking/server';
import type { BookingServer } from '../../booking/server';
import {
  SECRET,
  aShow,
  aVenue,
  anEvent,
  startHarness as startCatalog,
} from '../../catalog/__tests__/harness';
import type { Harness as CatalogHarness } from '../../catalog/__tests__/harness';
import type { Pool } from '../../common/mysql';
import { loadConfig as loadRecommendationConfig } from '../../recommendation/config';
import { startRecommendationServer } from '../../recommendation/server';
import type { RunningRecommendationServer } from '../../recommendation/server';
import { loadConfig } from '../config';
import type { GatewayConfig } from '../config';
import { buildGateway } from '../server';
import type { Gateway, GatewayOptions } from '../server';

/*
 * The gateway over REAL upstreams, all in this process on 127.0.0.1:0: a catalog server and one
 * booking node (each over its own fresh MariaDB database), the booking node reading shows from that
 * catalog. Requests go through fastify's inject (no socket) or, for event streams, real HTTP.
 */

export const logger = pino({ level: process.env.GATEWAY_TEST_LOG ?? 'silent' });

export const GOOD_CARD = { number: '4242 4242 4242 4242', expMonth: 12, expYear: 2099, cvc: '123' };
export const DECLINED_CARD = { ...GOOD_CARD, number: '4000 0000 0000 0002' };

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test
}

export interface Request {
  method?: 'GET' | 'POST' | 'DELETE' | 'PUT';
  url: string;
  token?: string;
  body?: unknown;
  /** Sent as is (no JSON encoding), e.g. malformed JSON. */
  rawBody?: string;
  headers?: Record<string, string>;
}

/**
 * Sends a request to the gateway over real HTTP and parses the JSON reply. (fastify's inject is not
 * used: its light-my-request pulls in an ES-module-only dependency that Jest on Node 20 cannot load.)
 */
export async function send(port: number, request: Request): Promise<Reply> {
  const headers: Record<string, string> = { ...request.headers };
  if (request.token !== undefined) headers.authorization = `Bearer ${request.token}`;
  let payload: string | undefined;
  if (request.rawBody !== undefined) payload = request.rawBody;
  else if (request.body !== undefined) payload = JSON.stringify(request.body);
  if (payload !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`http://127.0.0.1:${port}${request.url}`, {
    method: request.method ?? 'GET',
    headers,
    ...(payload === undefined ? {} : { body: payload }),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: left as text
  }
  return { status: response.status, headers: Object.fromEntries(response.headers), body };
}

/** Starts a gateway on 127.0.0.1:0 with the given environment (plus test defaults). */
export async function startGateway(
  env: Record<string, string>,
  options: Partial<GatewayOptions> = {},
): Promise<{ gateway: Gateway; port: number; config: GatewayConfig }> {
  const config = loadConfig({
    MARQUEE_GATEWAY_PORT: '0',
    MARQUEE_LOG_LEVEL: 'silent',
    MARQUEE_GATEWAY_STATIC_DIR: '/nonexistent-marquee-gateway-static',
    ...env,
  });
  const gateway = await buildGateway({
    config,
    logger,
    showPollMs: 50,
    clusterPollMs: 50,
    ...options,
  });
  const port = await gateway.listen();
  return { gateway, port, config };
}

export interface Stack {
  catalog: CatalogHarness;
  booking: BookingServer;
  bookingDb: Pool;
  /** A real recommendation service (a single booking node has no change stream: it answers by content and popularity). */
  recommendation: RunningRecommendationServer;
  gateway: Gateway;
  port: number;
  venue: Venue;
  event: Event;
  show: Show;
  /** A second show of the same event, for tests that must not disturb the first one's seats. */
  otherShow: Show;
  /** Moves the booking node's clock forward (expires holds without sleeping). */
  advance(ms: number): void;
  stop(): Promise<void>;
}

/** Catalog + one booking node + the gateway, with a venue, an event and two shows. */
export async function startStack(label: string, gatewayEnv: Record<string, string> = {}): Promise<Stack> {
  const catalog = await startCatalog(`${label}cat`);
  const c = catalog.client;
  const venue = await catalog.call(c.createVenue, { venue: aVenue() }, catalog.adminToken);
  const event = await catalog.call(c.createEvent, { event: anEvent() }, catalog.adminToken);
  const show = await catalog.call(c.createShow, { show: aShow(event.id, venue.id) }, catalog.adminToken);
  const otherShow = await catalog.call(
    c.createShow,
    { show: aShow(event.id, venue.id, { startsAt: '2031-06-02T19:30:00Z' }) },
    catalog.adminToken,
  );

  const database = await freshDatabase(`${label}bk`);
  let offset = 0;
  const booking = await startBookingServer({
    config: loadBookingConfig({
      MARQUEE_BOOKING_PORT: '0',
      MARQUEE_MYSQL_URL: testMysqlUrl(),
      MARQUEE_BOOKING_DB: database.name,
      MARQUEE_CATALOG_ADDR: catalog.address,
      MARQUEE_TOKEN_SECRET: SECRET,
      MARQUEE_SWEEP_INTERVAL_MS: '3600000',
      MARQUEE_BOOKING_MYSQL_CONNECTIONS: '8',
      MARQUEE_LOG_LEVEL: 'silent',
    }),
    logger,
    pool: database.pool,
    clock: () => Date.now() + offset,
  });
  const recommendationDb = await freshDatabase(`${label}rec`);
  const recommendation = await startRecommendationServer({
    config: loadRecommendationConfig({
      MARQUEE_RECOMMENDATION_PORT: '0',
      MARQUEE_MYSQL_URL: testMysqlUrl(),
      MARQUEE_RECOMMENDATION_DB: recommendationDb.name,
      MARQUEE_CATALOG_ADDR: catalog.address,
      MARQUEE_BOOKING_ADDRS: `1=127.0.0.1:${booking.port}`,
      MARQUEE_TOKEN_SECRET: SECRET,
      MARQUEE_LOG_LEVEL: 'silent',
    }),
    logger,
    pool: recommendationDb.pool,
  });
  // A single node has no peer port: the cluster routes see it as unreachable.
  const deadPeer = await freePort();
  const { gateway, port } = await startGateway({
    MARQUEE_CATALOG_ADDR: catalog.address,
    MARQUEE_BOOKING_ADDRS: `1=127.0.0.1:${booking.port}`,
    MARQUEE_PEERS: `1=127.0.0.1:${deadPeer}`,
    MARQUEE_RECOMMENDATION_ADDR: `127.0.0.1:${recommendation.port}`,
    ...gatewayEnv,
  });
  return {
    catalog,
    booking,
    bookingDb: database.pool,
    recommendation,
    gateway,
    port,
    venue,
    event,
    show,
    otherShow,
    advance: (ms) => {
      offset += ms;
    },
    stop: async () => {
      await gateway.stop();
      await recommendation.stop();
      await recommendationDb.drop();
      await booking.stop();
      await database.drop();
      await catalog.close();
    },
  };
}

let userCounter = 0;

/** Registers a new user through the gateway; returns its token and id. */
export async function newUser(
  port: number,
  name = 'buyer',
): Promise<{ token: string; id: string; email: string }> {
  const email = `${name}-${++userCounter}-${process.pid}@example.com`;
  const reply = await send(port, {
    method: 'POST',
    url: '/api/auth/register',
    body: { email, password: 'correct horse battery', displayName: name },
  });
  if (reply.status !== 201) throw new Error(`register failed: ${reply.status} ${JSON.stringify(reply.body)}`);
  return { token: reply.body.token as string, id: reply.body.user.id as string, email };
}

export interface SseEvent {
  event: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test
}

/** A real HTTP event-stream client: collects events, waits for one that matches. */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  private buffer = '';
  private request: http.ClientRequest | undefined;
  private waiters: (() => void)[] = [];
  ended = false;

  static open(port: number, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = new SseClient();
    return new Promise((resolve, reject) => {
      client.request = http.get({ host: '127.0.0.1', port, path, headers }, (response) => {
        client.status = response.statusCode ?? 0;
        client.headers = response.headers;
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => client.feed(chunk));
        response.on('end', () => {
          client.ended = true;
          client.wake();
        });
        response.on('error', () => undefined);
        resolve(client);
      });
      client.request.on('error', reject);
    });
  }

  /** The body, for a reply that was not an event stream (an error). */
  get text(): string {
    return this.buffer;
  }

  /** Resolves with the first event (from the start) that `match` accepts. */
  async next(match: (event: SseEvent) => boolean, what: string, ms = 20_000): Promise<SseEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (this.ended)
        throw new Error(
          `stream ended before ${what}; got ${JSON.stringify(this.events.map((e) => e.event))}`,
        );
      if (Date.now() > deadline)
        throw new Error(`no ${what} within ${ms} ms; got ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async untilEnded(ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('stream did not end');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  close(): void {
    this.request?.destroy();
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end < 0) break;
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) this.events.push({ event, data: JSON.parse(data.join('\n')) });
    }
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

/** Polls `check` until it passes or `ms` ran out (then throws its last error). */
export async function eventually<T>(check: () => T | Promise<T>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
