import { Metadata, credentials } from '@grpc/grpc-js';
import type { ChannelOptions, Client } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthClient,
} from '../../proto/gen/grpc/health/v1/health';
import { AccountServiceClient, BookingServiceClient } from '../../proto/gen/marquee/booking/v1/booking';
import { CatalogServiceClient } from '../../proto/gen/marquee/catalog/v1/catalog';
import type { ImportCatalogRequest, ImportProgress } from '../../proto/gen/marquee/catalog/v1/catalog';
import { ClusterServiceClient } from '../../proto/gen/marquee/cluster/v1/cluster';
import { RecommendationServiceClient } from '../../proto/gen/marquee/recommendation/v1/recommendation';
import { isGrpcError } from '../common/errors';
import { grpcClientOptions } from '../common/grpc-client';
import type { UnaryMethod } from '../common/grpc-client';
import type { LamportClock } from '../common/lamport';
import type { GatewayConfig } from './config';
import { codeName } from './http-errors';
import { isRetryable, withRetries } from './retry';
import type { RetryPolicy } from './retry';
import { nodeView, withLag } from './views';
import type { NodeView } from './views';

/** What a call carries besides its request. */
export interface CallOptions {
  /** The caller's bearer token, passed on as `authorization: Bearer <token>`. */
  token?: string;
  /** More request metadata, e.g. `idempotency-key` for Register. */
  headers?: Readonly<Record<string, string>>;
}

export interface BookingClients {
  readonly nodeId: number;
  readonly address: string;
  readonly booking: BookingServiceClient;
  readonly accounts: AccountServiceClient;
  readonly health: HealthClient;
}

interface PeerClient {
  readonly nodeId: number;
  readonly address: string;
  readonly cluster: ClusterServiceClient;
}

export interface UpstreamHealth {
  name: string;
  address: string;
  nodeId?: number;
  serving: boolean;
  error?: string;
}

/** Status calls are cut short: a paused node must not hold up the operator's view of the others. */
const STATUS_TIMEOUT_MS = 1500;
const HEALTH_TIMEOUT_MS = 1500;
/** An import may fetch and write thousands of records; it is cut off only when clearly stuck. */
const IMPORT_TIMEOUT_MS = 10 * 60_000;
/** How long a booking node that failed a call is passed over as the first choice. */
const SUSPECT_MS = 2000;

/*
 * Reconnect quickly: a booking node that comes back after a crash or a chaos kill should get calls
 * again within a second, not after grpc-js's default backoff (which grows to two minutes).
 */
const CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
};

/** Calls a unary method once, with an absolute deadline and the given metadata. */
export function invoke<Req, Res>(
  method: UnaryMethod<Req, Res>,
  request: Req,
  deadline: number,
  options: CallOptions = {},
): Promise<Res> {
  const metadata = new Metadata();
  if (options.token) metadata.set('authorization', `Bearer ${options.token}`);
  for (const [key, value] of Object.entries(options.headers ?? {})) metadata.set(key, value);
  return new Promise((resolve, reject) => {
    method(request, metadata, { deadline }, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

/**
 * The gateway's gRPC clients: the catalog, every booking node (client API, round robin) and every
 * booking node's peer port (ClusterService.Status). Stateless apart from the round-robin cursor.
 */
export class Upstreams {
  readonly catalogClient: CatalogServiceClient;
  private readonly catalogHealth: HealthClient;
  readonly recommendationClient: RecommendationServiceClient;
  private readonly recommendationHealth: HealthClient;
  readonly nodes: readonly BookingClients[];
  private readonly peers: readonly PeerClient[];
  private cursor = 0;
  /** Node index → until when it is passed over as the first choice (it failed a call just now). */
  private readonly suspectUntil = new Map<number, number>();
  private retryCount = 0;
  private readonly policy: RetryPolicy;

  constructor(
    readonly config: GatewayConfig,
    readonly clock: LamportClock,
    private readonly logger: Logger,
  ) {
    const insecure = credentials.createInsecure();
    const options = grpcClientOptions(clock, logger, CHANNEL_OPTIONS);
    this.catalogClient = new CatalogServiceClient(config.catalogAddr, insecure, options);
    this.catalogHealth = new HealthClient(config.catalogAddr, insecure, options);
    this.recommendationClient = new RecommendationServiceClient(config.recommendationAddr, insecure, options);
    this.recommendationHealth = new HealthClient(config.recommendationAddr, insecure, options);
    this.nodes = [...config.bookingAddrs].map(([nodeId, address]) => ({
      nodeId,
      address,
      booking: new BookingServiceClient(address, insecure, options),
      accounts: new AccountServiceClient(address, insecure, options),
      health: new HealthClient(address, insecure, options),
    }));
    this.peers = [...config.peers].map(([nodeId, address]) => ({
      nodeId,
      address,
      cluster: new ClusterServiceClient(address, insecure, options),
    }));
    this.policy = { deadlineMs: config.deadlineMs, budgetMs: config.retryMs };
  }

  /** Attempts that failed with a retryable code and were tried again (for tests and /api/health). */
  get retries(): number {
    return this.retryCount;
  }

  /** A catalog call, retried on UNAVAILABLE (the catalog restarting) within the retry budget. */
  catalog<Req, Res>(
    pick: (client: CatalogServiceClient) => UnaryMethod<Req, Res>,
    request: Req,
    options: CallOptions = {},
  ): Promise<Res> {
    const method = pick(this.catalogClient);
    return withRetries(
      'the catalog',
      this.policy,
      ({ deadline }) => invoke(method, request, deadline, options),
      {
        onRetry: (attempt, error) => this.noteRetry('catalog', this.config.catalogAddr, attempt.index, error),
      },
    );
  }

  /** A recommendation read, retried on UNAVAILABLE within the retry budget like catalog reads. */
  recommendation<Req, Res>(
    pick: (client: RecommendationServiceClient) => UnaryMethod<Req, Res>,
    request: Req,
    options: CallOptions = {},
  ): Promise<Res> {
    const method = pick(this.recommendationClient);
    const address = this.config.recommendationAddr;
    return withRetries(
      'the recommendation service',
      this.policy,
      ({ deadline }) => invoke(method, request, deadline, options),
      { onRetry: (attempt, error) => this.noteRetry('recommendation', address, attempt.index, error) },
    );
  }

  /**
   * A catalog write (admin): ONE attempt. Creating an event or a show is not idempotent, and a call
   * that failed after it was sent may have been applied, so it is never sent twice on its own; the
   * admin sees the error and looks before trying again.
   */
  catalogWrite<Req, Res>(
    pick: (client: CatalogServiceClient) => UnaryMethod<Req, Res>,
    request: Req,
    options: CallOptions,
  ): Promise<Res> {
    return invoke(pick(this.catalogClient), request, Date.now() + this.config.deadlineMs, options);
  }

  /**
   * CatalogService.ImportCatalog: calls `onProgress` for each progress message and resolves with the
   * last one when the stream ends (rejects with the stream's error). Aborting `signal` (the browser
   * went away) cancels the call; the catalog then stops between records.
   */
  importCatalog(
    request: ImportCatalogRequest,
    options: CallOptions,
    onProgress: (progress: ImportProgress) => void,
    signal: AbortSignal,
  ): Promise<ImportProgress | undefined> {
    const metadata = new Metadata();
    if (options.token) metadata.set('authorization', `Bearer ${options.token}`);
    const call = this.catalogClient.importCatalog(request, metadata, {
      deadline: Date.now() + IMPORT_TIMEOUT_MS,
    });
    const cancel = (): void => call.cancel();
    signal.addEventListener('abort', cancel, { once: true });
    let last: ImportProgress | undefined;
    return new Promise<ImportProgress | undefined>((resolve, reject) => {
      call.on('data', (progress: ImportProgress) => {
        last = progress;
        onProgress(progress);
      });
      call.on('error', reject);
      call.on('end', () => resolve(last));
    }).finally(() => signal.removeEventListener('abort', cancel));
  }

  /**
   * A booking group call: the first attempt goes to the next node in round-robin order, each retry
   * to the node after the one that failed. Any node accepts any call (slaves forward writes to the
   * master), so the node only matters when it is down or the group is electing.
   */
  booking<Req, Res>(
    pick: (clients: BookingClients) => UnaryMethod<Req, Res>,
    request: Req,
    options: CallOptions = {},
  ): Promise<Res> {
    const first = this.nextNodeIndex();
    return withRetries(
      'the booking group',
      this.policy,
      ({ index, deadline }) =>
        this.onNode((first + index) % this.nodes.length, pick, request, deadline, options),
      {
        onRetry: (attempt, error) => {
          const node = this.nodes[(first + attempt.index) % this.nodes.length]!;
          this.noteRetry(`booking node ${node.nodeId}`, node.address, attempt.index, error);
        },
      },
    );
  }

  /** How many booking nodes are configured. */
  get nodeCount(): number {
    return this.nodes.length;
  }

  /**
   * One booking call on node number `index` (modulo the node count), no retry: for pollers, which
   * stay on one node so what they see never goes back in time, and whose next tick is the retry.
   */
  bookingAt<Req, Res>(
    index: number,
    pick: (clients: BookingClients) => UnaryMethod<Req, Res>,
    request: Req,
    timeoutMs: number,
    options: CallOptions = {},
  ): Promise<Res> {
    const deadline = Date.now() + Math.min(timeoutMs, this.config.deadlineMs);
    return this.onNode(index % this.nodes.length, pick, request, deadline, options);
  }

  /** One attempt on one node; a retryable failure makes the node a poor first choice for a while. */
  private async onNode<Req, Res>(
    index: number,
    pick: (clients: BookingClients) => UnaryMethod<Req, Res>,
    request: Req,
    deadline: number,
    options: CallOptions,
  ): Promise<Res> {
    try {
      const response = await invoke(pick(this.nodes[index]!), request, deadline, options);
      this.suspectUntil.delete(index);
      return response;
    } catch (error) {
      if (isRetryable(error)) this.suspectUntil.set(index, Date.now() + SUSPECT_MS);
      throw error;
    }
  }

  /** ClusterService.Status of one configured peer, as a view ({reachable:false, error} when it does not answer). */
  async nodeStatus(nodeId: number): Promise<NodeView> {
    const peer = this.peers.find((p) => p.nodeId === nodeId);
    if (!peer) throw new Error(`no peer ${nodeId}`);
    const deadline = Date.now() + Math.min(STATUS_TIMEOUT_MS, this.config.deadlineMs);
    try {
      const status = await invoke(peer.cluster.status.bind(peer.cluster), {}, deadline);
      return nodeView(peer.nodeId, peer.address, status);
    } catch (error) {
      return { nodeId: peer.nodeId, address: peer.address, reachable: false, error: describe(error) };
    }
  }

  /** Node ids of the configured peers. */
  peerIds(): number[] {
    return this.peers.map((p) => p.nodeId);
  }

  /** Status of every booking node, asked in parallel; each slave's lag filled in from its master. */
  async clusterStatus(): Promise<NodeView[]> {
    return withLag(await Promise.all(this.peerIds().map((id) => this.nodeStatus(id))));
  }

  /** grpc.health.v1 Check of the catalog and of every booking node, in parallel. */
  async health(): Promise<{
    catalog: UpstreamHealth;
    recommendation: UpstreamHealth;
    booking: UpstreamHealth[];
  }> {
    const check = async (name: string, address: string, client: HealthClient, nodeId?: number) => {
      const base = { name, address, ...(nodeId === undefined ? {} : { nodeId }) };
      try {
        const answer = await invoke(
          client.check.bind(client),
          { service: '' },
          Date.now() + Math.min(HEALTH_TIMEOUT_MS, this.config.deadlineMs),
        );
        const serving = answer.status === ServingStatus.SERVING;
        return { ...base, serving, ...(serving ? {} : { error: ServingStatus[answer.status] }) };
      } catch (error) {
        return { ...base, serving: false, error: describe(error) };
      }
    };
    const [catalog, recommendation, ...booking] = await Promise.all([
      check('catalog', this.config.catalogAddr, this.catalogHealth),
      check('recommendation', this.config.recommendationAddr, this.recommendationHealth),
      ...this.nodes.map((n) => check(`booking-${n.nodeId}`, n.address, n.health, n.nodeId)),
    ]);
    return { catalog: catalog!, recommendation: recommendation!, booking };
  }

  close(): void {
    const clients: Client[] = [
      this.catalogClient,
      this.catalogHealth,
      this.recommendationClient,
      this.recommendationHealth,
    ];
    for (const node of this.nodes) clients.push(node.booking, node.accounts, node.health);
    for (const peer of this.peers) clients.push(peer.cluster);
    for (const client of clients) client.close();
  }

  /**
   * Round robin over the nodes, passing over those that just failed (down, paused, electing) while
   * another is available: a paused node would otherwise cost every third call a full deadline.
   */
  private nextNodeIndex(): number {
    const count = this.nodes.length;
    const now = Date.now();
    let index = this.cursor;
    for (let k = 0; k < count; k++) {
      const candidate = (this.cursor + k) % count;
      if ((this.suspectUntil.get(candidate) ?? 0) <= now) {
        index = candidate;
        break;
      }
    }
    this.cursor = (index + 1) % count;
    return index;
  }

  private noteRetry(upstream: string, address: string, attempt: number, error: unknown): void {
    this.retryCount += 1;
    this.logger.info(
      { upstream, address, attempt: attempt + 1, err: describe(error) },
      'retrying an upstream call',
    );
  }
}

/** A gRPC error as "UNAVAILABLE: message" (or any error's message). */
export function describe(error: unknown): string {
  if (isGrpcError(error)) return `${codeName(error.code)}: ${error.details}`;
  return error instanceof Error ? error.message : String(error);
}
