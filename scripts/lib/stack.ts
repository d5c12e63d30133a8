import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthClient,
} from '../../proto/gen/grpc/health/v1/health';
import { ClusterServiceClient, NodeRole } from '../../proto/gen/marquee/cluster/v1/cluster';
import type { NodeStatus } from '../../proto/gen/marquee/cluster/v1/cluster';
import { loadConfig as loadBookingConfig } from '../../services/booking/config';
import { callUnary } from '../../services/common/grpc-client';
import { FaultMesh } from './fault-proxy';
import { startPrivateMariaDb } from './mariadb';
import { StackEtcd, etcdDataDir } from './stack-etcd';
import type { StackEtcdMode } from './stack-etcd';
import { DEFAULT_PORTS, startNginx } from './nginx';
import type { FrontDoorPorts } from './nginx';
import { freePort, startProcess } from './processes';
import type { ManagedProcess } from './processes';
import { StackOpError, startControlServer } from './stack-control';
import type { NodeProcessState, StackDescription, StackNodeInfo, StackOps } from './stack-control';

/** Peer (election + replication) ports of booking nodes 1..3 under `npm start`. */
export const DEFAULT_PEER_PORTS: readonly number[] = Object.freeze([50081, 50082, 50083]);

/** A development secret for the local group; MARQUEE_CLUSTER_SECRET overrides it in `npm start`. */
export const DEV_CLUSTER_SECRET = 'marquee-local-cluster-secret';

/** Where each process serves GET /metrics (its MARQUEE_METRICS_PORT). */
export interface StackMetricsPorts {
  catalog: number;
  /** Booking node 1 first. */
  booking: readonly number[];
  recommendation: number;
  /** Gateway 1 first. */
  gateway: readonly number[];
}

/** The /metrics ports of `npm start` (the gateway's MARQUEE_METRICS_ADDRS default names these). */
export const DEFAULT_METRICS_PORTS: Readonly<StackMetricsPorts> = Object.freeze({
  catalog: 9461,
  booking: Object.freeze([9471, 9472, 9473]),
  recommendation: 9491,
  gateway: Object.freeze([9481, 9482]),
});

export interface StackPorts extends FrontDoorPorts {
  mysql: number;
  /** The real peer port of each booking node (the fault proxies get free ports). */
  peer: readonly number[];
  /** /metrics ports; free ones when absent. */
  metrics?: StackMetricsPorts;
}

export interface StackOptions {
  repoRoot: string;
  /** What the stack keeps (MariaDB data, nginx prefix, node state, stack.json) goes under here. */
  dataDir: string;
  /**
   * Where every process writes its log (booking-N.log, catalog.log, mariadb.log…); default
   * <dataDir>/logs. `npm start` passes <repo>/.data/logs, where `npm run logs` reads by default.
   */
  logsDir?: string;
  /** Fixed ports (npm start) or undefined to pick free ones (tests). */
  ports?: StackPorts;
  /** Use this MySQL server instead of starting a private MariaDB. */
  mysqlUrl?: string;
  /** Wipe the private MariaDB data and the nodes' election/clock state first. */
  freshData: boolean;
  tokenSecret: string;
  clusterSecret?: string;
  /** Booking node N uses database `<prefix>_N`; the default matches the node's own default. */
  bookingDatabasePrefix?: string;
  /**
   * The recommendation service's database. Default: the booking prefix with `booking` read as
   * `recommendation` (marquee_booking → marquee_recommendation, the service's own default), so a test
   * stack with its own booking prefix on a shared server gets its own recommendation database too.
   */
  recommendationDatabase?: string;
  logLevel?: string;
  extraEnv?: Record<string, string>;
  onProgress?: (step: string) => void;
  /** A booking node's process ended. Chaos kills them on purpose, so the stack keeps running. */
  onNodeExit?: (node: StackNodeInfo, how: string) => void;
  /** Serve the control API and write <dataDir>/stack.json (npm start, the e2e test). */
  control?: boolean;
  /**
   * The booking group's etcd (its fallback lease): a private one under <dataDir>/etcd (npm start's
   * default), an etcd of your own, or none (bully + quorum alone). Default 'off', so that the test
   * stacks stay as they were; npm start and the failover bench choose explicitly.
   */
  etcd?: StackEtcdMode;
  /**
   * How long each service may take from spawn to serving; 30 s unless told. A busy machine needs
   * more: every process transpiles its TypeScript (tsx) first, ~30 s each at a load of 15 on 2 cores.
   */
  startTimeoutMs?: number;
}

/** A booking node's fixed facts; its process comes and goes. */
export interface BookingNodeSpec {
  id: number;
  clientAddress: string;
  peerAddress: string;
  database: string;
  logFile: string;
}

/** What stack.json says besides the control URL and the nodes. */
export type StackFacts = Omit<StackDescription, 'controlUrl' | 'nodes' | 'etcd'>;

export interface RunningStack extends StackOps {
  grpcAddress: string;
  /** nginx's HTTP front door: the web UI and /api/ (http://127.0.0.1:<port>). */
  webUrl: string;
  /** Each gateway's own base URL (http://127.0.0.1:<port>), gateway 1 first. */
  gatewayUrls: readonly string[];
  ports: StackPorts;
  mysqlUrl: string;
  catalogAddress: string;
  /** The recommendation service's gRPC address (marquee.recommendation.v1.RecommendationService). */
  recommendationAddress: string;
  /** Its database on the stack's MySQL server. */
  recommendationDatabase: string;
  /**
   * MariaDB (when private), catalog, recommendation, the gateways and nginx: the stack is broken when
   * one exits.
   */
  processes: ManagedProcess[];
  bookingNodes: readonly BookingNodeSpec[];
  /** What stack.json says besides the control URL and the nodes. */
  description: StackFacts;
  /** Set when options.control asked for the control API. */
  controlUrl: string | undefined;
  /** The etcd the booking nodes use (MARQUEE_ETCD_ENDPOINTS); undefined: bully + quorum alone. */
  etcdEndpoint: string | undefined;
  healAll(): void;
  /** Waits until exactly one running node reports master and can serve writes. */
  waitForMaster(timeoutMs: number): Promise<{ masterId: number; term: number }>;
  /** Stops everything the stack started (processes by PID), the last started first. */
  stop(): Promise<void>;
}

/** How many onProgress lines startStack prints, for an `[n/N]` display. */
export function stackStepCount(
  options: Pick<StackOptions, 'mysqlUrl' | 'control' | 'ports' | 'etcd'>,
): number {
  const { booking, gateway } = options.ports ?? DEFAULT_PORTS;
  return (
    (options.mysqlUrl ? 0 : 1) +
    (options.etcd === 'private' ? 1 : 0) +
    1 +
    booking.length +
    2 +
    1 +
    gateway.length +
    1 +
    (options.control ? 1 : 0)
  );
}

/** Waits until the gRPC server at `address` answers health SERVING. */
export async function waitForServing(
  address: string,
  timeoutMs: number,
  exited?: Promise<unknown>,
): Promise<void> {
  const client = new HealthClient(address, grpc.credentials.createInsecure());
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited?.then(() => (gone = true));
  try {
    for (;;) {
      if (gone) throw new Error(`the server for ${address} exited during start (see its log)`);
      const status = await new Promise<ServingStatus | undefined>((resolve) =>
        client.check(
          { service: '' },
          new grpc.Metadata(),
          { deadline: Date.now() + 1000 },
          (error, response) => resolve(error ? undefined : response.status),
        ),
      );
      if (status === ServingStatus.SERVING) return;
      if (Date.now() > deadline) throw new Error(`${address} was not SERVING within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  } finally {
    client.close();
  }
}

/** Waits until the gateway at `baseUrl` answers GET /api/health with 200 (it does while it runs). */
export async function waitForGateway(
  baseUrl: string,
  timeoutMs: number,
  exited?: Promise<unknown>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited?.then(() => (gone = true));
  for (;;) {
    if (gone) throw new Error(`the gateway for ${baseUrl} exited during start (see its log)`);
    const status = await fetch(`${baseUrl}/api/health`, { signal: AbortSignal.timeout(2000) }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline)
      throw new Error(
        `${baseUrl}/api/health did not answer 200 within ${timeoutMs} ms (last: ${status || 'no answer'})`,
      );
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** ClusterService.Status of the booking node whose real peer port is `peerAddress`. */
export async function readNodeStatus(peerAddress: string, timeoutMs = 1000): Promise<NodeStatus> {
  const client = new ClusterServiceClient(peerAddress, grpc.credentials.createInsecure());
  try {
    return await callUnary(client.status.bind(client), {}, { timeoutMs });
  } finally {
    client.close();
  }
}

/**
 * Polls ClusterService.Status on `peerAddresses` until exactly one answers master with
 * canServeWrites. The error on timeout says what each node last answered.
 */
export async function waitForMaster(
  peerAddresses: () => ReadonlyMap<number, string>,
  timeoutMs: number,
): Promise<{ masterId: number; term: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answers = await Promise.all(
      [...peerAddresses()].map(async ([id, address]) => {
        try {
          return { id, status: await readNodeStatus(address) };
        } catch (error) {
          return { id, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    const masters = answers.filter((a) => a.status?.role === NodeRole.NODE_ROLE_MASTER);
    const master = masters[0]?.status;
    if (masters.length === 1 && master?.canServeWrites) return { masterId: master.nodeId, term: master.term };
    if (Date.now() > deadline) {
      const seen = answers.map(({ id, status, error }) =>
        status
          ? `node ${id}: ${NodeRole[status.role]} term ${status.term} master ${status.masterId || 'unknown'}` +
            `${status.canServeWrites ? ' (serving writes)' : ''}`
          : `node ${id}: no answer (${error})`,
      );
      throw new Error(
        `the booking group did not settle on one master within ${timeoutMs} ms; ${seen.join('; ')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The booking nodes' processes and their fault proxies. Operations on one node run one at a time
 * (a kill arriving during a restart waits for it); processes are signalled by PID only.
 */
class BookingGroup {
  private readonly slots = new Map<number, NodeSlot>();
  private stopping = false;

  constructor(
    specs: readonly BookingNodeSpec[],
    private readonly mesh: FaultMesh,
    private readonly launch: (spec: BookingNodeSpec) => ManagedProcess,
    private readonly onExit: (node: StackNodeInfo, how: string) => void,
  ) {
    for (const spec of specs) this.slots.set(spec.id, { spec, state: 'stopped', queue: Promise.resolve() });
  }

  list(): StackNodeInfo[] {
    return [...this.slots.keys()].map((id) => this.info(id));
  }

  info(id: number): StackNodeInfo {
    const { spec, state, process } = this.slot(id);
    return {
      id,
      pid: process?.pid,
      state,
      partitioned: this.mesh.isPartitioned(id),
      clientAddress: spec.clientAddress,
      peerAddress: spec.peerAddress,
      database: spec.database,
    };
  }

  /** Peer addresses of the nodes whose process runs (paused ones would only time out). */
  runningPeers(): Map<number, string> {
    return new Map(
      [...this.slots.values()]
        .filter((s) => s.state === 'running')
        .map((s) => [s.spec.id, s.spec.peerAddress]),
    );
  }

  /** Starts the process (first start); waitServing() then waits for it. */
  spawn(id: number): void {
    const slot = this.slot(id);
    const child = this.launch(slot.spec);
    slot.process = child;
    slot.state = 'running';
    slot.exitAs = undefined;
    void child.exited.then((code) => {
      if (slot.process !== child) return;
      slot.process = undefined;
      slot.state = slot.exitAs ?? 'killed';
      const signal = child.child.signalCode;
      this.onExit(this.info(id), signal ? `signal ${signal}` : `code ${String(code)}`);
    });
  }

  async waitServing(id: number, timeoutMs = 30000): Promise<void> {
    const { spec, process } = this.slot(id);
    try {
      if (!process) throw new Error('its process is not running');
      await waitForServing(spec.clientAddress, timeoutMs, process.exited);
    } catch (error) {
      throw new Error(
        `booking-${id}: ${error instanceof Error ? error.message : String(error)}\n${logTail(spec.logFile)}`,
      );
    }
  }

  kill(id: number): Promise<StackNodeInfo> {
    return this.run(id, async (slot) => {
      const child = this.alive(slot, 'kill');
      slot.exitAs = 'killed';
      signal(child, 'SIGKILL');
      await child.exited;
    });
  }

  pause(id: number): Promise<StackNodeInfo> {
    return this.run(id, (slot) => {
      const child = this.alive(slot, 'pause');
      if (slot.state === 'paused') throw new StackOpError(409, `node ${id} is already paused`);
      signal(child, 'SIGSTOP');
      slot.state = 'paused';
    });
  }

  resume(id: number): Promise<StackNodeInfo> {
    return this.run(id, (slot) => {
      const child = this.alive(slot, 'resume');
      if (slot.state !== 'paused') throw new StackOpError(409, `node ${id} is not paused (it is running)`);
      signal(child, 'SIGCONT');
      slot.state = 'running';
    });
  }

  /** Stops the node if it runs (SIGTERM, then waits), starts it again with the same env and data. */
  restart(id: number): Promise<StackNodeInfo> {
    return this.run(id, async (slot) => {
      await this.stopSlot(slot);
      this.spawn(id);
      await this.waitServing(id);
    });
  }

  partition(id: number): Promise<StackNodeInfo> {
    return this.run(id, () => this.mesh.partition(id));
  }

  heal(id: number): Promise<StackNodeInfo> {
    return this.run(id, () => this.mesh.heal(id));
  }

  healAll(): void {
    this.mesh.healAll();
  }

  /** Lets operations in flight finish, then stops every node (a paused one is resumed first). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.slots.values()].map(async (slot) => {
        await slot.queue;
        await this.stopSlot(slot);
      }),
    );
  }

  private async stopSlot(slot: NodeSlot): Promise<void> {
    const child = slot.process;
    if (!child) return;
    slot.exitAs = 'stopped';
    // A stopped process keeps SIGTERM pending until it runs again.
    if (slot.state === 'paused') signal(child, 'SIGCONT');
    await child.stop();
  }

  private run(id: number, work: (slot: NodeSlot) => void | Promise<void>): Promise<StackNodeInfo> {
    const slot = this.slot(id);
    const result = slot.queue.then(async () => {
      if (this.stopping) throw new StackOpError(409, 'the stack is stopping');
      await work(slot);
      return this.info(id);
    });
    slot.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private alive(slot: NodeSlot, op: string): ManagedProcess {
    if (!slot.process) throw new StackOpError(409, `node ${slot.spec.id} is ${slot.state}: cannot ${op} it`);
    return slot.process;
  }

  private slot(id: number): NodeSlot {
    const slot = this.slots.get(id);
    if (!slot)
      throw new StackOpError(
        404,
        `no booking node ${id} (the nodes are ${[...this.slots.keys()].join(', ')})`,
      );
    return slot;
  }
}

interface NodeSlot {
  spec: BookingNodeSpec;
  state: NodeProcessState;
  process?: ManagedProcess;
  /** What the coming exit means, when we caused it: 'killed' (SIGKILL) or 'stopped' (SIGTERM). */
  exitAs?: NodeProcessState;
  /** The tail of this node's operations. */
  queue: Promise<unknown>;
}

function signal(child: ManagedProcess, name: NodeJS.Signals): void {
  try {
    process.kill(child.pid, name);
  } catch (error) {
    throw new StackOpError(409, `${child.name} (pid ${child.pid}): ${name} failed (${String(error)})`);
  }
}

/**
 * Starts the local topology: MariaDB (private unless a URL is given), catalog, three booking nodes in
 * cluster mode with a fault proxy on every peer link, the recommendation service (once the group has a
 * master: it follows the nodes' change stream), two HTTP gateways, nginx (gRPC and HTTP front doors),
 * and optionally the control API.
 * Used by `npm start` and by the end-to-end tests, so both run the same thing.
 */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  // Absolute: stack.json hands it to the chaos CLI, which may run from another directory.
  const logsDir = path.resolve(options.logsDir ?? path.join(options.dataDir, 'logs'));
  const nodesDir = path.join(options.dataDir, 'nodes');
  if (options.freshData) rmSync(nodesDir, { recursive: true, force: true });
  mkdirSync(logsDir, { recursive: true });
  const progress = options.onProgress ?? (() => undefined);
  const startTimeoutMs = options.startTimeoutMs ?? 30000;
  const processes: ManagedProcess[] = [];
  // Everything to stop, in start order; stop() walks it backwards.
  const stoppers: (() => Promise<void>)[] = [];
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      // One failure must not leave the rest running: stop them all, then report the first.
      const failures: unknown[] = [];
      for (const stopOne of [...stoppers].reverse())
        await stopOne().catch((error: unknown) => failures.push(error));
      if (failures.length > 0) throw failures[0];
    })());
  try {
    const chosen: StackPorts = options.ports ?? {
      grpc: await freePort(),
      http: await freePort(),
      catalog: await freePort(),
      recommendation: await freePort(),
      booking: [await freePort(), await freePort(), await freePort()],
      gateway: [await freePort(), await freePort()],
      peer: [await freePort(), await freePort(), await freePort()],
      mysql: await freePort(),
    };
    // One at a time: freePort must see each port it handed out before it picks the next.
    const freePorts = async (count: number): Promise<number[]> => {
      const picked: number[] = [];
      while (picked.length < count) picked.push(await freePort());
      return picked;
    };
    const metricsPorts: StackMetricsPorts = chosen.metrics ?? {
      catalog: await freePort(),
      booking: await freePorts(chosen.booking.length),
      recommendation: await freePort(),
      gateway: await freePorts(chosen.gateway.length),
    };
    const ports: StackPorts = { ...chosen, metrics: metricsPorts };
    if (ports.peer.length !== ports.booking.length)
      throw new Error(`ports: ${ports.booking.length} booking ports but ${ports.peer.length} peer ports`);
    // What each gateway's GET /api/metrics/summary reads.
    const metricsAddrs = [
      `catalog=127.0.0.1:${metricsPorts.catalog}`,
      ...metricsPorts.booking.map((port, index) => `booking-${index + 1}=127.0.0.1:${port}`),
      `recommendation=127.0.0.1:${metricsPorts.recommendation}`,
    ].join(',');
    let mysqlUrl = options.mysqlUrl;
    if (!mysqlUrl) {
      progress(`starting MariaDB on 127.0.0.1:${ports.mysql}`);
      const mariadb = await startPrivateMariaDb({
        dataDir: path.join(options.dataDir, 'mariadb'),
        port: ports.mysql,
        fresh: options.freshData,
        logFile: path.join(logsDir, 'mariadb.log'),
      });
      processes.push(mariadb.process);
      stoppers.push(() => mariadb.process.stop());
      mysqlUrl = mariadb.url;
    }
    let etcd: StackEtcd | undefined;
    if (options.etcd === 'private') {
      progress("starting etcd (the booking group's fallback lease)");
      const started = await StackEtcd.start({
        dataDir: etcdDataDir(options.dataDir),
        logFile: path.join(logsDir, 'etcd.log'),
        fresh: options.freshData,
      });
      stoppers.push(() => started.stop());
      etcd = started;
    }
    const etcdEndpoint =
      etcd?.endpoint ?? (typeof options.etcd === 'object' ? options.etcd.endpoints : undefined);
    const catalogAddress = `127.0.0.1:${ports.catalog}`;
    const recommendationAddress = `127.0.0.1:${ports.recommendation}`;
    const recommendationDatabase =
      options.extraEnv?.MARQUEE_RECOMMENDATION_DB ??
      options.recommendationDatabase ??
      recommendationDatabaseFor(options.bookingDatabasePrefix);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      MARQUEE_MYSQL_URL: mysqlUrl,
      MARQUEE_TOKEN_SECRET: options.tokenSecret,
      MARQUEE_LOG_LEVEL: options.logLevel ?? 'info',
      MARQUEE_CATALOG_PORT: String(ports.catalog),
      MARQUEE_CATALOG_ADDR: catalogAddress,
      // The recommendation service's own settings, and its address for the gateways.
      MARQUEE_RECOMMENDATION_PORT: String(ports.recommendation),
      MARQUEE_RECOMMENDATION_ADDR: recommendationAddress,
      MARQUEE_RECOMMENDATION_DB: recommendationDatabase,
      ...options.extraEnv,
    };

    // Booking node i dials node j through proxy(i→j); its own entry is its real peer address.
    const ids = ports.booking.map((_, index) => index + 1);
    const specs: BookingNodeSpec[] = ids.map((id) => ({
      id,
      clientAddress: `127.0.0.1:${ports.booking[id - 1]}`,
      peerAddress: `127.0.0.1:${ports.peer[id - 1]}`,
      database: `${options.bookingDatabasePrefix ?? 'marquee_booking'}_${id}`,
      logFile: path.join(logsDir, `booking-${id}.log`),
    }));
    const mesh = await FaultMesh.start(
      new Map(ids.map((id) => [id, { host: '127.0.0.1', port: ports.peer[id - 1]! }])),
    );
    stoppers.push(() => mesh.stop());
    const nodeEnv = (spec: BookingNodeSpec): NodeJS.ProcessEnv => {
      const stateDir = path.join(nodesDir, `booking-${spec.id}`);
      return {
        ...env,
        MARQUEE_NODE_ID: String(spec.id),
        MARQUEE_BOOKING_PORT: spec.clientAddress.split(':')[1],
        MARQUEE_BOOKING_DB: spec.database,
        MARQUEE_PEERS: mesh.peersFor(spec.id),
        MARQUEE_BOOKING_ADDRS: specs.map((s) => `${s.id}=${s.clientAddress}`).join(','),
        MARQUEE_CLUSTER_SECRET: options.clusterSecret ?? DEV_CLUSTER_SECRET,
        MARQUEE_STATE_DIR: stateDir,
        MARQUEE_LAMPORT_FILE: path.join(stateDir, 'lamport.json'),
        MARQUEE_METRICS_PORT: String(metricsPorts.booking[spec.id - 1]),
        // Set either way: an inherited MARQUEE_ETCD_ENDPOINTS must not override the stack's choice.
        MARQUEE_ETCD_ENDPOINTS: etcdEndpoint ?? '',
      };
    };
    // The nodes' own reading of their settings: a bad one fails here with its message, and the
    // admin account in stack.json is the one the nodes really create.
    const bookingConfig = loadBookingConfig(nodeEnv(specs[0]!));

    progress(`starting catalog on ${catalogAddress}`);
    const catalog = startProcess(
      'catalog',
      process.execPath,
      ['--import', 'tsx', path.join(options.repoRoot, 'services/catalog/main.ts')],
      {
        logFile: path.join(logsDir, 'catalog.log'),
        env: {
          ...env,
          MARQUEE_LAMPORT_FILE: path.join(options.dataDir, 'lamport', 'catalog.json'),
          MARQUEE_METRICS_PORT: String(metricsPorts.catalog),
        },
        cwd: options.repoRoot,
      },
    );
    processes.push(catalog);
    stoppers.push(() => catalog.stop());
    try {
      await waitForServing(catalogAddress, startTimeoutMs, catalog.exited);
    } catch (error) {
      throw new Error(
        `catalog: ${error instanceof Error ? error.message : String(error)}\n${logTail(path.join(logsDir, 'catalog.log'))}`,
      );
    }

    const group = new BookingGroup(
      specs,
      mesh,
      (spec) =>
        startProcess(
          `booking-${spec.id}`,
          process.execPath,
          ['--import', 'tsx', path.join(options.repoRoot, 'services/booking/main.ts')],
          { logFile: spec.logFile, env: nodeEnv(spec), cwd: options.repoRoot },
        ),
      options.onNodeExit ?? (() => undefined),
    );
    stoppers.push(() => group.stop());
    // All three at once: each one's election waits for the others anyway.
    for (const spec of specs) {
      progress(`starting booking node ${spec.id}: client ${spec.clientAddress}, peer ${spec.peerAddress}`);
      group.spawn(spec.id);
    }
    progress('waiting for the booking nodes to answer health SERVING');
    await Promise.all(ids.map((id) => group.waitServing(id, startTimeoutMs)));
    progress('waiting for the booking group to elect one master');
    await waitForMaster(() => group.runningPeers(), 20000);

    // It reads the catalog and follows the booking nodes' change stream (their client ports, any node).
    progress(`starting recommendation on ${recommendationAddress}`);
    const recommendation = startProcess(
      'recommendation',
      process.execPath,
      ['--import', 'tsx', path.join(options.repoRoot, 'services/recommendation/main.ts')],
      {
        logFile: path.join(logsDir, 'recommendation.log'),
        env: {
          ...env,
          MARQUEE_BOOKING_ADDRS: specs.map((s) => `${s.id}=${s.clientAddress}`).join(','),
          MARQUEE_LAMPORT_FILE: path.join(options.dataDir, 'lamport', 'recommendation.json'),
          MARQUEE_METRICS_PORT: String(metricsPorts.recommendation),
        },
        cwd: options.repoRoot,
      },
    );
    processes.push(recommendation);
    stoppers.push(() => recommendation.stop());
    try {
      await waitForServing(recommendationAddress, startTimeoutMs, recommendation.exited);
    } catch (error) {
      throw new Error(
        `recommendation: ${error instanceof Error ? error.message : String(error)}\n${logTail(path.join(logsDir, 'recommendation.log'))}`,
      );
    }

    // The gateways call the nodes' client ports and read ClusterService.Status from their REAL peer
    // ports (not the fault proxies: a cut link between two nodes is not the operator's view of them).
    const gatewayUrls = ports.gateway.map((port) => `http://127.0.0.1:${port}`);
    const gateways = ports.gateway.map((port, index) => {
      const name = `gateway-${index + 1}`;
      progress(`starting ${name} on 127.0.0.1:${port}`);
      const gateway = startProcess(
        name,
        process.execPath,
        ['--import', 'tsx', path.join(options.repoRoot, 'services/gateway/main.ts')],
        {
          logFile: path.join(logsDir, `${name}.log`),
          env: {
            ...env,
            MARQUEE_GATEWAY_HOST: '127.0.0.1',
            MARQUEE_GATEWAY_PORT: String(port),
            MARQUEE_BOOKING_ADDRS: specs.map((s) => `${s.id}=${s.clientAddress}`).join(','),
            MARQUEE_PEERS: specs.map((s) => `${s.id}=${s.peerAddress}`).join(','),
            MARQUEE_LAMPORT_FILE: path.join(options.dataDir, 'lamport', `${name}.json`),
            MARQUEE_METRICS_PORT: String(metricsPorts.gateway[index]),
            MARQUEE_METRICS_ADDRS: metricsAddrs,
          },
          cwd: options.repoRoot,
        },
      );
      processes.push(gateway);
      stoppers.push(() => gateway.stop());
      return gateway;
    });
    await Promise.all(
      gateways.map(async (gateway, index) => {
        try {
          await waitForGateway(gatewayUrls[index]!, startTimeoutMs, gateway.exited);
        } catch (error) {
          throw new Error(
            `${gateway.name}: ${error instanceof Error ? error.message : String(error)}\n${logTail(path.join(logsDir, `${gateway.name}.log`))}`,
          );
        }
      }),
    );

    progress(
      `starting nginx front door on 127.0.0.1:${ports.grpc} (gRPC) and 127.0.0.1:${ports.http} (HTTP)`,
    );
    const nginx = await startNginx({
      prefixDir: path.join(options.dataDir, 'nginx'),
      logsDir,
      ports,
      repoRoot: options.repoRoot,
    });
    processes.push(nginx);
    stoppers.push(() => nginx.stop());
    await waitForServing(`127.0.0.1:${ports.grpc}`, 10000, nginx.exited);

    const description: StackFacts = {
      grpcAddress: `127.0.0.1:${ports.grpc}`,
      mysqlUrl,
      catalogAddress,
      recommendationAddress,
      tokenSecret: options.tokenSecret,
      adminEmail: bookingConfig.adminEmail,
      adminPassword: bookingConfig.adminPassword,
      logsDir,
    };
    const stack: RunningStack = {
      ...description,
      recommendationDatabase,
      webUrl: `http://127.0.0.1:${ports.http}`,
      gatewayUrls,
      ports,
      processes,
      bookingNodes: specs,
      description,
      controlUrl: undefined,
      etcdEndpoint,
      ...(etcd
        ? {
            etcd: {
              info: () => etcd.info(),
              kill: () => etcd.kill(),
              pause: () => etcd.pause(),
              resume: () => etcd.resume(),
              restart: () => etcd.restart(),
            },
          }
        : {}),
      nodes: () => group.list(),
      kill: (id) => group.kill(id),
      pause: (id) => group.pause(id),
      resume: (id) => group.resume(id),
      restart: (id) => group.restart(id),
      partition: (id) => group.partition(id),
      heal: (id) => group.heal(id),
      healAll: () => group.healAll(),
      waitForMaster: (timeoutMs) => waitForMaster(() => group.runningPeers(), timeoutMs),
      stop,
    };
    if (options.control) {
      progress(`starting the control API (${path.join(options.dataDir, 'stack.json')})`);
      const control = await startControlServer(stack, options.dataDir, description);
      stoppers.push(() => control.stop());
      stack.controlUrl = control.url;
    }
    return stack;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** marquee_booking → marquee_recommendation; e2e_booking_ab12 → e2e_recommendation_ab12. */
function recommendationDatabaseFor(bookingPrefix = 'marquee_booking'): string {
  return bookingPrefix.includes('booking')
    ? bookingPrefix.replace('booking', 'recommendation')
    : `${bookingPrefix}_recommendation`;
}

/** The last lines of a log, to put in an error message when a process fails to start. */
function logTail(file: string, lines = 15): string {
  if (!existsSync(file)) return `(no log at ${file})`;
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

export { DEFAULT_PORTS };
