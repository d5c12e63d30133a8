import type { ReplicationLog, ReplicationState } from './log-store';

/** Where a node's log ends, as the election compares logs: (lastTerm, lastIndex), then commit. */
export interface LogPositionSnapshot {
  readonly lastTerm: number;
  readonly lastIndex: number;
  readonly commitIndex: number;
  /** Not used by the election; for ClusterService.Status. */
  readonly appliedIndex: number;
}

/*
 * The election reads the log position synchronously on every step (to put it in a vote), but the
 * position lives in MySQL. This keeps a copy in memory, refreshed from the committed row.
 *
 * Why the refresh order matters: a slave must not acknowledge an entry to a master before its vote
 * would carry that entry. So a slave awaits refresh() after committing an append and before
 * answering; refreshes run one at a time, each reading after the previous one finished, so a
 * refresh that starts after a commit returns a position that includes it, and a later, slower read
 * can never overwrite a newer position with an older one.
 *
 * A master's own appends are the same rule from the other side: its vote must carry every entry it
 * may count itself for in a commit. Its batches commit without the cache, so the writer reports each
 * committed append at once (advance), before anything can ship or acknowledge it; a refresh that read
 * the row before that append cannot move the position back (seen without it: a master acked a
 * hand-over with a position 100 ms old, the new master lacked a committed entry and overwrote it).
 */
export class CachedLogPosition {
  private current: LogPositionSnapshot = { lastTerm: 0, lastIndex: 0, commitIndex: 0, appliedIndex: 0 };
  private chain: Promise<void> = Promise.resolve();
  /** Bumped by advance(): a read that started before it may predate the append it reported. */
  private advances = 0;

  constructor(private readonly log: ReplicationLog) {}

  position(): { lastTerm: number; lastIndex: number } {
    return { lastTerm: this.current.lastTerm, lastIndex: this.current.lastIndex };
  }

  commitIndex(): number {
    return this.current.commitIndex;
  }

  appliedIndex(): number {
    return this.current.appliedIndex;
  }

  /** Resolves once a read that started after this call has been stored. */
  refresh(): Promise<void> {
    const next = this.chain.then(async () => {
      const before = this.advances;
      const state = await this.log.state();
      this.store(state, before !== this.advances);
    });
    // A failed read leaves the old position (the next refresh retries); the caller still hears of it.
    this.chain = next.catch(() => undefined);
    return next;
  }

  /**
   * This node's own append of entries through `lastIndex` (of `lastTerm`) has committed: call before
   * the entries can be sent to anyone. Never moves the position back.
   */
  advance(lastIndex: number, lastTerm: number): void {
    this.advances++;
    const { current } = this;
    if (lastTerm > current.lastTerm || (lastTerm === current.lastTerm && lastIndex > current.lastIndex))
      this.current = { ...current, lastTerm, lastIndex };
  }

  private store(state: ReplicationState, readBeforeAnAdvance: boolean): void {
    const { current } = this;
    const older =
      state.lastTerm < current.lastTerm ||
      (state.lastTerm === current.lastTerm && state.lastIndex < current.lastIndex);
    // Only a read that began after every advance may move the position back (a slave's dropped tail).
    const keep = readBeforeAnAdvance && older;
    this.current = {
      lastTerm: keep ? current.lastTerm : state.lastTerm,
      lastIndex: keep ? current.lastIndex : state.lastIndex,
      // Slaves persist their commit index; it only grows, and a snapshot install may not lower it.
      commitIndex: Math.max(this.current.commitIndex, state.commitIndex),
      appliedIndex: state.appliedIndex,
    };
  }
}
