import { UnavailableError } from '../common/errors';
import type { ReplicationNode } from '../replication/node';
import { replicatedJournal } from './write/journal';
import type { Journal } from './write/journal';

/*
 * A booking node's membership of a group, as the booking side sees it (DESIGN.md, Replication):
 * its writer's journal is the replication log, appended in each write batch's own transaction and
 * acknowledged per the ack policy before any waiter is answered (write/batcher.ts). Entries carry
 * the resulting rows, ids and times (never the request), so every node applies them with the same
 * applier and without a clock, randomness or the catalog (write/applier.ts).
 */

export interface BookingReplication {
  /** Whether this node is the master now: only the master writes state (a slave applies the log). */
  isMaster(): boolean;
  /** Where the node's write batches append (write/journal.ts). */
  readonly journal: Journal;
}

/** The dependency over a ReplicationNode (whose role the election drives); `tick` is the Lamport clock. */
export function replicationOf(node: ReplicationNode, tick: () => number): BookingReplication {
  return { isMaster: () => node.isMaster, journal: replicatedJournal(node, tick) };
}

/**
 * The write committed on this node but the ack policy did not hold (no majority reachable, or the
 * node was deposed). UNAVAILABLE; a retry with the same idempotency key replays the stored answer
 * once it is acknowledged.
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
