import type { RowDataPacket } from 'mysql2/promise';
import { FailedPreconditionError, UnavailableError } from '../common/errors';
import { migrate, withTransaction } from '../common/mysql';
import type { Pool, PoolConnection } from '../common/mysql';
import { REPLICATION_SCHEMA } from './schema';
import type { LogEntry, NewEntry, NodeId } from './types';

/** The persisted positions of one node (the replication_state row). */
export interface ReplicationState {
  /** Highest term this node has seen: entries from lower terms are refused (fencing). */
  readonly currentTerm: number;
  /** The master of currentTerm as far as this node knows; 0 when unknown. */
  readonly leaderId: NodeId;
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Highest index known committed (learnt from the master; a master keeps its own in memory). */
  readonly commitIndex: number;
  /** The node's state includes every entry up to here. A master's equals lastIndex. */
  readonly appliedIndex: number;
  /** Entries up to here are no longer in the log (compacted or replaced by a snapshot). */
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
}

/** The log position a consistent read of the state machine's rows reflects. */
export interface SnapshotPoint {
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly commitIndex: number;
}

interface StateRow extends RowDataPacket {
  current_term: number;
  leader_id: number;
  last_index: number;
  last_term: number;
  commit_index: number;
  applied_index: number;
  snapshot_index: number;
  snapshot_term: number;
}

interface EntryRow extends RowDataPacket {
  log_index: number;
  term: number;
  lamport: number;
  op: string;
  payload: string;
  trace_parent: string;
}

const STATE_COLUMNS =
  'current_term, leader_id, last_index, last_term, commit_index, applied_index, snapshot_index, snapshot_term';

/**
 * An append as statements for the caller's own final batch (see ReplicationLog.prepareAppendBatch):
 * the caller sends them, in order, in its transaction, in the same round trip as its COMMIT.
 */
export interface PreparedAppend {
  readonly statements: readonly { readonly sql: string; readonly values: readonly unknown[] }[];
  /** The entry's index, from the results of `statements` (same order, same length). */
  index(results: readonly unknown[]): number;
  /** The error the batch failed with when this node is no longer master of the entry's term, if it is that. */
  fenced(error: unknown): UnavailableError | undefined;
}

const FENCE_MESSAGE = 'marquee-replication-fence';
/** Fails the transaction unless the positions update right before it changed the row. */
const FENCE_GUARD = {
  sql: "BEGIN NOT ATOMIC IF ROW_COUNT() <> 1 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = ?; END IF; END",
  values: [FENCE_MESSAGE],
} as const;
const SIGNAL_EXCEPTION = 1644;

/** A connection or a pool: both have `query`. */
type Queryable = Pick<Pool, 'query'> | Pick<PoolConnection, 'query'>;

/** The log and positions of one node, in its own database. */
export class ReplicationLog {
  constructor(
    readonly pool: Pool,
    readonly nodeId: NodeId,
  ) {}

  migrate(): Promise<void> {
    return migrate(this.pool, REPLICATION_SCHEMA);
  }

  /** The last committed positions (a consistent read: never blocks behind an open append). */
  async state(on: Queryable = this.pool): Promise<ReplicationState> {
    const [rows] = await on.query<StateRow[]>(`SELECT ${STATE_COLUMNS} FROM replication_state WHERE id = 1`);
    return toState(rows);
  }

  /** The positions, locked until `connection`'s transaction ends: every position change goes through here. */
  async lockState(connection: PoolConnection): Promise<ReplicationState> {
    const [rows] = await connection.query<StateRow[]>(
      `SELECT ${STATE_COLUMNS} FROM replication_state WHERE id = 1 FOR UPDATE`,
    );
    return toState(rows);
  }

  async writeState(connection: PoolConnection, state: ReplicationState): Promise<void> {
    await connection.query(
      `UPDATE replication_state SET current_term = ?, leader_id = ?, last_index = ?, last_term = ?,
         commit_index = ?, applied_index = ?, snapshot_index = ?, snapshot_term = ? WHERE id = 1`,
      [
        state.currentTerm,
        state.leaderId,
        state.lastIndex,
        state.lastTerm,
        state.commitIndex,
        state.appliedIndex,
        state.snapshotIndex,
        state.snapshotTerm,
      ],
    );
  }

  /**
   * Appends `entry` inside the caller's transaction, the one that makes the state change, and
   * returns its index. The state row stays locked until that transaction ends, so concurrent appends
   * get dense indexes in commit order; append as the last step of the transaction to keep that
   * window short. Throws UnavailableError when this node is not the master of `entry.term` (a higher
   * term was seen since): the caller's transaction must then roll back.
   */
  async appendInTransaction(connection: PoolConnection, entry: NewEntry): Promise<number> {
    const state = await this.lockState(connection);
    if (state.currentTerm !== entry.term || state.leaderId !== this.nodeId) {
      throw new UnavailableError(
        `node ${this.nodeId} is not the master of term ${entry.term} (term ${state.currentTerm}, master ${state.leaderId || 'unknown'})`,
        state.leaderId ? { leader: String(state.leaderId) } : {},
      );
    }
    const index = state.lastIndex + 1;
    await connection.query(
      'INSERT INTO replication_log (log_index, term, lamport, op, payload, trace_parent) VALUES (?, ?, ?, ?, ?, ?)',
      [index, entry.term, entry.lamport, entry.op, entry.payload, entry.traceParent ?? ''],
    );
    // The caller's transaction made the change itself, so the master's state includes the entry.
    await this.writeState(connection, {
      ...state,
      lastIndex: index,
      lastTerm: entry.term,
      appliedIndex: index,
    });
    return index;
  }

  /**
   * The first statement of a master's write batch: the positions, locked until the batch's COMMIT, so
   * the batch appends right after `last_index` and nothing else moves the log meanwhile.
   */
  lockPositionStatement(): { sql: string; values: readonly unknown[] } {
    return { sql: `SELECT ${STATE_COLUMNS} FROM replication_state WHERE id = 1 FOR UPDATE`, values: [] };
  }

  /** The locked positions from that statement's result; UnavailableError unless master of `term`. */
  lockedPosition(result: unknown, term: number): ReplicationState {
    const state = toState(result as StateRow[]);
    if (state.currentTerm !== term || state.leaderId !== this.nodeId)
      throw new UnavailableError(
        `node ${this.nodeId} is not the master of term ${term} (term ${state.currentTerm}, master ${state.leaderId || 'unknown'})`,
        state.leaderId ? { leader: String(state.leaderId) } : {},
      );
    return state;
  }

  /**
   * A batch of entries after `after` (its locked position) as statements for the batch's final
   * round trip: the entries, then the positions, moved only while this node is still master of the
   * term at that position (the fence: a failed guard stops the batch before its COMMIT).
   * `appliedThrough` is how far the batch leaves the node's tables (default: through its last entry,
   * for a batch that wrote its own rows; a master that applies only acknowledged entries passes less).
   * No entries and no applied move: no statements.
   */
  prepareAppendBatch(
    after: ReplicationState,
    entries: readonly NewEntry[],
    appliedThrough = after.lastIndex + entries.length,
  ): PreparedAppend {
    const nodeId = this.nodeId;
    const first = after.lastIndex + 1;
    const last = after.lastIndex + entries.length;
    const term = entries[0]?.term ?? after.currentTerm;
    if (appliedThrough > last || appliedThrough < after.appliedIndex)
      throw new Error(`applied index ${appliedThrough} outside ${after.appliedIndex}..${last}`);
    const statements: { sql: string; values: readonly unknown[] }[] = [];
    if (entries.length > 0)
      statements.push({
        sql: 'INSERT INTO replication_log (log_index, term, lamport, op, payload, trace_parent) VALUES ?',
        values: [entries.map((e, i) => [first + i, e.term, e.lamport, e.op, e.payload, e.traceParent ?? ''])],
      });
    if (entries.length > 0 || appliedThrough !== after.appliedIndex)
      statements.push(
        {
          sql: `UPDATE replication_state SET last_index = ?, last_term = ?, applied_index = ?
                 WHERE id = 1 AND current_term = ? AND leader_id = ? AND last_index = ? AND applied_index = ?`,
          values: [
            last,
            entries.length > 0 ? term : after.lastTerm,
            appliedThrough,
            after.currentTerm,
            nodeId,
            after.lastIndex,
            after.appliedIndex,
          ],
        },
        FENCE_GUARD,
      );
    return {
      statements,
      index: () => last,
      fenced: (error) => fencedError(error, nodeId, after.currentTerm),
    };
  }

  /**
   * Moves the applied index of a master of `term` from `from` to `through`, guarded as an append is:
   * only while the row still says master of `term`, applied `from` and last `last` (the fence fails
   * the caller's transaction otherwise). For a transaction that takes no lock read first.
   */
  prepareMarkApplied(
    term: number,
    from: number,
    last: number,
    through: number,
  ): { sql: string; values: readonly unknown[] }[] {
    if (through < from || through > last)
      throw new Error(`applied index ${through} outside ${from}..${last}`);
    return [
      {
        sql: `UPDATE replication_state SET applied_index = ?
               WHERE id = 1 AND current_term = ? AND leader_id = ? AND last_index = ? AND applied_index = ?`,
        values: [through, term, this.nodeId, last, from],
      },
      FENCE_GUARD,
    ];
  }

  /** Entries after `after` up to the end of the log, ascending: a master's unapplied tail. */
  unappliedStatement(after: number): { sql: string; values: readonly unknown[] } {
    return {
      sql: 'SELECT log_index, term, lamport, op, payload, trace_parent FROM replication_log WHERE log_index > ? ORDER BY log_index',
      values: [after],
    };
  }

  /** The entries of unappliedStatement's result. */
  entriesOf(result: unknown): LogEntry[] {
    return (result as EntryRow[]).map(toEntry);
  }

  /** Entries from..to (inclusive) that are in the log, ascending. */
  async entries(from: number, to: number, on: Queryable = this.pool): Promise<LogEntry[]> {
    if (to < from) return [];
    const [rows] = await on.query<EntryRow[]>(
      'SELECT log_index, term, lamport, op, payload, trace_parent FROM replication_log WHERE log_index BETWEEN ? AND ? ORDER BY log_index',
      [from, to],
    );
    return rows.map(toEntry);
  }

  /** The term of the entry at `index`, or undefined when the log does not hold it. */
  async termAt(index: number, on: Queryable = this.pool): Promise<number | undefined> {
    const [rows] = await on.query<RowDataPacket[]>('SELECT term FROM replication_log WHERE log_index = ?', [
      index,
    ]);
    const row = rows[0];
    return row === undefined ? undefined : Number(row.term);
  }

  /**
   * Makes this node the master of `term`: it must not have seen a higher term, nor another master
   * of the same one (the election guarantees both; this refuses to run if it did not).
   */
  async claimTerm(term: number): Promise<ReplicationState> {
    return withTransaction(this.pool, async (connection) => {
      const state = await this.lockState(connection);
      if (
        state.currentTerm > term ||
        (state.currentTerm === term && ![0, this.nodeId].includes(state.leaderId))
      )
        throw new FailedPreconditionError(
          `term ${term} is stale: this node has seen term ${state.currentTerm} (master ${state.leaderId || 'unknown'})`,
        );
      const next = { ...state, currentTerm: term, leaderId: this.nodeId };
      await this.writeState(connection, next);
      return next;
    });
  }

  /** Records a higher term learnt from a peer before acting on it, so a restart cannot forget it. */
  async observeTerm(term: number, leaderId: NodeId = 0): Promise<void> {
    await withTransaction(this.pool, async (connection) => {
      const state = await this.lockState(connection);
      if (term <= state.currentTerm) return;
      await this.writeState(connection, { ...state, currentTerm: term, leaderId });
    });
  }

  /**
   * Drops entries up to `upTo` (they must be committed and applied): slaves that still need them
   * get a snapshot instead. Returns the new snapshot index.
   */
  async compact(upTo: number): Promise<number> {
    return withTransaction(this.pool, async (connection) => {
      const state = await this.lockState(connection);
      const through = Math.min(upTo, state.appliedIndex, state.lastIndex);
      if (through <= state.snapshotIndex) return state.snapshotIndex;
      const term = await this.termAt(through, connection);
      if (term === undefined) throw new Error(`replication log has no entry ${through} to compact through`);
      await connection.query('DELETE FROM replication_log WHERE log_index <= ?', [through]);
      await this.writeState(connection, { ...state, snapshotIndex: through, snapshotTerm: term });
      return through;
    });
  }

  /**
   * The log position the state machine's rows reflect, read on `connection`'s consistent-read
   * transaction (the one the rows are then read on: snapshot-source.ts). A master appends its state
   * change and its entry in one transaction, so its rows are exactly the result of entries
   * 1..lastIndex; a slave's rows are the result of entries 1..appliedIndex, so the snapshot is taken
   * there (its later entries stay in its log).
   */
  async snapshotPoint(connection: PoolConnection): Promise<SnapshotPoint> {
    const state = await this.state(connection);
    const lastIndex = state.appliedIndex;
    const lastTerm =
      lastIndex === state.lastIndex
        ? state.lastTerm
        : lastIndex === state.snapshotIndex
          ? state.snapshotTerm
          : await this.termAt(lastIndex, connection);
    if (lastTerm === undefined)
      throw new FailedPreconditionError(
        `cannot snapshot: the log has no entry at applied index ${lastIndex}`,
      );
    return { lastIndex, lastTerm, commitIndex: Math.min(state.commitIndex, lastIndex) };
  }

  /**
   * What a catch-up source answers (ReplicationService.Fetch): up to `max` entries after
   * `afterIndex`, the term at `afterIndex`, or snapshotNeeded when the log no longer reaches back there.
   */
  async readAfter(
    afterIndex: number,
    max: number,
  ): Promise<{
    state: ReplicationState;
    snapshotNeeded: boolean;
    prevTerm: number;
    entries: LogEntry[];
  }> {
    const state = await this.state();
    const none = { state, prevTerm: 0, entries: [] as LogEntry[] };
    if (afterIndex < state.snapshotIndex || afterIndex > state.lastIndex) {
      // Below the log: only a snapshot helps. Above it: the caller's log is longer than ours, which
      // the election rules out for a catch-up source; a snapshot resets the caller to our state.
      return { ...none, snapshotNeeded: true };
    }
    const prevTerm =
      afterIndex === 0
        ? 0
        : afterIndex === state.snapshotIndex
          ? state.snapshotTerm
          : await this.termAt(afterIndex);
    if (prevTerm === undefined) return { ...none, snapshotNeeded: true };
    const entries = await this.entries(afterIndex + 1, Math.min(state.lastIndex, afterIndex + max));
    // A compaction between the two reads leaves a gap: ask again (the caller retries on this answer).
    if (entries.length > 0 && entries[0]?.index !== afterIndex + 1) return { ...none, snapshotNeeded: true };
    return { state, snapshotNeeded: false, prevTerm, entries };
  }
}

function fencedError(error: unknown, nodeId: NodeId, term: number): UnavailableError | undefined {
  const { errno, message } = error as { errno?: number; message?: unknown };
  if (errno !== SIGNAL_EXCEPTION || message !== FENCE_MESSAGE) return undefined;
  return new UnavailableError(`node ${nodeId} is not the master of term ${term} (a newer term was seen)`);
}

function toState(rows: StateRow[]): ReplicationState {
  const row = rows[0];
  if (row === undefined) throw new Error('replication_state has no row: run ReplicationLog.migrate() first');
  return {
    currentTerm: Number(row.current_term),
    leaderId: Number(row.leader_id),
    lastIndex: Number(row.last_index),
    lastTerm: Number(row.last_term),
    commitIndex: Number(row.commit_index),
    appliedIndex: Number(row.applied_index),
    snapshotIndex: Number(row.snapshot_index),
    snapshotTerm: Number(row.snapshot_term),
  };
}

function toEntry(row: EntryRow): LogEntry {
  return {
    index: Number(row.log_index),
    term: Number(row.term),
    lamport: Number(row.lamport),
    op: row.op,
    payload: row.payload,
    ...(row.trace_parent === '' ? {} : { traceParent: row.trace_parent }),
  };
}
