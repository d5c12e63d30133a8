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
 */
export class CachedLogPosition {
  private current: LogPositionSnapshot = { lastTerm: 0, lastIndex: 0, commitIndex: 0, appliedIndex: 0 };
  private chain: Promise<void> = Promise.resolve();

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
    const next = this.chain.then(async () => this.store(await this.log.state()));
    // A failed read leaves the old position (the next refresh retries); the caller still hears of it.
    this.chain = next.catch(() => undefined);
    return next;
  }

  private store(state: ReplicationState): void {
    this.current = {
      lastTerm: state.lastTerm,
      lastIndex: state.lastIndex,
      // Slaves persist their commit index; it only grows, and a snapshot install may not lower it.
      commitIndex: Math.max(this.current.commitIndex, state.commitIndex),
      appliedIndex: state.appliedIndex,
    };
  }
}
