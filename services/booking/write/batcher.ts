import { Booking, Hold, User } from '../../../proto/gen/marquee/booking/v1/booking';
import { AbortedError, DomainError, UnavailableError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { Pool } from '../../common/mysql';
import { traceParentOf } from '../../common/tracing';
import { decide } from '../domain/decide';
import type { Answers, Command, Decision } from '../domain/decide';
import { evolve } from '../domain/state';
import { NotAcknowledgedError } from '../replication';
import { Tx, failedGuard } from '../sql';
import { applyStatements } from './applier';
import { LOCAL_JOURNAL } from './journal';
import type { Journal, JournalEntry, JournalPosition } from './journal';
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

const DEADLOCK = 1213;
const LOCK_WAIT_TIMEOUT = 1205;
const CONFLICT_RETRIES = 4;

export class WriteBatcher {
  private readonly queue: Waiter[] = [];
  private writing = false;
  private readonly maxBatch: number;
  /** Batches and commands written, for metrics and benchmarks. */
  readonly stats = { batches: 0, commands: 0 };

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
      while (this.queue.length > 0) await this.write(this.queue.splice(0, this.maxBatch));
    } finally {
      this.writing = false;
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
    for (let attempt = 0; ; attempt++) {
      const connection = await pool.getConnection();
      const tx = new Tx(connection);
      let healthy = true;
      let committing = false;
      try {
        const now = this.options.clock();
        const plan = loadPlan(
          batch.map((w) => w.command),
          now,
          true,
        );
        const lockCount = journal.lockStatements.length;
        const loaded = await tx.run(...journal.lockStatements, ...plan.statements);
        const position: JournalPosition = journal.position(loaded.slice(0, lockCount));
        const state = plan.read(loaded.slice(lockCount));
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
        const append = journal.append(position, entries);
        committing = true;
        try {
          await tx.commit(...entries.flatMap((e) => applyStatements(e.op)), ...append.statements);
        } catch (error) {
          throw append.fenced(error) ?? error;
        }
        this.stats.batches++;
        this.stats.commands += batch.length;
        this.answer(batch, outcomes, entries.length > 0 ? append.lastIndex : position.lastIndex);
        return;
      } catch (error) {
        if (tx.started)
          healthy = await connection.query('ROLLBACK').then(
            () => true,
            () => false,
          );
        const errno = (error as { errno?: number }).errno;
        if ((errno === DEADLOCK || errno === LOCK_WAIT_TIMEOUT) && attempt < CONFLICT_RETRIES) continue;
        // A connection lost while the COMMIT was on its way: it may or may not have run.
        if (committing && (error as { fatal?: boolean }).fatal === true)
          throw new NotAcknowledgedError(
            new UnavailableError(`the write's outcome is unknown (${(error as Error).message})`),
          );
        throw error;
      } finally {
        if (healthy) connection.release();
        else connection.destroy();
      }
    }
  }

  /** Refusals at once; writes and replays once everything up to `index` is acknowledged. */
  private answer(batch: Waiter[], outcomes: Outcome[], index: number): void {
    const acknowledged = this.options.journal.acknowledge(index);
    // A batch of refusals has nobody waiting on it: unobserved, its failure would stop the process.
    acknowledged.catch(() => undefined);
    outcomes.forEach((outcome, i) => {
      const waiter = batch[i]!;
      if ('error' in outcome) return waiter.reject(outcome.error);
      const { decision } = outcome;
      const answer =
        decision.kind === 'write' ? decision.answer : decodeReplay(waiter.command, decision.response);
      acknowledged.then(
        () => waiter.resolve(answer),
        (error: unknown) => waiter.reject(new NotAcknowledgedError(error)),
      );
    });
  }
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
