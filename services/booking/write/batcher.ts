import { Booking, Hold, User } from '../../../proto/gen/marquee/booking/v1/booking';
import { AbortedError, DomainError, UnavailableError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { Pool, PoolConnection } from '../../common/mysql';
import { traceParentOf } from '../../common/tracing';
import { decide } from '../domain/decide';
import type { Answers, Command, Decision } from '../domain/decide';
import type { BookingOp } from '../domain/operations';
import { evolve } from '../domain/state';
import { NotAcknowledgedError } from '../replication';
import { Tx, failedGuard } from '../sql';
import { applyStatements } from './applier';
import { LOCAL_JOURNAL } from './journal';
import type { Journal, JournalEntry, JournalPosition, UnappliedEntry } from './journal';
import { loadPlan } from './loader';

/*
 * Group commit on the master ("smart batching"): writes that arrive while a batch is being written
 * wait together and become the next batch. A batch is one transaction of two round trips:
 *   1. START; lock the log position (the term fence); read every row the batch's decisions need;
 *   2. the decisions' rows (one applier statement per operation), the log entries, COMMIT.
 * In between, the pure domain decides the commands in arrival order, each against the state the
 * earlier ones left (evolve). Then the batch's waiters are answered together once the ack policy
 * holds for its last entry; meanwhile the next batch is already being written. Every booking write
 * of this node goes through here, so the master has one writer and its batches never contend.
 *
 * In a group the rows wait for the acknowledgement (journal.appliesAcknowledgedOnly): a batch writes
 * its log entries only, and the rows of entries acknowledged since go in with the next batch (or in a
 * batch of no commands when none comes). Decisions then read the tables as of the applied index plus
 * the unapplied tail, kept in memory in log order and replayed onto the loaded view (evolve), so
 * they see every earlier write. A waiter is answered once its entries are applied here, so the master
 * reads its own writes. A master deposed with an unacknowledged tail holds no rows of it.
 */

export interface BatcherOptions {
  pool: Pool;
  journal: Journal;
  clock: () => number;
  logger: Logger;
  /** Commands per batch at most (the rest wait for the next one). */
  maxBatch?: number;
}

interface Waiter {
  command: Command;
  traceParent: string | undefined;
  resolve(answer: unknown): void;
  reject(error: unknown): void;
}

type Outcome = { decision: Decision } | { error: unknown };

interface UnappliedTail {
  readonly term: number | undefined;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  /** Entries appliedIndex+1..lastIndex that change rows (no-ops are left out), in log order. */
  readonly entries: readonly UnappliedEntry[];
}

interface AppliedWaiter {
  readonly term: number | undefined;
  readonly index: number;
  resolve(): void;
  reject(error: unknown): void;
}

const DEADLOCK = 1213;
const LOCK_WAIT_TIMEOUT = 1205;
const CONFLICT_RETRIES = 4;

export class WriteBatcher {
  private readonly queue: Waiter[] = [];
  private writing = false;
  private readonly maxBatch: number;
  /** Batches and commands written, for metrics and benchmarks. */
  readonly stats = { batches: 0, commands: 0 };
  /**
   * The log's unapplied tail as of the last batch, in memory (appliesAcknowledgedOnly): valid for a
   * batch whose locked position has the same term, applied and last index; otherwise re-read.
   */
  private tail: UnappliedTail | undefined;
  /** The highest index acknowledged, and its term: the tail's entries up to it may be applied. */
  private acknowledged: { term: number | undefined; index: number } = { term: undefined, index: 0 };
  /** Answers waiting until their entries are applied here. */
  private appliedWaiters: AppliedWaiter[] = [];

  constructor(private readonly options: BatcherOptions) {
    this.maxBatch = options.maxBatch ?? 256;
  }

  /** Whether this node may write now (the master of a group, or a single node). */
  isMaster(): boolean {
    return this.options.journal.isMaster();
  }

  /** Decides and writes `command` with whatever else is waiting; resolves once it is acknowledged. */
  submit<C extends Command>(command: C): Promise<Answers[C['kind']]> {
    return new Promise((resolve, reject) => {
      // A throw here rejects the promise: a node that may not write refuses at once, with its reason.
      this.options.journal.assertWritable();
      this.queue.push({
        command,
        traceParent: traceParentOf(),
        resolve: resolve as (answer: unknown) => void,
        reject,
      });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      for (;;) {
        if (this.queue.length > 0) await this.write(this.queue.splice(0, this.maxBatch));
        else if (this.applyDue()) {
          // Acknowledged entries and nothing to write: a batch of no commands applies them.
          if (!(await this.applyAlone())) return;
        } else return;
      }
    } finally {
      this.writing = false;
    }
  }

  /** Whether acknowledged entries wait to be applied. */
  private applyDue(): boolean {
    const tail = this.tail;
    return (
      tail !== undefined &&
      tail.term === this.acknowledged.term &&
      this.acknowledged.index > tail.appliedIndex
    );
  }

  /**
   * Applies the acknowledged head of the tail in one round trip (no commands, so nothing to load):
   * the rows, the applied index moved only while the log is still where the tail says (the guard),
   * COMMIT. False when it failed: the answers waiting for it are told, the next batch re-reads.
   */
  private async applyAlone(): Promise<boolean> {
    const { pool, journal } = this.options;
    const tail = this.tail!;
    const through = Math.min(this.acknowledged.index, tail.lastIndex);
    const ops = tail.entries.filter((e) => e.index <= through).map((e) => e.op);
    const connection = await pool.getConnection();
    const tx = new Tx(connection);
    let healthy = true;
    try {
      await tx.commit(...ops.flatMap((op) => applyStatements(op)), ...journal.markApplied(tail, through));
      this.advanceTail(tail, through, tail.lastIndex, []);
      return true;
    } catch (error) {
      if (tx.started) healthy = await rolledBack(connection);
      this.options.logger.warn({ err: error }, 'applying acknowledged entries failed');
      this.forgetTail(new NotAcknowledgedError(error));
      return false;
    } finally {
      if (healthy) connection.release();
      else connection.destroy();
    }
  }

  /** Writes one batch; on an error that one command may have caused, writes each command alone. */
  private async write(batch: Waiter[]): Promise<void> {
    try {
      await this.writeBatch(batch);
    } catch (error) {
      if (batch.length > 1 && isStatementError(error)) {
        this.options.logger.warn(
          { err: error, commands: batch.length },
          'write batch failed; writing its commands one by one',
        );
        for (const waiter of batch) await this.write([waiter]);
        return;
      }
      const answer = failureOf(error);
      for (const waiter of batch) waiter.reject(answer);
    }
  }

  private async writeBatch(batch: Waiter[]): Promise<void> {
    const { pool, journal } = this.options;
    const deferred = journal.appliesAcknowledgedOnly;
    for (let attempt = 0; ; attempt++) {
      const connection = await pool.getConnection();
      const tx = new Tx(connection);
      let healthy = true;
      let committing = false;
      let reread = false;
      try {
        const now = this.options.clock();
        const commands = batch.map((w) => w.command);
        const expected = deferred ? this.tail : undefined;
        const plan = loadPlan(commands, now, true, expected?.entries.map((e) => e.op) ?? []);
        const lockCount = journal.lockStatements.length;
        const loaded = await tx.run(...journal.lockStatements, ...plan.statements);
        const position: JournalPosition = journal.position(loaded.slice(0, lockCount));
        if (deferred && !sameTail(expected, position)) {
          // Another term, or the first batch: read the unapplied tail, then load again around it.
          const unapplied = journal.unapplied(position);
          const [result] = await tx.run(unapplied.statement);
          this.resetTail(position, unapplied.read(result!));
          reread = true;
          continue;
        }
        const state = plan.read(loaded.slice(lockCount));
        const tail = deferred ? expected! : undefined;
        for (const entry of tail?.entries ?? []) evolve(state, entry.op);
        const outcomes: Outcome[] = batch.map((waiter) => {
          try {
            const decision = decide(waiter.command, state, now);
            if (decision.kind === 'write') for (const op of decision.ops) evolve(state, op);
            return { decision };
          } catch (error) {
            return { error };
          }
        });
        const entries: JournalEntry[] = outcomes.flatMap((outcome, i) =>
          'decision' in outcome && outcome.decision.kind === 'write'
            ? outcome.decision.ops.map((op) => ({
                op,
                ...(batch[i]!.traceParent === undefined ? {} : { traceParent: batch[i]!.traceParent }),
              }))
            : [],
        );
        // What goes into the tables: the batch's own rows, or (deferred) the acknowledged tail's.
        const acknowledged = tail?.term === this.acknowledged.term ? this.acknowledged.index : 0;
        const appliedThrough = tail
          ? Math.max(position.appliedIndex, Math.min(acknowledged, position.lastIndex))
          : undefined;
        const toApply: readonly BookingOp[] = tail
          ? tail.entries.filter((e) => e.index <= appliedThrough!).map((e) => e.op)
          : entries.map((e) => e.op);
        const append = journal.append(position, entries, appliedThrough);
        committing = true;
        try {
          await tx.commit(...toApply.flatMap((op) => applyStatements(op)), ...append.statements);
        } catch (error) {
          throw append.fenced(error) ?? error;
        }
        append.committed();
        if (tail) this.advanceTail(tail, appliedThrough!, position.lastIndex, entries);
        if (batch.length > 0) {
          this.stats.batches++;
          this.stats.commands += batch.length;
        }
        this.answer(
          batch,
          outcomes,
          entries.length > 0 ? append.lastIndex : position.lastIndex,
          position.term,
        );
        return;
      } catch (error) {
        if (tx.started) healthy = await rolledBack(connection);
        const errno = (error as { errno?: number }).errno;
        if ((errno === DEADLOCK || errno === LOCK_WAIT_TIMEOUT) && attempt < CONFLICT_RETRIES) continue;
        // A connection lost while the COMMIT was on its way: it may or may not have run.
        if (committing && (error as { fatal?: boolean }).fatal === true) {
          this.forgetTail(undefined);
          throw new NotAcknowledgedError(
            new UnavailableError(`the write's outcome is unknown (${(error as Error).message})`),
          );
        }
        // The tail moved under us (the fence failed): read it again next time.
        if (committing) this.forgetTail(undefined);
        throw error;
      } finally {
        if (reread && healthy) healthy = await rolledBack(connection);
        if (healthy) connection.release();
        else connection.destroy();
      }
    }
  }

  /** The tail read from the log under lock: what every batch of this term builds on from now. */
  private resetTail(position: JournalPosition, entries: UnappliedEntry[]): void {
    const term = position.term;
    this.rejectAppliedWaiters(
      (w) => w.term !== term,
      new UnavailableError('this node stopped being the master before applying the write'),
    );
    if (this.acknowledged.term !== term) this.acknowledged = { term, index: position.appliedIndex };
    this.tail = { term, appliedIndex: position.appliedIndex, lastIndex: position.lastIndex, entries };
    this.resolveAppliedWaiters();
  }

  /** After a committed batch: the applied entries leave the tail, the batch's own join it. */
  private advanceTail(
    tail: UnappliedTail,
    appliedThrough: number,
    appendedAfter: number,
    entries: readonly JournalEntry[],
  ): void {
    this.tail = {
      term: tail.term,
      appliedIndex: appliedThrough,
      lastIndex: appendedAfter + entries.length,
      entries: [
        ...tail.entries.filter((e) => e.index > appliedThrough),
        ...entries.map((e, i) => ({ index: appendedAfter + 1 + i, op: e.op })),
      ],
    };
    this.resolveAppliedWaiters();
  }

  /**
   * The tail in memory may no longer be the log's (a batch failed after sending its statements):
   * the next batch reads it again. With an error, the answers waiting to be applied get it.
   */
  private forgetTail(error: unknown): void {
    this.tail = undefined;
    if (error !== undefined) this.rejectAppliedWaiters(() => true, error);
  }

  /** An acknowledgement of `index` in `term` arrived: its entries may be applied now. */
  private noteAcknowledged(term: number | undefined, index: number): void {
    if (term !== this.acknowledged.term || index <= this.acknowledged.index) return;
    this.acknowledged = { term, index };
    if (!this.writing && this.applyDue()) void this.drain();
  }

  /** Resolves once everything up to `index` of `term` is in this node's tables. */
  private whenApplied(term: number | undefined, index: number): Promise<void> {
    const tail = this.tail;
    if (tail && tail.term === term && tail.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve, reject) => this.appliedWaiters.push({ term, index, resolve, reject }));
  }

  private resolveAppliedWaiters(): void {
    const tail = this.tail;
    if (!tail) return;
    const [done, waiting] = partition(
      this.appliedWaiters,
      (w) => w.term === tail.term && w.index <= tail.appliedIndex,
    );
    this.appliedWaiters = waiting;
    for (const w of done) w.resolve();
  }

  private rejectAppliedWaiters(which: (w: AppliedWaiter) => boolean, error: unknown): void {
    const [done, waiting] = partition(this.appliedWaiters, which);
    this.appliedWaiters = waiting;
    for (const w of done) w.reject(error);
  }

  /** Refusals at once; writes and replays once everything up to `index` is acknowledged. */
  private answer(batch: Waiter[], outcomes: Outcome[], index: number, term: number | undefined): void {
    if (batch.length === 0) return;
    const { journal } = this.options;
    const acknowledged = journal.acknowledge(index);
    // Handled even when no waiter listens (a batch of refusals): a master stepping down rejects it.
    acknowledged.then(
      () => this.noteAcknowledged(term, index),
      () => undefined,
    );
    // In a group the answer also waits until the entries are in this node's tables (read your writes).
    const done = journal.appliesAcknowledgedOnly
      ? acknowledged.then(() => this.whenApplied(term, index))
      : acknowledged;
    // The same for the promise derived from it (a sale's batches of refusals crashed a deposed master).
    done.catch(() => undefined);
    outcomes.forEach((outcome, i) => {
      const waiter = batch[i]!;
      if ('error' in outcome) return waiter.reject(outcome.error);
      const { decision } = outcome;
      const answer =
        decision.kind === 'write' ? decision.answer : decodeReplay(waiter.command, decision.response);
      done.then(
        () => waiter.resolve(answer),
        (error: unknown) => waiter.reject(new NotAcknowledgedError(error)),
      );
    });
  }
}

/** Rolls the connection's transaction back; false when it could not (the connection is then destroyed). */
function rolledBack(connection: PoolConnection): Promise<boolean> {
  return connection.query('ROLLBACK').then(
    () => true,
    () => false,
  );
}

/** Whether the tail in memory is the log's at `position` (same term, applied and last index). */
function sameTail(tail: UnappliedTail | undefined, position: JournalPosition): tail is UnappliedTail {
  return (
    tail !== undefined &&
    tail.term === position.term &&
    tail.appliedIndex === position.appliedIndex &&
    tail.lastIndex === position.lastIndex
  );
}

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}

function decodeReplay(command: Command, response: Uint8Array): unknown {
  switch (command.kind) {
    case 'hold':
    case 'release':
      return Hold.decode(response);
    case 'confirm':
    case 'cancel':
      return Booking.decode(response);
    case 'register':
      return User.decode(response);
    case 'expire':
    case 'materialize':
      throw new Error(`a ${command.kind} command has no idempotency key to replay`);
  }
}

/** An error of one statement of the batch (not of the connection, the term or a rule). */
function isStatementError(error: unknown): boolean {
  if (error instanceof DomainError || error instanceof UnavailableError) return false;
  const { errno, fatal } = error as { errno?: number; fatal?: boolean };
  return typeof errno === 'number' && fatal !== true;
}

/** What the waiters of a batch that could not be written are told. */
function failureOf(error: unknown): unknown {
  const errno = (error as { errno?: number }).errno;
  if (errno === DEADLOCK || errno === LOCK_WAIT_TIMEOUT)
    return new AbortedError(
      'the write conflicted with concurrent writes; retry with the same idempotency key',
    );
  if (failedGuard(error) !== undefined)
    return new AbortedError(
      'the write met tables that changed under it; retry with the same idempotency key',
    );
  return error;
}

/** The writer of a node outside any group (tests, benchmarks): same batches, no log. */
export function singleNodeWriter(pool: Pool, clock: () => number, logger: Logger): WriteBatcher {
  return new WriteBatcher({ pool, journal: LOCAL_JOURNAL, clock, logger });
}
