import type { CrashBeforeAnswer } from '../common/fault-injection';
import {
  ConfigError,
  readAddress,
  readDatabaseName,
  readInt,
  readLamportFile,
  readLogLevel,
  readMysqlUrl,
  readPort,
  readString,
  readTokenSecret,
} from '../common/config';
import type { Env } from '../common/config';
import { readNodeAddresses } from '../common/config';
import { ClusterSecret, MIN_CLUSTER_SECRET_LENGTH } from '../common/peer-auth';
import type { AckPolicy } from '../replication/types';
import { readMetricsEndpoint } from '../common/metrics';
import type { MetricsEndpointConfig } from '../common/metrics';

/** Cluster mode (election + replication), on only when MARQUEE_PEERS is set. See cluster.ts. */
export interface BookingClusterConfig {
  /** node id → peer (election + replication) host:port, this node's own entry included. */
  peers: ReadonlyMap<number, string>;
  /** Where this node's peer server binds: the host of its own entry, MARQUEE_PEER_PORT (or its entry's port). */
  peerHost: string;
  peerPort: number;
  secret: ClusterSecret;
  ackPolicy: AckPolicy;
  electionTickMs: number;
  /**
   * How long a slave waits without a heartbeat before it suspects a master it has no evidence
   * against (busy, paused, cut off); also bounds the master's quorum lease. A master whose process is
   * gone is suspected at once (its peer port refuses: election/peer-probe.ts).
   */
  electionSilenceMs: number;
  /** Holds the election term file. */
  stateDir: string;
  /**
   * node id → booking (client API) address, from MARQUEE_BOOKING_ADDRS: where a slave forwards calls
   * for the master. undefined: nothing is forwarded and a slave refuses writes naming the master.
   */
  clientAddresses: ReadonlyMap<number, string> | undefined;
  /** The etcd fallback lease (MARQUEE_ETCD_ENDPOINTS); undefined: bully + quorum alone. */
  etcd: Readonly<EtcdLeaseConfig> | undefined;
}

export interface EtcdLeaseConfig {
  endpoints: string[];
  /** The key is /marquee/booking/<group>/master. */
  group: string;
  ttlSeconds: number;
}

export interface BookingConfig {
  host: string;
  port: number;
  nodeId: number;
  mysqlUrl: string;
  database: string;
  /** Connections in the booking pool; each in-flight write holds one for its transaction. */
  mysqlConnections: number;
  catalogAddr: string;
  tokenSecret: string;
  tokenTtlSeconds: number;
  holdTtlSeconds: number;
  adminEmail: string;
  adminPassword: string;
  idempotencyTtlHours: number;
  sweepIntervalMs: number;
  logLevel: string;
  /** Persisted Lamport clock ('' = in memory). */
  lamportFile: string;
  /** undefined: a single node, exactly as before cluster mode existed. */
  cluster: Readonly<BookingClusterConfig> | undefined;
  /** GET /metrics (MARQUEE_METRICS_PORT); undefined: not served. */
  metrics: MetricsEndpointConfig | undefined;
  /** Tests only: die between a call's success and its answer (MARQUEE_FAULT_CRASH_BEFORE_ANSWER). */
  crashBeforeAnswer: CrashBeforeAnswer | undefined;
}

/** Parses the booking node's settings once, fills defaults, validates and freezes them. */
export function loadConfig(env: Env): Readonly<BookingConfig> {
  const production = env.NODE_ENV === 'production';
  const nodeId = readInt(env, 'MARQUEE_NODE_ID', 1, { min: 1, max: 1000 });
  const database = readDatabaseName(env, 'MARQUEE_BOOKING_DB', `marquee_booking_${nodeId}`);
  const catalogAddr = readAddress(env, 'MARQUEE_CATALOG_ADDR', '127.0.0.1:50061');
  const adminEmail = readString(env, 'MARQUEE_ADMIN_EMAIL', 'admin@marquee.local').toLowerCase();
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(adminEmail))
    throw new ConfigError('MARQUEE_ADMIN_EMAIL', 'must be an email address');
  // A well-known default admin password is only tolerable on a developer's machine.
  const adminPassword = readString(env, 'MARQUEE_ADMIN_PASSWORD', production ? undefined : 'marquee-admin');
  if (adminPassword.length < 8 || adminPassword.length > 128)
    throw new ConfigError('MARQUEE_ADMIN_PASSWORD', 'must be 8 to 128 characters');
  const host = readString(env, 'MARQUEE_BOOKING_HOST', '127.0.0.1');
  return Object.freeze({
    host,
    port: readPort(env, 'MARQUEE_BOOKING_PORT', 50071),
    nodeId,
    mysqlUrl: readMysqlUrl(env, 'MARQUEE_MYSQL_URL', 'mysql://root@127.0.0.1:3306'),
    database,
    mysqlConnections: readInt(env, 'MARQUEE_BOOKING_MYSQL_CONNECTIONS', 32, { min: 1, max: 500 }),
    catalogAddr,
    tokenSecret: readTokenSecret(env),
    tokenTtlSeconds: readInt(env, 'MARQUEE_TOKEN_TTL_SECONDS', 86400, { min: 60, max: 30 * 86400 }),
    holdTtlSeconds: readInt(env, 'MARQUEE_HOLD_TTL_SECONDS', 600, { min: 1, max: 86400 }),
    adminEmail,
    adminPassword,
    idempotencyTtlHours: readInt(env, 'MARQUEE_IDEMPOTENCY_TTL_HOURS', 24, { min: 1, max: 24 * 30 }),
    sweepIntervalMs: readInt(env, 'MARQUEE_SWEEP_INTERVAL_MS', 1000, { min: 10, max: 3600000 }),
    logLevel: readLogLevel(env),
    lamportFile: readLamportFile(env),
    cluster: readCluster(env, nodeId),
    metrics: readMetricsEndpoint(env, 'MARQUEE_METRICS_PORT', 'MARQUEE_METRICS_HOST', host),
    crashBeforeAnswer: readCrashBeforeAnswer(env),
  });
}

/**
 * MARQUEE_FAULT_CRASH_BEFORE_ANSWER (a gRPC method path) and MARQUEE_FAULT_ARM_FILE, both or neither:
 * a test fault (services/common/fault-injection.ts), off by default.
 */
function readCrashBeforeAnswer(env: Env): CrashBeforeAnswer | undefined {
  const method = readString(env, 'MARQUEE_FAULT_CRASH_BEFORE_ANSWER', '');
  const armFile = readString(env, 'MARQUEE_FAULT_ARM_FILE', '');
  if (method === '' && armFile === '') return undefined;
  if (!/^\/[\w.]+\/\w+$/.test(method))
    throw new ConfigError(
      'MARQUEE_FAULT_CRASH_BEFORE_ANSWER',
      'must be a gRPC method path such as /pkg.Service/Method',
    );
  if (armFile === '')
    throw new ConfigError('MARQUEE_FAULT_ARM_FILE', 'is required with MARQUEE_FAULT_CRASH_BEFORE_ANSWER');
  return { method, armFile };
}

const ACK_POLICIES: readonly AckPolicy[] = ['async', 'majority', 'all'];

/** MARQUEE_PEERS and friends; undefined when MARQUEE_PEERS is empty (single node). */
function readCluster(env: Env, nodeId: number): Readonly<BookingClusterConfig> | undefined {
  const peers = readNodeAddresses(env, 'MARQUEE_PEERS');
  const clientAddresses = readNodeAddresses(env, 'MARQUEE_BOOKING_ADDRS');
  if (peers === undefined) {
    if (clientAddresses !== undefined)
      throw new ConfigError('MARQUEE_BOOKING_ADDRS', 'is only used in cluster mode: set MARQUEE_PEERS too');
    return undefined;
  }
  const own = peers.get(nodeId);
  if (own === undefined)
    throw new ConfigError('MARQUEE_PEERS', `must list this node (MARQUEE_NODE_ID=${nodeId}) too`);
  if (peers.size < 2) throw new ConfigError('MARQUEE_PEERS', 'must list at least two nodes');
  const separator = own.lastIndexOf(':');
  const secretText = readString(env, 'MARQUEE_CLUSTER_SECRET', '');
  if (secretText.length < MIN_CLUSTER_SECRET_LENGTH)
    throw new ConfigError(
      'MARQUEE_CLUSTER_SECRET',
      `is required with MARQUEE_PEERS and must be at least ${MIN_CLUSTER_SECRET_LENGTH} characters`,
    );
  const ackPolicy = readString(env, 'MARQUEE_ACK_POLICY', 'majority') as AckPolicy;
  if (!ACK_POLICIES.includes(ackPolicy))
    throw new ConfigError('MARQUEE_ACK_POLICY', `must be one of ${ACK_POLICIES.join(', ')}`);
  const electionTickMs = readInt(env, 'MARQUEE_ELECTION_TICK_MS', 50, { min: 1, max: 10_000 });
  const electionSilenceMs = readInt(env, 'MARQUEE_ELECTION_SILENCE_MS', DEFAULT_ELECTION_SILENCE_MS, {
    min: 1,
    max: 600_000,
  });
  if (electionSilenceMs < MIN_SILENCE_TICKS * electionTickMs)
    throw new ConfigError(
      'MARQUEE_ELECTION_SILENCE_MS',
      `must be at least ${MIN_SILENCE_TICKS} election ticks (${MIN_SILENCE_TICKS * electionTickMs} ms with MARQUEE_ELECTION_TICK_MS=${electionTickMs})`,
    );
  return Object.freeze({
    peers,
    peerHost: own.slice(0, separator),
    peerPort: readPort(env, 'MARQUEE_PEER_PORT', Number(own.slice(separator + 1))),
    secret: new ClusterSecret(secretText),
    ackPolicy,
    electionTickMs,
    electionSilenceMs,
    stateDir: readString(env, 'MARQUEE_STATE_DIR', `.data/node-${nodeId}`),
    clientAddresses: clientAddresses && sameNodes(clientAddresses, peers),
    etcd: readEtcd(env),
  });
}

/**
 * 1.5 s of silence: a Node event loop on two shared cores stalls for hundreds of milliseconds under
 * load, and every suspicion is a write outage. A killed master does not wait for it (peer-probe.ts).
 */
export const DEFAULT_ELECTION_SILENCE_MS = 1500;
/** The election core's own floor (failureTicks > 2 heartbeats and a lease past a round trip). */
const MIN_SILENCE_TICKS = 8;

/** MARQUEE_ETCD_ENDPOINTS (comma-separated http(s) URLs) and friends; undefined when empty. */
function readEtcd(env: Env): Readonly<EtcdLeaseConfig> | undefined {
  const raw = readString(env, 'MARQUEE_ETCD_ENDPOINTS', '').trim();
  if (raw === '') return undefined;
  const endpoints = raw.split(',').map((part) => part.trim());
  for (const endpoint of endpoints)
    if (!/^https?:\/\/[^\s/:,]+:\d{1,5}$/.test(endpoint))
      throw new ConfigError(
        'MARQUEE_ETCD_ENDPOINTS',
        `entry ${JSON.stringify(endpoint)} must be http://host:port`,
      );
  const group = readString(env, 'MARQUEE_ETCD_GROUP', 'main');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(group))
    throw new ConfigError('MARQUEE_ETCD_GROUP', 'must be 1 to 64 letters, digits, _ or -');
  return Object.freeze({
    endpoints,
    group,
    ttlSeconds: readInt(env, 'MARQUEE_ETCD_TTL_SECONDS', 2, { min: 1, max: 60 }),
  });
}

/** A forward to a node with no client address would fail at run time; say so at boot instead. */
function sameNodes(
  clientAddresses: Map<number, string>,
  peers: ReadonlyMap<number, string>,
): Map<number, string> {
  const ids = (m: ReadonlyMap<number, string>): string => [...m.keys()].sort((a, b) => a - b).join(', ');
  if (ids(clientAddresses) !== ids(peers))
    throw new ConfigError(
      'MARQUEE_BOOKING_ADDRS',
      `must list the same nodes as MARQUEE_PEERS (${ids(peers)}), got ${ids(clientAddresses)}`,
    );
  return clientAddresses;
}
