import type { Logger } from 'pino';
import { UnavailableError } from '../common/errors';
import type { ServiceRegistration } from '../common/grpc-server';
import type { LamportClock } from '../common/lamport';
import type { Pool, PoolConnection } from '../common/mysql';
import { withTransaction } from '../common/mysql';
import type { ClusterSecret } from '../common/peer-auth';
import { Follower } from './follower';
import { ReplicationLog } from './log-store';
import type { ReplicationState } from './log-store';
import type { SlaveLag } from './progress';
import { Replicator } from './replicator';
import type { ReplicatorTiming } from './replicator';
import { GrpcReplicationPeer, replicationService } from './transport';
import type { ReplicationPeer } from './transport';
import { NOOP_OP } from './types';
import type { AckPolicy, NodeId, StateMachine } from './types';

/*
 * One booking node's replication: always a slave endpoint (the gRPC service), and the master side
 * while the election says so. The election decides roles and terms; this class only obeys
 * becomeMaster(term) / stepDown() and reports back through onDeposed when a slave knows better.
 */

export interface ReplicationNodeOptions extends Partial<ReplicatorTiming> {
  readonly nodeId: NodeId;
  /** This node's database (the caller owns the pool). */
  readonly pool: Pool;
  readonly machine: StateMachine;
  /** Every other member's address (host:port); this node's own id may be listed and is skipped. */
  readonly peers: ReadonlyMap<NodeId, string>;
  readonly secret: ClusterSecret;
  readonly clock: LamportClock;
  readonly logger: Logger;
  readonly policy?: AckPolicy;
  /** A slave answered with a higher term, or an Append/Snapshot from a newer master arrived. */
  readonly onDeposed?: (term: number) => void;
  /** For tests: replaces the gRPC peers. */
  readonly peerFactory?: (id: NodeId, address: string) => ReplicationPeer;
}

export interface ReplicationStatus {
  readonly nodeId: NodeId;
  readonly role: 'master' | 'slave';
  readonly term: number;
  readonly commitIndex: number;
  /** Per slave, on a master; empty on a slave. */
  readonly slaves: SlaveLag[];
}

const DEFAULT_TIMING: ReplicatorTiming = {
  heartbeatMs: 100,
  rpcTimeoutMs: 2000,
  ackTimeoutMs: 5000,
  maxBatch: 256,
  retainEntries: 10_000,
};

export class ReplicationNode {
  readonly log: ReplicationLog;
  readonly follower: Follower;
  private readonly timing: ReplicatorTiming;
  private readonly peers = new Map<NodeId, ReplicationPeer>();
  private replicator: Replicator | undefined;
  /** Bumped by every role change, so a becomeMaster that lost a race with a newer term gives up. */
  private generation = 0;
  private knownTerm = 0;
  private stopped = false;

  constructor(private readonly options: ReplicationNodeOptions) {
    this.timing = {
      heartbeatMs: options.heartbeatMs ?? DEFAULT_TIMING.heartbeatMs,
      rpcTimeoutMs: options.rpcTimeoutMs ?? DEFAULT_TIMING.rpcTimeoutMs,
      ackTimeoutMs: options.ackTimeoutMs ?? DEFAULT_TIMING.ackTimeoutMs,
      maxBatch: options.maxBatch ?? DEFAULT_TIMING.maxBatch,
      retainEntries: options.retainEntries ?? DEFAULT_TIMING.retainEntries,
    };
    this.log = new ReplicationLog(options.pool, options.nodeId);
    this.follower = new Follower({
      log: this.log,
      machine: options.machine,
      logger: options.logger,
      onLeader: (term) => this.learnTerm(term),
    });
    const makePeer =
      options.peerFactory ??
      ((_id: NodeId, address: string) =>
        new GrpcReplicationPeer(address, options.secret, options.clock, options.logger));
    for (const [id, address] of options.peers)
      if (id !== options.nodeId) this.peers.set(id, makePeer(id, address));
  }

  /** Creates the tables if needed and resumes applying from the persisted applied position. */
  async start(): Promise<ReplicationState> {
    await this.log.migrate();
    const state = await this.log.state();
    this.knownTerm = state.currentTerm;
    this.follower.kick();
    return state;
  }

  /** The slave endpoint, for startGrpcServer's `services`. */
  service(): ServiceRegistration {
    return replicationService({
      follower: this.follower,
      secret: this.options.secret,
      logger: this.options.logger,
    });
  }

  get isMaster(): boolean {
    return this.replicator?.active === true;
  }

  /**
   * Takes over as master of `term` (decided by the election): persists the term, applies every entry
   * this node holds (they are the group's history now), appends the term's no-op so earlier entries
   * can commit (Raft §8), then starts shipping. Throws if a higher term was seen.
   */
  async becomeMaster(term: number): Promise<void> {
    await this.stepDown('a new term begins');
    const generation = ++this.generation;
    await this.log.claimTerm(term);
    this.knownTerm = term;
    await this.follower.applyAll();
    const termStart = await withTransaction(this.options.pool, (connection) =>
      this.log.appendInTransaction(connection, {
        term,
        lamport: this.options.clock.tick(),
        op: NOOP_OP,
        payload: '{}',
      }),
    );
    if (generation !== this.generation || this.stopped)
      throw new UnavailableError(`term ${term} ended before this node started serving it`);
    const state = await this.log.state();
    const replicator = new Replicator({
      ...this.timing,
      nodeId: this.options.nodeId,
      term,
      termStart,
      commitIndex: state.commitIndex,
      lastIndex: state.lastIndex,
      policy: this.options.policy ?? 'majority',
      peers: this.peers,
      log: this.log,
      machine: this.options.machine,
      logger: this.options.logger.child({ component: 'replicator', term }),
      onDeposed: (newTerm) => this.deposed(newTerm),
    });
    this.replicator = replicator;
    replicator.start();
    this.options.logger.info({ term, termStart }, 'replication: serving as master');
  }

  /** Stops the master side (the election moved on); waiting replicate() calls fail with UNAVAILABLE. */
  async stepDown(reason = 'stepped down'): Promise<void> {
    const replicator = this.replicator;
    this.replicator = undefined;
    this.generation++;
    await replicator?.stop(`node ${this.options.nodeId} ${reason}`);
  }

  /**
   * Appends a state change's entry in the caller's transaction (see ReplicationLog.appendInTransaction)
   * under the current master term. Throws UnavailableError on a node that is not master.
   */
  appendInTransaction(
    connection: PoolConnection,
    entry: { lamport: number; op: string; payload: string },
  ): Promise<number> {
    const replicator = this.replicator;
    if (!replicator?.active)
      return Promise.reject(new UnavailableError(`node ${this.options.nodeId} is not the master`));
    return this.log.appendInTransaction(connection, { ...entry, term: replicator.term });
  }

  /** After the caller's transaction committed: resolves when the ack policy holds for `index`. */
  replicate(index: number, timeoutMs?: number): Promise<void> {
    const replicator = this.replicator;
    if (!replicator)
      return Promise.reject(new UnavailableError(`node ${this.options.nodeId} is not the master`));
    return replicator.replicate(index, timeoutMs);
  }

  /** In-memory view for ClusterService.Status (no database round trip). */
  status(): ReplicationStatus {
    const replicator = this.replicator?.active ? this.replicator : undefined;
    return {
      nodeId: this.options.nodeId,
      role: replicator ? 'master' : 'slave',
      term: Math.max(this.knownTerm, replicator?.term ?? 0),
      commitIndex: replicator?.commitIndex ?? 0,
      slaves: replicator?.lags() ?? [],
    };
  }

  /** Stops shipping and applying and closes the channels; the pool stays the caller's. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.stepDown('stopped');
    await this.follower.stop();
    for (const peer of this.peers.values()) peer.close();
  }

  private learnTerm(term: number): void {
    this.knownTerm = Math.max(this.knownTerm, term);
    const replicator = this.replicator;
    if (replicator && term > replicator.term) this.deposed(term);
  }

  private deposed(term: number): void {
    this.knownTerm = Math.max(this.knownTerm, term);
    const replicator = this.replicator;
    if (replicator && replicator.term < term) {
      this.replicator = undefined;
      this.generation++;
      replicator
        .stop(`node ${this.options.nodeId} was deposed by term ${term}`)
        .catch((error: unknown) =>
          this.options.logger.error({ err: error }, 'replication: stopping the replicator failed'),
        );
    }
    this.options.onDeposed?.(term);
  }
}
