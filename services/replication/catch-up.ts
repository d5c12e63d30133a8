import type { Logger } from 'pino';
import { UnavailableError } from '../common/errors';
import type { Follower } from './follower';
import type { ReplicationLog } from './log-store';
import type { LogEntry, NodeId, StateMachine } from './types';

/*
 * Catch-up before serving (election/README.md): a node elected master of term T may lack entries
 * that a majority acknowledged; the election names the most up-to-date member of its majority and
 * this module copies that member's log into ours before we serve. The copy goes through the same
 * Follower code that takes entries from a master, so the log-matching, truncation and snapshot rules
 * are the ones already tested; we act as our own slave with ourselves as master of T.
 */

export interface FetchArgs {
  readonly term: number;
  readonly requesterId: NodeId;
  readonly afterIndex: number;
  readonly maxEntries: number;
}

export interface FetchResult {
  readonly term: number;
  readonly snapshotNeeded: boolean;
  readonly prevTerm: number;
  readonly entries: readonly LogEntry[];
  readonly lastIndex: number;
  readonly commitIndex: number;
}

export interface FetchSnapshotArgs {
  readonly term: number;
  readonly requesterId: NodeId;
}

export interface FetchSnapshotResult {
  readonly term: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly commitIndex: number;
  readonly rows: readonly unknown[];
}

/** The source side (ReplicationService.Fetch / FetchSnapshot on the node being copied). */
export class CatchUpSource {
  constructor(
    private readonly log: ReplicationLog,
    private readonly machine: StateMachine,
    private readonly logger: Logger,
  ) {}

  async fetch(args: FetchArgs): Promise<FetchResult> {
    const state = await this.fenceAt(args.term, args.requesterId);
    if (state.currentTerm > args.term) return stale(state.currentTerm);
    const read = await this.log.readAfter(args.afterIndex, args.maxEntries);
    return {
      term: args.term,
      snapshotNeeded: read.snapshotNeeded,
      prevTerm: read.prevTerm,
      entries: read.entries,
      lastIndex: read.state.lastIndex,
      commitIndex: read.state.commitIndex,
    };
  }

  async fetchSnapshot(args: FetchSnapshotArgs): Promise<FetchSnapshotResult> {
    const state = await this.fenceAt(args.term, args.requesterId);
    if (state.currentTerm > args.term) return { ...stale(state.currentTerm), lastTerm: 0, rows: [] };
    const snapshot = await this.log.takeSnapshot(this.machine);
    this.logger.info(
      {
        term: args.term,
        requester: args.requesterId,
        lastIndex: snapshot.lastIndex,
        rows: snapshot.rows.length,
      },
      'replication: serving a catch-up snapshot',
    );
    return { term: args.term, ...snapshot };
  }

  /**
   * Records the caller's term first: from here on this node refuses entries from older masters, so
   * nothing they ship can be acknowledged behind the copy we are about to hand out.
   */
  private async fenceAt(term: number, requesterId: NodeId) {
    await this.log.observeTerm(term, requesterId);
    return this.log.state();
  }
}

function stale(term: number): FetchResult {
  return { term, snapshotNeeded: false, prevTerm: 0, entries: [], lastIndex: 0, commitIndex: 0 };
}

/** How the puller reaches the source (GrpcReplicationPeer in production). */
export interface CatchUpPeer {
  fetch(args: FetchArgs, timeoutMs: number): Promise<FetchResult>;
  fetchSnapshot(args: FetchSnapshotArgs, timeoutMs: number): Promise<FetchSnapshotResult>;
}

export interface PullOptions {
  readonly nodeId: NodeId;
  /** The term this node was elected master of. */
  readonly term: number;
  readonly source: CatchUpPeer;
  readonly sourceId: NodeId;
  readonly log: ReplicationLog;
  readonly follower: Follower;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly batch: number;
  readonly rpcTimeoutMs: number;
  /** Pause between attempts after a failed call (the source may be restarting). */
  readonly retryMs: number;
}

/**
 * Copies the source's whole log into ours and resolves with our last index once it matches the
 * source's. Retries failed calls until `signal` aborts (the election times a catch-up out and
 * steps down on its own). Rejects with UnavailableError when the source knows a newer term.
 */
export async function pullLog(options: PullOptions): Promise<number> {
  const { term, nodeId, log, follower, signal, logger } = options;
  const initial = await log.state();
  // Entries up to our commit index are committed, so every later log agrees with them: start there.
  let after = Math.min(initial.lastIndex, Math.max(initial.commitIndex, initial.snapshotIndex));
  let wantSnapshot = false;
  let fetched = 0;
  for (;;) {
    if (signal.aborted) throw new UnavailableError(`catch-up for term ${term} was cancelled`);
    try {
      if (wantSnapshot) {
        const snapshot = await options.source.fetchSnapshot(
          { term, requesterId: nodeId },
          options.rpcTimeoutMs,
        );
        if (snapshot.term > term) throw newerTerm(snapshot.term, term);
        const installed = await follower.installSnapshot({
          term,
          leaderId: nodeId,
          lastIndex: snapshot.lastIndex,
          lastTerm: snapshot.lastTerm,
          commitIndex: snapshot.commitIndex,
          rows: snapshot.rows,
        });
        if (!installed.success) throw newerTerm(installed.term, term);
        after = snapshot.lastIndex;
        wantSnapshot = false;
        continue;
      }
      const batch = await options.source.fetch(
        { term, requesterId: nodeId, afterIndex: after, maxEntries: options.batch },
        options.rpcTimeoutMs,
      );
      if (batch.term > term) throw newerTerm(batch.term, term);
      if (batch.snapshotNeeded) {
        wantSnapshot = true;
        continue;
      }
      batch.entries.forEach((entry, i) => {
        if (entry.index !== after + 1 + i || entry.term > term)
          throw new Error(`catch-up source ${options.sourceId} sent entry ${entry.index} out of place`);
      });
      const appended = await follower.append({
        term,
        leaderId: nodeId,
        prevIndex: after,
        prevTerm: batch.prevTerm,
        entries: batch.entries,
        commitIndex: Math.min(batch.commitIndex, after + batch.entries.length),
      });
      if (!appended.success) {
        if (appended.term > term) throw newerTerm(appended.term, term);
        // Our applied state holds entries the source's log does not (we were a deposed master):
        // only the source's state can replace it.
        wantSnapshot = true;
        continue;
      }
      after += batch.entries.length;
      fetched += batch.entries.length;
      if (after >= batch.lastIndex) {
        logger.info({ term, source: options.sourceId, lastIndex: after, fetched }, 'replication: caught up');
        return after;
      }
    } catch (error) {
      if (error instanceof NewerTermError) throw error;
      if (signal.aborted) throw new UnavailableError(`catch-up for term ${term} was cancelled`);
      logger.warn(
        { err: error, term, source: options.sourceId, after },
        'replication: catch-up call failed; retrying',
      );
      await sleep(options.retryMs, signal);
    }
  }
}

class NewerTermError extends UnavailableError {}

function newerTerm(seen: number, ours: number): NewerTermError {
  return new NewerTermError(`term ${ours} is over: a node has seen term ${seen}`);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
