/**
 * The whole local stack as `npm start` runs it (startStack: catalog, three booking nodes in cluster
 * mode, two gateways, nginx) on free ports, over the test run's MariaDB, for the web end-to-end tests;
 * plus the few things those tests need to do to it: create a show through the catalog as an admin,
 * call the HTTP front door, read an event stream, look into each booking node's database.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { CatalogServiceClient, Event, EventKind, Show } from '../../proto/gen/marquee/catalog/v1/catalog';
import { startStack } from '../../scripts/lib/stack';
import type { RunningStack } from '../../scripts/lib/stack';
import { signToken } from '../../services/common/auth';
import { callUnary } from '../../services/common/grpc-client';
import { testMysqlUrl } from '../databases';

const repoRoot = path.join(__dirname, '..', '..');
export const TOKEN_SECRET = 'web-e2e-secret-0123456789';
export const GOOD_CARD = { number: '4242 4242 4242 4242', expMonth: 12, expYear: 2099, cvc: '123' };

export interface WebStack {
  stack: RunningStack;
  /** A token for this run: unique names for databases, users and events. */
  suffix: string;
  dataDir: string;
  /** Booking node id → its database name. */
  bookingDatabases: ReadonlyMap<number, string>;
  stop(): Promise<void>;
}

/** Starts the stack on free ports, in its own databases and data directory under .data/test. */
export async function startWebStack(label: string): Promise<WebStack> {
  const suffix = randomBytes(3).toString('hex');
  const bookingPrefix = `${label}_booking_${suffix}`;
  const catalogDatabase = `${label}_catalog_${suffix}`;
  const recommendationDatabase = `${label}_recommendation_${suffix}`;
  const dataDir = path.join(repoRoot, '.data', 'test', `${label}-${suffix}`);
  const bookingDatabases = new Map([1, 2, 3].map((id) => [id, `${bookingPrefix}_${id}`]));
  const cleanup = async (stack?: RunningStack): Promise<void> => {
    try {
      await stack?.stop();
    } finally {
      const admin = await mysql.createConnection(testMysqlUrl());
      for (const name of [catalogDatabase, recommendationDatabase, ...bookingDatabases.values()])
        await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.end();
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
  let stack: RunningStack;
  try {
    stack = await startStack({
      repoRoot,
      dataDir,
      mysqlUrl: testMysqlUrl(),
      freshData: true,
      tokenSecret: TOKEN_SECRET,
      logLevel: 'warn',
      bookingDatabasePrefix: bookingPrefix,
      extraEnv: {
        MARQUEE_CATALOG_DB: catalogDatabase,
        MARQUEE_RECOMMENDATION_DB: recommendationDatabase,
        // Shows are created after the stack starts: the recommendation service should see them soon.
        MARQUEE_RECOMMENDATION_CATALOG_REFRESH_MS: '1000',
      },
    });
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { stack, suffix, dataDir, bookingDatabases, stop: () => cleanup(stack) };
}

export interface CreatedShow {
  eventId: string;
  showId: string;
  title: string;
}

/**
 * A venue (one hall: two rows of six seats, a standing area of 50), an event titled `title` and one
 * show of it next week, created through the catalog's gRPC API as an admin.
 */
export async function createShow(stack: RunningStack, title: string): Promise<CreatedShow> {
  const token = signToken(
    { userId: 'web-e2e-admin', email: 'web-e2e@marquee.local', role: 'admin' },
    TOKEN_SECRET,
    600,
    Date.now(),
  );
  const catalog = new CatalogServiceClient(stack.catalogAddress, grpc.credentials.createInsecure());
  try {
    const asAdmin = { token };
    const venue = await callUnary(
      catalog.createVenue.bind(catalog),
      {
        venue: {
          id: '',
          externalId: '',
          name: `${title} Hall`,
          city: 'Lisbon',
          address: 'Rua do Teste 1',
          halls: [
            {
              id: 'MAIN',
              name: 'Main',
              sections: [
                {
                  id: 'STALLS',
                  name: 'Stalls',
                  priceTier: 'standard',
                  rows: [
                    { label: 'A', seatCount: 6 },
                    { label: 'B', seatCount: 6 },
                  ],
                },
              ],
              gaAreas: [{ id: 'FLOOR', name: 'Standing', priceTier: 'standing', capacity: 50 }],
            },
          ],
        },
      },
      asAdmin,
    );
    const event = await callUnary(
      catalog.createEvent.bind(catalog),
      {
        event: Event.create({
          title,
          kind: EventKind.EVENT_KIND_CONCERT,
          genres: ['Pop'],
          durationMinutes: 90,
          description: 'An end-to-end test of the web front door.',
          artists: ['The Testers'],
        }),
      },
      asAdmin,
    );
    const show = await callUnary(
      catalog.createShow.bind(catalog),
      {
        show: Show.create({
          eventId: event.id,
          venueId: venue.id,
          hallId: 'MAIN',
          startsAt: new Date(Date.now() + 7 * 86400_000).toISOString(),
          currency: 'EUR',
          prices: [
            { priceTier: 'standard', amountCents: 1500 },
            { priceTier: 'standing', amountCents: 900 },
          ],
        }),
      },
      asAdmin,
    );
    return { eventId: event.id, showId: show.id, title };
  } finally {
    catalog.close();
  }
}

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body as sent (still compressed when content-encoding says so). */
  raw: Buffer;
  /** The body decoded (gunzipped when needed) as text. */
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test
}

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'DELETE' | 'HEAD';
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * One HTTP request with node:http (not fetch: the tests look at content-encoding as nginx sent it,
 * and fetch decodes it away). A fresh connection each time, like separate browsers.
 */
export function request(baseUrl: string, urlPath: string, options: HttpRequest = {}): Promise<HttpReply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${baseUrl}${urlPath}`,
      { method: options.method ?? 'GET', headers, agent: false, timeout: 30000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const text = (res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, text, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${urlPath}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Registers a new user through the front door; returns its token and id. */
export async function register(
  baseUrl: string,
  name: string,
): Promise<{ token: string; userId: string; email: string }> {
  const email = `${name}-${randomBytes(4).toString('hex')}@example.com`;
  const reply = await request(baseUrl, '/api/auth/register', {
    method: 'POST',
    body: { email, password: 'correct horse battery', displayName: name },
  });
  if (reply.status !== 201) throw new Error(`register: ${reply.status} ${reply.text}`);
  return { token: reply.json.token as string, userId: reply.json.user.id as string, email };
}

export interface SseEvent {
  event: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test
}

/** A server-sent-event stream read over real HTTP; `next` waits for an event that matches. */
export class SseReader {
  readonly events: SseEvent[] = [];
  headers: http.IncomingHttpHeaders = {};
  status = 0;
  private buffer = '';
  private waiters: (() => void)[] = [];
  private readonly req: http.ClientRequest;
  private ended = false;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.req = http.get(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false });
    this.req.on('response', (res) => {
      this.status = res.statusCode ?? 0;
      this.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.take(chunk));
      res.on('end', () => this.finish());
      res.on('error', () => this.finish());
      this.wake();
    });
    this.req.on('error', () => this.finish());
  }

  /** Waits for the response headers. */
  async opened(timeoutMs = 10000): Promise<void> {
    await this.until(() => this.status !== 0, timeoutMs, 'the stream to open');
  }

  /** The first event (from `from` on) that matches; fails after `timeoutMs`. */
  async next(match: (event: SseEvent) => boolean, timeoutMs: number, from = 0): Promise<SseEvent> {
    let found: SseEvent | undefined;
    await this.until(
      () => (found = this.events.slice(from).find(match)) !== undefined,
      timeoutMs,
      'a matching event',
    );
    return found!;
  }

  close(): void {
    this.req.destroy();
    this.finish();
  }

  private take(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
      if (event && data !== undefined) this.events.push({ event, data: JSON.parse(data) });
    }
    this.wake();
  }

  private finish(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  private async until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (this.ended) throw new Error(`the stream ended while waiting for ${what} (status ${this.status})`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no ${what} within ${timeoutMs} ms; got: ${this.events.map((e) => e.event).join(', ') || 'nothing'}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** Retries `check` until it stops throwing, up to `ms`. */
export async function eventually<T>(check: () => Promise<T>, ms = 10000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }
}

interface CountRow extends RowDataPacket {
  state: string;
  n: number;
}

/** A user's bookings by state in one booking node's own database. */
export async function bookingsInDatabase(database: string, userId: string): Promise<Record<string, number>> {
  const url = new URL(testMysqlUrl());
  url.pathname = `/${database}`;
  const connection = await mysql.createConnection(url.toString());
  try {
    const [rows] = await connection.query<CountRow[]>(
      'SELECT state, COUNT(*) AS n FROM bookings WHERE user_id = ? GROUP BY state ORDER BY state',
      [userId],
    );
    return Object.fromEntries(rows.map((row) => [row.state, Number(row.n)]));
  } finally {
    await connection.end();
  }
}
