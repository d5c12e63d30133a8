import { UnavailableError } from '../../common/errors';
import type { ReplicationState } from '../../replication/log-store';
import type { ReplicationNode } from '../../replication/node';
import { NOOP_OP } from '../../replication/types';
import type { BookingOp } from '../domain/operations';
import { opOfEntry } from './applier';
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
  /**
   * Whether a batch's rows wait until its entries are acknowledged (a group), instead of being
   * written with the entries (a single node, which has nobody to disagree with). A master that
   * applies only acknowledged entries never holds rows the group may drop: deposed, it rejoins by
   * dropping its unacknowledged log tail, not by a whole snapshot (docs/ARCHITECTURE.md).
   */
  readonly appliesAcknowledgedOnly: boolean;
  /** Run first in the batch's transaction: the log position, locked until its COMMIT. */
  readonly lockStatements: readonly Statement[];
  /** From the lock's results: where the batch appends. Throws UnavailableError when not master now. */
  position(results: readonly Result[]): JournalPosition;
  /**
   * The statements appending `entries` after `position` (fenced by term) and moving the applied
   * position to `appliedThrough` (default: through the last entry), and the last index.
   */
  append(
    position: JournalPosition,
    entries: readonly JournalEntry[],
    appliedThrough?: number,
  ): PreparedBatchAppend;
  /**
   * The statements moving the applied index from `at.appliedIndex` to `through` without a lock read
   * first: they fail (the fence) unless the log is still at `at` (term, applied and last index).
   */
  markApplied(
    at: { readonly term: number | undefined; readonly appliedIndex: number; readonly lastIndex: number },
    through: number,
  ): Statement[];
  /** Reads the log's entries after the applied position: the unapplied tail, as operations. */
  unapplied(position: JournalPosition): { statement: Statement; read(result: Result): UnappliedEntry[] };
  /** After COMMIT: resolves when the ack policy holds for `index` (rejects when it cannot). */
  acknowledge(index: number): Promise<void>;
  /** Whether this node may write now (checked again, under lock, by position()). */
  isMaster(): boolean;
  /** Throws the UnavailableError (with the master hint, when known) that says why this node may not write now. */
  assertWritable(): void;
}

/** An entry in the log whose rows are not in the tables yet (a master applies it once acknowledged). */
export interface UnappliedEntry {
  readonly index: number;
  readonly op: BookingOp;
}

export interface JournalPosition {
  readonly lastIndex: number;
  /** Every entry up to here is in the tables. */
  readonly appliedIndex: number;
  readonly state?: ReplicationState;
  readonly term?: number;
}

export interface PreparedBatchAppend {
  readonly statements: readonly Statement[];
  readonly lastIndex: number;
  /** The error to answer with when the batch failed because this node was fenced, if it was that. */
  fenced(error: unknown): UnavailableError | undefined;
  /**
   * Called at once after the batch's COMMIT, before anything else runs: the node's votes carry the
   * new entries from here on (replication/log-view.ts says why).
   */
  committed(): void;
}

/** A single node: no log; every committed write is acknowledged. */
export const LOCAL_JOURNAL: Journal = {
  appliesAcknowledgedOnly: false,
  lockStatements: [],
  position: () => ({ lastIndex: 0, appliedIndex: 0 }),
  append: () => ({ statements: [], lastIndex: 0, fenced: () => undefined, committed: () => undefined }),
  // A single node writes its rows in the batch: it has no unapplied tail to read or mark.
  unapplied: () => {
    throw new Error('a single node has no log: its rows are written with each batch');
  },
  markApplied: () => {
    throw new Error('a single node has no log: its rows are written with each batch');
  },
  acknowledge: () => Promise.resolve(),
  isMaster: () => true,
  assertWritable: () => undefined,
};

/** The replication log of `node` (a member of a booking group); `tick` is the Lamport clock. */
export function replicatedJournal(node: ReplicationNode, tick: () => number): Journal {
  const notMaster = (): UnavailableError => new UnavailableError(`node ${node.log.nodeId} is not the master`);
  return {
    appliesAcknowledgedOnly: true,
    lockStatements: [node.log.lockPositionStatement()],
    position(results) {
      const term = node.masterTerm();
      if (term === undefined) throw notMaster();
      const state = node.log.lockedPosition(results[0], term);
      return { lastIndex: state.lastIndex, appliedIndex: state.appliedIndex, state, term };
    },
    append(position, entries, appliedThrough) {
      const { state, term } = position;
      if (state === undefined || term === undefined) throw notMaster();
      const logged = entries.map((e, i) => ({
        index: state.lastIndex + 1 + i,
        term,
        lamport: tick(),
        op: e.op.op,
        payload: JSON.stringify(e.op.payload),
        ...(e.traceParent === undefined ? {} : { traceParent: e.traceParent }),
      }));
      const prepared = node.log.prepareAppendBatch(
        state,
        logged.map(({ index: _index, ...entry }) => entry),
        appliedThrough,
      );
      return {
        statements: prepared.statements.map((s) => ({ sql: s.sql, values: s.values })),
        lastIndex: prepared.index([]),
        fenced: (error) => prepared.fenced(error),
        committed: () => node.appended(logged),
      };
    },
    markApplied(at, through) {
      if (at.term === undefined) throw notMaster();
      return node.log
        .prepareMarkApplied(at.term, at.appliedIndex, at.lastIndex, through)
        .map((s) => ({ sql: s.sql, values: s.values }));
    },
    unapplied(position) {
      return {
        statement: node.log.unappliedStatement(position.appliedIndex),
        read: (result) =>
          node.log
            .entriesOf(result)
            .flatMap((entry) =>
              entry.op === NOOP_OP ? [] : [{ index: entry.index, op: opOfEntry(entry.op, entry.payload) }],
            ),
      };
    },
    acknowledge: (index) => node.replicate(index),
    isMaster: () => node.masterTerm() !== undefined,
    assertWritable: () => {
      if (node.masterTerm() === undefined) throw notMaster();
    },
  };
}
