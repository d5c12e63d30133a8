import type { PoolConnection } from '../common/mysql';

/** A node of the booking group (1..N). */
export type NodeId = number;

/** One state change as the log keeps it (DESIGN.md, Replication). */
export interface LogEntry {
  readonly term: number;
  /** Dense and ordered: 1, 2, 3, ... with no gaps, assigned by the master's counter row. */
  readonly index: number;
  readonly lamport: number;
  /** Names the change; the state machine dispatches on it. */
  readonly op: string;
  /** JSON text; its shape is `op`'s business. */
  readonly payload: string;
  /**
   * The W3C traceparent of the request that made the change, when one was traced: slaves record
   * storing and applying the entry as spans of that request's trace (entry-tracing.ts).
   */
  readonly traceParent?: string;
}

/** What the master's caller supplies; the log assigns the index. */
export type NewEntry = Omit<LogEntry, 'index'>;

/** A row's primary key as a snapshot carries it (column values in key order). */
export type SnapshotKey = readonly (string | number)[];

/** One row of a snapshot table, with its key (the position a resumed transfer continues after). */
export interface SnapshotRow {
  readonly key: SnapshotKey;
  /** JSON-serialisable; `writeSnapshot` validates it. */
  readonly row: unknown;
}

/**
 * The service's state, as a slave rebuilds it. `apply` runs inside the transaction that also moves
 * the slave's applied position, so a crash leaves both or neither. It runs on slaves and on a node
 * taking over (the entries it holds but has not applied); a master applies its own entries through
 * its service's writer (the booking node's batcher, with the same applier).
 *
 * Snapshots move the state table by table in primary-key order, in bounded batches
 * (snapshot-source.ts reads, snapshot-install.ts writes into staging copies and swaps them in), so
 * neither side ever holds the whole state.
 */
export interface StateMachine {
  apply(connection: PoolConnection, entry: LogEntry): Promise<void>;
  /**
   * Several entries in order, as `apply` one after the other would, in as few round trips as the
   * machine can (a slave applies up to a batch of entries per transaction). Optional.
   */
  applyEntries?(connection: PoolConnection, entries: readonly LogEntry[]): Promise<void>;
  /** The tables the state lives in, in the order a snapshot carries them. No foreign keys between them. */
  readonly snapshotTables: readonly string[];
  /**
   * Up to `limit` rows of `table` after `after` (from the start when undefined), in primary-key
   * order, read on the caller's consistent-read transaction.
   */
  readSnapshot(
    connection: PoolConnection,
    table: string,
    after: SnapshotKey | undefined,
    limit: number,
  ): Promise<SnapshotRow[]>;
  /** Inserts `rows` (another node's `readSnapshot` rows of `table`; validate them) into table `into`. */
  writeSnapshot(
    connection: PoolConnection,
    table: string,
    into: string,
    rows: readonly unknown[],
  ): Promise<void>;
}

/** Which snapshot a chunk belongs to: one consistent read point on the sender. */
export interface SnapshotHeader {
  readonly snapshotId: string;
  /** The rows are the result of applying the log up to here. */
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly commitIndex: number;
}

/** Where a transfer stands: every row before `table`, and of `table` up to `key`, is stored. */
export interface SnapshotCursor {
  /** '' before the first table. */
  readonly table: string;
  /** undefined: none of `table` yet. */
  readonly key: SnapshotKey | undefined;
}

/**
 * One bounded piece of a snapshot: rows of `table` after the key `after` (from the table's start when
 * undefined), ending at `lastKey`; or, with `done`, the marker that every row has been sent.
 */
export interface SnapshotChunk extends SnapshotHeader {
  readonly table: string;
  readonly after: SnapshotKey | undefined;
  /** The key of the last row; undefined when `rows` is empty. */
  readonly lastKey: SnapshotKey | undefined;
  /** The state machine's rows, one JSON document each (encoded once, by the sender's reader). */
  readonly rows: readonly string[];
  readonly done: boolean;
}

/**
 * When `replicate(index)` resolves. majority is the default (DESIGN.md: a write is acknowledged only
 * when durable on a majority); async and all exist for benchmarks.
 */
export type AckPolicy = 'async' | 'majority' | 'all';

/** The term-start entry a new master appends (Raft §8): never handed to the state machine. */
export const NOOP_OP = 'marquee.replication.noop';
