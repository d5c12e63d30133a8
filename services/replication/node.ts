import type { Logger } from 'pino';
import { UnavailableError } from '../common/errors';
import type { ServiceRegistration } from '../common/grpc-server';
import type { LamportClock } from '../common/lamport';
import type { Pool, PoolConnection } from '../common/mysql';
import { withTransaction } from '../common/mysql';
import type { ClusterSecret } from '../common/peer-auth';
import { CatchUpSource, pullLog } from './catch-up';
import { traceAcknowledge } from './entry-tracing';
import { Follower } from './follower';
import { CachedLogPosition } from './log-view';
import { ReplicationLog } from './log-store';
import type { ReplicationState } from './log-store';
import type { SlaveLag } from './progress';
import { Replicator } from './replicator';
import type { ReplicatorTiming } from './replicator';
import { SnapshotInstaller } from './snapshot-install';
import { SnapshotSource } from './snapshot-source';
import { GrpcReplicationPeer, replicationService } from './transport';
import type { ReplicationPeer } from './transport';
import { NOOP_OP } from './types';
import type { AckPolicy, LogEntry, NewEntry, NodeId, StateMachine } from './types';

/*
 * One booking node's replication: always a slave endpoint (the gRPC service), and the master side
 * while the election says so. The election decides roles and terms; this class only obeys
 * becomeMaster(term) / stepDown() and reports back through onDeposed when a slave knows better.
 */

/** How snapshots are cut and when a stalled one is given up (snapshot-source.ts, snapshot-stream.ts). */
export interface SnapshotTiming {
  /** A snapshot stream without progress for this long is dropped (then resumed); no whole-transfer deadline. */
  readonly snapshotIdleMs: number;
  /** Rows per read on the sender (memory and event-loop time per step). */
  readonly snapshotBatchRows: number;
  /** Largest chunk, in bytes of row JSON. */
  readonly snapshotChunkBytes: number;
  /** How long the sender keeps a read point open for a resume after its stream dropped. */
  readonly snapshotLingerMs: number;
}

export interface ReplicationNodeOptions extends Partial<ReplicatorTiming>, Partial<SnapshotTiming> {
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
  /**
   * The election's current term: the follower refuses older masters once this node has voted past
   * them (see Follower's fenceTerm). Without it, only terms seen by replication fence.
   */
  readonly fenceTerm?: () => number;
  /** Largest message on peer channels (tests make it small: snapshots must still pass in chunks). */
  readonly maxMessageBytes?: number;
  /** For tests: replaces the gRPC peers. */
  readonly peerFactory?: (id: NodeId, address: string) => ReplicationPeer;
}

export interface ReplicationStatus {
  readonly nodeId: NodeId;
  readonly role: 'master' | 'slave';
  readonly term: number;
  readonly commitIndex: number;
  /** Every entry up to here is in this node's booking state (as of the last position refresh). */
  readonly appliedIndex: number;
  readonly lastIndex: number;
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

const DEFAULT_SNAPSHOT_TIMING: SnapshotTiming = {
  snapshotIdleMs: 10_000,
  snapshotBatchRows: 2000,
  snapshotChunkBytes: 1024 * 1024,
  snapshotLingerMs: 60_000,
};

/** How often the in-memory log position is re-read besides after every append (master writes). */
const POSITION_REFRESH_MS = 100;

export class ReplicationNode {
  readonly log: ReplicationLog;
  readonly follower: Follower;
  /** The log position the election reads synchronously (see log-view.ts). */
  readonly position: CachedLogPosition;
  private readonly source: CatchUpSource;
  private readonly snapshots: SnapshotSource;
  private readonly installer: SnapshotInstaller;
  private readonly snapshotTiming: SnapshotTiming;
  private positionTimer: NodeJS.Timeout | undefined;
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
    this.snapshotTiming = {
      snapshotIdleMs: options.snapshotIdleMs ?? DEFAULT_SNAPSHOT_TIMING.snapshotIdleMs,
      snapshotBatchRows: options.snapshotBatchRows ?? DEFAULT_SNAPSHOT_TIMING.snapshotBatchRows,
      snapshotChunkBytes: options.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_TIMING.snapshotChunkBytes,
      snapshotLingerMs: options.snapshotLingerMs ?? DEFAULT_SNAPSHOT_TIMING.snapshotLingerMs,
    };
    this.log = new ReplicationLog(options.pool, options.nodeId);
    this.position = new CachedLogPosition(this.log);
    this.snapshots = new SnapshotSource({
      log: this.log,
      machine: options.machine,
      logger: options.logger,
      batchRows: this.snapshotTiming.snapshotBatchRows,
      chunkBytes: this.snapshotTiming.snapshotChunkBytes,
      lingerMs: this.snapshotTiming.snapshotLingerMs,
    });
    this.source = new CatchUpSource(this.log, this.snapshots, options.logger);
    this.installer = new SnapshotInstaller({
      log: this.log,
      machine: options.machine,
      logger: options.logger,
      onLeader: (term) => this.learnTerm(term),
      ...(options.fenceTerm === undefined ? {} : { fenceTerm: options.fenceTerm }),
      afterCommit: () => this.position.refresh(),
      // Its own read points would hold the live tables the swap renames (a deposed master's, say).
      beforeSwap: () => this.snapshots.closeAll(),
    });
    this.follower = new Follower({
      log: this.log,
      machine: options.machine,
      logger: options.logger,
      onLeader: (term) => this.learnTerm(term),
      ...(options.fenceTerm === undefined ? {} : { fenceTerm: options.fenceTerm }),
      afterCommit: () => this.position.refresh(),
      retainEntries: this.timing.retainEntries,
    });
    const makePeer =
      options.peerFactory ??
      ((_id: NodeId, address: string) =>
        new GrpcReplicationPeer(
          address,
          options.secret,
          options.clock,
          options.logger,
          undefined,
          options.maxMessageBytes,
        ));
    for (const [id, address] of options.peers)
      if (id !== options.nodeId) this.peers.set(id, makePeer(id, address));
  }

  /**
   * Creates the tables if needed, finishes a snapshot swap a crash interrupted (before anything is
   * applied: see snapshot-install.ts), and resumes applying from the persisted applied position.
   */
  async start(): Promise<ReplicationState> {
    await this.log.migrate();
    await this.installer.recover();
    const state = await this.log.state();
    this.knownTerm = state.currentTerm;
    await this.position.refresh();
    // A master's own appends commit in its callers' transactions; pick them up on a timer.
    this.positionTimer = setInterval(() => {
      this.position
        .refresh()
        .catch((error: unknown) =>
          this.options.logger.warn({ err: error }, 'replication: position read failed'),
        );
    }, POSITION_REFRESH_MS).unref();
    this.follower.kick();
    return state;
  }

  /**
   * The log as the election sees it: (lastTerm, lastIndex) from the cache, and the commit index —
   * the replicator's while master (a master keeps it in memory), the persisted one otherwise.
   */
  logView(): { position(): { lastTerm: number; lastIndex: number }; commitIndex(): number } {
    return {
      position: () => this.position.position(),
      commitIndex: () => {
        const replicator = this.replicator?.active ? this.replicator : undefined;
        return Math.max(replicator?.commitIndex ?? 0, this.position.commitIndex());
      },
    };
  }

  /**
   * Catch-up of a node elected master of `term` whose log is behind `sourceId`'s: copies that log
   * (see catch-up.ts) and resolves with the index ours now reaches. Call becomeMaster(term) after.
   */
  async catchUpFrom(sourceId: NodeId, term: number, signal: AbortSignal): Promise<number> {
    const source = this.peers.get(sourceId);
    if (source === undefined) throw new Error(`no peer ${sourceId} to catch up from`);
    this.options.logger.info({ term, source: sourceId }, 'replication: catching up before serving');
    const reached = await pullLog({
      nodeId: this.options.nodeId,
      term,
      source,
      sourceId,
      log: this.log,
      follower: this.follower,
      installer: this.installer,
      logger: this.options.logger,
      signal,
      batch: this.timing.maxBatch,
      rpcTimeoutMs: this.timing.rpcTimeoutMs,
      snapshotIdleMs: this.snapshotTiming.snapshotIdleMs,
      retryMs: this.timing.heartbeatMs,
    });
    await this.position.refresh();
    return reached;
  }

  /**
   * A slave that must reach `index` before it may take over (a returning higher id): resolves with
   * the applied index once the master's appends have brought it that far and this node has applied
   * them. Applied, not only copied: a node elected with a copied but unapplied backlog applies it
   * before serving, and the group has no master meanwhile (seen under unpaced load: ~1 s per
   * hand-over); while it waits here, the old master keeps serving.
   */
  async waitForCommit(index: number, signal: AbortSignal): Promise<number> {
    for (;;) {
      const state = await this.log.state();
      const reached = Math.min(state.commitIndex, state.lastIndex, state.appliedIndex);
      if (reached >= index) return reached;
      if (signal.aborted) throw new UnavailableError(`stopped waiting for index ${index}`);
      await new Promise((resolve) => setTimeout(resolve, this.timing.heartbeatMs).unref());
    }
  }

  /** The slave endpoint, for startGrpcServer's `services`. */
  service(): ServiceRegistration {
    return replicationService({
      nodeId: this.options.nodeId,
      follower: this.follower,
      installer: this.installer,
      source: this.source,
      secret: this.options.secret,
      logger: this.options.logger,
      snapshotIdleMs: this.snapshotTiming.snapshotIdleMs,
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
      snapshots: this.snapshots,
      snapshotIdleMs: this.snapshotTiming.snapshotIdleMs,
      logger: this.options.logger.child({ component: 'replicator', term }),
      onDeposed: (newTerm) => this.deposed(newTerm),
    });
    // The position our votes carry includes the no-op before any slave can acknowledge it.
    await this.position.refresh();
    if (generation !== this.generation || this.stopped)
      throw new UnavailableError(`term ${term} ended before this node started serving it`);
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
  appendInTransaction(connection: PoolConnection, entry: Omit<NewEntry, 'term'>): Promise<number> {
    const replicator = this.replicator;
    if (!replicator?.active)
      return Promise.reject(new UnavailableError(`node ${this.options.nodeId} is not the master`));
    return this.log.appendInTransaction(connection, { ...entry, term: replicator.term });
  }

  /**
   * This master's own append of `entries` has committed (its writer calls this at once after COMMIT):
   * the position its votes carry moves (log-view.ts), and the shipping loops keep the entries.
   */
  appended(entries: readonly LogEntry[]): void {
    const last = entries.at(-1);
    if (last === undefined) return;
    this.position.advance(last.index, last.term);
    const replicator = this.replicator;
    if (replicator?.active && replicator.term === last.term) replicator.remember(entries);
  }

  /** The term this node is master of now, or undefined when it is not serving as master. */
  masterTerm(): number | undefined {
    const replicator = this.replicator;
    return replicator?.active ? replicator.term : undefined;
  }

  /** After the caller's transaction committed: resolves when the ack policy holds for `index`. */
  replicate(index: number, timeoutMs?: number): Promise<void> {
    const replicator = this.replicator;
    if (!replicator)
      return Promise.reject(new UnavailableError(`node ${this.options.nodeId} is not the master`));
    return traceAcknowledge(index, this.options.nodeId, () => replicator.replicate(index, timeoutMs));
  }

  /** In-memory view for ClusterService.Status (no database round trip). */
  status(): ReplicationStatus {
    const replicator = this.replicator?.active ? this.replicator : undefined;
    return {
      nodeId: this.options.nodeId,
      role: replicator ? 'master' : 'slave',
      term: Math.max(this.knownTerm, replicator?.term ?? 0),
      commitIndex: Math.max(replicator?.commitIndex ?? 0, this.position.commitIndex()),
      appliedIndex: this.position.appliedIndex(),
      lastIndex: this.position.position().lastIndex,
      slaves: replicator?.lags() ?? [],
    };
  }

  /** Stops shipping and applying and closes the channels; the pool stays the caller's. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.positionTimer);
    await this.stepDown('stopped');
    await this.follower.stop();
    await this.snapshots.closeAll();
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
