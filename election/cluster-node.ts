import path from 'node:path';
import type { ServiceDefinition } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  ClusterServiceClient,
  ClusterServiceService,
  ElectionServiceClient,
  ElectionServiceService,
  NodeRole,
} from '../proto/gen/marquee/cluster/v1/cluster';
import type {
  ClusterServiceServer,
  ElectionServiceServer,
  NodeStatus,
} from '../proto/gen/marquee/cluster/v1/cluster';
import { adaptService, startGrpcServer } from '../services/common/grpc-server';
import type { RunningServer, ServiceRegistration } from '../services/common/grpc-server';
import type { LamportClock } from '../services/common/lamport';
import type { ClusterSecret } from '../services/common/peer-auth';
import { makeConfig } from './config';
import { probePort } from './peer-probe';
import type { ElectionConfig } from './config';
import { DEFAULT_TICK_MS, ElectionRunner } from './runner';
import type { ElectionStatus } from './runner';
import { FileTermStore } from './term-store';
import type { TermStore } from './term-store';
import { GrpcElectionTransport, electionServiceHandlers } from './transport';
import type { LogView, NodeId, Role } from './types';

/** Timings a node may override (the group should agree on them; see election/README.md). */
export type ElectionTimings = Partial<Omit<ElectionConfig, 'id' | 'peers'>>;

export interface ElectionNodeOptions {
  readonly id: NodeId;
  /** host:port of every member of the group; this node's own entry, if present, is not dialled. */
  readonly peers: ReadonlyMap<NodeId, string>;
  readonly host: string;
  /** 0 picks a free port, but peers need to know the address: in a group, use a fixed one. */
  readonly port: number;
  readonly secret: ClusterSecret;
  readonly tickMs?: number;
  readonly timings?: ElectionTimings;
  /** Where the term file lives (`election-term.json`); or pass a termStore instead. */
  readonly dataDir?: string;
  readonly termStore?: TermStore;
  readonly logView?: LogView;
  readonly logger: Logger;
  readonly clock: LamportClock;
  /** Replication figures for ClusterService.Status (the booking node's ReplicationNode). */
  readonly replicationStatus?: () => ReplicationFigures;
  /**
   * Whether this node would accept a write right now, for ClusterService.Status: the booking node's
   * answer (election lease, replication serving its term, etcd gate). Default: the election's alone.
   */
  readonly canServeWrites?: () => boolean;
  /**
   * The etcd fallback lease as this node last saw it, for ClusterService.Status: holder node id and
   * fencing token (both 0: none known, or etcd not in use).
   */
  readonly etcdLease?: () => { readonly holder: number; readonly token: number };
  /** Largest peer message accepted (the replication endpoint receives snapshots); default 4 MiB. */
  readonly maxReceiveMessageBytes?: number;
  /** More services for the same peer server (the booking node's replication endpoint). */
  readonly services?: readonly ServiceRegistration[];
}

/** What ClusterService.Status reports about replication; the election itself knows none of it. */
export interface ReplicationFigures {
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly slaves: readonly {
    readonly nodeId: number;
    readonly matchIndex: number;
    readonly lagEntries: number;
    readonly lastAckAgeMs: number | undefined;
  }[];
}

export interface ElectionNode {
  readonly port: number;
  readonly runner: ElectionRunner;
  readonly transport: GrpcElectionTransport;
  /** Stops the election first (nothing more is sent), then the server, letting calls finish for `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export const TERM_FILE = 'election-term.json';

/**
 * A booking-group member's election on its own gRPC server: ElectionService (peers, authenticated)
 * and ClusterService (status, open), plus health and reflection from startGrpcServer.
 */
export async function startElectionNode(options: ElectionNodeOptions): Promise<ElectionNode> {
  const { id, logger, clock, secret } = options;
  const termStore = resolveTermStore(options);
  const tickMs = options.tickMs ?? DEFAULT_TICK_MS;
  const config = makeConfig({
    ...options.timings,
    id,
    peers: [...new Set([id, ...options.peers.keys()])].sort((a, b) => a - b),
  });
  const transport = new GrpcElectionTransport({
    id,
    peers: options.peers,
    secret,
    clock,
    logger: logger.child({ component: 'election-transport' }),
    deadlineMs: config.failureTicks * tickMs,
    initialReconnectBackoffMs: 2 * config.heartbeatTicks * tickMs,
  });
  const runner = new ElectionRunner({
    config,
    termStore,
    sender: transport,
    clock,
    logger: logger.child({ component: 'election' }),
    tickMs,
    ...(options.logView === undefined ? {} : { logView: options.logView }),
    // A refused connect answers within a round trip; wait no longer than a heartbeat for anything else.
    probe: async (peer) => {
      const address = options.peers.get(peer);
      if (address === undefined) return false;
      return (await probePort(address, config.heartbeatTicks * tickMs)) === 'refused';
    },
  });
  let server: RunningServer | undefined;
  try {
    await runner.start();
    server = await startGrpcServer({
      host: options.host,
      port: options.port,
      services: [
        {
          name: ElectionServiceClient.serviceName,
          ...adaptService<ElectionServiceServer>(
            ElectionServiceService as unknown as ServiceDefinition,
            electionServiceHandlers({ id, secret, deliver: (m) => runner.deliver(m), logger }),
            logger,
          ),
        },
        {
          name: ClusterServiceClient.serviceName,
          ...adaptService<ClusterServiceServer>(
            ClusterServiceService as unknown as ServiceDefinition,
            // Read-only and secret-free, like health: operators and the gateway watch it without the secret.
            {
              status: async () => ({
                ...toNodeStatus(runner.status(), options.replicationStatus?.()),
                ...(options.canServeWrites === undefined ? {} : { canServeWrites: options.canServeWrites() }),
                ...etcdLeaseFields(options.etcdLease?.()),
              }),
            },
            logger,
          ),
        },
        ...(options.services ?? []),
      ],
      logger,
      clock,
      ...(options.maxReceiveMessageBytes === undefined
        ? {}
        : { maxReceiveMessageBytes: options.maxReceiveMessageBytes }),
    });
  } catch (error) {
    await runner.stop();
    transport.close();
    throw error;
  }
  const running = server;
  return {
    port: running.port,
    runner,
    transport,
    stop: async (graceMs = 1000) => {
      await runner.stop();
      transport.close();
      await running.stop(graceMs);
    },
  };
}

const ROLES: Readonly<Record<Role, NodeRole>> = {
  slave: NodeRole.NODE_ROLE_SLAVE,
  candidate: NodeRole.NODE_ROLE_CANDIDATE,
  master: NodeRole.NODE_ROLE_MASTER,
};

/** ElectionStatus (+ replication figures when the node replicates) → NodeStatus. */
export function toNodeStatus(status: ElectionStatus, replication?: ReplicationFigures): NodeStatus {
  return {
    nodeId: status.nodeId,
    role: ROLES[status.role],
    term: status.term,
    masterId: status.masterId ?? 0,
    lamport: status.lamport,
    canServeWrites: status.canServeWrites,
    commitIndex: Math.max(status.commitIndex, replication?.commitIndex ?? 0),
    appliedIndex: replication?.appliedIndex ?? 0,
    slaves: (replication?.slaves ?? []).map((slave) => ({
      nodeId: slave.nodeId,
      matchIndex: slave.matchIndex,
      lagEntries: slave.lagEntries,
      // 0 also for "never answered": the proto has no optional here; match_index 0 tells them apart.
      lastAckMs: Math.round(slave.lastAckAgeMs ?? 0),
    })),
    etcdLeaseHolder: 0,
    etcdLeaseToken: 0,
  };
}

function etcdLeaseFields(
  lease: { readonly holder: number; readonly token: number } | undefined,
): Pick<NodeStatus, 'etcdLeaseHolder' | 'etcdLeaseToken'> {
  return { etcdLeaseHolder: lease?.holder ?? 0, etcdLeaseToken: lease?.token ?? 0 };
}

function resolveTermStore(options: ElectionNodeOptions): TermStore {
  if (options.termStore !== undefined) return options.termStore;
  if (options.dataDir !== undefined) return new FileTermStore(path.join(options.dataDir, TERM_FILE));
  throw new Error('startElectionNode: give dataDir or termStore (the term must survive restarts)');
}
