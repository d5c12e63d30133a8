import type { RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import { FailedPreconditionError, InvalidArgumentError } from '../common/errors';
import { withTransaction } from '../common/mysql';
import type { PoolConnection } from '../common/mysql';
import type { ReplicationLog } from './log-store';
import { START } from './snapshot-source';
import type {
  SnapshotChunk,
  SnapshotCursor,
  SnapshotHeader,
  SnapshotKey,
  StateMachine,
  NodeId,
} from './types';

/*
 * The receiving side of snapshots. Chunks go into staging copies of the state tables (`<t>_staging`,
 * created LIKE `<t>`), never into the live ones, each chunk in one transaction together with the
 * cursor in replication_snapshot_receive (snapshot id, last table and key stored): a dropped stream
 * resumes exactly there, and a failing or abandoned transfer leaves the live state untouched (its
 * staging tables are dropped when the next snapshot begins).
 *
 * The last chunk swaps them in. RENAME TABLE is atomic across all the tables it names, but it is DDL:
 * it commits on its own and cannot share a transaction with the positions. So:
 *   1. the receive row is marked complete (every row staged) in the last chunk's transaction;
 *   2. a transaction locks replication_state (appliers and appends wait, so nothing is applied to the
 *      new tables at the old position);
 *   3. on another connection: RENAME TABLE t TO t_old, t_staging TO t, ... (all tables, one statement);
 *   4. that transaction empties the log, moves every position to the snapshot's, deletes the receive
 *      row, and commits; then the t_old tables are dropped.
 * A crash before 3 leaves the staging tables; after 3 and before 4 commits, the live tables are the
 * snapshot's while the positions are not. Either way the receive row still says complete, and
 * `recover()` (run at start, before anything is applied) repeats 2–4: it renames only if the staging
 * tables still exist (all of them exist, or none: the rename is atomic), then moves the positions.
 * After 4 there is no receive row and the positions match the tables.
 */

export interface SnapshotInstallerOptions {
  readonly log: ReplicationLog;
  readonly machine: StateMachine;
  readonly logger: Logger;
  /** Called after a transaction that raised the term (or learnt the master) has committed. */
  readonly onLeader: (term: number, leaderId: NodeId) => void;
  /** As the Follower's: snapshots from a term older than one this node voted for are refused. */
  readonly fenceTerm?: () => number;
  /** Awaited after the positions changed (the log-position cache). */
  readonly afterCommit?: () => Promise<void>;
  /**
   * Awaited before the RENAME: ends this node's own long reads of the live tables (the read points it
   * serves snapshots from, as a master or a catch-up source), which the RENAME would otherwise wait for.
   * A state about to be replaced is no source for anyone.
   */
  readonly beforeSwap?: () => Promise<void>;
}

export interface OfferResult {
  readonly term: number;
  readonly accepted: boolean;
  /**
   * This node's state already reflects the log through the offered position (same index and term:
   * the same history), typically because the answer to an install was lost: nothing to send.
   */
  readonly installed: boolean;
  /** Where the sender continues: after what this node stored of the same snapshot, or START. */
  readonly resume: SnapshotCursor;
}

export interface ChunkResult {
  readonly term: number;
  readonly success: boolean;
  /** The snapshot's last index once installed (after the `done` chunk); 0 before. */
  readonly matchIndex: number;
}

/** What this node stored of a snapshot so far (a puller names it when it asks again). */
export interface StoredTransfer {
  readonly snapshotId: string;
  readonly cursor: SnapshotCursor;
}

interface ReceiveRow extends SnapshotHeader, StoredTransfer {
  readonly term: number;
  readonly leaderId: NodeId;
  readonly rowCount: number;
  readonly complete: boolean;
}

interface ReceiveRecord extends RowDataPacket {
  snapshot_id: string;
  term: number;
  leader_id: number;
  last_index: number;
  last_term: number;
  commit_index: number;
  cursor_table: string;
  cursor_key: string | null;
  row_count: number;
  complete: number;
}

const quote = (name: string): string => `\`${name}\``;

/** Seconds the swap's RENAME waits for the live tables' readers before it fails (and is retried). */
const RENAME_WAIT_S = 5;

/** Rows between two progress lines of a transfer in the receiver's log. */
const PROGRESS_ROWS = 100_000;
export const stagingTable = (table: string): string => `${table}_staging`;
const oldTable = (table: string): string => `${table}_old`;

export class SnapshotInstaller {
  /** One operation at a time: chunks of a resumed stream never interleave with a stale one's. */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: SnapshotInstallerOptions) {}

  /** Finishes a swap a crash interrupted (see the file comment). Run at start, before applying. */
  recover(): Promise<void> {
    return this.serial(async () => {
      const row = await this.read();
      if (row?.complete) {
        this.options.logger.warn(
          { snapshotId: row.snapshotId, lastIndex: row.lastIndex },
          'replication: finishing a snapshot install interrupted by a restart',
        );
        await this.install(row);
      } else await this.dropOld();
    });
  }

  /** What a pulling node asks the source to continue after. */
  stored(): Promise<StoredTransfer | undefined> {
    return this.serial(async () => {
      const row = await this.read();
      return row === undefined ? undefined : { snapshotId: row.snapshotId, cursor: row.cursor };
    });
  }

  /** A master offers a snapshot: check its term (recording a newer one) and say where to start. */
  offer(
    term: number,
    leaderId: NodeId,
    offered: Pick<SnapshotHeader, 'snapshotId' | 'lastIndex' | 'lastTerm'>,
  ): Promise<OfferResult> {
    return this.serial(async () => {
      const { log } = this.options;
      let learnt = false;
      const refusedBy = await withTransaction(log.pool, async (connection) => {
        const state = await log.lockState(connection);
        const highest = Math.max(state.currentTerm, this.fence());
        if (term < highest) return highest;
        // Two masters claiming one term: refuse the second, as Append does.
        if (term === state.currentTerm && state.leaderId !== 0 && state.leaderId !== leaderId)
          return state.currentTerm;
        if (term !== state.currentTerm || leaderId !== state.leaderId) {
          learnt = true;
          await log.writeState(connection, { ...state, currentTerm: term, leaderId });
        }
        return undefined;
      });
      if (learnt) {
        this.options.onLeader(term, leaderId);
        await this.options.afterCommit?.();
      }
      if (refusedBy !== undefined)
        return { term: refusedBy, accepted: false, installed: false, resume: START };
      if (await this.holds(offered.lastIndex, offered.lastTerm))
        return { term, accepted: true, installed: true, resume: START };
      const row = await this.read();
      return {
        term,
        accepted: true,
        installed: false,
        resume: row?.snapshotId === offered.snapshotId ? row.cursor : START,
      };
    });
  }

  /**
   * Stores one chunk in staging, or with `done` installs the snapshot. `term`/`leaderId` are the
   * sender's (a pulling node passes its own). Throws FailedPreconditionError for a chunk that does
   * not continue what is stored: the sender must offer again.
   */
  accept(term: number, leaderId: NodeId, chunk: SnapshotChunk): Promise<ChunkResult> {
    return this.serial(async () => {
      const { log, machine } = this.options;
      const state = await log.state();
      const highest = Math.max(state.currentTerm, this.fence());
      if (term < highest) return { term: highest, success: false, matchIndex: 0 };
      let row = await this.read();
      if (row?.snapshotId !== chunk.snapshotId) {
        if (chunk.after !== undefined || (chunk.done && chunk.table !== ''))
          throw new FailedPreconditionError(
            `snapshot ${chunk.snapshotId}: this node holds none of it to continue; offer it again`,
          );
        row = await this.begin(term, leaderId, chunk, row);
      }
      if (!continues(row.cursor, chunk, machine.snapshotTables))
        throw new FailedPreconditionError(
          `snapshot ${chunk.snapshotId}: a chunk of ${chunk.table || '(none)'} after ${JSON.stringify(chunk.after ?? null)} does not continue the stored ${row.cursor.table || '(start)'} ${JSON.stringify(row.cursor.key ?? null)}`,
        );
      const rows = chunk.rows.map((text, i) => parseRow(text, i));
      const cursor: SnapshotCursor = { table: chunk.table, key: chunk.lastKey ?? chunk.after };
      await withTransaction(log.pool, async (connection) => {
        if (rows.length > 0)
          await machine.writeSnapshot(connection, chunk.table, stagingTable(chunk.table), rows);
        await connection.query(
          `UPDATE replication_snapshot_receive SET term = ?, leader_id = ?, cursor_table = ?, cursor_key = ?,
             row_count = row_count + ?, complete = ? WHERE id = 1 AND snapshot_id = ?`,
          [
            term,
            leaderId,
            cursor.table,
            encodeKey(cursor.key),
            rows.length,
            chunk.done ? 1 : 0,
            chunk.snapshotId,
          ],
        );
      });
      const stored = row.rowCount + rows.length;
      if (Math.floor(stored / PROGRESS_ROWS) > Math.floor(row.rowCount / PROGRESS_ROWS))
        this.options.logger.info(
          { snapshotId: chunk.snapshotId, rows: stored, table: chunk.table },
          'replication: snapshot rows staged',
        );
      if (!chunk.done) return { term, success: true, matchIndex: 0 };
      const complete = await this.read();
      if (!complete?.complete)
        throw new Error(`snapshot ${chunk.snapshotId}: the receive row vanished before the swap`);
      await this.install(complete);
      // A vote for a newer term may have been cast meanwhile: installed, but not acknowledged.
      const fence = this.fence();
      if (fence > term) return { term: fence, success: false, matchIndex: 0 };
      return { term, success: true, matchIndex: complete.lastIndex };
    });
  }

  /** Whether the applied state already includes the log through (index, term): log matching says same history. */
  private async holds(index: number, term: number): Promise<boolean> {
    const { log } = this.options;
    const state = await log.state();
    if (state.appliedIndex < index) return false;
    const ours = index === state.snapshotIndex ? state.snapshotTerm : await log.termAt(index);
    return ours === term;
  }

  private fence(): number {
    return this.options.fenceTerm?.() ?? 0;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.turn.then(work, work);
    // The chain only orders the operations; each caller gets its own outcome from `run`.
    this.turn = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Fresh staging tables and receive row for a new snapshot (a complete earlier one is installed first). */
  private async begin(
    term: number,
    leaderId: NodeId,
    header: SnapshotHeader,
    previous: ReceiveRow | undefined,
  ): Promise<ReceiveRow> {
    const { log, machine, logger } = this.options;
    if (previous?.complete) await this.install(previous);
    // The row goes first: a crash below leaves no row pointing at half-made staging tables.
    await log.pool.query('DELETE FROM replication_snapshot_receive WHERE id = 1');
    for (const table of machine.snapshotTables) {
      await log.pool.query(`DROP TABLE IF EXISTS ${quote(stagingTable(table))}`);
      await log.pool.query(`CREATE TABLE ${quote(stagingTable(table))} LIKE ${quote(table)}`);
    }
    await log.pool.query(
      `INSERT INTO replication_snapshot_receive (id, snapshot_id, term, leader_id, last_index, last_term,
         commit_index, cursor_table, cursor_key, row_count, complete) VALUES (1, ?, ?, ?, ?, ?, ?, '', NULL, 0, 0)`,
      [header.snapshotId, term, leaderId, header.lastIndex, header.lastTerm, header.commitIndex],
    );
    logger.info(
      {
        snapshotId: header.snapshotId,
        lastIndex: header.lastIndex,
        term,
        from: leaderId,
        discarded: previous?.snapshotId,
      },
      'replication: receiving a snapshot into staging tables',
    );
    const row = await this.read();
    if (row === undefined) throw new Error('replication_snapshot_receive: the row just written is missing');
    return row;
  }

  /** Steps 2–4 of the file comment; safe to repeat. */
  private async install(row: ReceiveRow): Promise<void> {
    const { log, machine, logger } = this.options;
    const tables = machine.snapshotTables;
    const connection = await log.pool.getConnection();
    let learnt = false;
    try {
      await connection.beginTransaction();
      const state = await log.lockState(connection);
      const staged = await countTables(connection, tables.map(stagingTable));
      if (staged === tables.length) await this.swap(tables);
      else if (staged !== 0)
        throw new Error(
          `snapshot ${row.snapshotId}: only ${staged} of ${tables.length} staging tables exist`,
        );
      await connection.query('DELETE FROM replication_log');
      const newer = row.term >= state.currentTerm;
      learnt = row.term !== state.currentTerm || (newer && row.leaderId !== state.leaderId);
      await log.writeState(connection, {
        currentTerm: Math.max(state.currentTerm, row.term),
        leaderId: newer ? row.leaderId : state.leaderId,
        lastIndex: row.lastIndex,
        lastTerm: row.lastTerm,
        commitIndex: Math.min(Math.max(state.commitIndex, row.commitIndex), row.lastIndex),
        appliedIndex: row.lastIndex,
        snapshotIndex: row.lastIndex,
        snapshotTerm: row.lastTerm,
      });
      await connection.query('DELETE FROM replication_snapshot_receive WHERE id = 1');
      await connection.commit();
    } catch (error) {
      // The error that stopped the install is what the caller must see; a failed rollback adds nothing.
      await connection.rollback().catch(() => undefined);
      throw error;
    } finally {
      connection.release();
    }
    logger.info(
      { snapshotId: row.snapshotId, lastIndex: row.lastIndex, term: row.term, rows: row.rowCount },
      'replication: snapshot installed',
    );
    if (learnt) this.options.onLeader(row.term, row.leaderId);
    await this.options.afterCommit?.();
    // Dropping a million-row table takes a while and the sender is waiting for our answer: the old
    // tables are garbage from here on (the next swap and every start drop them too).
    this.dropOld().catch((error: unknown) =>
      logger.warn(
        { err: error },
        'replication: dropping the tables a snapshot replaced failed; retried at the next swap',
      ),
    );
  }

  /** Step 3: one RENAME for every table, so readers see the old state or the new, never a mix. */
  private async swap(tables: readonly string[]): Promise<void> {
    await this.options.beforeSwap?.();
    const connection = await this.options.log.pool.getConnection();
    try {
      await connection.query(`DROP TABLE IF EXISTS ${tables.map((t) => quote(oldTable(t))).join(', ')}`);
      // The rename waits for readers of the live tables (a long change-stream read, say) while we hold
      // the state row: bound it, and let the master's next offer retry the swap rather than stall here.
      await connection.query(
        `SET STATEMENT lock_wait_timeout = ${RENAME_WAIT_S} FOR RENAME TABLE ${tables.map((t) => `${quote(t)} TO ${quote(oldTable(t))}, ${quote(stagingTable(t))} TO ${quote(t)}`).join(', ')}`,
      );
    } finally {
      connection.release();
    }
  }

  private async dropOld(): Promise<void> {
    const tables = this.options.machine.snapshotTables;
    await this.options.log.pool.query(
      `DROP TABLE IF EXISTS ${tables.map((t) => quote(oldTable(t))).join(', ')}`,
    );
  }

  private async read(): Promise<ReceiveRow | undefined> {
    const [rows] = await this.options.log.pool.query<ReceiveRecord[]>(
      `SELECT snapshot_id, term, leader_id, last_index, last_term, commit_index, cursor_table, cursor_key,
         row_count, complete FROM replication_snapshot_receive WHERE id = 1`,
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      snapshotId: row.snapshot_id,
      term: Number(row.term),
      leaderId: Number(row.leader_id),
      lastIndex: Number(row.last_index),
      lastTerm: Number(row.last_term),
      commitIndex: Number(row.commit_index),
      cursor: { table: row.cursor_table, key: decodeKey(row.cursor_key) },
      rowCount: Number(row.row_count),
      complete: Number(row.complete) === 1,
    };
  }
}

/** A chunk continues the stored cursor: the same table after the same key, or a later table from its start. */
export function continues(cursor: SnapshotCursor, chunk: SnapshotChunk, tables: readonly string[]): boolean {
  if (chunk.table !== '' && !tables.includes(chunk.table)) return false;
  if (chunk.table === cursor.table) return encodeKey(chunk.after) === encodeKey(cursor.key);
  return (
    !chunk.done && chunk.after === undefined && tables.indexOf(chunk.table) > tables.indexOf(cursor.table)
  );
}

function encodeKey(key: SnapshotKey | undefined): string | null {
  return key === undefined ? null : JSON.stringify(key);
}

function decodeKey(text: string | null): SnapshotKey | undefined {
  return text === null ? undefined : (JSON.parse(text) as SnapshotKey);
}

function parseRow(text: string, i: number): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InvalidArgumentError(`rows[${i}]`, 'is not JSON');
  }
}

async function countTables(connection: PoolConnection, names: readonly string[]): Promise<number> {
  const [rows] = await connection.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)',
    [names],
  );
  return Number(rows[0]?.n ?? 0);
}
