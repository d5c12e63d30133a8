import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MAX_IMPORT_DOCUMENT_BYTES } from '../catalog-admin-routes';
import { newUser, send, startStack } from './harness';
import type { Reply, Request, Stack } from './harness';

/*
 * The catalog's admin routes through the gateway against a REAL catalog and booking node: the admin
 * logs in like anyone (the booking node creates the configured admin at boot) and the catalog, not
 * the gateway, decides that the token may write.
 */

const FIXTURE = readFileSync(path.join(__dirname, '../../../test/fixtures/catalog-import.json'), 'utf8');
const fixture = (): Record<string, unknown[]> => JSON.parse(FIXTURE) as Record<string, unknown[]>;

let stack: Stack;
let adminToken: string;
let buyerToken: string;
let documents: http.Server;
let documentsBase: string;

const call = (request: Request): Promise<Reply> => send(stack.port, request);

function expectError(reply: Reply, status: number, code: string, field?: string, message?: string): void {
  expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status, code });
  if (field !== undefined) expect(reply.body.error.field).toBe(field);
  if (message !== undefined) expect(reply.body.error.message).toEqual(expect.stringContaining(message));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON under test
type Line = any;

/** POSTs an import and reads the whole answer: the status and each JSON line. */
async function runImport(
  body: unknown,
  token = adminToken,
): Promise<{ status: number; type: string; lines: Line[] }> {
  const response = await fetch(`http://127.0.0.1:${stack.port}/api/catalog/imports`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  const lines = type.startsWith('application/x-ndjson')
    ? text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as unknown)
    : [JSON.parse(text) as unknown];
  return { status: response.status, type, lines };
}

beforeAll(async () => {
  stack = await startStack('gwadm');
  const login = await call({
    method: 'POST',
    url: '/api/auth/login',
    body: { email: 'admin@marquee.local', password: 'marquee-admin' },
  });
  expect(login.status).toBe(200);
  expect(login.body.user.role).toBe('admin');
  adminToken = login.body.token as string;
  buyerToken = (await newUser(stack.port, 'buyer')).token;

  // A web server the catalog fetches documents from (sourceUrl).
  documents = http.createServer((request, response) => {
    if (request.url === '/catalog.json') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(FIXTURE);
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise<void>((resolve) => documents.listen(0, '127.0.0.1', resolve));
  documentsBase = `http://127.0.0.1:${(documents.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => documents?.close(resolve));
  await stack?.stop();
});

describe('GET /api/venues', () => {
  it('lists venues with their halls, sections and price tiers', async () => {
    const reply = await call({ url: '/api/venues?city=Lyon' });
    expect(reply.status).toBe(200);
    const venue = reply.body.venues.find((v: { id: string }) => v.id === stack.venue.id);
    expect(venue).toMatchObject({ name: 'Grand Hall', city: 'Lyon' });
    expect(venue.halls[0]).toMatchObject({ id: 'MAIN', name: 'Main Hall' });
    expect(venue.halls[0].sections.map((s: { priceTier: string }) => s.priceTier)).toEqual([
      'premium',
      'standard',
    ]);
    expect(venue.halls[0].gaAreas.length).toBeGreaterThan(0);
  });

  it('refuses a bad page size, naming it', async () => {
    expectError(await call({ url: '/api/venues?pageSize=0' }), 400, 'INVALID_ARGUMENT', 'pageSize');
  });
});

describe('POST /api/events', () => {
  const anEvent = { title: 'Night of Strings', kind: 'concert', genres: ['Classical'], durationMinutes: 95 };

  it('creates an event (201, Location) that search then finds', async () => {
    const reply = await call({ method: 'POST', url: '/api/events', token: adminToken, body: anEvent });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ ...anEvent, artists: [], cast: [], description: '' });
    expect(reply.headers.location).toBe(`/api/events/${reply.body.id}`);
    const found = await call({ url: reply.headers.location! });
    expect(found.body.event.title).toBe('Night of Strings');
  });

  it('needs a token, and the admin role', async () => {
    expectError(await call({ method: 'POST', url: '/api/events', body: anEvent }), 401, 'UNAUTHENTICATED');
    expectError(
      await call({ method: 'POST', url: '/api/events', token: buyerToken, body: anEvent }),
      403,
      'PERMISSION_DENIED',
    );
  });

  it.each([
    [{ ...anEvent, title: undefined }, 'title', 'is required'],
    [{ ...anEvent, title: 7 }, 'title', 'must be a string'],
    [{ ...anEvent, kind: 'opera' }, 'kind', 'must be one of movie, concert'],
    [{ ...anEvent, genres: 'Classical' }, 'genres', 'must be an array'],
    [{ ...anEvent, genres: [1] }, 'genres[0]', 'must be a string'],
    [{ ...anEvent, durationMinutes: 1.5 }, 'durationMinutes', 'must be an integer'],
    [{ ...anEvent, durationMinutes: -5 }, 'durationMinutes', 'durationMinutes'],
    [{ ...anEvent, posterUrl: 'not a url' }, 'posterUrl', 'posterUrl'],
    [{ ...anEvent, venue: 'x' }, 'venue', 'is not a known field'],
  ])('refuses %j naming %s, writing nothing', async (body, field, message) => {
    const before = await call({ url: '/api/events?pageSize=100' });
    const reply = await call({ method: 'POST', url: '/api/events', token: adminToken, body });
    expectError(reply, 400, 'INVALID_ARGUMENT', field, message);
    const after = await call({ url: '/api/events?pageSize=100' });
    expect(after.body.events.length).toBe(before.body.events.length);
  });

  it('refuses a body that is not JSON', async () => {
    expectError(
      await call({ method: 'POST', url: '/api/events', token: adminToken, rawBody: '{"title": ' }),
      400,
      'INVALID_ARGUMENT',
      'body',
    );
  });
});

describe('POST /api/events/:eventId/shows', () => {
  const prices = [
    { priceTier: 'premium', amountCents: 5000 },
    { priceTier: 'standard', amountCents: 3000 },
    { priceTier: 'standing', amountCents: 2000 },
  ];
  const aShow = () => ({
    venueId: stack.venue.id,
    hallId: 'MAIN',
    startsAt: '2031-09-01T20:00:00Z',
    currency: 'eur',
    prices,
  });
  const url = () => `/api/events/${stack.event.id}/shows`;

  it('creates a show whose seat map buyers can then read', async () => {
    const reply = await call({ method: 'POST', url: url(), token: adminToken, body: aShow() });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ eventId: stack.event.id, hallId: 'MAIN', currency: 'EUR' });
    const detail = await call({ url: reply.headers.location! });
    expect(detail.status).toBe(200);
    expect(detail.body.seats.length).toBeGreaterThan(0);
  });

  it('names the unknown event, venue or hall (404)', async () => {
    expectError(
      await call({ method: 'POST', url: '/api/events/999999/shows', token: adminToken, body: aShow() }),
      404,
      'NOT_FOUND',
      'eventId',
    );
    expectError(
      await call({ method: 'POST', url: url(), token: adminToken, body: { ...aShow(), venueId: '999999' } }),
      404,
      'NOT_FOUND',
      'venueId',
    );
    const noHall = await call({
      method: 'POST',
      url: url(),
      token: adminToken,
      body: { ...aShow(), hallId: 'NOPE' },
    });
    expect(noHall.status).toBeGreaterThanOrEqual(400);
    expect(noHall.body.error.field).toBe('hallId');
  });

  it.each([
    [{ startsAt: 'tomorrow' }, 'startsAt'],
    [{ currency: 'euros' }, 'currency'],
    [{ prices: prices.slice(1) }, 'prices'],
    [{ prices: [{ priceTier: 'premium' }] }, 'prices[0].amountCents'],
    [{ prices: [{ priceTier: 'premium', amountCents: '50' }] }, 'prices[0].amountCents'],
    [{ venueId: undefined }, 'venueId'],
  ])('refuses %j naming %s', async (change, field) => {
    const reply = await call({
      method: 'POST',
      url: url(),
      token: adminToken,
      body: { ...aShow(), ...change },
    });
    expectError(reply, 400, 'INVALID_ARGUMENT');
    expect(reply.body.error.field).toEqual(expect.stringContaining(field));
  });

  it('needs the admin role', async () => {
    expectError(
      await call({ method: 'POST', url: url(), token: buyerToken, body: aShow() }),
      403,
      'PERMISSION_DENIED',
    );
  });
});

describe('POST /api/catalog/imports', () => {
  it('streams progress as JSON lines ending with "done"; a second run changes nothing', async () => {
    const first = await runImport({ document: fixture() });
    expect(first.status).toBe(200);
    expect(first.type).toMatch(/^application\/x-ndjson/);
    expect(first.lines.length).toBeGreaterThan(1);
    const last = first.lines.at(-1);
    expect(last).toMatchObject({ phase: 'done', updated: 0 });
    expect(last.created).toBe(last.total);
    // Progress only goes forward.
    const done = first.lines.map((line) => line.done as number);
    expect(done).toEqual([...done].sort((a, b) => a - b));

    const again = await runImport({ document: fixture() });
    expect(again.lines.at(-1)).toMatchObject({
      phase: 'done',
      created: 0,
      updated: 0,
      unchanged: last.total,
    });
    const search = await call({ url: `/api/events?q=${encodeURIComponent('Lighthouse Keeper')}` });
    expect(search.body.events.map((e: { title: string }) => e.title)).toContain(
      "The Lighthouse Keeper's Daughter",
    );
  });

  it('imports from a sourceUrl the catalog fetches', async () => {
    const reply = await runImport({ sourceUrl: `${documentsBase}/catalog.json` });
    expect(reply.status).toBe(200);
    expect(reply.lines.at(-1)).toMatchObject({ phase: 'done' });
  });

  it('a sourceUrl that fails after progress started ends the stream with an error line', async () => {
    const reply = await runImport({ sourceUrl: `${documentsBase}/missing.json` });
    // The catalog reports the fetch phase before fetching, so the answer is already 200 when the
    // fetch fails: the failure is the last line, naming sourceUrl and what the web server answered.
    expect(reply.status).toBe(200);
    expect(reply.lines[0]).toMatchObject({ phase: 'fetch' });
    const last = reply.lines.at(-1);
    expect(last.error).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'sourceUrl' });
    expect(last.error.message).toContain('HTTP 404');
  });

  it('refuses a bad document before importing anything, naming the place in the document', async () => {
    const bad = fixture();
    (bad.movies![1] as Record<string, unknown>).runtime = 'long';
    const reply = await runImport({ document: bad });
    expect(reply.status).toBe(400);
    expect(reply.lines[0].error).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'document.movies[1].runtime',
    });
  });

  it.each([
    ['neither document nor sourceUrl', {}, 'document'],
    [
      'both document and sourceUrl',
      { document: fixture(), sourceUrl: 'https://example.com/c.json' },
      'document',
    ],
    ['a document that is an array', { document: [1, 2] }, 'document'],
    ['a sourceUrl that is a number', { sourceUrl: 42 }, 'sourceUrl'],
    ['an unknown field', { document: fixture(), extra: true }, 'extra'],
  ])('refuses %s, naming %s', async (_what, body, field) => {
    const reply = await runImport(body);
    expect(reply.status).toBe(400);
    expect(reply.lines[0].error).toMatchObject({ code: 'INVALID_ARGUMENT', field });
  });

  it('refuses a document over the catalog’s message limit with a clear message', async () => {
    const big = { movies: [{ id: 'm1', title: 'x'.repeat(MAX_IMPORT_DOCUMENT_BYTES), runtime: 90 }] };
    const reply = await runImport({ document: big });
    expect(reply.status).toBe(400);
    expect(reply.lines[0].error).toMatchObject({ field: 'document' });
    expect(reply.lines[0].error.message).toContain('sourceUrl');
  });

  it('needs a token and the admin role', async () => {
    const noToken = await send(stack.port, {
      method: 'POST',
      url: '/api/catalog/imports',
      body: { document: fixture() },
    });
    expectError(noToken, 401, 'UNAUTHENTICATED');
    const buyer = await runImport({ document: fixture() }, buyerToken);
    expect(buyer.status).toBe(403);
    expect(buyer.lines[0].error.code).toBe('PERMISSION_DENIED');
  });
});
