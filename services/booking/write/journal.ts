import { UnavailableError } from '../../common/errors';
import type { ReplicationState } from '../../replication/log-store';
import type { ReplicationNode } from '../../replication/node';
import type { BookingOp } from '../domain/operations';
import type { Result, Statement } from '../sql';

/*
 * Where a write batch's operations go besides the tables: the replication log of a group (appended
 * in the batch's own transaction, acknowledged per the ack policy), or nowhere for a single node.
 * The batcher (write/batcher.ts) is the same either way: this is the one place that differs.
 */

export interface JournalEntry {
  op: BookingOp;
  /** The trace of the request the op answers (replication/entry-tracing.ts). */
  traceParent?: string;
}

export interface Journal {
  /** Run first in the batch's transaction: the log position, locked until its COMMIT. */
  readonly lockStatements: readonly Statement[];
  /** From the lock's results: where the batch appends. Throws UnavailableError when not master now. */
  position(results: readonly Result[]): JournalPosition;
  /** The statements appending `entries` after `position` (fenced by term), and the last index. */
  append(position: JournalPosition, entries: readonly JournalEntry[]): PreparedBatchAppend;
  /** After COMMIT: resolves when the ack policy holds for `index` (rejects when it cannot). */
  acknowledge(index: number): Promise<void>;
  /** Whether this node may write now (checked again, under lock, by position()). */
  isMaster(): boolean;
  /** Throws the UnavailableError (with the master hint, when known) that says why this node may not write now. */
  assertWritable(): void;
}

export interface JournalPosition {
  readonly lastIndex: number;
  readonly state?: ReplicationState;
  readonly term?: number;
}

export interface PreparedBatchAppend {
  readonly statements: readonly Statement[];
  readonly lastIndex: number;
  /** The error to answer with when the batch failed because this node was fenced, if it was that. */
  fenced(error: unknown): UnavailableError | undefined;
}

/** A single node: no log; every committed write is acknowledged. */
export const LOCAL_JOURNAL: Journal = {
  lockStatements: [],
  position: () => ({ lastIndex: 0 }),
  append: () => ({ statements: [], lastIndex: 0, fenced: () => undefined }),
  acknowledge: () => Promise.resolve(),
  isMaster: () => true,
  assertWritable: () => undefined,
};

/** The replication log of `node` (a member of a booking group); `tick` is the Lamport clock. */
export function replicatedJournal(node: ReplicationNode, tick: () => number): Journal {
  const notMaster = (): UnavailableError => new UnavailableError(`node ${node.log.nodeId} is not the master`);
  return {
    lockStatements: [node.log.lockPositionStatement()],
    position(results) {
      const term = node.masterTerm();
      if (term === undefined) throw notMaster();
      const state = node.log.lockedPosition(results[0], term);
      return { lastIndex: state.lastIndex, state, term };
    },
    append(position, entries) {
      const { state, term } = position;
      if (state === undefined || term === undefined) throw notMaster();
      const prepared = node.log.prepareAppendBatch(
        state,
        entries.map((e) => ({
          term,
          lamport: tick(),
          op: e.op.op,
          payload: JSON.stringify(e.op.payload),
          ...(e.traceParent === undefined ? {} : { traceParent: e.traceParent }),
        })),
      );
      return {
        statements: prepared.statements.map((s) => ({ sql: s.sql, values: s.values })),
        lastIndex: prepared.index([]),
        fenced: (error) => prepared.fenced(error),
      };
    },
    acknowledge: (index) => node.replicate(index),
    isMaster: () => node.masterTerm() !== undefined,
    assertWritable: () => {
      if (node.masterTerm() === undefined) throw notMaster();
    },
  };
}
