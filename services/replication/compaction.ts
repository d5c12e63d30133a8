/*
 * When a node drops the head of its replication log (ReplicationLog.compact). The policy, the same on
 * the master and on slaves:
 *   - only entries that are committed and applied here are ever dropped (a snapshot must be able to
 *     stand in for them: it is this node's state at its applied index);
 *   - the newest `retain` entries are always kept, so a slave a little behind (a restart, a slow
 *     link) catches up by entries, and only one further behind gets a snapshot;
 *   - compaction runs in steps of `retain`, one DELETE per `retain` entries appended rather than one
 *     per append, so the log holds between `retain` and about 2 × `retain` entries.
 * A slave compacts too: it may be master tomorrow, and a log that only grows is a disk that fills.
 */

export interface CompactionInput {
  /** The highest index that may go: committed and applied on this node. */
  readonly safe: number;
  /** The log's last index. */
  readonly last: number;
  /** What the log already dropped (its snapshot index). */
  readonly compactedThrough: number;
  /** Entries always kept. */
  readonly retain: number;
}

/** The index to compact through, or undefined while compaction is not due. */
export function compactionPoint(input: CompactionInput): number | undefined {
  const upTo = Math.min(input.safe, input.last - input.retain);
  if (upTo <= 0 || upTo < input.compactedThrough + input.retain) return undefined;
  return upTo;
}
