import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '../../../scripts/lib/processes';
import { freshDatabase, testMysqlUrl } from '../../../test/databases';
import { loadConfig as loadBookingConfig } from '../../booking/config';
import { startBookingServer } from '../../booking/server';
import type { BookingServer } from '../../booking/server';
import { SECRET } from '../../catalog/__tests__/harness';
import { loadConfig as loadCatalogConfig } from '../../catalog/config';
import { startCatalogServer } from '../../catalog/server';
import type { RunningCatalogServer } from '../../catalog/server';
import { parsePrometheusText, scrapeMetrics, sumOf } from '../../common/metrics';
import type { Sample } from '../../common/metrics';
import { histogramQuantile, scrapeOf, targetSummary, withLag } from '../metrics-summary';
import type { TargetSummary } from '../metrics-summary';
import type { Gateway } from '../server';
import { logger, send, startGateway } from './harness';

/*
 * The gateway's own GET /metrics (route patterns, never raw URLs) and GET /api/metrics/summary over
 * REAL catalog and booking /metrics endpoints, with one endpoint down and one answering an error:
 * those are listed unreachable and the route still answers 200. The reductions (p99 from buckets,
 * rates over the window, lag from the master's view) are checked on their own with fixed samples.
 */

let catalogDb: Awaited<ReturnType<typeof freshDatabase>>;
let catalog: RunningCatalogServer;
let bookingDb: Awaited<ReturnType<typeof freshDatabase>>;
let booking: BookingServer;
let broken: http.Server;
let gateway: Gateway;
let port: number;
let deadAddress: string;

beforeAll(async () => {
  catalogDb = await freshDatabase('gwmetcat');
  catalog = await startCatalogServer({
    config: loadCatalogConfig({
      MARQUEE_CATALOG_PORT: '0',
      MARQUEE_TOKEN_SECRET: SECRET,
      MARQUEE_LOG_LEVEL: 'silent',
      MARQUEE_CATALOG_DB: catalogDb.name,
      MARQUEE_METRICS_PORT: '0',
    }),
    logger,
    pool: catalogDb.pool,
  });
  bookingDb = await freshDatabase('gwmetbk');
  booking = await startBookingServer({
    config: loadBookingConfig({
      MARQUEE_BOOKING_PORT: '0',
      MARQUEE_MYSQL_URL: testMysqlUrl(),
      MARQUEE_BOOKING_DB: bookingDb.name,
      MARQUEE_CATALOG_ADDR: `127.0.0.1:${catalog.port}`,
      MARQUEE_TOKEN_SECRET: SECRET,
      MARQUEE_BOOKING_MYSQL_CONNECTIONS: '4',
      MARQUEE_LOG_LEVEL: 'silent',
      MARQUEE_METRICS_PORT: '0',
    }),
    logger,
    pool: bookingDb.pool,
  });
  // An endpoint that answers, but not with metrics.
  broken = http.createServer((_request, response) => response.writeHead(500).end('boom'));
  await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
  deadAddress = `127.0.0.1:${await freePort()}`;
  ({ gateway, port } = await startGateway(
    {
      MARQUEE_CATALOG_ADDR: `127.0.0.1:${catalog.port}`,
      MARQUEE_BOOKING_ADDRS: `1=127.0.0.1:${booking.port}`,
      MARQUEE_PEERS: `1=${deadAddress}`,
      MARQUEE_METRICS_PORT: '0',
      MARQUEE_METRICS_ADDRS: [
        `catalog=127.0.0.1:${catalog.metricsPort}`,
        `booking-1=127.0.0.1:${booking.metricsPort}`,
        `booking-2=${deadAddress}`,
        `broken=127.0.0.1:${(broken.address() as AddressInfo).port}`,
      ].join(','),
    },
    { metricsSummaryMinIntervalMs: 0 },
  ));
});

afterAll(async () => {
  await gateway?.stop();
  await new Promise((resolve) => broken?.close(resolve));
  await booking?.stop();
  await bookingDb?.drop();
  await catalog?.stop();
  await catalogDb?.drop();
});

const scrapeGateway = (): Promise<Sample[]> =>
  scrapeMetrics(`http://127.0.0.1:${gateway.metricsPort()}/metrics`);

describe('gateway GET /metrics', () => {
  it('counts requests by route pattern, method and status, never by raw URL', async () => {
    const before = await scrapeGateway();
    const count = (samples: Sample[], route: string, status: string) =>
      sumOf(samples, 'marquee_http_requests_total', { route, method: 'GET', status });
    expect((await send(port, { url: '/api/events/no-such-event' })).status).toBe(404);
    expect((await send(port, { url: '/api/events/another-missing-one' })).status).toBe(404);
    expect((await send(port, { url: '/api/nope/42' })).status).toBe(404);
    expect((await send(port, { url: '/api/openapi.json' })).status).toBe(200);

    const after = await scrapeGateway();
    expect(count(after, '/api/events/:eventId', '404') - count(before, '/api/events/:eventId', '404')).toBe(
      2,
    );
    expect(count(after, '(no route)', '404') - count(before, '(no route)', '404')).toBe(1);
    expect(count(after, '/api/openapi.json', '200') - count(before, '/api/openapi.json', '200')).toBe(1);
    for (const sample of after) {
      expect(sample.labels.service).toBe('gateway');
      expect(JSON.stringify(sample.labels)).not.toMatch(/no-such-event|another-missing|nope/);
    }
    const timed = (samples: Sample[]) =>
      sumOf(samples, 'marquee_http_request_duration_seconds_count', { route: '/api/events/:eventId' });
    expect(timed(after) - timed(before)).toBe(2);
    expect(after.some((s) => s.name === 'marquee_gateway_upstream_retries_total')).toBe(true);
    expect(sumOf(after, 'marquee_gateway_upstream_retries_total')).toBe(gateway.upstreams.retries);
  });
});

describe('GET /api/metrics/summary', () => {
  const byName = (targets: TargetSummary[]) => new Map(targets.map((t) => [t.name, t]));

  it('lists every endpoint; one down or answering an error is unreachable, not a 500', async () => {
    const reply = await send(port, { url: '/api/metrics/summary' });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ at: expect.any(String), lamport: expect.any(Number) });
    const targets = byName(reply.body.targets);
    expect([...targets.keys()]).toEqual(['catalog', 'booking-1', 'booking-2', 'broken']);
    expect(targets.get('catalog')).toMatchObject({
      reachable: true,
      error: null,
      requests: expect.any(Number),
    });
    // A single node (no cluster mode): no term, role or lag to report.
    expect(targets.get('booking-1')).toMatchObject({
      reachable: true,
      nodeId: 1,
      term: null,
      role: null,
      lagEntries: null,
    });
    expect(targets.get('booking-2')).toMatchObject({
      reachable: false,
      address: deadAddress,
      error: expect.stringMatching(/ECONNREFUSED/),
      requests: null,
    });
    expect(targets.get('broken')).toMatchObject({
      reachable: false,
      error: expect.stringContaining('HTTP 500'),
    });
  });

  it('gives the calls, errors, rate and p99 of the interval since its previous scrape', async () => {
    // The catalog's own endpoint, read right after each summary (nothing else calls the catalog here).
    const own = async () => {
      const samples = await scrapeMetrics(`http://127.0.0.1:${catalog.metricsPort}/metrics`);
      const calls = (code?: string) =>
        samples
          .filter((s) => s.name === 'marquee_grpc_requests_total')
          .filter((s) => s.labels.grpc_service === 'marquee.catalog.v1.CatalogService')
          .filter((s) => code === undefined || s.labels.grpc_code !== code)
          .reduce((sum, s) => sum + s.value, 0);
      return { requests: calls(), errors: calls('OK') };
    };
    const first = byName((await send(port, { url: '/api/metrics/summary' })).body.targets).get('catalog')!;
    expect({ requests: first.requests, errors: first.errors }).toEqual(await own());
    for (let i = 0; i < 4; i++) expect((await send(port, { url: '/api/events?q=jazz' })).status).toBe(200);
    expect((await send(port, { url: '/api/events/missing-event' })).status).toBe(404);
    const second = byName((await send(port, { url: '/api/metrics/summary' })).body.targets).get('catalog')!;
    expect({ requests: second.requests, errors: second.errors }).toEqual(await own());

    expect(second.requests! - first.requests!).toBeGreaterThanOrEqual(5);
    expect(second.errors! - first.errors!).toBeGreaterThanOrEqual(1);
    expect(second.windowSeconds).toBeGreaterThan(0);
    expect(second.requestsPerSecond).toBeGreaterThan(0);
    expect(second.p99Ms).toBeGreaterThan(0);
  });
});

describe('summary reductions', () => {
  const text = (lines: string[]) => parsePrometheusText(lines.join('\n'));
  const bucket = (le: string, value: number, method = 'GetEvent') =>
    `marquee_grpc_request_duration_seconds_bucket{grpc_service="marquee.catalog.v1.CatalogService",grpc_method="${method}",le="${le}"} ${value}`;

  it('histogramQuantile interpolates within the bucket and stops at the highest finite bound', () => {
    const buckets = new Map([
      [0.001, 0],
      [0.01, 50],
      [0.1, 100],
      [Infinity, 100],
    ]);
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.01);
    expect(histogramQuantile(0.99, buckets)).toBeCloseTo(0.01 + 0.09 * (49 / 50));
    expect(
      histogramQuantile(
        0.99,
        new Map([
          [0.5, 10],
          [Infinity, 1000],
        ]),
      ),
    ).toBe(0.5);
    expect(histogramQuantile(0.99, new Map([[Infinity, 0]]))).toBeUndefined();
  });

  it('rates and p99 over the window; health checks left out; a restart starts the counts over', () => {
    const earlier = scrapeOf(
      text([
        'marquee_grpc_requests_total{grpc_service="marquee.catalog.v1.CatalogService",grpc_code="OK"} 10',
        'marquee_grpc_requests_total{grpc_service="grpc.health.v1.Health",grpc_code="OK"} 500',
        bucket('0.01', 10),
        bucket('+Inf', 10),
        'marquee_catalog_cache_hits_total 5',
        'marquee_catalog_cache_misses_total 5',
      ]),
      1000,
    );
    const later = scrapeOf(
      text([
        'marquee_grpc_requests_total{grpc_service="marquee.catalog.v1.CatalogService",grpc_code="OK"} 28',
        'marquee_grpc_requests_total{grpc_service="marquee.catalog.v1.CatalogService",grpc_code="NOT_FOUND"} 2',
        'marquee_grpc_requests_total{grpc_service="grpc.health.v1.Health",grpc_code="OK"} 900',
        bucket('0.01', 10),
        bucket('+Inf', 10),
        bucket('0.01', 0, 'SearchEvents'),
        bucket('0.1', 20, 'SearchEvents'),
        bucket('+Inf', 20, 'SearchEvents'),
        'marquee_catalog_cache_hits_total 14',
        'marquee_catalog_cache_misses_total 6',
      ]),
      3000,
    );
    const summary = targetSummary('catalog', 'c:1', later, earlier);
    expect(summary).toMatchObject({ requests: 30, errors: 2, windowSeconds: 2, requestsPerSecond: 10 });
    // Only the 20 calls of the window, all between 10 and 100 ms.
    expect(summary.p99Ms).toBeCloseTo(10 + 90 * 0.99, 1);
    expect(summary.cacheHitRatio).toBe(0.9);
    expect(targetSummary('catalog', 'c:1', later, undefined)).toMatchObject({
      windowSeconds: null,
      requestsPerSecond: null,
      p99Ms: null,
      cacheHitRatio: null,
    });
    // The process restarted between the scrapes: the later counts are all new.
    const restarted = targetSummary('catalog', 'c:1', earlier, { ...later, at: 0 });
    expect(restarted.requestsPerSecond).toBe(10);
  });

  it("lag comes from the master's view; the master itself is 0 behind", () => {
    const node = (id: number, role: string, lag: string[] = []) =>
      scrapeOf(
        text([
          `marquee_election_term{node_id="${id}"} 4`,
          `marquee_election_role{node_id="${id}",role="slave"} ${role === 'slave' ? 1 : 0}`,
          `marquee_election_role{node_id="${id}",role="master"} ${role === 'master' ? 1 : 0}`,
          ...lag,
        ]),
        0,
      );
    const scrapes = new Map([
      ['booking-1', node(1, 'slave')],
      ['booking-2', node(2, 'slave')],
      [
        'booking-3',
        node(3, 'master', [
          'marquee_replication_slave_lag_entries{node_id="3",slave="1"} 7',
          'marquee_replication_slave_lag_entries{node_id="3",slave="2"} 0',
        ]),
      ],
    ]);
    const targets = [...scrapes].map(([name, scrape]) => targetSummary(name, name, scrape, undefined));
    const lagged = withLag(targets, scrapes);
    expect(lagged.map((t) => [t.name, t.nodeId, t.role, t.term, t.lagEntries])).toEqual([
      ['booking-1', 1, 'slave', 4, 7],
      ['booking-2', 2, 'slave', 4, 0],
      ['booking-3', 3, 'master', 4, 0],
    ]);
    // No reachable master: nobody's lag is known.
    expect(withLag(targets.slice(0, 2), scrapes).map((t) => t.lagEntries)).toEqual([null, null]);
  });
});
