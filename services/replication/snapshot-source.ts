import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { PoolConnection } from '../common/mysql';
import type { ReplicationLog } from './log-store';
import type { SnapshotChunk, SnapshotCursor, SnapshotHeader, SnapshotKey, StateMachine } from './types';

/*
 * The sending side of snapshots: a read point is one REPEATABLE READ transaction started WITH
 * CONSISTENT SNAPSHOT, on a connection of its own, from which the state is read table by table in
 * primary-key order, a bounded batch at a time (keyset pagination, see keyset.ts), and cut into
 * chunks of at most `chunkBytes`. Nothing holds more than one batch, and the event loop is given back
 * between batches, so a node serving a snapshot keeps serving everything else.
 *
 * A read point outlives a dropped stream for `lingerMs`: the receiver's resume (the last table and
 * key it stored) continues on the very same read point, so the rows it already has and the rows it
 * gets next are one consistent state. After that the point is closed (a long-open read view holds
 * back InnoDB's purge) and a resume starts a new snapshot from the beginning.
 */

export interface SnapshotSourceOptions {
  readonly log: ReplicationLog;
  readonly machine: StateMachine;
  readonly logger: Logger;
  /** Rows per read: bounds the sender's memory and each stretch of event-loop time. */
  readonly batchRows: number;
  /** Largest chunk, in bytes of row JSON (a single larger row travels alone). */
  readonly chunkBytes: number;
  /** How long a read point waits for a resume after its stream stopped before the end. */
  readonly lingerMs: number;
}

/** One consistent read point and what a chunk says about it. */
export interface ReadPoint {
  readonly header: SnapshotHeader;
  /** Who the point is for: a new point for the same holder closes the old one. */
  readonly holder: string;
}

interface OpenPoint extends ReadPoint {
  readonly connection: PoolConnection;
  /** Streams on one point run one after the other (one connection, one cursor). */
  turn: Promise<void>;
  linger: NodeJS.Timeout | undefined;
  closed: boolean;
}

export const START: SnapshotCursor = { table: '', key: undefined };

export class SnapshotSource {
  private readonly points = new Map<string, OpenPoint>();

  constructor(private readonly options: SnapshotSourceOptions) {}

  /**
   * A new read point for `holder` (closing its previous one). `commitFloor` raises the commit index the
   * chunks carry (a master's commit index lives in memory, above the persisted one).
   */
  async open(holder: string, commitFloor = 0): Promise<ReadPoint> {
    for (const point of [...this.points.values()]) if (point.holder === holder) await this.close(point);
    const connection = await this.options.log.pool.getConnection();
    try {
      await connection.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await connection.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
      const at = await this.options.log.snapshotPoint(connection);
      const header: SnapshotHeader = {
        snapshotId: randomBytes(8).toString('hex'),
        lastIndex: at.lastIndex,
        lastTerm: at.lastTerm,
        commitIndex: Math.min(Math.max(at.commitIndex, commitFloor), at.lastIndex),
      };
      const point: OpenPoint = {
        header,
        holder,
        connection,
        turn: Promise.resolve(),
        linger: undefined,
        closed: false,
      };
      this.points.set(header.snapshotId, point);
      this.options.logger.info({ holder, ...header }, 'replication: snapshot read point opened');
      return point;
    } catch (error) {
      // The transaction never became a read point: release the connection with the error.
      connection.destroy();
      throw error;
    }
  }

  /** The read point `snapshotId`, while it is still open. */
  find(snapshotId: string | undefined): ReadPoint | undefined {
    return snapshotId === undefined ? undefined : this.points.get(snapshotId);
  }

  /**
   * The point's chunks from `from` (START, or where a receiver got to) through the final `done`
   * chunk. Afterwards — stopped early by the consumer's `return` on a dropped stream, or after `done`
   * whose answer may yet be lost — the point stays open for `lingerMs`, so a resume continues on it
   * (after `done`, with just the `done` chunk: the receiver retries its swap). `finish` closes it.
   */
  async *chunks(point: ReadPoint, from: SnapshotCursor): AsyncGenerator<SnapshotChunk> {
    const open = this.points.get(point.header.snapshotId);
    if (open === undefined || open.closed) throw new Error(`snapshot ${point.header.snapshotId} is closed`);
    const previous = open.turn;
    let release: () => void = () => undefined;
    open.turn = new Promise((resolve) => (release = resolve));
    await previous;
    if (open.closed) {
      release();
      throw new Error(`snapshot ${point.header.snapshotId} is closed`);
    }
    clearTimeout(open.linger);
    try {
      yield* this.read(open, from);
    } finally {
      release();
      if (!open.closed)
        open.linger = setTimeout(() => void this.closeLogged(open), this.options.lingerMs).unref();
    }
  }

  /** The receiver installed snapshot `snapshotId`: its read point is no longer needed. */
  async finish(snapshotId: string): Promise<void> {
    const point = this.points.get(snapshotId);
    if (point) await this.close(point);
  }

  /** Closes every read point (the node is stopping). */
  async closeAll(): Promise<void> {
    for (const point of [...this.points.values()]) await this.close(point);
  }

  private async *read(point: OpenPoint, from: SnapshotCursor): AsyncGenerator<SnapshotChunk> {
    const { machine, batchRows, chunkBytes } = this.options;
    const tables = machine.snapshotTables;
    const first = from.table === '' ? 0 : tables.indexOf(from.table);
    if (first < 0) throw new Error(`snapshot cursor names an unknown table ${JSON.stringify(from.table)}`);
    let last: SnapshotCursor = from;
    for (const table of tables.slice(first)) {
      let after = table === from.table ? from.key : undefined;
      let rows: string[] = [];
      let bytes = 0;
      let chunkAfter = after;
      let lastKey: SnapshotKey | undefined;
      const chunk = (): SnapshotChunk => {
        const made = { ...point.header, table, after: chunkAfter, lastKey, rows, done: false };
        chunkAfter = lastKey;
        rows = [];
        bytes = 0;
        return made;
      };
      for (;;) {
        const batch = await machine.readSnapshot(point.connection, table, after, batchRows);
        for (const { key, row } of batch) {
          const text = JSON.stringify(row);
          if (rows.length > 0 && bytes + text.length > chunkBytes) yield chunk();
          rows.push(text);
          bytes += text.length;
          lastKey = key;
        }
        after = lastKey;
        if (batch.length < batchRows) break;
        // Each batch is a bounded stretch of work; let timers, heartbeats and requests run between.
        await yieldToEventLoop();
      }
      if (rows.length > 0) yield chunk();
      if (lastKey !== undefined || table === from.table) last = { table, key: lastKey ?? from.key };
    }
    yield { ...point.header, table: last.table, after: last.key, lastKey: undefined, rows: [], done: true };
  }

  private async closeLogged(point: OpenPoint): Promise<void> {
    try {
      await this.close(point);
    } catch (error) {
      this.options.logger.warn(
        { err: error, snapshotId: point.header.snapshotId },
        'replication: closing a snapshot read point failed',
      );
    }
  }

  private async close(point: OpenPoint): Promise<void> {
    if (point.closed) return;
    point.closed = true;
    clearTimeout(point.linger);
    this.points.delete(point.header.snapshotId);
    await point.turn;
    try {
      await point.connection.query('COMMIT');
      point.connection.release();
    } catch (error) {
      point.connection.destroy();
      throw error;
    }
  }
}
