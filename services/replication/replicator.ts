import type { Logger } from 'pino';
import { UnavailableError } from '../common/errors';
import { compactionPoint } from './compaction';
import type { ReplicationLog } from './log-store';
import {
  commitIndex,
  initialProgress,
  onAccepted,
  onFailure,
  onRejected,
  onSent,
  onSnapshotInstalled,
  policySatisfied,
  retryAtOnce,
  slaveLag,
} from './progress';
import type { Progress, Rejection, SlaveLag } from './progress';
import { RecentEntries } from './recent-entries';
import type { SnapshotSource } from './snapshot-source';
import type { ReplicationPeer } from './transport';
import type { AckPolicy, LogEntry, NodeId } from './types';

/*
 * The master side for one term: one shipping loop per slave (at most one request in flight each),
 * the commit index, and the callers waiting in replicate(). Progress bookkeeping is the pure
 * progress.ts; this class only does the I/O around it. A Replicator is made when the node becomes
 * master and discarded when it stops being one: it never outlives its term.
 */

export interface ReplicatorTiming {
  /** An idle slave gets an empty Append this often: the commit index travels with it. */
  readonly heartbeatMs: number;
  /** Deadline of one Append or OfferSnapshot call (a snapshot stream has none: snapshotIdleMs). */
  readonly rpcTimeoutMs: number;
  /** How long replicate() waits for its policy before rejecting with UNAVAILABLE. */
  readonly ackTimeoutMs: number;
  /** At most this many entries per Append. */
  readonly maxBatch: number;
  /** Keep at least this many committed entries before compacting; slaves further behind get a snapshot. */
  readonly retainEntries: number;
}

export interface ReplicatorOptions extends ReplicatorTiming {
  readonly nodeId: NodeId;
  readonly term: number;
  /** Index of this master's first entry of `term` (its no-op): the commit rule needs it. */
  readonly termStart: number;
  /** Commit index persisted when the node was a slave: a floor for this term's. */
  readonly commitIndex: number;
  readonly lastIndex: number;
  readonly policy: AckPolicy;
  readonly peers: ReadonlyMap<NodeId, ReplicationPeer>;
  readonly log: ReplicationLog;
  /** Read points for snapshots (shared with the catch-up source: one per receiver). */
  readonly snapshots: SnapshotSource;
  /** A snapshot stream that makes no progress for this long is dropped; the next round resumes it. */
  readonly snapshotIdleMs: number;
  readonly logger: Logger;
  /** A slave answered with a higher term: the node must stop being master. Called once. */
  readonly onDeposed: (term: number) => void;
  readonly now?: () => number;
}

interface Waiter {
  readonly index: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface Wakeup {
  pending: boolean;
  wake: (() => void) | undefined;
}

export class Replicator {
  private readonly progress = new Map<NodeId, Progress>();
  private readonly wakeups = new Map<NodeId, Wakeup>();
  private readonly loops: Promise<void>[] = [];
  private waiters: Waiter[] = [];
  private commit: number;
  private ownLast: number;
  private stopped = false;
  private readonly now: () => number;
  /** Ends snapshot streams in flight when the term ends (they have no deadline of their own). */
  private readonly abort = new AbortController();
  /** Per slave, the snapshot last sent to it: a resend resumes it while its read point is open. */
  private readonly snapshotOf = new Map<NodeId, string>();
  /** This term's own appends, so shipping them reads no log rows (recent-entries.ts). */
  private readonly recent = new RecentEntries();

  constructor(private readonly options: ReplicatorOptions) {
    this.now = options.now ?? Date.now;
    this.commit = options.commitIndex;
    this.ownLast = options.lastIndex;
    for (const id of options.peers.keys()) {
      this.progress.set(id, initialProgress(options.lastIndex));
      this.wakeups.set(id, { pending: false, wake: undefined });
    }
  }

  get term(): number {
    return this.options.term;
  }

  get commitIndex(): number {
    return this.commit;
  }

  get active(): boolean {
    return !this.stopped;
  }

  start(): void {
    for (const [id, peer] of this.options.peers) this.loops.push(this.run(id, peer));
  }

  /**
   * Resolves once `index` (already committed locally) satisfies the ack policy. Rejects with
   * UnavailableError when the policy is not met within ackTimeoutMs, or when this master is deposed
   * or stopped first: the caller must then not tell its client the write is durable.
   */
  replicate(index: number, timeoutMs = this.options.ackTimeoutMs): Promise<void> {
    if (this.stopped) return Promise.reject(this.notMaster());
    this.ownLast = Math.max(this.ownLast, index);
    this.kickAll();
    if (this.satisfied(index)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.timer !== timer);
        reject(
          new UnavailableError(
            `index ${index} was not acknowledged by ${this.options.policy === 'all' ? 'all slaves' : 'a majority'} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.waiters.push({ index, resolve, reject, timer });
    });
  }

  /** Entries this master appended in its term, committed to its log: kept to ship without reading them. */
  remember(entries: readonly LogEntry[]): void {
    if (entries.every((entry) => entry.term === this.options.term)) this.recent.add(entries);
  }

  /** Wakes every shipping loop (new entries to send). */
  kickAll(): void {
    for (const wakeup of this.wakeups.values()) {
      wakeup.pending = true;
      wakeup.wake?.();
    }
  }

  lags(): SlaveLag[] {
    const now = this.now();
    return [...this.progress].map(([id, progress]) => slaveLag(id, progress, this.ownLast, now));
  }

  /** Stops shipping and fails every waiter; resolves when the loops have returned. */
  async stop(reason: string): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.abort.abort();
      this.failWaiters(new UnavailableError(reason));
      this.kickAll();
    }
    await Promise.all(this.loops);
  }

  private satisfied(index: number): boolean {
    return policySatisfied(this.options.policy, index, this.commit, this.slaveMatches());
  }

  private slaveMatches(): number[] {
    return [...this.progress.values()].map((progress) => progress.match);
  }

  private async run(id: NodeId, peer: ReplicationPeer): Promise<void> {
    const logger = this.options.logger.child({ slave: id });
    while (!this.stopped) {
      let outcome: 'more' | 'idle' | 'stuck' | 'failed';
      try {
        outcome = await this.shipOnce(id, peer);
      } catch (error) {
        this.update(id, onFailure);
        logger.debug({ err: error }, 'replication: call to slave failed');
        outcome = 'failed';
      }
      if (outcome === 'more') continue;
      // After a failure or a refusal that taught nothing only the heartbeat retries: kicks would
      // repeat the same call once per write.
      await this.sleep(id, this.options.heartbeatMs, outcome === 'idle');
    }
  }

  private async shipOnce(id: NodeId, peer: ReplicationPeer): Promise<'more' | 'idle' | 'stuck'> {
    const { log } = this.options;
    const state = await log.state();
    this.ownLast = Math.max(this.ownLast, state.lastIndex);
    this.advanceCommit();
    const progress = this.get(id);
    if (progress.snapshotNeeded || progress.next <= state.snapshotIndex) return this.sendSnapshot(id, peer);
    const from = progress.next;
    const to = Math.min(state.lastIndex, from + this.options.maxBatch - 1);
    const entries = this.recent.range(from, to) ?? (await log.entries(from, to));
    const prevIndex = from - 1;
    const prevTerm =
      prevIndex === state.snapshotIndex
        ? state.snapshotTerm
        : (this.recent.termAt(prevIndex) ?? (await log.termAt(prevIndex)));
    // Compacted between our reads: the next round sees the new snapshot index and sends a snapshot.
    if (prevTerm === undefined || entries.length !== Math.max(0, to - from + 1)) return 'more';
    const sentCommit = this.commit;
    this.update(id, onSent);
    const result = await peer.append(
      {
        term: this.term,
        leaderId: this.options.nodeId,
        prevIndex,
        prevTerm,
        entries,
        commitIndex: sentCommit,
      },
      this.options.rpcTimeoutMs,
    );
    if (result.term > this.term) return this.deposed(result.term);
    if (this.stopped) return 'idle';
    if (!result.success) {
      const { conflictIndex, snapshotNeeded } = result;
      return this.rejected(id, { prevIndex, conflictIndex, snapshotNeeded, lastIndex: state.lastIndex });
    }
    this.update(id, (p) => onAccepted(p, result.matchIndex, this.now()));
    this.advanceCommit();
    await this.compactIfDue();
    const after = this.get(id);
    return after.next <= this.ownLast || sentCommit < this.commit ? 'more' : 'idle';
  }

  /** A refused Append: probe again at once only if the answer taught us where to (progress.ts). */
  private rejected(id: NodeId, rejection: Rejection): 'more' | 'stuck' {
    const before = this.get(id);
    const after = onRejected(before, rejection, this.now());
    this.progress.set(id, after);
    const details = { slave: id, ...rejection, match: before.match, next: after.next };
    if (after.match < before.match)
      // Its disk was wiped or restored from an older copy: it is rebuilt from where its log ends.
      this.options.logger.warn(details, 'replication: slave no longer holds entries it had matched');
    else this.options.logger.debug(details, 'replication: slave log differs');
    return retryAtOnce(before, after) ? 'more' : 'stuck';
  }

  /**
   * Offers the slave a snapshot — the one it was last sent while that read point is still open (so it
   * resumes after what it stored), a new one otherwise — then streams the chunks from where it said.
   */
  private async sendSnapshot(id: NodeId, peer: ReplicationPeer): Promise<'more' | 'idle' | 'stuck'> {
    const { snapshots, logger } = this.options;
    const point =
      snapshots.find(this.snapshotOf.get(id)) ?? (await snapshots.open(`slave:${id}`, this.commit));
    this.snapshotOf.set(id, point.header.snapshotId);
    this.update(id, onSent);
    const { snapshotId, lastIndex, lastTerm } = point.header;
    const offer = await peer.offerSnapshot(
      { term: this.term, leaderId: this.options.nodeId, snapshotId, lastIndex, lastTerm },
      this.options.rpcTimeoutMs,
    );
    if (offer.term > this.term) return this.deposed(offer.term);
    if (this.stopped) return 'idle';
    if (!offer.accepted) {
      this.update(id, onFailure);
      // Refused in our own term: offering it again on every write's kick would only be refused again.
      return 'stuck';
    }
    if (offer.installed) return this.snapshotInstalled(id, snapshotId, lastIndex);
    logger.info(
      { slave: id, snapshotId, lastIndex, resumeTable: offer.resume.table, resumeKey: offer.resume.key },
      'replication: sending a snapshot',
    );
    const result = await peer.installSnapshot(
      { term: this.term, senderId: this.options.nodeId },
      snapshots.chunks(point, offer.resume),
      { idleMs: this.options.snapshotIdleMs, signal: this.abort.signal },
    );
    if (result.term > this.term) return this.deposed(result.term);
    if (this.stopped) return 'idle';
    if (!result.success) {
      this.update(id, onFailure);
      // Refused in our own term: sending it again on every write's kick would only be refused again.
      return 'stuck';
    }
    return this.snapshotInstalled(id, snapshotId, result.matchIndex);
  }

  private async snapshotInstalled(id: NodeId, snapshotId: string, matchIndex: number): Promise<'more'> {
    this.snapshotOf.delete(id);
    await this.options.snapshots.finish(snapshotId);
    this.update(id, (p) => onSnapshotInstalled(p, matchIndex, this.now()));
    this.advanceCommit();
    return 'more';
  }

  private async deposed(term: number): Promise<'idle'> {
    if (this.stopped) return 'idle';
    // Persist the higher term first: after a restart this node must still refuse to act as master.
    await this.options.log.observeTerm(term);
    this.options.logger.warn(
      { term: this.term, newTerm: term },
      'replication: a slave has a higher term; stepping down',
    );
    this.stopped = true;
    this.abort.abort();
    this.failWaiters(new UnavailableError(`deposed: a slave has seen term ${term} (ours was ${this.term})`));
    this.kickAll();
    this.options.onDeposed(term);
    return 'idle';
  }

  private advanceCommit(): void {
    const next = commitIndex({
      ownLast: this.ownLast,
      slaveMatches: this.slaveMatches(),
      termStart: this.options.termStart,
      current: this.commit,
    });
    if (next !== this.commit) {
      this.commit = next;
      // Slaves apply up to the commit index they are told: let them hear of it soon.
      this.kickAll();
    }
    const remaining: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (this.satisfied(waiter.index)) {
        clearTimeout(waiter.timer);
        waiter.resolve();
      } else remaining.push(waiter);
    }
    this.waiters = remaining;
  }

  /** The policy is compaction.ts's (a master applies in its own transactions, so committed is enough). */
  private async compactIfDue(): Promise<void> {
    const upTo = compactionPoint({
      safe: this.commit,
      last: this.ownLast,
      compactedThrough: this.compactedThrough,
      retain: this.options.retainEntries,
    });
    if (upTo !== undefined) this.compactedThrough = await this.options.log.compact(upTo);
  }

  private compactedThrough = 0;

  private failWaiters(error: Error): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.waiters = [];
  }

  private notMaster(): UnavailableError {
    return new UnavailableError(`node ${this.options.nodeId} is no longer the master of term ${this.term}`);
  }

  private get(id: NodeId): Progress {
    const progress = this.progress.get(id);
    if (progress === undefined) throw new Error(`no progress for node ${id}`);
    return progress;
  }

  private update(id: NodeId, change: (progress: Progress) => Progress): void {
    this.progress.set(id, change(this.get(id)));
  }

  private sleep(id: NodeId, ms: number, kickable: boolean): Promise<void> {
    const wakeup = this.wakeups.get(id);
    if (wakeup === undefined || this.stopped) return Promise.resolve();
    if (kickable && wakeup.pending) {
      wakeup.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wakeup.wake = undefined;
        wakeup.pending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      // A stop always wakes; a kick only when new work may be sendable.
      wakeup.wake = kickable ? done : () => (this.stopped ? done() : undefined);
    });
  }
}
