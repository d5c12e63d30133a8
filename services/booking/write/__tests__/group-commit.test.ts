import { status as Code } from '@grpc/grpc-js';
import { Hold } from '../../../../proto/gen/marquee/booking/v1/booking';
import { createLogger } from '../../../common/logger';
import { T0, holdCommand } from '../../domain/__tests__/world';
import { queryRows } from '../../sql';
import { WriteBatcher } from '../batcher';
import { LOCAL_JOURNAL } from '../journal';
import { USERS, materializeCommand, showSpec } from './scenario';
import { bookingDatabase, clearTables } from './tables';
import type { Database } from './tables';

/*
 * Group commit: commands submitted while a batch is being written wait and are written together,
 * decided in arrival order, each against what the earlier ones of its batch left.
 */

const logger = createLogger('test', { level: 'silent' });
const [alice, bob] = [USERS[0]!, USERS[1]!];
const bytes = (hold: Hold): string => Buffer.from(Hold.encode(hold).finish()).toString('base64');

describe('group commit in the WriteBatcher', () => {
  let database: Database;
  beforeAll(async () => {
    database = await bookingDatabase('group_commit');
  });
  afterAll(() => database.drop());

  async function writerOnFreshShow(maxBatch?: number): Promise<WriteBatcher> {
    await clearTables(database.pool);
    const writer = new WriteBatcher({
      pool: database.pool,
      journal: LOCAL_JOURNAL,
      clock: () => T0,
      logger,
      ...(maxBatch === undefined ? {} : { maxBatch }),
    });
    await writer.submit(materializeCommand(showSpec(60)));
    writer.stats.batches = 0;
    writer.stats.commands = 0;
    return writer;
  }

  const holdSeat = (i: number) =>
    holdCommand(USERS[i % 2]!, `key-${i}`, { seatIds: [`A-${i + 1}`] }, `hold-${i}`);

  it('writes 50 holds submitted at once in two batches (the first alone, the rest together) and answers each', async () => {
    const writer = await writerOnFreshShow();
    const commands = Array.from({ length: 50 }, (_, i) => holdSeat(i));

    const answers = await Promise.all(commands.map((c) => writer.submit(c)));

    expect(answers.map((a) => [a.id, a.seats.map((s) => s.seatId)])).toEqual(
      commands.map((c) => [c.holdId, c.seatIds]),
    );
    // The first finds the writer idle and goes at once; the 49 that arrive meanwhile are one batch.
    expect(writer.stats).toEqual({ batches: 2, commands: 50 });
    const held = await queryRows<{ n: number }>(
      database.pool,
      "SELECT COUNT(*) AS n FROM seats WHERE state = 'HELD'",
    );
    expect(held).toEqual([{ n: 50 }]);
    const keys = await queryRows<{ n: number }>(database.pool, 'SELECT COUNT(*) AS n FROM idempotency');
    expect(keys).toEqual([{ n: 50 }]);
  });

  it('bounds a batch by maxBatch', async () => {
    const writer = await writerOnFreshShow(8);
    await Promise.all(Array.from({ length: 50 }, (_, i) => writer.submit(holdSeat(i))));
    expect(writer.stats).toEqual({ batches: 1 + Math.ceil(49 / 8), commands: 50 });
  });

  it('lets the first of two holds on one seat in a batch win, refuses the second naming the seat, and replays a retry in the same batch', async () => {
    const writer = await writerOnFreshShow();
    const filler = holdCommand(alice, 'filler', { seatIds: ['A-60'] }, 'hold-filler');
    const first = holdCommand(alice, 'alice-1', { seatIds: ['A-1', 'A-2'] }, 'hold-alice');
    const second = holdCommand(bob, 'bob-1', { seatIds: ['A-3', 'A-2'] }, 'hold-bob');
    // A retry of the first call under its key: the service gives the new call a fresh hold id.
    const retry = { ...first, holdId: 'hold-alice-retry' };

    const [, won, lost, replayed] = await Promise.allSettled(
      [filler, first, second, retry].map((c) => writer.submit(c)),
    );

    expect(writer.stats).toEqual({ batches: 2, commands: 4 }); // the filler, then the other three together
    expect(won).toEqual({ status: 'fulfilled', value: expect.objectContaining({ id: 'hold-alice' }) });
    expect(lost).toEqual({
      status: 'rejected',
      reason: expect.objectContaining({
        code: Code.FAILED_PRECONDITION,
        details: { seat_ids: 'A-2' },
        message: 'seat A-2 is already held',
      }),
    });
    expect(replayed).toEqual({ status: 'fulfilled', value: expect.objectContaining({ id: 'hold-alice' }) });
    const answer = (won as PromiseFulfilledResult<Hold>).value;
    expect(bytes((replayed as PromiseFulfilledResult<Hold>).value)).toBe(bytes(answer));

    const holds = await queryRows<{ id: string }>(database.pool, 'SELECT id FROM holds ORDER BY id');
    expect(holds.map((h) => h.id)).toEqual(['hold-alice', 'hold-filler']);
    const seats = await queryRows<{ seat_id: string; state: string; hold_id: string | null }>(
      database.pool,
      "SELECT seat_id, state, hold_id FROM seats WHERE seat_id IN ('A-1', 'A-2', 'A-3') ORDER BY seat_id",
    );
    expect(seats).toEqual([
      { seat_id: 'A-1', state: 'HELD', hold_id: 'hold-alice' },
      { seat_id: 'A-2', state: 'HELD', hold_id: 'hold-alice' },
      { seat_id: 'A-3', state: 'FREE', hold_id: null },
    ]);
    const keys = await queryRows<{ user_id: string; key: string; response: Buffer }>(
      database.pool,
      'SELECT user_id, `key`, response FROM idempotency ORDER BY `key`',
    );
    expect(keys.map((k) => [k.user_id, k.key, k.response.toString('base64')])).toEqual([
      ['alice', 'alice-1', bytes(answer)],
      ['alice', 'filler', expect.any(String)],
    ]);
  });
});
