import { freePort } from '../../../scripts/lib/processes';
import {
  DECLINED_CARD,
  GOOD_CARD,
  SseClient,
  eventually,
  newUser,
  send,
  startGateway,
  startStack,
} from './harness';
import type { Reply, Request, Stack } from './harness';

/*
 * Every route of the gateway against a REAL catalog and booking node (each over its own MariaDB
 * database): the happy path, then what a careless or hostile client can send. Error bodies always
 * have the shape { error: { code, message, field? } } and the status the one table gives.
 */

let stack: Stack;
let buyer: { token: string; id: string; email: string };
let rival: { token: string; id: string; email: string };

const call = (request: Request): Promise<Reply> => send(stack.port, request);

/** The reply must be this error: status, code, and (when given) the field and a part of the message. */
function expectError(
  reply: Reply,
  status: number,
  code: string,
  field?: string,
  message?: string | RegExp,
): void {
  expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status, code });
  expect(typeof reply.body.error.message).toBe('string');
  if (field !== undefined) expect(reply.body.error.field).toBe(field);
  if (message !== undefined)
    expect(reply.body.error.message).toEqual(
      typeof message === 'string' ? expect.stringContaining(message) : expect.stringMatching(message),
    );
}

beforeAll(async () => {
  stack = await startStack('gwapi');
  buyer = await newUser(stack.port, 'buyer');
  rival = await newUser(stack.port, 'rival');
});

afterAll(async () => {
  await stack?.stop();
});

describe('gateway itself', () => {
  it('GET /api/health reports the gateway and each upstream', async () => {
    const reply = await call({ url: '/api/health' });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      status: 'ok',
      service: 'gateway',
      upstreams: {
        catalog: { serving: true, address: stack.catalog.address },
        booking: [{ nodeId: 1, serving: true }],
      },
    });
  });

  it('GET /api/openapi.json documents exactly the routes the gateway serves', async () => {
    const reply = await call({ url: '/api/openapi.json' });
    expect(reply.status).toBe(200);
    expect(reply.body.openapi).toBe('3.1.0');
    const documented = Object.entries(reply.body.paths as Record<string, Record<string, unknown>>)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    const served = stack.gateway.routes
      .filter((r) => r.url.startsWith('/api/'))
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`)
      .sort();
    expect(documented).toEqual(served);
    // Generated from the route schemas: what validation checks is what the document says.
    const hold = reply.body.paths['/api/holds'].post;
    expect(hold.requestBody.content['application/json'].schema).toMatchObject({
      required: ['showId'],
      properties: { seatIds: { type: 'array' }, ga: { type: 'array' } },
      additionalProperties: false,
    });
    expect(hold.responses['201'].content['application/json'].schema.properties.state.enum).toContain(
      'active',
    );
    expect(hold.responses['409'].description).toMatch(/^ALREADY_EXISTS/);
  });

  it('GET /api/docs is a readable page of the document, served without a CDN', async () => {
    const page = await call({ url: '/api/docs/' });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('swagger-ui');
    expect(page.body).not.toMatch(/https?:\/\/(?!localhost)[^"']*\.(js|css)/);
    const script = await call({ url: '/api/docs/static/swagger-ui-bundle.js' });
    expect(script.status).toBe(200);
    expect(String(script.body).length).toBeGreaterThan(100_000);
  });

  it('an unknown route is 404 with the error shape', async () => {
    expectError(await call({ url: '/api/nope' }), 404, 'NOT_FOUND', undefined, 'no route GET /api/nope');
    expectError(await call({ method: 'PUT', url: '/api/holds' }), 404, 'NOT_FOUND');
  });

  it('every response carries X-Lamport; a stamp a browser sends does not move the clock', async () => {
    const first = await call({ url: '/api/health' });
    const stamp = Number(first.headers['x-lamport']);
    expect(stamp).toBeGreaterThan(0);
    const forged = await call({ url: '/api/openapi.json', headers: { 'x-lamport': String(2 ** 52) } });
    expect(forged.status).toBe(200);
    expect(Number(forged.headers['x-lamport'])).toBeLessThan(2 ** 40);
    expect(Number(forged.headers['x-lamport'])).toBeGreaterThanOrEqual(stamp);
  });
});

describe('recommendation routes (a real recommendation service)', () => {
  it('GET /api/recommendations answers anyone and a signed-in buyer with events, scores and reasons', async () => {
    for (const token of [undefined, buyer.token]) {
      const reply = await call({ url: '/api/recommendations?k=3', ...(token ? { token } : {}) });
      expect(reply.status).toBe(200);
      expect(reply.body.items.length).toBeGreaterThan(0);
      expect(reply.body.items.length).toBeLessThanOrEqual(3);
      expect(reply.body.items[0]).toMatchObject({
        event: { id: stack.event.id, title: stack.event.title },
        reason: expect.any(String),
        score: expect.any(Number),
      });
      expect(typeof reply.body.modelVersion).toBe('string');
    }
  });

  it('GET /api/recommendations refuses a bad k or a malformed token, naming them', async () => {
    expectError(await call({ url: '/api/recommendations?k=0' }), 400, 'INVALID_ARGUMENT', 'k');
    expectError(await call({ url: '/api/recommendations?k=50' }), 400, 'INVALID_ARGUMENT', 'k');
    expectError(
      await call({ url: '/api/recommendations', headers: { authorization: 'Basic abc' } }),
      401,
      'UNAUTHENTICATED',
    );
    expectError(await call({ url: '/api/recommendations', token: 'forged.token' }), 401, 'UNAUTHENTICATED');
  });

  it('GET /api/events/:eventId/similar answers the shape, and 404 names an unknown event', async () => {
    const reply = await call({ url: `/api/events/${stack.event.id}/similar` });
    expect(reply.status).toBe(200);
    expect(Array.isArray(reply.body.items)).toBe(true);
    expectError(await call({ url: '/api/events/no-such-event/similar' }), 404, 'NOT_FOUND', 'eventId');
  });

  it('answers 503 when the recommendation service is down', async () => {
    const down = await startGateway({
      MARQUEE_CATALOG_ADDR: stack.catalog.address,
      MARQUEE_BOOKING_ADDRS: `1=127.0.0.1:${stack.booking.port}`,
      MARQUEE_PEERS: `1=127.0.0.1:${await freePort()}`,
      MARQUEE_RECOMMENDATION_ADDR: `127.0.0.1:${await freePort()}`,
      MARQUEE_GATEWAY_RETRY_MS: '0',
    });
    try {
      expectError(await send(down.port, { url: '/api/recommendations' }), 503, 'UNAVAILABLE');
      const health = await send(down.port, { url: '/api/health' });
      expect(health.body).toMatchObject({
        status: 'degraded',
        upstreams: { recommendation: { serving: false } },
      });
    } finally {
      await down.gateway.stop();
    }
  });
});

describe('catalog routes', () => {
  it('GET /api/events searches by text, kind and dates, a page at a time', async () => {
    const found = await call({ url: '/api/events?q=lighthouse&kind=movie&from=2031-01-01&to=2031-12-31' });
    expect(found.status).toBe(200);
    expect(found.body).toEqual({
      events: [expect.objectContaining({ id: stack.event.id, title: 'The Lighthouse', kind: 'movie' })],
      nextPageToken: null,
    });
    const none = await call({ url: '/api/events?kind=concert' });
    expect(none.body).toEqual({ events: [], nextPageToken: null });
    // The kind in any case, as a person types it into the address bar.
    const capitalised = await call({ url: '/api/events?q=lighthouse&kind=Movie' });
    expect(capitalised.status).toBe(200);
    expect(capitalised.body).toMatchObject({ events: [expect.objectContaining({ id: stack.event.id })] });
  });

  it('GET /api/events refuses bad query parameters, naming them', async () => {
    expectError(
      await call({ url: '/api/events?kind=opera' }),
      400,
      'INVALID_ARGUMENT',
      'kind',
      'movie, concert',
    );
    expectError(await call({ url: '/api/events?pageSize=abc' }), 400, 'INVALID_ARGUMENT', 'pageSize');
    expectError(await call({ url: '/api/events?pageSize=500' }), 400, 'INVALID_ARGUMENT', 'pageSize');
    expectError(await call({ url: '/api/events?genre=a&genre=b' }), 400, 'INVALID_ARGUMENT', 'genre', 'once');
    // Checked by the catalog, renamed back to the query parameter's name.
    expectError(
      await call({ url: '/api/events?from=yesterday' }),
      400,
      'INVALID_ARGUMENT',
      'from',
      /^from: /,
    );
    expectError(await call({ url: '/api/events?pageToken=garbage' }), 400, 'INVALID_ARGUMENT', 'pageToken');
  });

  it('GET /api/events/:eventId answers the event with its shows', async () => {
    const reply = await call({ url: `/api/events/${stack.event.id}` });
    expect(reply.status).toBe(200);
    expect(reply.body.event).toMatchObject({ id: stack.event.id, genres: ['Drama'], cast: ['Ines Marlow'] });
    expect(reply.body.shows.map((s: { id: string }) => s.id)).toEqual([stack.show.id, stack.otherShow.id]);
    expect(reply.body.shows[0]).toMatchObject({ currency: 'EUR', startsAt: '2031-06-01T19:30:00Z' });
    expect(reply.body.nextShowsPageToken).toBeNull();
  });

  it('GET /api/events/:eventId is 404 for an unknown event', async () => {
    expectError(await call({ url: '/api/events/evt_nope' }), 404, 'NOT_FOUND', 'eventId', 'evt_nope');
  });

  it('GET /api/events//shows is refused, not the whole catalog’s shows', async () => {
    expectError(await call({ url: '/api/events//shows' }), 400, 'INVALID_ARGUMENT', 'eventId');
  });

  it('GET /api/events/:eventId/shows pages through shows', async () => {
    const first = await call({ url: `/api/events/${stack.event.id}/shows?pageSize=1` });
    expect(first.status).toBe(200);
    expect(first.body.shows.map((s: { id: string }) => s.id)).toEqual([stack.show.id]);
    expect(typeof first.body.nextPageToken).toBe('string');
    const second = await call({
      url: `/api/events/${stack.event.id}/shows?pageSize=1&pageToken=${encodeURIComponent(first.body.nextPageToken)}`,
    });
    expect(second.body.shows.map((s: { id: string }) => s.id)).toEqual([stack.otherShow.id]);
    expectError(
      await call({ url: `/api/events/${stack.event.id}/shows?pageSize=0` }),
      400,
      'INVALID_ARGUMENT',
      'pageSize',
    );
  });

  it('GET /api/shows/:showId answers the show with its hall, seats and prices', async () => {
    const reply = await call({ url: `/api/shows/${stack.show.id}` });
    expect(reply.status).toBe(200);
    expect(reply.body.show.id).toBe(stack.show.id);
    expect(reply.body.event.title).toBe('The Lighthouse');
    expect(reply.body.venue).toMatchObject({ name: 'Grand Hall', city: 'Lyon' });
    expect(reply.body.seats.map((s: { id: string }) => s.id)).toEqual([
      'ORCH-A-1',
      'ORCH-A-2',
      'ORCH-A-3',
      'ORCH-B-1',
      'ORCH-B-2',
      'BALC-1-1',
      'BALC-1-2',
    ]);
    expect(reply.body.gaAreas).toEqual([
      { id: 'FLOOR', name: 'Standing floor', priceTier: 'standing', capacity: 150, amountCents: 1500 },
    ]);
    expectError(await call({ url: '/api/shows/shw_nope' }), 404, 'NOT_FOUND', 'showId');
    expectError(await call({ url: '/api/shows/bad%20id' }), 400, 'INVALID_ARGUMENT', 'showId');
  });
});

describe('accounts', () => {
  it('POST /api/auth/register signs a new user in (201), and the email cannot be registered twice (409)', async () => {
    const reply = await call({
      method: 'POST',
      url: '/api/auth/register',
      body: { email: 'Ada@Example.com', password: 'correct horse battery', displayName: 'Ada' },
    });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({
      token: expect.any(String),
      user: { email: 'ada@example.com', displayName: 'Ada', role: 'user' },
    });
    expect(reply.headers['idempotency-key']).toMatch(/^gw-/);
    const again = await call({
      method: 'POST',
      url: '/api/auth/register',
      body: { email: 'ada@example.com', password: 'another password' },
    });
    expectError(again, 409, 'ALREADY_EXISTS', undefined, 'email');
  });

  it('POST /api/auth/register names what is wrong with the body', async () => {
    const register = (body: unknown): Promise<Reply> =>
      call({ method: 'POST', url: '/api/auth/register', body });
    expectError(
      await register({ password: 'correct horse battery' }),
      400,
      'INVALID_ARGUMENT',
      'email',
      'required',
    );
    expectError(
      await register({ email: 'x@example.com', password: 12345678 }),
      400,
      'INVALID_ARGUMENT',
      'password',
      'string',
    );
    expectError(
      await register({ email: 'x@example.com', password: 'short' }),
      400,
      'INVALID_ARGUMENT',
      'password',
      '8',
    );
    expectError(
      await register({ email: 'not-an-email', password: 'correct horse battery' }),
      400,
      'INVALID_ARGUMENT',
      'email',
    );
    expectError(
      await register({
        email: 'x@example.com',
        password: 'correct horse battery',
        displayName: 'x'.repeat(101),
      }),
      400,
      'INVALID_ARGUMENT',
      'displayName',
      /^displayName: /,
    );
    expectError(
      await register({ email: 'x@example.com', password: 'correct horse battery', admin: true }),
      400,
      'INVALID_ARGUMENT',
      'admin',
      'not a known field',
    );
    expectError(await register(['x@example.com']), 400, 'INVALID_ARGUMENT', 'body', 'JSON object');
    expectError(await register('x@example.com'), 400, 'INVALID_ARGUMENT', 'body', 'JSON object');
    expectError(
      await call({ method: 'POST', url: '/api/auth/register' }),
      400,
      'INVALID_ARGUMENT',
      'body',
      'required',
    );
    expectError(
      await call({ method: 'POST', url: '/api/auth/register', rawBody: '{"email": "x@example.com",' }),
      400,
      'INVALID_ARGUMENT',
      'body',
      'not valid JSON',
    );
    expectError(
      await call({ method: 'POST', url: '/api/auth/register', rawBody: '{"__proto__": {"admin": true}}' }),
      400,
      'INVALID_ARGUMENT',
      'body',
    );
    const plain = await call({
      method: 'POST',
      url: '/api/auth/register',
      rawBody: 'email=x@example.com',
      headers: { 'content-type': 'text/plain' },
    });
    expect(plain.status).toBe(415);
    expect(plain.body.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'body' });
    const huge = await call({
      method: 'POST',
      url: '/api/auth/register',
      body: { email: 'x'.repeat(100_000) },
    });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('RESOURCE_EXHAUSTED');
  });

  it('POST /api/auth/register with an Idempotency-Key answers a retry with the first session', async () => {
    const headers = { 'idempotency-key': 'register-retry-0001' };
    const body = { email: 'retry@example.com', password: 'correct horse battery' };
    const first = await call({ method: 'POST', url: '/api/auth/register', body, headers });
    const second = await call({ method: 'POST', url: '/api/auth/register', body, headers });
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.user.id).toBe(first.body.user.id);
    expect(second.headers['idempotency-key']).toBe('register-retry-0001');
  });

  it('POST /api/auth/login answers a session; a wrong password is 401', async () => {
    const ok = await call({
      method: 'POST',
      url: '/api/auth/login',
      body: { email: buyer.email, password: 'correct horse battery' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.user.id).toBe(buyer.id);
    expectError(
      await call({
        method: 'POST',
        url: '/api/auth/login',
        body: { email: buyer.email, password: 'wrong password' },
      }),
      401,
      'UNAUTHENTICATED',
    );
    expectError(
      await call({ method: 'POST', url: '/api/auth/login', body: { email: buyer.email } }),
      400,
      'INVALID_ARGUMENT',
      'password',
    );
    expectError(
      await call({ method: 'POST', url: '/api/auth/login', body: { email: 42, password: 'x' } }),
      400,
      'INVALID_ARGUMENT',
      'email',
    );
  });

  it('a route that needs a token answers 401 before looking at anything else in the request', async () => {
    // No token and a body that is wrong in every field: the missing token is what the caller hears.
    expectError(
      await call({ method: 'POST', url: '/api/holds', body: { showId: 7, seatIds: 'A-1' } }),
      401,
      'UNAUTHENTICATED',
      'Authorization',
    );
    // With a token, the body's faults are named.
    expectError(
      await call({
        method: 'POST',
        url: '/api/holds',
        token: buyer.token,
        body: { showId: 7, seatIds: 'A-1' },
      }),
      400,
      'INVALID_ARGUMENT',
    );
  });

  it('GET /api/me answers the caller; no, malformed or forged tokens are 401', async () => {
    const me = await call({ url: '/api/me', token: buyer.token });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ id: buyer.id, email: buyer.email, displayName: 'buyer', role: 'user' });
    expectError(await call({ url: '/api/me' }), 401, 'UNAUTHENTICATED', 'Authorization');
    expectError(
      await call({ url: '/api/me', headers: { authorization: 'Basic eDp5' } }),
      401,
      'UNAUTHENTICATED',
      'Authorization',
    );
    const forged = `${buyer.token.split('.')[0]}.AAAA`;
    expectError(
      await call({ url: '/api/me', token: forged }),
      401,
      'UNAUTHENTICATED',
      undefined,
      /^Authorization: /,
    );
  });
});

describe('seat maps', () => {
  it('GET /api/shows/:showId/availability answers every seat state and the GA pools', async () => {
    const reply = await call({ url: `/api/shows/${stack.otherShow.id}/availability`, token: buyer.token });
    expect(reply.status).toBe(200);
    expect(reply.body.showId).toBe(stack.otherShow.id);
    expect(reply.body.currency).toBe('EUR');
    expect(reply.body.seats).toHaveLength(7);
    expect(reply.body.seats[0]).toEqual({
      seatId: 'ORCH-A-1',
      label: 'Orchestra A1',
      priceTier: 'premium',
      amountCents: 4500,
      state: 'free',
    });
    expect(reply.body.pools).toEqual([
      {
        areaId: 'FLOOR',
        name: 'Standing floor',
        priceTier: 'standing',
        amountCents: 1500,
        capacity: 150,
        held: 0,
        sold: 0,
        remaining: 150,
      },
    ]);
  });

  it('GET /api/shows/:showId/availability needs a token and a known show', async () => {
    expectError(await call({ url: `/api/shows/${stack.show.id}/availability` }), 401, 'UNAUTHENTICATED');
    expectError(
      await call({ url: '/api/shows/shw_nope/availability', token: buyer.token }),
      404,
      'NOT_FOUND',
      'showId',
    );
  });
});

describe('holds, checkout and bookings', () => {
  const hold = (
    token: string | undefined,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply> =>
    call({ method: 'POST', url: '/api/holds', ...(token ? { token } : {}), body, headers });
  const checkout = (token: string, holdId: string, card: unknown = GOOD_CARD): Promise<Reply> =>
    call({ method: 'POST', url: `/api/holds/${holdId}/checkout`, token, body: { card } });

  it('hold → checkout → my bookings → cancel', async () => {
    const held = await hold(buyer.token, {
      showId: stack.show.id,
      seatIds: ['ORCH-A-1', 'ORCH-A-2'],
      ga: [{ areaId: 'FLOOR', quantity: 2 }],
    });
    expect(held.status).toBe(201);
    expect(held.body).toMatchObject({
      showId: stack.show.id,
      state: 'active',
      seats: [{ seatId: 'ORCH-A-1' }, { seatId: 'ORCH-A-2' }],
      ga: [{ areaId: 'FLOOR', quantity: 2, amountCents: 1500 }],
      totalCents: 4500 * 2 + 1500 * 2,
      currency: 'EUR',
    });
    const seats = await call({ url: `/api/shows/${stack.show.id}/availability`, token: rival.token });
    expect(seats.body.seats.slice(0, 3).map((s: { state: string }) => s.state)).toEqual([
      'held',
      'held',
      'free',
    ]);

    const paid = await checkout(buyer.token, held.body.id);
    expect(paid.status).toBe(201);
    expect(paid.body).toMatchObject({
      holdId: held.body.id,
      userId: buyer.id,
      state: 'confirmed',
      refundId: null,
      cancelledAt: null,
    });

    const mine = await call({ url: '/api/bookings', token: buyer.token });
    expect(mine.status).toBe(200);
    expect(mine.body.bookings.map((b: { id: string }) => b.id)).toContain(paid.body.id);
    const one = await call({ url: `/api/bookings/${paid.body.id}`, token: buyer.token });
    expect(one.body).toEqual(paid.body);

    const cancelled = await call({
      method: 'POST',
      url: `/api/bookings/${paid.body.id}/cancel`,
      token: buyer.token,
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({
      id: paid.body.id,
      state: 'cancelled',
      refundId: expect.any(String),
    });
    expectError(
      await call({ method: 'POST', url: `/api/bookings/${paid.body.id}/cancel`, token: buyer.token }),
      409,
      'FAILED_PRECONDITION',
      undefined,
      'already cancelled',
    );
    const freed = await call({ url: `/api/shows/${stack.show.id}/availability`, token: rival.token });
    expect(freed.body.seats.slice(0, 2).map((s: { state: string }) => s.state)).toEqual(['free', 'free']);
  });

  it('a retried POST /api/holds with the same Idempotency-Key answers the same hold', async () => {
    const headers = { 'idempotency-key': 'hold-retry-key-0001' };
    const body = { showId: stack.show.id, seatIds: ['BALC-1-1'] };
    const first = await hold(buyer.token, body, headers);
    const second = await hold(buyer.token, body, headers);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers['idempotency-key']).toBe('hold-retry-key-0001');
    // The same key for a different request is the client's mistake.
    expectError(
      await hold(buyer.token, { showId: stack.show.id, seatIds: ['BALC-1-2'] }, headers),
      400,
      'INVALID_ARGUMENT',
      'Idempotency-Key',
    );
    expect(
      (await call({ method: 'DELETE', url: `/api/holds/${first.body.id}`, token: buyer.token })).status,
    ).toBe(200);
  });

  it('a seat someone else holds is 409, naming the seat', async () => {
    const first = await hold(buyer.token, { showId: stack.show.id, seatIds: ['ORCH-B-1'] });
    expect(first.status).toBe(201);
    const taken = await hold(rival.token, { showId: stack.show.id, seatIds: ['ORCH-B-1'] });
    expectError(taken, 409, 'FAILED_PRECONDITION', 'seatIds[0]', 'ORCH-B-1 is already held');
    expect(taken.body.error.details).toEqual({ seatIds: ['ORCH-B-1'] });
    const both = await hold(rival.token, { showId: stack.show.id, seatIds: ['ORCH-B-2', 'ORCH-B-1'] });
    expectError(both, 409, 'FAILED_PRECONDITION', undefined, 'ORCH-B-1');
    expect(both.body.error.field).toMatch(/^seatIds\[\d\]$/);
    expect(both.body.error.details.seatIds).toContain('ORCH-B-1');
    expect(
      (await call({ method: 'DELETE', url: `/api/holds/${first.body.id}`, token: buyer.token })).status,
    ).toBe(200);
  });

  it('POST /api/holds names what is wrong with the body', async () => {
    const show = stack.otherShow.id;
    expectError(
      await hold(buyer.token, { seatIds: ['ORCH-A-1'] }),
      400,
      'INVALID_ARGUMENT',
      'showId',
      'required',
    );
    expectError(
      await hold(buyer.token, { showId: 42, seatIds: ['ORCH-A-1'] }),
      400,
      'INVALID_ARGUMENT',
      'showId',
      'string',
    );
    expectError(
      await hold(buyer.token, { showId: show, seatIds: 'ORCH-A-1' }),
      400,
      'INVALID_ARGUMENT',
      'seatIds',
      'array',
    );
    expectError(
      await hold(buyer.token, { showId: show, seatIds: ['ORCH-A-1', 7] }),
      400,
      'INVALID_ARGUMENT',
      'seatIds[1]',
    );
    expectError(
      await hold(buyer.token, { showId: show }),
      400,
      'INVALID_ARGUMENT',
      'seatIds',
      'at least one',
    );
    expectError(
      await hold(buyer.token, { showId: show, ga: [{ areaId: 'FLOOR', quantity: '2' }] }),
      400,
      'INVALID_ARGUMENT',
      'ga[0].quantity',
      'integer',
    );
    expectError(
      await hold(buyer.token, { showId: show, ga: [{ area: 'FLOOR' }] }),
      400,
      'INVALID_ARGUMENT',
      'ga[0].area',
    );
    // Checked by the booking service, renamed to the JSON names.
    expectError(
      await hold(buyer.token, { showId: show, ga: [{ areaId: 'FLOOR', quantity: 11 }] }),
      400,
      'INVALID_ARGUMENT',
      'ga[0].quantity',
      /^ga\[0\]\.quantity: /,
    );
    expectError(
      await hold(buyer.token, { showId: show, seatIds: ['ORCH-A-1', 'ORCH-A-1'] }),
      400,
      'INVALID_ARGUMENT',
      'seatIds[1]',
    );
    expectError(
      await hold(buyer.token, { showId: show, seatIds: ['Z-9-9'] }),
      404,
      'NOT_FOUND',
      'seatIds[0]',
      'Z-9-9',
    );
    expectError(
      await hold(buyer.token, { showId: 'shw_nope', seatIds: ['ORCH-A-1'] }),
      404,
      'NOT_FOUND',
      'showId',
    );
    expectError(
      await hold(buyer.token, { showId: show, seatIds: ['ORCH-A-1'] }, { 'idempotency-key': 'short' }),
      400,
      'INVALID_ARGUMENT',
      'Idempotency-Key',
    );
    expectError(
      await hold(undefined, { showId: show, seatIds: ['ORCH-A-1'] }),
      401,
      'UNAUTHENTICATED',
      'Authorization',
    );
    // Nothing was held by any of these.
    const seats = await call({ url: `/api/shows/${show}/availability`, token: buyer.token });
    expect(seats.body.seats.every((s: { state: string }) => s.state === 'free')).toBe(true);
  });

  it('DELETE /api/holds/:holdId releases my hold; someone else’s is 403, an unknown one 404', async () => {
    const held = await hold(buyer.token, { showId: stack.otherShow.id, seatIds: ['ORCH-A-3'] });
    expectError(
      await call({ method: 'DELETE', url: `/api/holds/${held.body.id}`, token: rival.token }),
      403,
      'PERMISSION_DENIED',
      'holdId',
    );
    expectError(await call({ method: 'DELETE', url: `/api/holds/${held.body.id}` }), 401, 'UNAUTHENTICATED');
    const released = await call({ method: 'DELETE', url: `/api/holds/${held.body.id}`, token: buyer.token });
    expect(released.status).toBe(200);
    expect(released.body).toMatchObject({ id: held.body.id, state: 'released' });
    expectError(
      await call({ method: 'DELETE', url: `/api/holds/${held.body.id}`, token: buyer.token }),
      409,
      'FAILED_PRECONDITION',
      undefined,
      'already released',
    );
    expectError(
      await call({ method: 'DELETE', url: '/api/holds/hold_nope', token: buyer.token }),
      404,
      'NOT_FOUND',
      'holdId',
    );
  });

  it('checkout: a declined card is 409 on card.number and keeps the hold; then a good card books', async () => {
    const held = await hold(buyer.token, { showId: stack.otherShow.id, seatIds: ['ORCH-B-1'] });
    const declined = await checkout(buyer.token, held.body.id, DECLINED_CARD);
    expectError(declined, 409, 'FAILED_PRECONDITION', 'card.number', 'card declined');
    const paid = await checkout(buyer.token, held.body.id);
    expect(paid.status).toBe(201);
    expect(paid.body.seats).toEqual([{ seatId: 'ORCH-B-1', label: 'Orchestra B1', amountCents: 4500 }]);
    expectError(
      await checkout(buyer.token, held.body.id),
      409,
      'FAILED_PRECONDITION',
      undefined,
      'already confirmed',
    );
  });

  it('checkout names what is wrong with the card, and refuses other people’s and unknown holds', async () => {
    const held = await hold(buyer.token, { showId: stack.otherShow.id, seatIds: ['ORCH-B-2'] });
    const id = held.body.id as string;
    expectError(
      await call({ method: 'POST', url: `/api/holds/${id}/checkout`, token: buyer.token, body: {} }),
      400,
      'INVALID_ARGUMENT',
      'card',
      'required',
    );
    expectError(await checkout(buyer.token, id, 'card'), 400, 'INVALID_ARGUMENT', 'card', 'object');
    expectError(
      await checkout(buyer.token, id, { ...GOOD_CARD, expMonth: 'May' }),
      400,
      'INVALID_ARGUMENT',
      'card.expMonth',
      'integer',
    );
    expectError(
      await checkout(buyer.token, id, { ...GOOD_CARD, cvc: undefined }),
      400,
      'INVALID_ARGUMENT',
      'card.cvc',
      'required',
    );
    expectError(
      await checkout(buyer.token, id, { ...GOOD_CARD, pin: '1234' }),
      400,
      'INVALID_ARGUMENT',
      'card.pin',
    );
    expectError(
      await checkout(buyer.token, id, { ...GOOD_CARD, number: '4242 4242 4242 4241' }),
      400,
      'INVALID_ARGUMENT',
      'card.number',
      'checksum',
    );
    expectError(
      await checkout(buyer.token, id, { ...GOOD_CARD, expMonth: 13 }),
      400,
      'INVALID_ARGUMENT',
      'card.expMonth',
      /^card\.expMonth: /,
    );
    expectError(await checkout(rival.token, id), 403, 'PERMISSION_DENIED', 'holdId');
    expectError(await checkout(buyer.token, 'hold_nope'), 404, 'NOT_FOUND', 'holdId');
    expectError(
      await call({ method: 'POST', url: `/api/holds/${id}/checkout`, body: { card: GOOD_CARD } }),
      401,
      'UNAUTHENTICATED',
    );
    expect((await call({ method: 'DELETE', url: `/api/holds/${id}`, token: buyer.token })).status).toBe(200);
  });

  it('checkout of an expired hold is 409', async () => {
    const held = await hold(buyer.token, { showId: stack.otherShow.id, seatIds: ['BALC-1-1'] });
    expect(held.status).toBe(201);
    stack.advance(11 * 60 * 1000); // past the 10-minute hold
    try {
      expectError(
        await checkout(buyer.token, held.body.id),
        409,
        'FAILED_PRECONDITION',
        undefined,
        'expired',
      );
    } finally {
      stack.advance(-11 * 60 * 1000);
    }
  });

  it('bookings: someone else’s is 403, an unknown one 404, and pages are checked', async () => {
    const held = await hold(buyer.token, { showId: stack.otherShow.id, seatIds: ['BALC-1-2'] });
    const paid = await checkout(buyer.token, held.body.id);
    expect(paid.status).toBe(201);
    expectError(
      await call({ url: `/api/bookings/${paid.body.id}`, token: rival.token }),
      403,
      'PERMISSION_DENIED',
      'bookingId',
    );
    expectError(
      await call({ method: 'POST', url: `/api/bookings/${paid.body.id}/cancel`, token: rival.token }),
      403,
      'PERMISSION_DENIED',
      'bookingId',
    );
    expectError(
      await call({ url: '/api/bookings/bk_nope', token: buyer.token }),
      404,
      'NOT_FOUND',
      'bookingId',
    );
    expectError(
      await call({ method: 'POST', url: '/api/bookings/bk_nope/cancel', token: buyer.token }),
      404,
      'NOT_FOUND',
    );
    expectError(await call({ url: `/api/bookings/${paid.body.id}` }), 401, 'UNAUTHENTICATED');
    expectError(await call({ url: '/api/bookings' }), 401, 'UNAUTHENTICATED');
    expectError(
      await call({ url: '/api/bookings?pageSize=-1', token: buyer.token }),
      400,
      'INVALID_ARGUMENT',
      'pageSize',
    );
    expectError(
      await call({
        method: 'POST',
        url: `/api/bookings/${paid.body.id}/cancel`,
        token: buyer.token,
        body: { reason: 'x' },
      }),
      400,
      'INVALID_ARGUMENT',
      'reason',
    );
    // The rival has none; the buyer's first page holds this one.
    expect((await call({ url: '/api/bookings', token: rival.token })).body).toEqual({
      bookings: [],
      nextPageToken: null,
    });
    const page = await call({ url: '/api/bookings?pageSize=1', token: buyer.token });
    expect(page.body.bookings).toHaveLength(1);
    expect(typeof page.body.nextPageToken).toBe('string');
  });
});

describe('cluster routes without a reachable peer', () => {
  it('GET /api/cluster reports an unreachable node as such', async () => {
    const reply = await call({ url: '/api/cluster' });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      master: null,
      nodes: [{ nodeId: 1, reachable: false, error: expect.stringContaining('UNAVAILABLE') }],
      lamport: expect.any(Number),
    });
  });
});

describe('live seat map (server-sent events)', () => {
  it('a subscriber gets a snapshot, then the seats a hold took; the poller stops when it leaves', async () => {
    const showId = stack.show.id;
    const client = await SseClient.open(
      stack.port,
      `/api/shows/${showId}/events?access_token=${buyer.token}`,
    );
    try {
      expect(client.status).toBe(200);
      expect(client.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(client.headers['x-accel-buffering']).toBe('no');
      const snapshot = await client.next((e) => e.event === 'snapshot', 'a snapshot');
      expect(snapshot.data).toMatchObject({ showId, seats: expect.any(Array), lamport: expect.any(Number) });
      expect(snapshot.data.seats.find((s: { seatId: string }) => s.seatId === 'ORCH-A-3').state).toBe('free');
      await eventually(() => expect(stack.gateway.showFeeds.pollers()).toEqual([showId]));

      const held = await call({
        method: 'POST',
        url: '/api/holds',
        token: rival.token,
        body: { showId, seatIds: ['ORCH-A-3'], ga: [{ areaId: 'FLOOR', quantity: 3 }] },
      });
      expect(held.status).toBe(201);
      const change = await client.next(
        (e) => e.event === 'seats' && e.data.seats.some((s: { seatId: string }) => s.seatId === 'ORCH-A-3'),
        'the held seat',
      );
      expect(change.data.seats).toContainEqual({ seatId: 'ORCH-A-3', state: 'held' });
      expect(change.data).toMatchObject({ showId, at: expect.any(String), lamport: expect.any(Number) });
      await client.next(
        (e) => e.event === 'seats' && e.data.pools.some((p: { held: number }) => p.held >= 3),
        'the GA pool change',
      );
      expect(
        (await call({ method: 'DELETE', url: `/api/holds/${held.body.id}`, token: rival.token })).status,
      ).toBe(200);
      await client.next(
        (e) =>
          e.event === 'seats' &&
          e.data.seats.some(
            (s: { seatId: string; state: string }) => s.seatId === 'ORCH-A-3' && s.state === 'free',
          ),
        'the released seat',
      );
    } finally {
      client.close();
    }
    await eventually(() => expect(stack.gateway.showFeeds.pollers()).toEqual([]));
  });

  it('two subscribers of one show share one poller, which stops only when both left', async () => {
    const url = `/api/shows/${stack.otherShow.id}/events`;
    const a = await SseClient.open(stack.port, url, { authorization: `Bearer ${buyer.token}` });
    const b = await SseClient.open(stack.port, url, { authorization: `Bearer ${rival.token}` });
    await a.next((e) => e.event === 'snapshot', 'a snapshot');
    await b.next((e) => e.event === 'snapshot', 'a snapshot');
    await eventually(() => expect(stack.gateway.showFeeds.subscriberCount()).toBe(2));
    expect(stack.gateway.showFeeds.pollers()).toEqual([stack.otherShow.id]);
    a.close();
    await eventually(() => expect(stack.gateway.showFeeds.subscriberCount()).toBe(1));
    expect(stack.gateway.showFeeds.pollers()).toEqual([stack.otherShow.id]);
    b.close();
    await eventually(() => expect(stack.gateway.showFeeds.pollers()).toEqual([]));
  });

  it('refuses a subscriber without a valid token or for an unknown show with a JSON error', async () => {
    const anonymous = await SseClient.open(stack.port, `/api/shows/${stack.show.id}/events`);
    await anonymous.untilEnded();
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.text).error.code).toBe('UNAUTHENTICATED');
    const unknown = await SseClient.open(
      stack.port,
      `/api/shows/shw_nope/events?access_token=${buyer.token}`,
    );
    await unknown.untilEnded();
    expect(unknown.status).toBe(404);
    expect(stack.gateway.showFeeds.pollers()).toEqual([]);
  });
});
