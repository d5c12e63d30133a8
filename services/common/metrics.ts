import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServerInterceptingCall, status as Code } from '@grpc/grpc-js';
import type { ServerInterceptor } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { readPort, readString } from './config';
import type { Env } from './config';

/*
 * Prometheus metrics (issue 5). Every process has ONE Metrics object with its own prom-client
 * Registry (never the global default one: a test starts several servers in one process, and each
 * must count only its own calls). Every series carries `service` (catalog, booking, recommendation,
 * gateway) and, on a booking node, `node_id`.
 *
 * Counts kept elsewhere (cache hits, elections, hold expiries, retrains) are not copied as they
 * happen: a metric reads them from the owner's status at scrape time (counterOf, gaugeOf), so the
 * code that does the work stays free of metrics calls.
 *
 * The text format is served by a bare node:http server on its own port (MARQUEE_METRICS_PORT) at
 * GET /metrics, with GET /healthz beside it: never on a public port (nginx sends every path of the
 * web front door to the gateways, so /metrics there would be public).
 */

/** 1 ms to 10 s: a cached catalog read is well under a millisecond, a failover-spanning call seconds. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** Where a process serves /metrics; absent from a config when MARQUEE_METRICS_PORT is not set. */
export interface MetricsEndpointConfig {
  readonly host: string;
  /** 0 picks a free port (tests); the running server reports the one it got. */
  readonly port: number;
}

/**
 * MARQUEE_METRICS_PORT (unset or empty: no endpoint) and MARQUEE_METRICS_HOST (default: the
 * service's own listen host). Each config.ts passes the two names itself so they appear in it
 * literally: the deploy checks read a service's variables from its config.ts.
 */
export function readMetricsEndpoint(
  env: Env,
  portName: 'MARQUEE_METRICS_PORT',
  hostName: 'MARQUEE_METRICS_HOST',
  defaultHost: string,
): Readonly<MetricsEndpointConfig> | undefined {
  if ((env[portName] ?? '').trim() === '') return undefined;
  return Object.freeze({
    host: readString(env, hostName, defaultHost),
    port: readPort(env, portName, 0),
  });
}

export interface MetricsOptions {
  /** The `service` label of every series: catalog, booking, recommendation, gateway. */
  service: string;
  /** The `node_id` label of every series (booking nodes). */
  nodeId?: number;
}

interface MetricSpec<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

/** One process's registry, with get-or-create helpers (a second server on the same registry reuses a metric). */
export class Metrics {
  readonly registry = new Registry();
  private processMetrics = false;

  constructor(readonly options: MetricsOptions) {
    this.registry.setDefaultLabels({
      service: options.service,
      ...(options.nodeId === undefined ? {} : { node_id: String(options.nodeId) }),
    });
  }

  /** Node's own figures (CPU, memory, event-loop lag, GC, handles) as marquee_process_* and marquee_nodejs_*. */
  collectProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry, prefix: 'marquee_' });
  }

  counter<L extends string = never>(spec: MetricSpec<L>): Counter<L> {
    return this.existing(spec.name, Counter) ?? new Counter<L>({ ...spec, registers: [this.registry] });
  }

  gauge<L extends string = never>(spec: MetricSpec<L>): Gauge<L> {
    return this.existing(spec.name, Gauge) ?? new Gauge<L>({ ...spec, registers: [this.registry] });
  }

  histogram<L extends string = never>(spec: MetricSpec<L> & { buckets: readonly number[] }): Histogram<L> {
    return (
      this.existing(spec.name, Histogram) ??
      new Histogram<L>({ ...spec, buckets: [...spec.buckets], registers: [this.registry] })
    );
  }

  /** A counter whose value is a total kept elsewhere, read at every scrape. `read` must never go down. */
  counterOf(name: string, help: string, read: () => number): void {
    this.registry.removeSingleMetric(name);
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(Math.max(0, read()));
      },
    });
  }

  /** A gauge read at every scrape; `undefined` leaves it without a value (nothing to say yet). */
  gaugeOf(name: string, help: string, read: () => number | undefined): void {
    this.registry.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        const value = read();
        // An unlabelled gauge always has a series (0 after a reset); removing it leaves none.
        if (value === undefined) this.remove({});
        else this.set(value);
      },
    });
  }

  /**
   * A labelled gauge read at every scrape: `read` returns every series there is now (a slave that
   * left the group, a model version replaced, disappears with it).
   */
  gaugesOf<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    read: () => Iterable<readonly [Partial<Record<L, string | number>>, number]>,
  ): void {
    this.registry.removeSingleMetric(name);
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.set(labels, value);
      },
    });
  }

  /** The text exposition format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  private existing<M>(name: string, kind: abstract new (...args: never[]) => M): M | undefined {
    const metric = this.registry.getSingleMetric(name);
    if (metric === undefined) return undefined;
    if (!(metric instanceof kind)) throw new Error(`metric ${name} is registered with another type`);
    return metric;
  }
}

/** google.rpc code names: 5 → NOT_FOUND. */
export function grpcCodeName(code: number | undefined): string {
  return Code[code ?? Code.UNKNOWN] ?? String(code);
}

/**
 * Counts every call a gRPC server answers, by service, method and status code, and times unary ones
 * (a stream's duration is how long its consumer stayed, not a latency). It watches the status on its
 * way out, so statuses set by other interceptors, streaming handlers and grpc-js itself count too;
 * a call the client cancelled (or whose deadline passed) counts as CANCELLED (DEADLINE_EXCEEDED).
 */
export function grpcMetricsInterceptor(metrics: Metrics): ServerInterceptor {
  const requests = metrics.counter({
    name: 'marquee_grpc_requests_total',
    help: 'gRPC calls answered, by service, method and status code (google.rpc code name)',
    labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'],
  });
  const duration = metrics.histogram({
    name: 'marquee_grpc_request_duration_seconds',
    help: 'Time from a unary gRPC call arriving to its status being sent',
    labelNames: ['grpc_service', 'grpc_method'],
    buckets: LATENCY_BUCKETS_SECONDS,
  });
  return (descriptor, call) => {
    const path = descriptor.path; // '/marquee.catalog.v1.CatalogService/GetEvent'
    const slash = path.lastIndexOf('/');
    const names = { grpc_service: path.slice(1, slash), grpc_method: path.slice(slash + 1) };
    const type = descriptor.requestStream
      ? descriptor.responseStream
        ? 'bidi_stream'
        : 'client_stream'
      : descriptor.responseStream
        ? 'server_stream'
        : 'unary';
    const started = process.hrtime.bigint();
    let recorded = false;
    const record = (code: number | undefined): void => {
      if (recorded) return;
      recorded = true;
      requests.inc({ ...names, grpc_type: type, grpc_code: grpcCodeName(code) });
      if (type === 'unary') duration.observe(names, Number(process.hrtime.bigint() - started) / 1e9);
    };
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onCancel: () => {
            const deadline = call.getDeadline();
            const expired = deadline !== Infinity && new Date(deadline).getTime() <= Date.now();
            record(expired ? Code.DEADLINE_EXCEEDED : Code.CANCELLED);
          },
        }),
      sendStatus: (status, next) => {
        record(status.code);
        next(status);
      },
    });
  };
}

export interface MetricsServer {
  readonly port: number;
  /** http://host:port/metrics */
  readonly url: string;
  stop(): Promise<void>;
}

/** Serves GET /metrics (text format) and GET /healthz on a plain node:http server. */
export async function startMetricsServer(options: {
  endpoint: MetricsEndpointConfig;
  metrics: Metrics;
  logger: Logger;
}): Promise<MetricsServer> {
  const { endpoint, metrics, logger } = options;
  metrics.collectProcessMetrics();
  const server = http.createServer((request, response) => {
    const url = (request.url ?? '/').split('?')[0];
    const head = request.method === 'HEAD';
    if (request.method !== 'GET' && !head) {
      response
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' })
        .end('method not allowed\n');
      return;
    }
    if (url === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end(head ? undefined : 'ok\n');
      return;
    }
    if (url !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('see /metrics\n');
      return;
    }
    metrics.text().then(
      (text) => {
        response.writeHead(200, { 'content-type': metrics.registry.contentType });
        response.end(head ? undefined : text);
      },
      (error: unknown) => {
        logger.warn({ err: error }, 'collecting metrics failed');
        response.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
      },
    );
  });
  // A scraper holds its connection open between scrapes: do not let it delay stop().
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(endpoint.port, endpoint.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${port}/metrics`;
  logger.info({ url }, 'metrics endpoint listening');
  let stopped: Promise<void> | undefined;
  return {
    port,
    url,
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

/** One series of the text exposition format. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text format (0.0.4); lines it cannot read are skipped. */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sample = parseLine(line);
    if (sample) samples.push(sample);
  }
  return samples;
}

function parseLine(line: string): Sample | undefined {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) return undefined;
  const name = nameMatch[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i += 1;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i += 1;
      if (line[i] === '}') {
        i += 1;
        break;
      }
      const labelMatch = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"/.exec(line.slice(i));
      if (!labelMatch) return undefined;
      i += labelMatch[0].length;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) return undefined;
        i += 1;
        if (c === '"') break;
        if (c === '\\') {
          const escaped = line[i];
          i += 1;
          value += escaped === 'n' ? '\n' : (escaped ?? '');
        } else value += c;
      }
      labels[labelMatch[1]!] = value;
    }
  }
  const [valueText] = line.slice(i).trim().split(/\s+/);
  const value = parseMetricValue(valueText ?? '');
  return value === undefined ? undefined : { name, labels, value };
}

/** A sample value: a number, +Inf, -Inf or NaN; undefined for anything else. */
export function parseMetricValue(text: string): number | undefined {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (text === '') return undefined;
  const value = Number(text);
  return Number.isNaN(value) ? undefined : value;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when there are none). */
export function sumOf(
  samples: readonly Sample[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  let total = 0;
  for (const sample of samples)
    if (sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
      total += sample.value;
  return total;
}

/** GET http://<address>/metrics, parsed (tests and tools; the gateway's summary has its own, bounded reader). */
export async function scrapeMetrics(url: string): Promise<Sample[]> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`);
  return parsePrometheusText(await response.text());
}
