/**
 * The HTTP front door as a browser meets it: nginx on a free port (the 8080 server of nginx.conf)
 * over the two gateways of the real stack (startStack, as `npm start` runs it). The UI's files and
 * the API come through it, compressed; event streams pass unbuffered; a burst over the rate limit
 * gets 429 in the API's error shape; and a booking paid for while the master is SIGKILLed ends as
 * exactly one booking on every surviving node.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  GOOD_CARD,
  SseReader,
  bookingsInDatabase,
  createShow,
  eventually,
  register,
  request,
  startWebStack,
} from './lib/web-stack';
import type { CreatedShow, WebStack } from './lib/web-stack';

const GZIP = { 'accept-encoding': 'gzip' };

let web: WebStack;
let show: CreatedShow;
let base: string;

beforeAll(async () => {
  web = await startWebStack('webapi');
  base = web.stack.webUrl;
  show = await createShow(web.stack, `Front Door Live ${web.suffix}`);
}, 90_000);

afterAll(async () => {
  await web?.stop();
}, 60_000);

/** nginx's access log lines so far (the format `marquee` of nginx.conf: no query strings). */
function accessLog(): string[] {
  return readFileSync(path.join(web.dataDir, 'logs', 'nginx-access.log'), 'utf8')
    .trim()
    .split('\n');
}

/** Seat ids of the show, in map order. */
async function seatIds(token: string): Promise<string[]> {
  const reply = await request(base, `/api/shows/${show.showId}/availability`, { token });
  expect(reply.status).toBe(200);
  return (reply.json.seats as { seatId: string }[]).map((s) => s.seatId);
}

describe('the HTTP front door (nginx :8080 → gateway ×2)', () => {
  it('serves the web UI: index.html at / and for the UI routes, its scripts and styles compressed', async () => {
    const index = await request(base, '/', { headers: GZIP });
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.text).toMatch(/<html/i);
    // A reload on a UI route still gets the app (the UI routes by hash, but a path must not 404).
    expect((await request(base, '/events')).text).toBe(index.text);
    const assets = [
      ...[...index.text.matchAll(/<script[^>]+src="([^"]+)"/g)].map((m) => m[1]!),
      ...[...index.text.matchAll(/<link[^>]+href="([^"]+\.css)"/g)].map((m) => m[1]!),
    ].filter((src) => !/^[a-z]+:/i.test(src));
    expect(assets.length).toBeGreaterThan(0);
    for (const file of [
      { url: '/', reply: index },
      ...(await Promise.all(
        assets.map(async (src) => ({
          url: src,
          reply: await request(base, new URL(src, `${base}/`).pathname, { headers: GZIP }),
        })),
      )),
    ]) {
      expect({ url: file.url, status: file.reply.status }).toEqual({ url: file.url, status: 200 });
      // nginx compresses what is worth it (gzip_min_length 512).
      const compressed = file.reply.headers['content-encoding'] === 'gzip';
      expect({ url: file.url, compressed }).toEqual({
        url: file.url,
        compressed: file.reply.text.length >= 512,
      });
    }
  });

  it('serves the API: search, Authorization and Idempotency-Key passed through, JSON gzipped, both gateways used', async () => {
    const found = await request(base, `/api/events?q=${encodeURIComponent(show.title)}`);
    expect(found.status).toBe(200);
    expect(found.headers['x-lamport']).toMatch(/^\d+$/);
    expect(JSON.stringify(found.json)).toContain(show.eventId);

    const openapi = await request(base, '/api/openapi.json', { headers: GZIP });
    expect(openapi.headers['content-encoding']).toBe('gzip');
    expect(openapi.headers['content-type']).toMatch(/^application\/json/);
    expect(openapi.json.openapi).toMatch(/^3\./);

    const anonymous = await request(base, '/api/me');
    expect(anonymous.status).toBe(401);
    expect(anonymous.json).toEqual({
      error: expect.objectContaining({ code: 'UNAUTHENTICATED', message: expect.any(String) }),
    });
    const user = await register(base, 'frontdoor');
    const me = await request(base, '/api/me', { token: user.token });
    expect(me.status).toBe(200);
    expect(me.json.email).toBe(user.email);

    // The key reaches the gateway (it answers with the key it used) and a repeat gets the first answer.
    const key = `web-e2e-register-${web.suffix}`;
    const body = { email: `again-${web.suffix}@example.com`, password: 'correct horse battery' };
    const first = await request(base, '/api/auth/register', {
      method: 'POST',
      body,
      headers: { 'idempotency-key': key },
    });
    expect(first.status).toBe(201);
    expect(first.headers['idempotency-key']).toBe(key);
    const repeat = await request(base, '/api/auth/register', {
      method: 'POST',
      body,
      headers: { 'idempotency-key': key },
    });
    expect(repeat.status).toBe(201);
    expect(repeat.json.user.id).toBe(first.json.user.id);

    // Round robin: the access log names both gateways as upstreams of API calls.
    const upstreams = new Set(
      accessLog()
        .filter((line) => line.includes(' /api/'))
        .map((line) => /upstream=(\S+)/.exec(line)?.[1]),
    );
    expect([...upstreams].sort()).toEqual(
      web.stack.gatewayUrls.map((url) => url.replace('http://', '')).sort(),
    );
  });

  it('passes event streams on unbuffered: a seat held after the stream opened arrives through nginx', async () => {
    const user = await register(base, 'watcher');
    const [seat] = await seatIds(user.token);
    const stream = new SseReader(
      `${base}/api/shows/${show.showId}/events?access_token=${encodeURIComponent(user.token)}`,
      GZIP,
    );
    const cluster = new SseReader(`${base}/api/cluster/events`, GZIP);
    try {
      await stream.opened();
      expect(stream.status).toBe(200);
      expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(stream.headers['content-encoding']).toBeUndefined();
      const snapshot = await stream.next((e) => e.event === 'snapshot', 10000);
      expect(snapshot.data.seats.find((s: { seatId: string }) => s.seatId === seat).state).toBe('free');
      const from = stream.events.length;

      const hold = await request(base, '/api/holds', {
        method: 'POST',
        token: user.token,
        body: { showId: show.showId, seatIds: [seat] },
      });
      expect(hold.status).toBe(201);
      // The stream stays open (no end, no flush from nginx): the change must come through as it happens.
      const change = await stream.next(
        (e) =>
          (e.event === 'seats' || e.event === 'snapshot') &&
          (e.data.seats as { seatId: string; state: string }[]).some(
            (s) => s.seatId === seat && s.state === 'held',
          ),
        5000,
        from,
      );
      expect(change.data.showId).toBe(show.showId);

      await cluster.opened();
      expect(cluster.headers['content-encoding']).toBeUndefined();
      const nodes = await cluster.next((e) => e.event === 'snapshot', 10000);
      expect(JSON.stringify(nodes.data)).toContain('master');
    } finally {
      stream.close();
      cluster.close();
    }
    // The token in the stream's query string is not in nginx's log (nor anywhere a log line shows).
    await eventually(async () => expect(accessLog().some((l) => l.includes('/events'))).toBe(true));
    expect(accessLog().join('\n')).not.toContain(user.token.slice(0, 20));
  });

  it('a booking made through nginx while the master is SIGKILLed results in exactly one booking', async () => {
    const user = await register(base, 'failover');
    const seats = (await seatIds(user.token)).slice(4, 6);
    const { masterId, term } = await web.stack.waitForMaster(15000);

    const holdKey = `web-e2e-hold-${web.suffix}`;
    const hold = await request(base, '/api/holds', {
      method: 'POST',
      token: user.token,
      body: { showId: show.showId, seatIds: seats },
      headers: { 'idempotency-key': holdKey },
    });
    expect(hold.status).toBe(201);
    expect(hold.headers['idempotency-key']).toBe(holdKey);

    // Pay while the master dies: the gateway retries through the election with the same key.
    const payKey = `web-e2e-pay-${web.suffix}`;
    const pay = (): Promise<Awaited<ReturnType<typeof request>>> =>
      request(base, `/api/holds/${hold.json.id}/checkout`, {
        method: 'POST',
        token: user.token,
        body: { card: GOOD_CARD },
        headers: { 'idempotency-key': payKey },
      });
    const [paid, killed] = await Promise.all([pay(), web.stack.kill(masterId)]);
    expect(killed.state).toBe('killed');
    expect({ status: paid.status, body: paid.json }).toEqual({
      status: 201,
      body: expect.objectContaining({ state: 'confirmed', holdId: hold.json.id }),
    });
    const bookingId = paid.json.id as string;
    const after = await web.stack.waitForMaster(15000);
    expect(after.masterId).not.toBe(masterId);
    expect(after.term).toBeGreaterThan(term);

    // A buyer clicking "Pay" again gets the same booking, not a second one.
    const again = await pay();
    expect(again.status).toBe(201);
    expect(again.json.id).toBe(bookingId);

    // Every surviving node's own database: one confirmed booking for this user, and nothing else.
    const live = web.stack.nodes().filter((n) => n.state === 'running');
    expect(live.map((n) => n.id).sort()).toEqual([1, 2, 3].filter((id) => id !== masterId));
    for (const node of live)
      await eventually(async () =>
        expect({ node: node.id, bookings: await bookingsInDatabase(node.database, user.userId) }).toEqual({
          node: node.id,
          bookings: { CONFIRMED: 1 },
        }),
      );
    const mine = await request(base, '/api/bookings', { token: user.token });
    expect(mine.status).toBe(200);
    expect(JSON.stringify(mine.json)).toContain(bookingId);
    expect((JSON.stringify(mine.json).match(/"state":"confirmed"/g) ?? []).length).toBe(1);
  });

  it('answers a burst over the API rate limit with 429 in the API error shape, the UI unaffected', async () => {
    const replies = await Promise.all(Array.from({ length: 90 }, () => request(base, '/api/openapi.json')));
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    // burst=40 nodelay: about 41 pass at once, the rest are refused until the bucket drains (20/s).
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(40);
    const limited = replies.find((r) => r.status === 429);
    expect(limited).toBeDefined();
    expect(limited!.headers['content-type']).toMatch(/^application\/json/);
    expect(limited!.headers['retry-after']).toBe('1');
    expect(limited!.json).toEqual({
      error: { code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('too many requests') },
    });
    // The limit is on /api/ only: the UI's files still load.
    expect((await request(base, '/')).status).not.toBe(429);
  });
});
