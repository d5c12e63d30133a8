import type { AckPolicy, NodeId } from './types';

/*
 * The master's view of each slave, as pure values and functions (etcd-io/raft tracker/progress.go):
 * no timers, sockets or clocks inside; callers pass `now`. The replicator holds one Progress per
 * slave and replaces it with what these functions return.
 */

export interface Progress {
  /** Highest index known to be in the slave's log and matching ours. */
  readonly match: number;
  /** The next index to send. Always > match. */
  readonly next: number;
  /** Requests sent and not yet answered (the replicator keeps at most one in flight). */
  readonly inflight: number;
  /** When the slave last answered anything (ms, caller's clock); undefined if never. */
  readonly lastAckAt: number | undefined;
  /** The slave applied entries we do not have, or wants entries we compacted: send a snapshot. */
  readonly snapshotNeeded: boolean;
}

/** A slave we know nothing about yet: optimistically next = our last + 1 (Raft's probe start). */
export function initialProgress(lastIndex: number): Progress {
  return { match: 0, next: lastIndex + 1, inflight: 0, lastAckAt: undefined, snapshotNeeded: false };
}

export function onSent(progress: Progress): Progress {
  return { ...progress, inflight: progress.inflight + 1 };
}

/** The call failed in transport (down, deadline): nothing learnt about the slave's log. */
export function onFailure(progress: Progress): Progress {
  return { ...progress, inflight: Math.max(0, progress.inflight - 1) };
}

/** The slave's log matches ours up to `matchIndex`. Match never goes back: answers can be stale. */
export function onAccepted(progress: Progress, matchIndex: number, now: number): Progress {
  const match = Math.max(progress.match, matchIndex);
  return {
    match,
    next: Math.max(progress.next, match + 1),
    inflight: Math.max(0, progress.inflight - 1),
    lastAckAt: now,
    snapshotNeeded: false,
  };
}

/**
 * The slave refused entries from `next`: resume at its hint, but never at or below what it already
 * matched, and always strictly lower than before so that probing terminates.
 */
export function onRejected(
  progress: Progress,
  conflictIndex: number,
  snapshotNeeded: boolean,
  now: number,
): Progress {
  const lower = Math.min(conflictIndex, progress.next - 1);
  return {
    ...progress,
    next: snapshotNeeded ? progress.next : Math.max(progress.match + 1, lower, 1),
    inflight: Math.max(0, progress.inflight - 1),
    lastAckAt: now,
    snapshotNeeded,
  };
}

/** A snapshot ending at `index` is installed: the slave's log now matches ours up to there. */
export function onSnapshotInstalled(progress: Progress, index: number, now: number): Progress {
  return onAccepted({ ...progress, next: index + 1, snapshotNeeded: false }, index, now);
}

/** Half of the group plus one; the master counts itself. */
export function quorum(clusterSize: number): number {
  return Math.floor(clusterSize / 2) + 1;
}

/**
 * The commit index after an acknowledgement: the highest index on a majority of the group (the
 * master holds its whole log, `ownLast`), and only if that entry is from the master's current term,
 * i.e. at or above `termStart`, the index of the master's first entry of this term (Raft §5.4.2: an
 * older term's entry on a majority can still be overwritten). Entries below such an index commit
 * with it. Never goes backwards.
 */
export function commitIndex(input: {
  readonly ownLast: number;
  readonly slaveMatches: readonly number[];
  readonly termStart: number;
  readonly current: number;
}): number {
  const all = [input.ownLast, ...input.slaveMatches].sort((a, b) => b - a);
  const candidate = all[quorum(all.length) - 1] ?? 0;
  return candidate >= input.termStart && candidate > input.current ? candidate : input.current;
}

/** Whether `index` is acknowledged under `policy`. async needs only the master's own commit. */
export function policySatisfied(
  policy: AckPolicy,
  index: number,
  commit: number,
  slaveMatches: readonly number[],
): boolean {
  switch (policy) {
    case 'async':
      return true;
    case 'majority':
      return commit >= index;
    case 'all':
      return slaveMatches.every((match) => match >= index);
  }
}

/** One slave's lag, for ClusterService.Status (SlaveLag in cluster.proto). */
export interface SlaveLag {
  readonly nodeId: NodeId;
  readonly matchIndex: number;
  readonly lagEntries: number;
  /** ms since the slave last answered; undefined if it never has. */
  readonly lastAckAgeMs: number | undefined;
}

export function slaveLag(nodeId: NodeId, progress: Progress, ownLast: number, now: number): SlaveLag {
  return {
    nodeId,
    matchIndex: progress.match,
    lagEntries: Math.max(0, ownLast - progress.match),
    lastAckAgeMs: progress.lastAckAt === undefined ? undefined : Math.max(0, now - progress.lastAckAt),
  };
}
