import { UnavailableError } from '../common/errors';
import { traceParentOf } from '../common/tracing';
import type { PreparedAppend } from '../replication/log-store';
import type { ReplicationNode } from '../replication/node';
import type { NewEntry } from '../replication/types';
import type { BookingOp } from './domain/operations';
import { replicatedJournal } from './write/journal';
import type { Journal } from './write/journal';
import { sql } from './sql';
import type { Tx } from './sql';

/*
 * The booking store's optional replication dependency (DESIGN.md, Replication). When present, every
 * write appends one log entry as the last statement of its own transaction and, after COMMIT, waits
 * for the ack policy before answering. When absent, the store is the single-node store, unchanged.
 *
 * Entries carry the resulting rows, ids and times (never the request), so a slave replays them
 * without a clock, randomness or the catalog: see state-machine.ts for how each op is applied.
 */

export interface BookingReplication {
  /** Whether this node is the master now: only the master writes state (a slave applies the log). */
  isMaster(): boolean;
  /**
   * The log append as statements for the write's final batch (sent with its COMMIT); throws
   * UnavailableError when this node is not the master.
   */
  prepareAppend(entry: Omit<NewEntry, 'term'>): PreparedAppend;
  /** After COMMIT: resolves when the ack policy holds for `index`; UnavailableError otherwise. */
  replicate(index: number): Promise<void>;
  /** Resolves when everything this node's log holds now is acknowledged (before replaying an answer). */
  barrier(): Promise<void>;
  /** The process's Lamport clock: one tick per appended entry. */
  tick(): number;
  /** Where the store's write batches append (write/journal.ts). */
  readonly journal: Journal;
}

/** The dependency over a ReplicationNode (whose role the election drives). */
export function replicationOf(node: ReplicationNode, tick: () => number): BookingReplication {
  return {
    isMaster: () => node.isMaster,
    prepareAppend: (entry) => node.prepareAppend(entry),
    replicate: (index) => node.replicate(index),
    barrier: async () => {
      const { lastIndex } = await node.log.state();
      await node.replicate(lastIndex);
    },
    tick,
    journal: replicatedJournal(node, tick),
  };
}

/**
 * The write committed on this node but the ack policy did not hold (no majority reachable, or the
 * node was deposed). UNAVAILABLE; a retry with the same idempotency key replays the stored answer
 * once it is acknowledged. Never turned into a replay by idempotent() itself.
 */
export class NotAcknowledgedError extends UnavailableError {
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const details = cause instanceof UnavailableError ? cause.details : {};
    super(
      `the write is not acknowledged by the booking group (${reason}); retry with the same idempotency key`,
      details,
    );
  }
}

/**
 * A read that would first have to write state (materialise a show) on a node that is not the master:
 * every node's state comes from the log, so only the master may. UNAVAILABLE; in cluster mode the
 * call is sent on to the master instead (forwarding.ts).
 */
export class MasterOnlyError extends UnavailableError {}

/** Waits for the ack policy of `index` (no-op without replication or index). */
export async function acknowledge(
  replication: BookingReplication | undefined,
  index: number | undefined,
): Promise<void> {
  if (!replication || index === undefined) return;
  try {
    await replication.replicate(index);
  } catch (error) {
    throw new NotAcknowledgedError(error);
  }
}

/** Before replaying a stored answer: it must be acknowledged too (it may be a failed write's tail). */
export async function barrier(replication: BookingReplication | undefined): Promise<void> {
  if (!replication) return;
  try {
    await replication.barrier();
  } catch (error) {
    throw new NotAcknowledgedError(error);
  }
}

/**
 * Appends `op` to the log and COMMITs `tx` (which must be open and have nothing left to do), in one
 * round trip; returns the index, or undefined without replication (the caller commits then). Then
 * the caller calls acknowledge(index). A fenced append (a newer term was seen) fails before COMMIT.
 */
export async function appendOp(
  replication: BookingReplication | undefined,
  tx: Tx,
  op: BookingOp,
): Promise<number | undefined> {
  if (!replication) return undefined;
  const append = replication.prepareAppend({
    lamport: replication.tick(),
    op: op.op,
    payload: JSON.stringify(op.payload),
    // The request's trace follows the entry to the slaves (replication/entry-tracing.ts).
    traceParent: traceParentOf(),
  });
  try {
    const results = await tx.commit(...append.statements.map((s) => sql(s.sql, ...s.values)));
    return append.index(results.slice(-append.statements.length));
  } catch (error) {
    throw append.fenced(error) ?? error;
  }
}
