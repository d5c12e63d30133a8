import type { AckPolicy, NodeId } from './types';

/*
 * The master's view of each slave, as pure values and functions (etcd-io/raft tracker/progress.go):
 * no timers, sockets or clocks inside; callers pass `now`. The replicator holds one Progress per
 * slave and replaces it with what these functions return.
 */

export interface Progress {
  /**
   * Highest index known to be in the slave's log and matching ours. Only a refusal that proves the
   * slave lost its log (lostState) lowers it.
   */
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

/** The slave's log matches ours up to `matchIndex`. An older, smaller match in an answer does not lower it. */
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

/** What a slave's refusal of an Append tells (AppendResponse, with the request it answers). */
export interface Rejection {
  /** prevIndex of the refused Append. */
  readonly prevIndex: number;
  /** Where the slave asks us to resume; 0 when it gave no hint (a refusal of us, not of our entries). */
  readonly conflictIndex: number;
  /** The slave's applied state holds an entry our log does not: only a snapshot can undo it. */
  readonly snapshotNeeded: boolean;
  /** Our last index when the Append was sent. */
  readonly lastIndex: number;
}

/**
 * Whether a refusal proves the slave's log no longer holds what we recorded as matched: it refused
 * our entries at or below `match`, or asks to resume at or below it. A slave whose disk kept its
 * log never does; one restarted on a wiped database or an old backup does, and from then on every
 * Append built on the old `match` would be refused. raft's tracker assumes durable logs and keeps
 * match; we cannot.
 */
export function lostState(progress: Progress, rejection: Rejection): boolean {
  const hint = rejection.conflictIndex;
  return rejection.prevIndex <= progress.match || (hint > 0 && hint <= progress.match);
}

/**
 * The slave refused the Append that began after `rejection.prevIndex`. An answer to an older request,
 * or a refusal without a hint, changes nothing but the in-flight count. Otherwise: when it proves the
 * slave lost state, nothing of its log is known to match any more (match 0); a slave whose state holds
 * entries we never had (it says so, or asks to resume past our whole log) gets a snapshot; else we
 * resume at its hint, which is strictly lower than before (probing terminates) unless the slave has a
 * snapshot of its own beyond our probe, which it then skips.
 */
export function onRejected(progress: Progress, rejection: Rejection, now: number): Progress {
  const answered = { ...progress, inflight: Math.max(0, progress.inflight - 1), lastAckAt: now };
  const stale = rejection.prevIndex !== progress.next - 1;
  const noHint = rejection.conflictIndex === 0 && !rejection.snapshotNeeded;
  if (stale || noHint) return answered;
  const match = lostState(progress, rejection) ? 0 : progress.match;
  if (rejection.snapshotNeeded || rejection.conflictIndex > rejection.lastIndex + 1)
    return { ...answered, match, snapshotNeeded: true };
  const next =
    rejection.conflictIndex > rejection.prevIndex
      ? rejection.conflictIndex
      : Math.max(match + 1, rejection.conflictIndex);
  return { ...answered, match, next, snapshotNeeded: false };
}

/**
 * Whether to send again at once after `before` became `after` on a refusal: only when the answer
 * moved the probe (a new next, or a snapshot to send). Otherwise the same request would be refused
 * the same way, as fast as the network allows: wait for the heartbeat instead.
 */
export function retryAtOnce(before: Progress, after: Progress): boolean {
  return after.snapshotNeeded || after.next !== before.next;
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
