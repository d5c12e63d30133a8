import { credentials, status as Code } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ElectionServiceClient, ElectionServiceService } from '../proto/gen/marquee/cluster/v1/cluster';
import type {
  DeliverAck,
  ElectionEnvelope,
  ElectionServiceServer,
} from '../proto/gen/marquee/cluster/v1/cluster';
import { FailedPreconditionError } from '../services/common/errors';
import { grpcClientOptions } from '../services/common/grpc-client';
import type { AsyncHandlers, CallContext } from '../services/common/grpc-server';
import type { LamportClock } from '../services/common/lamport';
import { requirePeer } from '../services/common/peer-auth';
import type { ClusterSecret } from '../services/common/peer-auth';
import type { MessageSender } from './runner';
import type { Message, NodeId } from './types';
import { fromEnvelope, toEnvelope } from './wire';

/*
 * Election messages over gRPC: one unary Deliver per message, fire-and-forget. The bully protocol is
 * built for loss (every step is retried on a timeout), so a failed send is not retried here; a dead
 * peer is the normal case this protocol exists for, not an error.
 */

export interface GrpcElectionTransportOptions {
  /** This node's id: a peer map may list it, and it is never dialled. */
  readonly id: NodeId;
  /** Every member's address (host:port). */
  readonly peers: ReadonlyMap<NodeId, string>;
  readonly secret: ClusterSecret;
  readonly clock: LamportClock;
  readonly logger: Logger;
  /**
   * Deadline of one Deliver. A late message is still useful: a heartbeat ack renews the lease from its
   * round (the send time), and a late heartbeat still proves the master alive. So it is the silence
   * timeout, not a heartbeat: a short deadline made a busy node drop the very messages that keep the
   * group together (a call still queued behind booking work when it ran out was never handled).
   */
  readonly deadlineMs: number;
  /** First pause before redialling a peer that went away (a restarted peer is back that soon). */
  readonly initialReconnectBackoffMs?: number;
  /**
   * Longest pause between reconnect attempts to a dead peer. grpc-js's default (120 s) would keep a
   * restarted peer out of the election for minutes; a refused connect on a LAN costs next to nothing.
   */
  readonly maxReconnectBackoffMs?: number;
}

/** Per-peer counters, for status pages and tests. */
export interface PeerSendStats {
  sent: number;
  failed: number;
  /** undefined until the first call settles. */
  reachable: boolean | undefined;
}

export class GrpcElectionTransport implements MessageSender {
  private readonly clients = new Map<NodeId, ElectionServiceClient>();
  private readonly stats = new Map<NodeId, PeerSendStats>();
  private readonly logger: Logger;
  private closed = false;

  constructor(private readonly options: GrpcElectionTransportOptions) {
    this.logger = options.logger;
    const backoff = options.maxReconnectBackoffMs ?? 1000;
    const channel = {
      'grpc.initial_reconnect_backoff_ms': Math.min(backoff, options.initialReconnectBackoffMs ?? backoff),
      'grpc.max_reconnect_backoff_ms': backoff,
    };
    for (const [id, address] of options.peers) {
      if (id === options.id) continue;
      // One client (one channel) per peer, stamped by the Lamport client interceptor.
      const client = new ElectionServiceClient(
        address,
        credentials.createInsecure(),
        grpcClientOptions(options.clock, options.logger, channel),
      );
      this.clients.set(id, client);
      this.stats.set(id, { sent: 0, failed: 0, reachable: undefined });
    }
  }

  /** Never throws and never waits: the outcome is only counted and logged. */
  send(message: Message): void {
    const client = this.clients.get(message.to);
    const stats = this.stats.get(message.to);
    if (this.closed || client === undefined || stats === undefined) {
      if (!this.closed) this.logger.warn({ to: message.to }, 'election message to a node with no address');
      return;
    }
    stats.sent += 1;
    try {
      client.deliver(
        toEnvelope(message),
        this.options.secret.metadata(),
        { deadline: Date.now() + this.options.deadlineMs },
        (error: ServiceError | null) => this.settle(message, stats, error),
      );
    } catch (error) {
      this.settle(message, stats, error as ServiceError);
    }
  }

  peerStats(): ReadonlyMap<NodeId, Readonly<PeerSendStats>> {
    return this.stats;
  }

  close(): void {
    this.closed = true;
    for (const client of this.clients.values()) client.close();
  }

  private settle(message: Message, stats: PeerSendStats, error: ServiceError | null): void {
    const peer = message.to;
    if (error === null) {
      if (stats.reachable === false) this.logger.info({ peer }, 'election peer reachable again');
      stats.reachable = true;
      return;
    }
    stats.failed += 1;
    const code = Code[error.code] ?? String(error.code);
    this.logger.debug(
      { peer, type: message.type, code, details: error.details },
      'election message not delivered',
    );
    if (stats.reachable !== false) {
      stats.reachable = false;
      // A refused credential is a misconfiguration, not a crash: say so louder.
      const level = error.code === Code.UNAUTHENTICATED ? 'warn' : 'info';
      this.logger[level]({ peer, code, details: error.details }, 'election peer unreachable');
    }
  }
}

/** The receiving side of ElectionService: authenticate, decode, hand the message to the runner. */
export function electionServiceHandlers(options: {
  readonly id: NodeId;
  readonly secret: ClusterSecret;
  readonly deliver: (message: Message) => void;
  readonly logger: Logger;
}): AsyncHandlers<ElectionServiceServer> {
  const method = ElectionServiceService.deliver.path;
  return {
    deliver: async (request: ElectionEnvelope, context: CallContext): Promise<DeliverAck> => {
      // Before decoding anything: an unauthenticated caller learns nothing and changes nothing.
      requirePeer(context.metadata, options.secret, { peer: context.peer, method, logger: options.logger });
      const message = fromEnvelope(request);
      if (message.to !== options.id) {
        // A peer with a wrong address map: tell it, rather than let the core silently drop the message.
        throw new FailedPreconditionError(`to: this is node ${options.id}, not node ${message.to}`);
      }
      options.deliver(message);
      return {};
    },
  };
}
