import type { Logger } from 'pino';
import { UnavailableError } from '../common/errors';
import type { Follower } from './follower';
import type { ReplicationLog } from './log-store';
import type { SnapshotInstaller, StoredTransfer } from './snapshot-install';
import { START } from './snapshot-source';
import type { SnapshotSource } from './snapshot-source';
import { nextWithin } from './snapshot-stream';
import type { LogEntry, NodeId } from './types';
import type { SentChunk } from './wire';

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
  /** What the caller stored of an earlier snapshot: continue after it if that read point is still open. */
  readonly resume?: StoredTransfer;
}

/** How long a snapshot stream may go without a chunk, and when to give up altogether. */
export interface SnapshotStreamOptions {
  readonly idleMs: number;
  readonly signal: AbortSignal;
}

/** The source side (ReplicationService.Fetch / FetchSnapshot on the node being copied). */
export class CatchUpSource {
  constructor(
    private readonly log: ReplicationLog,
    private readonly snapshots: SnapshotSource,
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

  /**
   * The chunks of this node's state for the caller: after what it already stored when the same read
   * point is still open here, from the start of a new one otherwise. A caller whose term is stale gets
   * one empty chunk carrying this node's term.
   */
  async *fetchSnapshot(args: FetchSnapshotArgs, nodeId: NodeId): AsyncGenerator<SentChunk> {
    const state = await this.fenceAt(args.term, args.requesterId);
    if (state.currentTerm > args.term) {
      yield { term: state.currentTerm, senderId: nodeId, chunk: STALE_CHUNK };
      return;
    }
    const resumed = this.snapshots.find(args.resume?.snapshotId);
    const point = resumed ?? (await this.snapshots.open(`catch-up:${args.requesterId}`));
    const from = resumed && args.resume ? args.resume.cursor : START;
    this.logger.info(
      { term: args.term, requester: args.requesterId, ...point.header, from, resumed: resumed !== undefined },
      'replication: serving a catch-up snapshot',
    );
    for await (const chunk of this.snapshots.chunks(point, from))
      yield { term: args.term, senderId: nodeId, chunk };
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

/** The one chunk a stale caller gets: only its term matters. */
const STALE_CHUNK = {
  snapshotId: 'stale',
  lastIndex: 0,
  lastTerm: 0,
  commitIndex: 0,
  table: '',
  after: undefined,
  lastKey: undefined,
  rows: [],
  done: true,
} as const;

function stale(term: number): FetchResult {
  return { term, snapshotNeeded: false, prevTerm: 0, entries: [], lastIndex: 0, commitIndex: 0 };
}

/** How the puller reaches the source (GrpcReplicationPeer in production). */
export interface CatchUpPeer {
  fetch(args: FetchArgs, timeoutMs: number): Promise<FetchResult>;
  /** The source's chunks; the stream fails after `idleMs` without one. */
  fetchSnapshot(args: FetchSnapshotArgs, options: SnapshotStreamOptions): AsyncIterable<SentChunk>;
}

export interface PullOptions {
  readonly nodeId: NodeId;
  /** The term this node was elected master of. */
  readonly term: number;
  readonly source: CatchUpPeer;
  readonly sourceId: NodeId;
  readonly log: ReplicationLog;
  readonly follower: Follower;
  readonly installer: SnapshotInstaller;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly batch: number;
  readonly rpcTimeoutMs: number;
  /** A snapshot stream that brings no chunk for this long is dropped (and resumed on the next try). */
  readonly snapshotIdleMs: number;
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
        after = await pullSnapshot(options);
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

/**
 * Streams the source's snapshot into our staging tables and installs it; resolves with the index it
 * reflects. Asks the source to continue after what we already stored (a dropped stream, retried by
 * pullLog's loop, resumes rather than starts over while the source keeps the read point).
 */
async function pullSnapshot(options: PullOptions): Promise<number> {
  const { term, nodeId, installer, signal } = options;
  const resume = await installer.stored();
  const stream = options.source.fetchSnapshot(
    { term, requesterId: nodeId, ...(resume ? { resume } : {}) },
    { idleMs: options.snapshotIdleMs, signal },
  );
  const iterator = stream[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await nextWithin(iterator, options.snapshotIdleMs, 'no chunk from the catch-up source');
      if (next.done)
        throw new Error(`catch-up source ${options.sourceId} ended its snapshot before the last chunk`);
      const { term: sourceTerm, chunk } = next.value;
      if (sourceTerm > term) throw newerTerm(sourceTerm, term);
      // We install as our own slave, as master of `term` (as pullLog appends entries).
      const stored = await installer.accept(term, nodeId, chunk);
      if (!stored.success) throw newerTerm(stored.term, term);
      if (chunk.done) return chunk.lastIndex;
    }
  } finally {
    // Not awaited: after an idle timeout a read is still pending and return would wait for it; the
    // transport's stream cancels its call on return, whenever that comes.
    iterator
      .return?.()
      .catch((error: unknown) =>
        options.logger.debug({ err: error }, 'replication: closing a catch-up snapshot stream failed'),
      );
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
