import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { HealthClient } from '../../../proto/gen/grpc/health/v1/health';
import { ConfigError } from '../config';
import { startGrpcServer } from '../grpc-server';
import type { RunningServer } from '../grpc-server';
import {
  Metrics,
  parsePrometheusText,
  readMetricsEndpoint,
  scrapeMetrics,
  startMetricsServer,
  sumOf,
} from '../metrics';
import type { MetricsServer } from '../metrics';

/*
 * The shared metrics pieces over real sockets: a gRPC server (only health and reflection, which every
 * server has) counting its calls by code, the /metrics endpoint, the read-at-scrape helpers, the
 * text-format parser and the MARQUEE_METRICS_PORT reader.
 */

const logger = pino({ level: 'silent' });

describe('gRPC server metrics and the /metrics endpoint', () => {
  let metrics: Metrics;
  let server: RunningServer;
  let endpoint: MetricsServer;
  let health: HealthClient;

  beforeAll(async () => {
    metrics = new Metrics({ service: 'probe', nodeId: 7 });
    server = await startGrpcServer({ host: '127.0.0.1', port: 0, services: [], logger, metrics });
    endpoint = await startMetricsServer({ endpoint: { host: '127.0.0.1', port: 0 }, metrics, logger });
    health = new HealthClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    health.close();
    await server.stop();
    await endpoint.stop();
  });

  const check = (service: string): Promise<grpc.status> =>
    new Promise((resolve) =>
      health.check({ service }, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (error) =>
        resolve(error ? error.code : grpc.status.OK),
      ),
    );

  it('counts each call by service, method and code name, and times unary calls', async () => {
    const calls = (code: string): number =>
      sumOf(samples, 'marquee_grpc_requests_total', {
        grpc_service: 'grpc.health.v1.Health',
        grpc_method: 'Check',
        grpc_type: 'unary',
        grpc_code: code,
      });
    let samples = await scrapeMetrics(endpoint.url);
    const before = { ok: calls('OK'), notFound: calls('NOT_FOUND') };

    expect(await check('')).toBe(grpc.status.OK);
    expect(await check('')).toBe(grpc.status.OK);
    expect(await check('no.such.Service')).toBe(grpc.status.NOT_FOUND);

    samples = await scrapeMetrics(endpoint.url);
    expect(calls('OK') - before.ok).toBe(2);
    expect(calls('NOT_FOUND') - before.notFound).toBe(1);
    const timed = sumOf(samples, 'marquee_grpc_request_duration_seconds_count', {
      grpc_service: 'grpc.health.v1.Health',
      grpc_method: 'Check',
    });
    expect(timed).toBe(before.ok + before.notFound + 3);
    // The +Inf bucket holds every timed call; the buckets run from 1 ms to 10 s.
    const le = samples
      .filter((s) => s.name === 'marquee_grpc_request_duration_seconds_bucket')
      .map((s) => s.labels.le);
    expect(new Set(le)).toEqual(
      new Set([
        '0.001',
        '0.0025',
        '0.005',
        '0.01',
        '0.025',
        '0.05',
        '0.1',
        '0.25',
        '0.5',
        '1',
        '2.5',
        '5',
        '10',
        '+Inf',
      ]),
    );
  });

  it('labels every series with the service and node id, process metrics included', async () => {
    const samples = await scrapeMetrics(endpoint.url);
    expect(samples.length).toBeGreaterThan(10);
    for (const sample of samples) expect(sample.labels).toMatchObject({ service: 'probe', node_id: '7' });
    expect(samples.some((s) => s.name === 'marquee_process_cpu_user_seconds_total')).toBe(true);
    expect(samples.some((s) => s.name === 'marquee_nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('serves /healthz, refuses other paths and methods', async () => {
    const base = endpoint.url.replace(/\/metrics$/, '');
    const healthz = await fetch(`${base}/healthz`);
    expect([healthz.status, await healthz.text()]).toEqual([200, 'ok\n']);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(endpoint.url, { method: 'POST' })).status).toBe(405);
    const head = await fetch(endpoint.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});

describe('Metrics helpers', () => {
  it('counterOf, gaugeOf and gaugesOf read their source at every scrape', async () => {
    const metrics = new Metrics({ service: 'probe' });
    let total = 3;
    let level: number | undefined = undefined;
    let series: [Record<string, string>, number][] = [[{ slave: '2' }, 5]];
    metrics.counterOf('probe_things_total', 'things', () => total);
    metrics.gaugeOf('probe_level', 'level', () => level);
    metrics.gaugesOf('probe_lag', 'lag', ['slave'], () => series);

    let samples = parsePrometheusText(await metrics.text());
    expect(sumOf(samples, 'probe_things_total')).toBe(3);
    expect(samples.some((s) => s.name === 'probe_level')).toBe(false); // nothing to say yet
    expect(sumOf(samples, 'probe_lag', { slave: '2' })).toBe(5);

    total = 10;
    level = 1.5;
    series = [[{ slave: '3' }, 0]];
    samples = parsePrometheusText(await metrics.text());
    expect(sumOf(samples, 'probe_things_total')).toBe(10);
    expect(sumOf(samples, 'probe_level')).toBe(1.5);
    // A slave that left the group leaves no stale series behind.
    expect(samples.filter((s) => s.name === 'probe_lag').map((s) => s.labels.slave)).toEqual(['3']);
  });

  it('gives back the metric already registered under a name, and refuses another type', () => {
    const metrics = new Metrics({ service: 'probe' });
    const spec = { name: 'probe_calls_total', help: 'calls', labelNames: ['code'] as const };
    expect(metrics.counter(spec)).toBe(metrics.counter(spec));
    expect(() => metrics.gauge({ name: 'probe_calls_total', help: 'calls' })).toThrow(/another type/);
  });

  it('two registries in one process count separately', async () => {
    const a = new Metrics({ service: 'a' });
    const b = new Metrics({ service: 'b' });
    a.counter({ name: 'probe_total', help: 'x' }).inc(2);
    b.counter({ name: 'probe_total', help: 'x' }).inc(5);
    expect(sumOf(parsePrometheusText(await a.text()), 'probe_total')).toBe(2);
    expect(sumOf(parsePrometheusText(await b.text()), 'probe_total')).toBe(5);
  });
});

describe('parsePrometheusText', () => {
  it('reads names, escaped label values, special values and skips what it cannot read', () => {
    const text = [
      '# HELP x_total things',
      '# TYPE x_total counter',
      'x_total{a="1",b="say \\"hi\\"\\\\ \\n"} 4',
      'y 2.5 1700000000000',
      'z_bucket{le="+Inf"} 7',
      'nan NaN',
      'broken{a="1" 3',
      '',
      'neg -Inf',
    ].join('\n');
    expect(parsePrometheusText(text)).toEqual([
      { name: 'x_total', labels: { a: '1', b: 'say "hi"\\ \n' }, value: 4 },
      { name: 'y', labels: {}, value: 2.5 },
      { name: 'z_bucket', labels: { le: '+Inf' }, value: 7 },
      { name: 'nan', labels: {}, value: NaN },
      { name: 'neg', labels: {}, value: -Infinity },
    ]);
  });
});

describe('readMetricsEndpoint', () => {
  const read = (env: Record<string, string>) =>
    readMetricsEndpoint(env, 'MARQUEE_METRICS_PORT', 'MARQUEE_METRICS_HOST', '10.0.0.1');

  it('is off unless MARQUEE_METRICS_PORT is set; 0 asks for any free port', () => {
    expect(read({})).toBeUndefined();
    expect(read({ MARQUEE_METRICS_PORT: '' })).toBeUndefined();
    expect(read({ MARQUEE_METRICS_PORT: '0' })).toEqual({ host: '10.0.0.1', port: 0 });
    expect(read({ MARQUEE_METRICS_PORT: '9471', MARQUEE_METRICS_HOST: '0.0.0.0' })).toEqual({
      host: '0.0.0.0',
      port: 9471,
    });
  });

  it('names the variable when the port is bad', () => {
    expect(() => read({ MARQUEE_METRICS_PORT: 'nine' })).toThrow(ConfigError);
    expect(() => read({ MARQUEE_METRICS_PORT: '70000' })).toThrow('MARQUEE_METRICS_PORT');
  });
});
