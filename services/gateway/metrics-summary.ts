import http from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { parseMetricValue, parsePrometheusText } from '../common/metrics';
import type { Sample } from '../common/metrics';
import { metricsSummary } from './schemas/route-schemas';

/*
 * GET /api/metrics/summary: a few of the numbers Prometheus would show, for the operator page,
 * read from the same /metrics endpoints (MARQUEE_METRICS_ADDRS) so the two never disagree. Each
 * read scrapes every target at once; rates and the p99 are taken over the interval since this
 * gateway's previous scrape of that target, as Prometheus's rate() and histogram_quantile() would
 * over a range. Scrapes are shared: a read within `minIntervalMs` of the last one gets its answer.
 *
 * Only marquee.* gRPC services count as requests (health checks and reflection are left out).
 */

/** What one scrape of one target says, reduced to what the summary needs. */
export interface Scrape {
  /** Monotonic milliseconds when the scrape was read. */
  readonly at: number;
  readonly requests: number;
  readonly errors: number;
  /** Upper bound (seconds, Infinity last) → cumulative count of timed calls. */
  readonly buckets: ReadonlyMap<number, number>;
  readonly cacheHits: number | undefined;
  readonly cacheMisses: number | undefined;
  readonly nodeId: number | undefined;
  readonly term: number | undefined;
  readonly role: string | undefined;
  /** On a master: slave node id → entries behind. */
  readonly slaveLag: ReadonlyMap<number, number>;
}

export interface TargetSummary {
  name: string;
  /** host:port of its /metrics endpoint. */
  address: string;
  reachable: boolean;
  /** Why it could not be read (when not reachable). */
  error: string | null;
  /** Booking nodes. */
  nodeId: number | null;
  /** Seconds since the previous scrape of this target, over which the rates are taken (null: first scrape). */
  windowSeconds: number | null;
  /** gRPC calls answered since the process started. */
  requests: number | null;
  /** Of those, calls that ended with a code other than OK. */
  errors: number | null;
  requestsPerSecond: number | null;
  /** 99th percentile of unary call latency over the window, from the histogram (null: no calls in it). */
  p99Ms: number | null;
  /** Catalog: cache hits / lookups over the window. */
  cacheHitRatio: number | null;
  /** Booking nodes in cluster mode. */
  term: number | null;
  role: string | null;
  /** Booking nodes: entries behind the master, as the master reports it (0 on the master itself). */
  lagEntries: number | null;
}

/**
 * The q-quantile of a cumulative histogram (bound → count, +Inf included), interpolated linearly
 * within the bucket as Prometheus's histogram_quantile does; undefined when it holds no calls.
 * A quantile in the +Inf bucket is the highest finite bound.
 */
export function histogramQuantile(q: number, buckets: ReadonlyMap<number, number>): number | undefined {
  const sorted = [...buckets].sort(([a], [b]) => a - b);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (bound === Infinity) return lowerBound;
      if (count === lowerCount) return bound;
      return lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

const OWN_SERVICE = /^marquee\./;

/** Reduces one scrape's samples to a Scrape. */
export function scrapeOf(samples: readonly Sample[], at: number): Scrape {
  let requests = 0;
  let errors = 0;
  let cacheHits: number | undefined;
  let cacheMisses: number | undefined;
  let nodeId: number | undefined;
  let term: number | undefined;
  let role: string | undefined;
  const buckets = new Map<number, number>();
  const slaveLag = new Map<number, number>();
  for (const { name, labels, value } of samples) {
    if (nodeId === undefined && labels.node_id !== undefined) nodeId = Number(labels.node_id);
    switch (name) {
      case 'marquee_grpc_requests_total':
        if (!OWN_SERVICE.test(labels.grpc_service ?? '')) break;
        requests += value;
        if (labels.grpc_code !== 'OK') errors += value;
        break;
      case 'marquee_grpc_request_duration_seconds_bucket': {
        if (!OWN_SERVICE.test(labels.grpc_service ?? '')) break;
        const bound = parseMetricValue(labels.le ?? '');
        if (bound !== undefined) buckets.set(bound, (buckets.get(bound) ?? 0) + value);
        break;
      }
      case 'marquee_catalog_cache_hits_total':
        cacheHits = value;
        break;
      case 'marquee_catalog_cache_misses_total':
        cacheMisses = value;
        break;
      case 'marquee_election_term':
        term = value;
        break;
      case 'marquee_election_role':
        if (value === 1) role = labels.role;
        break;
      case 'marquee_replication_slave_lag_entries':
        slaveLag.set(Number(labels.slave), value);
        break;
    }
  }
  return { at, requests, errors, buckets, cacheHits, cacheMisses, nodeId, term, role, slaveLag };
}

/** A counter's increase; a counter that went down started over (the process restarted). */
function increase(now: number, before: number): number {
  return now >= before ? now - before : now;
}

/** One target's line, from its latest scrape and the one before (if any). Lag is filled in by summarize(). */
export function targetSummary(
  name: string,
  address: string,
  current: Scrape,
  previous: Scrape | undefined,
): TargetSummary {
  const windowMs = previous ? current.at - previous.at : 0;
  const window = previous && windowMs > 0 ? previous : undefined;
  let p99Ms: number | null = null;
  let cacheHitRatio: number | null = null;
  let requestsPerSecond: number | null = null;
  if (window) {
    const restarted = current.requests < window.requests;
    const delta = new Map(
      [...current.buckets].map(([bound, count]) => [
        bound,
        restarted ? count : increase(count, window.buckets.get(bound) ?? 0),
      ]),
    );
    const p99 = histogramQuantile(0.99, delta);
    p99Ms = p99 === undefined ? null : round(p99 * 1000, 3);
    requestsPerSecond = round(increase(current.requests, window.requests) / (windowMs / 1000), 3);
    if (current.cacheHits !== undefined && current.cacheMisses !== undefined) {
      const hits = increase(current.cacheHits, window.cacheHits ?? 0);
      const lookups = hits + increase(current.cacheMisses, window.cacheMisses ?? 0);
      cacheHitRatio = lookups > 0 ? round(hits / lookups, 4) : null;
    }
  }
  return {
    name,
    address,
    reachable: true,
    error: null,
    nodeId: current.nodeId ?? null,
    windowSeconds: window ? round(windowMs / 1000, 3) : null,
    requests: current.requests,
    errors: current.errors,
    requestsPerSecond,
    p99Ms,
    cacheHitRatio,
    term: current.term ?? null,
    role: current.role ?? null,
    lagEntries: null,
  };
}

export function unreachableTarget(name: string, address: string, error: string): TargetSummary {
  return {
    name,
    address,
    reachable: false,
    error,
    nodeId: null,
    windowSeconds: null,
    requests: null,
    errors: null,
    requestsPerSecond: null,
    p99Ms: null,
    cacheHitRatio: null,
    term: null,
    role: null,
    lagEntries: null,
  };
}

/**
 * Booking nodes' lag from the master's view: the reachable master (the one with the highest term,
 * should two say so) reports each slave's; the master itself is 0 behind.
 */
export function withLag(targets: TargetSummary[], scrapes: ReadonlyMap<string, Scrape>): TargetSummary[] {
  const masters = targets
    .filter((t) => t.reachable && t.role === 'master')
    .sort((a, b) => (b.term ?? 0) - (a.term ?? 0));
  const master = masters[0];
  const lags = master ? scrapes.get(master.name)?.slaveLag : undefined;
  return targets.map((t) => {
    if (!t.reachable || t.nodeId === null || t.term === null || !master) return t;
    if (t === master) return { ...t, lagEntries: 0 };
    return { ...t, lagEntries: lags?.get(t.nodeId) ?? null };
  });
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** GET http://address/metrics, without keep-alive (a scrape every few seconds needs no pool). */
export function fetchMetricsText(address: string, timeoutMs: number): Promise<string> {
  const separator = address.lastIndexOf(':');
  const host = address.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(separator + 1));
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host, port, path: '/metrics', agent: false, timeout: timeoutMs, headers: { accept: 'text/plain' } },
      (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new Error(`GET /metrics answered HTTP ${response.statusCode ?? '?'}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) request.destroy(new Error('the /metrics answer is too large'));
          else chunks.push(chunk);
        });
        response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

export interface MetricsSummaryOptions {
  /** name → host:port of a /metrics endpoint. */
  targets: ReadonlyMap<string, string>;
  /** Deadline of one scrape. */
  timeoutMs: number;
  /** A read this soon after the previous scrape gets that scrape's answer (default 1000 ms). */
  minIntervalMs?: number;
  logger: Logger;
  /** Monotonic milliseconds (tests may inject). */
  now?: () => number;
  fetchText?: (address: string, timeoutMs: number) => Promise<string>;
}

/** Scrapes the targets on demand and keeps each one's previous scrape for the rates. */
export class MetricsSummary {
  private readonly previous = new Map<string, Scrape>();
  private last: { at: number; targets: TargetSummary[] } | undefined;
  private inflight: Promise<TargetSummary[]> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: MetricsSummaryOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  read(): Promise<TargetSummary[]> {
    if (this.inflight) return this.inflight;
    const last = this.last;
    if (last && this.now() - last.at < (this.options.minIntervalMs ?? 1000))
      return Promise.resolve(last.targets);
    this.inflight = this.scrapeAll().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async scrapeAll(): Promise<TargetSummary[]> {
    const fetchText = this.options.fetchText ?? fetchMetricsText;
    const scrapes = new Map<string, Scrape>();
    const targets = await Promise.all(
      [...this.options.targets].map(async ([name, address]): Promise<TargetSummary> => {
        let scrape: Scrape;
        try {
          const text = await fetchText(address, this.options.timeoutMs);
          scrape = scrapeOf(parsePrometheusText(text), this.now());
        } catch (error) {
          this.previous.delete(name);
          const message = error instanceof Error ? error.message : String(error);
          this.options.logger.debug({ target: name, address, err: message }, 'metrics scrape failed');
          return unreachableTarget(name, address, message);
        }
        const summary = targetSummary(name, address, scrape, this.previous.get(name));
        this.previous.set(name, scrape);
        scrapes.set(name, scrape);
        return summary;
      }),
    );
    const result = withLag(targets, scrapes);
    this.last = { at: this.now(), targets: result };
    return result;
  }
}

/** GET /api/metrics/summary (operators; open like /api/cluster). */
export function registerMetricsSummaryRoute(
  app: FastifyInstance,
  summary: MetricsSummary,
  stamp: () => { at: string; lamport: number },
): void {
  app
    .withTypeProvider<TypeBoxTypeProvider>()
    .get('/api/metrics/summary', { schema: metricsSummary }, async () => {
      const targets = await summary.read();
      return { ...stamp(), targets };
    });
}
