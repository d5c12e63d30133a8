import path from 'node:path';
import {
  ConfigError,
  readAddress,
  readInt,
  readLamportFile,
  readLogLevel,
  readNodeAddresses,
  readPort,
  readString,
} from '../common/config';
import type { Env } from '../common/config';
import { readMetricsEndpoint } from '../common/metrics';
import type { MetricsEndpointConfig } from '../common/metrics';

export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  /** The catalog's gRPC address. */
  readonly catalogAddr: string;
  /** The recommendation service's gRPC address. */
  readonly recommendationAddr: string;
  /** node id → booking node client address (MARQUEE_BOOKING_ADDRS); calls go round robin. */
  readonly bookingAddrs: ReadonlyMap<number, string>;
  /** node id → booking node peer address (MARQUEE_PEERS), where ClusterService.Status is served. */
  readonly peers: ReadonlyMap<number, string>;
  /** Deadline of each upstream call (one attempt). */
  readonly deadlineMs: number;
  /** How long a call may keep retrying on UNAVAILABLE (and the other retryable codes), in total. */
  readonly retryMs: number;
  /** Static files (the web UI) served at `/`; served only when the directory exists. */
  readonly staticDir: string;
  readonly logLevel: string;
  /** Persisted Lamport clock ('' = in memory). */
  readonly lamportFile: string;
  /** The gateway's own GET /metrics (MARQUEE_METRICS_PORT); undefined: not served. */
  readonly metrics: MetricsEndpointConfig | undefined;
  /**
   * name → host:port of the /metrics endpoints GET /api/metrics/summary reads (MARQUEE_METRICS_ADDRS,
   * `catalog=127.0.0.1:9461,booking-1=127.0.0.1:9471,...`), in the order given.
   */
  readonly metricsTargets: ReadonlyMap<string, string>;
}

const DEFAULT_BOOKING_ADDRS = '1=127.0.0.1:50071,2=127.0.0.1:50072,3=127.0.0.1:50073';
// The peer ports `npm start` gives booking nodes 1..3 (scripts/lib/stack.ts DEFAULT_PEER_PORTS).
const DEFAULT_PEERS = '1=127.0.0.1:50081,2=127.0.0.1:50082,3=127.0.0.1:50083';
// The metrics ports `npm start` gives the catalog, booking nodes 1..3 and recommendation (scripts/lib/stack.ts).
const DEFAULT_METRICS_ADDRS =
  'catalog=127.0.0.1:9461,booking-1=127.0.0.1:9471,booking-2=127.0.0.1:9472,booking-3=127.0.0.1:9473,' +
  'recommendation=127.0.0.1:9491';

/** Parses the gateway's environment once; throws ConfigError naming the variable on bad values. */
export function loadConfig(env: Env): GatewayConfig {
  const host = readString(env, 'MARQUEE_GATEWAY_HOST', '127.0.0.1');
  return Object.freeze({
    host,
    port: readPort(env, 'MARQUEE_GATEWAY_PORT', 8081),
    catalogAddr: readAddress(env, 'MARQUEE_CATALOG_ADDR', '127.0.0.1:50061'),
    recommendationAddr: readAddress(env, 'MARQUEE_RECOMMENDATION_ADDR', '127.0.0.1:50091'),
    bookingAddrs: requiredNodes(env, 'MARQUEE_BOOKING_ADDRS', DEFAULT_BOOKING_ADDRS),
    peers: requiredNodes(env, 'MARQUEE_PEERS', DEFAULT_PEERS),
    deadlineMs: readInt(env, 'MARQUEE_GATEWAY_DEADLINE_MS', 5000, { min: 50, max: 120_000 }),
    retryMs: readInt(env, 'MARQUEE_GATEWAY_RETRY_MS', 10_000, { min: 0, max: 300_000 }),
    staticDir: readString(env, 'MARQUEE_GATEWAY_STATIC_DIR', path.join(__dirname, 'public')),
    logLevel: readLogLevel(env),
    lamportFile: readLamportFile(env),
    metrics: readMetricsEndpoint(env, 'MARQUEE_METRICS_PORT', 'MARQUEE_METRICS_HOST', host),
    metricsTargets: readMetricsTargets(env, 'MARQUEE_METRICS_ADDRS', DEFAULT_METRICS_ADDRS),
  });
}

/** `<name>=<host>:<port>,...`; `none` lists nothing. */
function readMetricsTargets(env: Env, name: string, fallback: string): ReadonlyMap<string, string> {
  const raw = readString(env, name, fallback).trim();
  const targets = new Map<string, string>();
  if (raw === 'none') return targets;
  for (const part of raw.split(',')) {
    const match = /^\s*([A-Za-z0-9][A-Za-z0-9_.-]{0,39})\s*=\s*([^\s:,=]+):(\d{1,5})\s*$/.exec(part);
    const port = Number(match?.[3]);
    if (!match || port < 1 || port > 65535)
      throw new ConfigError(name, `entry ${JSON.stringify(part)} must be <name>=<host>:<port>`);
    if (targets.has(match[1]!)) throw new ConfigError(name, `${match[1]} is listed twice`);
    targets.set(match[1]!, `${match[2]}:${port}`);
  }
  return targets;
}

/** A node list the gateway cannot work without (the booking node's format: readNodeAddresses). */
function requiredNodes(env: Env, name: string, fallback: string): ReadonlyMap<number, string> {
  const nodes = readNodeAddresses(env, name, fallback);
  if (nodes === undefined) throw new ConfigError(name, 'must list at least one <node id>=<host>:<port>');
  return nodes;
}
