import { status as Code } from '@grpc/grpc-js';
import type { MethodDefinition, ServerWritableStream, handleServerStreamingCall } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { BookingChangeKind, BookingChangeServiceService } from '../../proto/gen/marquee/booking/v1/booking';
import type { BookingChange, StreamChangesRequest } from '../../proto/gen/marquee/booking/v1/booking';
import { requireAdmin } from '../common/auth';
import { FailedPreconditionError, InvalidArgumentError, toGrpcStatus } from '../common/errors';
import type { Pool } from '../common/mysql';
import type { ReplicationLog } from '../replication/log-store';
import type { LogEntry } from '../replication/types';
import { BOOKING_OPS } from './domain/operations';
import type { BookingCancelledPayload, BookingConfirmedPayload } from './domain/operations';

/*
 * BookingChangeService.StreamChanges: the group's COMMITTED booking changes in log order. Only
 * entries at or below the node's commit index are sent: those are on a majority and every future
 * master has them at the same index, so a consumer that loses this node resumes on any other from
 * its last position, missing nothing and counting nothing twice. Entries above the commit index may
 * still be rolled back by a new master; they wait. A node whose log is behind the consumer's
 * position (a lagging slave) waits until it has caught up.
 */

export interface ChangeStreamOptions {
  /** The node's replication log; undefined outside cluster mode (there is no log to stream). */
  log: ReplicationLog | undefined;
  /**
   * The node's commit index. A master keeps its own in memory (the replicator's), so the persisted
   * one in the log's state row is not enough (ReplicationNode.logView().commitIndex()).
   */
  commitIndex: () => number;
  pool: Pool;
  tokenSecret: string;
  logger: Logger;
  now: () => number;
  /** How often to look for newly committed entries while the consumer is up to date (default 200 ms). */
  pollMs?: number;
  /** Entries read per query (default 500). */
  batch?: number;
}

/** The changes a log entry carries for consumers (none for holds, accounts and the like). */
export function changesOfEntry(entry: LogEntry): BookingChange[] {
  const base = { position: entry.index, lamport: entry.lamport, term: entry.term };
  if (entry.op === BOOKING_OPS.bookingConfirmed) {
    const payload = JSON.parse(entry.payload) as BookingConfirmedPayload;
    const booking = payload.booking;
    return [
      {
        ...base,
        kind: BookingChangeKind.BOOKING_CHANGE_KIND_CONFIRMED,
        bookingId: booking.id,
        userId: booking.userId,
        showId: booking.showId,
        quantity: payload.seatIds.length + payload.ga.reduce((sum, g) => sum + g.quantity, 0),
        at: utc(booking.createdAt),
      },
    ];
  }
  if (entry.op === BOOKING_OPS.bookingCancelled) {
    const payload = JSON.parse(entry.payload) as BookingCancelledPayload;
    return [
      {
        ...base,
        kind: BookingChangeKind.BOOKING_CHANGE_KIND_CANCELLED,
        bookingId: payload.bookingId,
        userId: payload.userId,
        showId: payload.showId,
        quantity: payload.seatIds.length + payload.ga.reduce((sum, g) => sum + g.quantity, 0),
        at: utc(payload.cancelledAt),
      },
    ];
  }
  return [];
}

/** A DATETIME(3) literal in UTC ("2031-05-01 18:30:00.000") as RFC 3339. */
function utc(sqlTime: string): string {
  return sqlTime.includes('T') ? sqlTime : `${sqlTime.replace(' ', 'T')}Z`;
}

/** A change that only moves the consumer's position. */
function marker(kind: BookingChangeKind, position: number): BookingChange {
  return { position, kind, bookingId: '', userId: '', showId: '', quantity: 0, at: '', lamport: 0, term: 0 };
}

class Cancelled extends Error {}

interface BookingRow {
  id: string;
  user_id: string;
  show_id: string;
  created_at: Date;
  quantity: string | number | null;
}

export function streamChangesMethod(options: ChangeStreamOptions): {
  definition: MethodDefinition<StreamChangesRequest, BookingChange>;
  handler: handleServerStreamingCall<StreamChangesRequest, BookingChange>;
  /** Ends every open stream with UNAVAILABLE (the node is stopping: consumers resume elsewhere). */
  stop(): void;
} {
  const pollMs = options.pollMs ?? 200;
  const batch = options.batch ?? 500;
  const { logger } = options;
  const open = new Set<() => void>();
  let stopping = false;

  const handler = (call: ServerWritableStream<StreamChangesRequest, BookingChange>): void => {
    let gone = false;
    const wakers = new Set<() => void>();
    const end = (): void => {
      gone = true;
      for (const wake of wakers) wake();
    };
    call.on('cancelled', end);
    const endForStop = (): void => {
      end();
      call.emit('error', {
        code: Code.UNAVAILABLE,
        details: 'this booking node is stopping: resume on another node from the last position',
      });
    };
    if (stopping) return endForStop();
    open.add(endForStop);
    const check = (): void => {
      if (gone) throw new Cancelled();
    };
    const sleep = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        wakers.add(wake);
      });
    /** Writes one change, waiting while the consumer's buffer is full (a slow consumer is not dropped). */
    const send = async (change: BookingChange): Promise<void> => {
      check();
      if (call.write(change)) return;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          wakers.delete(done);
          call.off('drain', done);
          resolve();
        };
        call.once('drain', done);
        wakers.add(done);
      });
      check();
    };

    const run = async (): Promise<void> => {
      const principal = requireAdmin(call.metadata, options.tokenSecret, options.now());
      const log = options.log;
      if (!log)
        throw new FailedPreconditionError(
          'the change stream needs cluster mode (MARQUEE_PEERS): a single node keeps no replication log',
        );
      let after = Number(call.request.afterPosition);
      if (!Number.isSafeInteger(after) || after < 0)
        throw new InvalidArgumentError('after_position', 'must be a whole number, 0 or more');
      logger.info({ by: principal.userId, after }, 'change stream opened');
      for (;;) {
        check();
        const state = await log.state();
        const committed = Math.min(Math.max(state.commitIndex, options.commitIndex()), state.lastIndex);
        if (after < state.snapshotIndex) {
          after = await sendReset(after);
          continue;
        }
        if (after >= committed) {
          await sleep(pollMs);
          continue;
        }
        const read = await log.readAfter(after, batch);
        // A compaction between the two reads: look again (the next turn resets if it must).
        if (read.snapshotNeeded) continue;
        const entries = read.entries.filter((entry) => entry.index <= committed);
        let sent = 0;
        for (const entry of entries) {
          for (const change of changesOfEntry(entry)) {
            await send(change);
            sent += 1;
          }
        }
        const last = entries.at(-1)?.index ?? after;
        // Nothing a consumer counts in this stretch: still tell it how far it has come.
        if (sent === 0 && last > after)
          await send(marker(BookingChangeKind.BOOKING_CHANGE_KIND_CHECKPOINT, last));
        after = last;
      }
    };

    /**
     * The consumer's position is older than this node's log: send every confirmed booking as of the
     * position the tables reflect, once that position is committed (a master's tables may include
     * its newest, not yet acknowledged entries). Returns the new position.
     */
    const sendReset = async (from: number): Promise<number> => {
      const { position, rows } = await confirmedBookings(options.pool, options.log!);
      while (options.commitIndex() < position) {
        check();
        await sleep(pollMs);
      }
      logger.info({ from, position, bookings: rows.length }, 'change stream reset: the log was compacted');
      await send(marker(BookingChangeKind.BOOKING_CHANGE_KIND_RESET, position));
      for (const row of rows)
        await send({
          position,
          kind: BookingChangeKind.BOOKING_CHANGE_KIND_CONFIRMED,
          bookingId: row.id,
          userId: row.user_id,
          showId: row.show_id,
          quantity: Number(row.quantity ?? 0),
          at: row.created_at.toISOString(),
          lamport: 0,
          term: 0,
        });
      await send(marker(BookingChangeKind.BOOKING_CHANGE_KIND_CHECKPOINT, position));
      return position;
    };

    run()
      .finally(() => open.delete(endForStop))
      .then(
        () => call.end(),
        (error: unknown) => {
          for (const wake of wakers) wake();
          if (gone || error instanceof Cancelled) return;
          const status = toGrpcStatus(error, logger);
          if (status.code !== Code.PERMISSION_DENIED && status.code !== Code.UNAUTHENTICATED)
            logger.warn({ err: status.details }, 'change stream ended with an error');
          call.emit('error', status);
        },
      );
  };

  return {
    definition: BookingChangeServiceService.streamChanges as MethodDefinition<
      StreamChangesRequest,
      BookingChange
    >,
    handler,
    stop: () => {
      stopping = true;
      for (const endStream of [...open]) endStream();
    },
  };
}

/** Every confirmed booking and the log position the tables reflect, from one consistent read. */
async function confirmedBookings(
  pool: Pool,
  log: ReplicationLog,
): Promise<{ position: number; rows: BookingRow[] }> {
  const connection = await pool.getConnection();
  try {
    await connection.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    await connection.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    try {
      const state = await log.state(connection);
      const [rows] = await connection.query(
        `SELECT b.id, b.user_id, b.show_id, b.created_at,
                (SELECT SUM(i.quantity) FROM hold_items i WHERE i.hold_id = b.hold_id) AS quantity
           FROM bookings b WHERE b.state = 'CONFIRMED' ORDER BY b.created_at, b.id`,
      );
      return { position: state.appliedIndex, rows: rows as BookingRow[] };
    } finally {
      await connection.query('COMMIT');
    }
  } finally {
    connection.release();
  }
}
