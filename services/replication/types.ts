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

/**
 * The service's state, as a slave rebuilds it. `apply` runs inside the transaction that also moves
 * the slave's applied position, so a crash leaves both or neither. The master never calls `apply`:
 * its own transaction made the change and appended the entry together.
 */
export interface StateMachine {
  apply(connection: PoolConnection, entry: LogEntry): Promise<void>;
  /** Every row of the state, JSON-serialisable, read in the caller's consistent-read transaction. */
  snapshot(connection: PoolConnection): Promise<unknown[]>;
  /** Replaces the whole state with `rows` (from another node's `snapshot`; validate them). */
  restore(connection: PoolConnection, rows: readonly unknown[]): Promise<void>;
}

/**
 * When `replicate(index)` resolves. majority is the default (DESIGN.md: a write is acknowledged only
 * when durable on a majority); async and all exist for benchmarks.
 */
export type AckPolicy = 'async' | 'majority' | 'all';

/** The term-start entry a new master appends (Raft §8): never handed to the state machine. */
export const NOOP_OP = 'marquee.replication.noop';
