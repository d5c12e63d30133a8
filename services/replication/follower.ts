import type { RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import { FailedPreconditionError } from '../common/errors';
import { withTransaction } from '../common/mysql';
import type { PoolConnection } from '../common/mysql';
import type { ReplicationLog, ReplicationState } from './log-store';
import { compactionPoint } from './compaction';
import { endEntrySpans, inEntrySpan, startEntrySpan } from './entry-tracing';
import type { EntrySpan } from './entry-tracing';
import { NOOP_OP } from './types';
import type { LogEntry, NodeId, StateMachine } from './types';

/*
 * The slave side: takes entries from the master into this node's database, and applies committed
 * entries to the state machine, up to APPLY_BATCH per transaction (snapshots: snapshot-install.ts). Every answer is given only after
 * the transaction that it reports has committed (persist before acknowledging).
 */

export interface AppendArgs {
  readonly term: number;
  readonly leaderId: NodeId;
  readonly prevIndex: number;
  readonly prevTerm: number;
  /** Consecutive, from prevIndex + 1 (the wire layer checks). */
  readonly entries: readonly LogEntry[];
  readonly commitIndex: number;
}

export interface AppendResult {
  readonly term: number;
  readonly success: boolean;
  readonly matchIndex: number;
  readonly conflictIndex: number;
  readonly snapshotNeeded: boolean;
}

/** A master of this term told us to drop an entry we know is committed: two logs disagree on history. */
export class SafetyViolationError extends FailedPreconditionError {}

export interface FollowerOptions {
  readonly log: ReplicationLog;
  readonly machine: StateMachine;
  readonly logger: Logger;
  /** Called after a transaction that raised the term (or learnt the master) has committed. */
  readonly onLeader: (term: number, leaderId: NodeId) => void;
  /**
   * The highest term this node has promised elsewhere (its election term: a vote for the master
   * of term T). Entries and snapshots from an older term are refused once it moves past them, so a
   * deposed master cannot gather acknowledgements from the voters of its successor.
   */
  readonly fenceTerm?: () => number;
  /** Awaited after every committed append, before answering (the log-position cache). */
  readonly afterCommit?: () => Promise<void>;
  /** Applied entries always kept in the log (compaction.ts); undefined: this node never compacts. */
  readonly retainEntries?: number;
}

export class Follower {
  private applying: Promise<void> | undefined;
  private applyAgain = false;
  private stopped = false;

  constructor(private readonly options: FollowerOptions) {}

  async append(args: AppendArgs): Promise<AppendResult> {
    const { log, logger } = this.options;
    const arrived = Date.now();
    let learnt = false;
    let stored: readonly LogEntry[] = [];
    let loopHasWork = true;
    const applied: EntrySpan[] = [];
    let result: AppendResult;
    try {
      result = await withTransaction(log.pool, async (connection) => {
        const state = await log.lockState(connection);
        const refuse = this.checkTerm(state, args.term, args.leaderId);
        if (refuse) return refuse;
        learnt = args.term !== state.currentTerm || args.leaderId !== state.leaderId;
        const outcome = await this.appendLocked(connection, state, args);
        // What this Append's commit index makes committed is applied in the same transaction: one
        // transaction per Append instead of two (the background loop takes what is left).
        const next = outcome.result.success
          ? await this.applyCommitted(connection, outcome.state, applied)
          : outcome.state;
        if (learnt || next !== state) await log.writeState(connection, next);
        // The background loop runs only when it has work: entries left to apply, or a compaction due.
        loopHasWork =
          next.appliedIndex < Math.min(next.commitIndex, next.lastIndex) || this.compactionDue(next);
        stored = outcome.stored;
        return outcome.result;
      });
    } catch (error) {
      endEntrySpans(applied, error);
      throw error;
    }
    // Durable now: the entries' requests see when this node stored them (resends store nothing), and
    // what the Append applied is visible from the same COMMIT: both kinds end at one instant.
    const committedAt = Date.now();
    endEntrySpans(
      stored.flatMap((entry) => startEntrySpan('store', entry, log.nodeId, arrived) ?? []),
      undefined,
      committedAt,
    );
    endEntrySpans(applied, undefined, committedAt);
    if (learnt) this.options.onLeader(args.term, args.leaderId);
    await this.options.afterCommit?.();
    // A vote for a newer term may have been cast while this transaction ran, with a position read
    // before it committed: do not acknowledge (the entry stays, unacknowledged, as any tail does).
    const fence = this.fence();
    if (result.success && fence > args.term) return refusal(fence);
    if (result.snapshotNeeded)
      logger.info(
        { term: args.term, prevIndex: args.prevIndex },
        'replication: our applied state diverges; asking for a snapshot',
      );
    if (loopHasWork) this.kick();
    return result;
  }

  /**
   * Applies committed entries after `state.appliedIndex` (up to APPLY_BATCH) inside the caller's
   * transaction and returns the state with the new applied index. An entry that fails to apply is
   * rolled back to before the batch and left to the background loop, which reports it: the Append
   * itself still stores and answers.
   */
  private async applyCommitted(
    connection: PoolConnection,
    state: ReplicationState,
    spans: EntrySpan[],
  ): Promise<ReplicationState> {
    const target = Math.min(state.commitIndex, state.lastIndex);
    if (state.appliedIndex >= target) return state;
    const through = Math.min(target, state.appliedIndex + APPLY_BATCH);
    const entries = await this.options.log.entries(state.appliedIndex + 1, through, connection);
    if (entries.length !== through - state.appliedIndex) return state;
    await connection.query('SAVEPOINT marquee_apply');
    const batchSpans: EntrySpan[] = [];
    try {
      // Times from one clock (epoch ms) with the store spans this Append ends at the same COMMIT.
      await this.applyEntries(connection, entries, batchSpans, Date.now());
    } catch (error) {
      endEntrySpans(batchSpans, error);
      await connection.query('ROLLBACK TO SAVEPOINT marquee_apply');
      this.options.logger.warn(
        { err: error, from: state.appliedIndex + 1, through },
        'replication: applying with the Append failed; the background applier retries',
      );
      return state;
    }
    spans.push(...batchSpans);
    return { ...state, appliedIndex: through };
  }

  /** Applies committed entries in the background, one at a time; safe to call as often as wanted. */
  kick(): void {
    if (this.stopped) return;
    if (this.applying) {
      this.applyAgain = true;
      return;
    }
    this.applyAgain = false;
    this.applying = this.applyUntil('commit')
      .catch((error: unknown) =>
        this.options.logger.error({ err: error }, 'replication: applying entries failed'),
      )
      .finally(() => {
        this.applying = undefined;
        if (this.applyAgain) this.kick();
      });
  }

  /**
   * Applies every entry in the log, committed or not: for a node about to become master, whose
   * whole log is the group's history from then on.
   */
  async applyAll(): Promise<void> {
    await this.applying;
    await this.applyUntil('last');
  }

  /** Waits for the background applier and lets it start no more work. */
  async stop(): Promise<void> {
    this.stopped = true;
    while (this.applying) await this.applying;
  }

  private fence(): number {
    return this.options.fenceTerm?.() ?? 0;
  }

  private checkTerm(state: ReplicationState, term: number, leaderId: NodeId): AppendResult | undefined {
    // Fencing: a deposed master learns the higher term from our answer and stops.
    const highest = Math.max(state.currentTerm, this.fence());
    if (term < highest) return refusal(highest);
    if (term === state.currentTerm && state.leaderId !== 0 && state.leaderId !== leaderId) {
      this.options.logger.error(
        { term, leaderId, knownLeader: state.leaderId },
        'replication: two masters claim the same term; refusing the second',
      );
      return refusal(state.currentTerm);
    }
    return undefined;
  }

  private async appendLocked(
    connection: PoolConnection,
    state: ReplicationState,
    args: AppendArgs,
  ): Promise<{ state: ReplicationState; result: AppendResult; stored: readonly LogEntry[] }> {
    const { log } = this.options;
    const term = args.term;
    let next: ReplicationState = { ...state, currentTerm: term, leaderId: args.leaderId };
    const fail = (conflictIndex: number, snapshotNeeded = false) => ({
      state: next,
      result: { term, success: false, matchIndex: 0, conflictIndex, snapshotNeeded },
      stored: [],
    });
    let prevIndex = args.prevIndex;
    let prevTerm = args.prevTerm;
    let entries = args.entries;
    if (prevIndex < state.snapshotIndex) {
      // Our log starts after the snapshot: compare at the snapshot's position instead (log matching).
      const atSnapshot = entries.find((entry) => entry.index === state.snapshotIndex);
      if (atSnapshot === undefined) return fail(state.snapshotIndex + 1);
      if (atSnapshot.term !== state.snapshotTerm) return fail(0, true);
      entries = entries.filter((entry) => entry.index > state.snapshotIndex);
      prevIndex = state.snapshotIndex;
      prevTerm = state.snapshotTerm;
    }
    if (prevIndex > state.lastIndex) return fail(state.lastIndex + 1);
    const ourPrevTerm =
      prevIndex === state.snapshotIndex ? state.snapshotTerm : await log.termAt(prevIndex, connection);
    if (ourPrevTerm !== prevTerm) {
      if (prevIndex <= state.commitIndex) throw this.violation(prevIndex, prevTerm, ourPrevTerm);
      // Our state already includes an entry the master does not have: only a snapshot can undo it.
      if (prevIndex <= state.appliedIndex) return fail(0, true);
      // Skip the whole conflicting term in one round trip (Raft §5.3's optimisation).
      const [rows] = await connection.query<RowDataPacket[]>(
        'SELECT MIN(log_index) AS first FROM replication_log WHERE term = ? AND log_index > ?',
        [ourPrevTerm ?? 0, state.snapshotIndex],
      );
      const first = Number(rows[0]?.first ?? prevIndex);
      return fail(Math.max(first, state.appliedIndex + 1, state.commitIndex + 1));
    }
    const existing = new Map<number, number>();
    const firstNew = entries[0];
    const lastNew = entries[entries.length - 1];
    if (firstNew && lastNew) {
      for (const entry of await log.entries(firstNew.index, lastNew.index, connection))
        existing.set(entry.index, entry.term);
    }
    const toInsert: LogEntry[] = [];
    for (const entry of entries) {
      const have = existing.get(entry.index);
      if (toInsert.length === 0 && have === entry.term) continue; // a resend: idempotent
      if (toInsert.length === 0 && have !== undefined) {
        // The master's log differs from here on: our suffix is an older master's unacknowledged tail.
        if (entry.index <= state.commitIndex) throw this.violation(entry.index, entry.term, have);
        if (entry.index <= state.appliedIndex) return fail(0, true);
        await connection.query('DELETE FROM replication_log WHERE log_index >= ?', [entry.index]);
        this.options.logger.info(
          { from: entry.index, to: next.lastIndex, term },
          'replication: dropped a conflicting unacknowledged tail',
        );
        next = { ...next, lastIndex: entry.index - 1 };
      }
      toInsert.push(entry);
    }
    const lastInserted = toInsert[toInsert.length - 1];
    if (lastInserted) {
      await connection.query(
        'INSERT INTO replication_log (log_index, term, lamport, op, payload, trace_parent) VALUES ?',
        [
          toInsert.map((entry) => [
            entry.index,
            entry.term,
            entry.lamport,
            entry.op,
            entry.payload,
            entry.traceParent ?? '',
          ]),
        ],
      );
      if (lastInserted.index > next.lastIndex)
        next = { ...next, lastIndex: lastInserted.index, lastTerm: lastInserted.term };
    }
    const matchIndex = args.prevIndex + args.entries.length;
    // Raft: what the master says is committed, but never past what we know matches its log.
    const commitIndex = Math.max(state.commitIndex, Math.min(args.commitIndex, matchIndex));
    next = { ...next, commitIndex };
    return {
      state: next,
      result: { term, success: true, matchIndex, conflictIndex: 0, snapshotNeeded: false },
      stored: toInsert,
    };
  }

  private violation(index: number, masterTerm: number, ourTerm: number | undefined): SafetyViolationError {
    const error = new SafetyViolationError(
      `refusing to replace committed entry ${index} (term ${ourTerm ?? 'none'}) with term ${masterTerm}`,
    );
    this.options.logger.error({ index, masterTerm, ourTerm }, 'replication: safety violation');
    return error;
  }

  /** Applies entries, a batch per transaction, until applied reaches the commit index (or the last index). */
  private async applyUntil(limit: 'commit' | 'last'): Promise<void> {
    while (!this.stopped || limit === 'last') {
      // The spans end once the batch committed: from then on this node's reads show the changes.
      const spans: EntrySpan[] = [];
      let applied: boolean;
      try {
        applied = await withTransaction(this.options.log.pool, (connection) =>
          this.applyNext(connection, limit, spans),
        );
      } catch (error) {
        endEntrySpans(spans, error);
        throw error;
      }
      endEntrySpans(spans);
      if (!applied) return await this.compactIfDue();
    }
  }

  private compactionDue(state: ReplicationState): boolean {
    return this.compactionPointOf(state) !== undefined;
  }

  /** Through where compaction.ts's policy drops the log's applied head now, if it does. */
  private compactionPointOf(state: ReplicationState): number | undefined {
    const { retainEntries } = this.options;
    if (retainEntries === undefined) return undefined;
    return compactionPoint({
      safe: Math.min(state.appliedIndex, state.commitIndex),
      last: state.lastIndex,
      compactedThrough: state.snapshotIndex,
      retain: retainEntries,
    });
  }

  /** Once the apply loop is idle: drop the applied head of the log per compaction.ts's policy. */
  private async compactIfDue(): Promise<void> {
    const { log, retainEntries } = this.options;
    if (retainEntries === undefined) return;
    const upTo = this.compactionPointOf(await log.state());
    if (upTo !== undefined) await log.compact(upTo);
  }

  private async applyNext(
    connection: PoolConnection,
    limit: 'commit' | 'last',
    spans: EntrySpan[],
  ): Promise<boolean> {
    const { log } = this.options;
    const state = await log.lockState(connection);
    const target = limit === 'last' ? state.lastIndex : Math.min(state.commitIndex, state.lastIndex);
    // Idempotent: an index at or below applied is never applied twice, even across restarts.
    if (state.appliedIndex >= target) return false;
    // Several entries per transaction: the lock, the position write and the COMMIT are paid once.
    const through = Math.min(target, state.appliedIndex + APPLY_BATCH);
    const entries = await log.entries(state.appliedIndex + 1, through, connection);
    entries.forEach((entry, i) => {
      if (entry.index !== state.appliedIndex + 1 + i)
        throw new Error(`replication log has no entry ${state.appliedIndex + 1 + i} to apply`);
    });
    if (entries.length === 0)
      throw new Error(`replication log has no entry ${state.appliedIndex + 1} to apply`);
    await this.applyEntries(connection, entries, spans);
    await log.writeState(connection, { ...state, appliedIndex: through });
    return true;
  }

  /** `entries` in order through the state machine, in one round trip when it can; a span each. */
  private async applyEntries(
    connection: PoolConnection,
    entries: readonly LogEntry[],
    spans: EntrySpan[],
    startTime?: number,
  ): Promise<void> {
    const { log, machine } = this.options;
    const changes = entries.filter((entry) => entry.op !== NOOP_OP);
    if (machine.applyEntries) {
      // One round trip for the whole batch; each entry's span covers it.
      for (const entry of changes) {
        const span = startEntrySpan('apply', entry, log.nodeId, startTime);
        if (span) spans.push(span);
      }
      if (changes.length > 0) await machine.applyEntries(connection, changes);
      return;
    }
    for (const entry of changes) {
      const span = startEntrySpan('apply', entry, log.nodeId, startTime);
      if (span) spans.push(span);
      await inEntrySpan(span, () => machine.apply(connection, entry));
    }
  }
}

/** Entries applied per transaction on a slave. */
const APPLY_BATCH = 64;

function refusal(term: number): AppendResult {
  return { term, success: false, matchIndex: 0, conflictIndex: 0, snapshotNeeded: false };
}
