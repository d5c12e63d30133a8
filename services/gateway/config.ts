import path from 'node:path';
import { ConfigError, readInt, readLamportFile, readLogLevel, readPort, readString } from '../common/config';
import type { Env } from '../common/config';

export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  /** The catalog's gRPC address. */
  readonly catalogAddr: string;
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
}

const DEFAULT_BOOKING_ADDRS = '1=127.0.0.1:50071,2=127.0.0.1:50072,3=127.0.0.1:50073';
// The peer ports `npm start` gives booking nodes 1..3 (scripts/lib/stack.ts DEFAULT_PEER_PORTS).
const DEFAULT_PEERS = '1=127.0.0.1:50081,2=127.0.0.1:50082,3=127.0.0.1:50083';

/** Parses the gateway's environment once; throws ConfigError naming the variable on bad values. */
export function loadConfig(env: Env): GatewayConfig {
  const catalogAddr = readString(env, 'MARQUEE_CATALOG_ADDR', '127.0.0.1:50061');
  if (!/^[^\s:]+:\d{1,5}$/.test(catalogAddr))
    throw new ConfigError('MARQUEE_CATALOG_ADDR', `must be host:port (got ${JSON.stringify(catalogAddr)})`);
  return Object.freeze({
    host: readString(env, 'MARQUEE_GATEWAY_HOST', '127.0.0.1'),
    port: readPort(env, 'MARQUEE_GATEWAY_PORT', 8081),
    catalogAddr,
    bookingAddrs: readNodeAddresses(env, 'MARQUEE_BOOKING_ADDRS', DEFAULT_BOOKING_ADDRS),
    peers: readNodeAddresses(env, 'MARQUEE_PEERS', DEFAULT_PEERS),
    deadlineMs: readInt(env, 'MARQUEE_GATEWAY_DEADLINE_MS', 5000, { min: 50, max: 120_000 }),
    retryMs: readInt(env, 'MARQUEE_GATEWAY_RETRY_MS', 10_000, { min: 0, max: 300_000 }),
    staticDir: readString(env, 'MARQUEE_GATEWAY_STATIC_DIR', path.join(__dirname, 'public')),
    logLevel: readLogLevel(env),
    lamportFile: readLamportFile(env),
  });
}

/**
 * "1=host:port,2=host:port": node id → address, the format the booking node reads for the same
 * variables (services/booking/config.ts).
 */
function readNodeAddresses(env: Env, name: string, fallback: string): ReadonlyMap<number, string> {
  const raw = readString(env, name, fallback).trim();
  const addresses = new Map<number, string>();
  for (const part of raw.split(',')) {
    const match = /^\s*(\d{1,4})\s*=\s*([^\s:,=]+):(\d{1,5})\s*$/.exec(part);
    const id = Number(match?.[1]);
    const port = Number(match?.[3]);
    if (!match || id < 1 || id > 1000 || port < 1 || port > 65535)
      throw new ConfigError(name, `entry ${JSON.stringify(part)} must be <node id>=<host>:<port>`);
    if (addresses.has(id)) throw new ConfigError(name, `node ${id} is listed twice`);
    addresses.set(id, `${match[2]}:${port}`);
  }
  return addresses;
}
