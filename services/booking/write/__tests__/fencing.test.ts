import { status as Code } from '@grpc/grpc-js';
import { Hold } from '../../../../proto/gen/marquee/booking/v1/booking';
import { UnavailableError } from '../../../common/errors';
import { createLogger } from '../../../common/logger';
import { T0, holdCommand } from '../../domain/__tests__/world';
import { queryRows } from '../../sql';
import { WriteBatcher } from '../batcher';
import { LOCAL_JOURNAL } from '../journal';
import type { Journal } from '../journal';
import { USERS, materializeCommand, showSpec } from './scenario';
import { bookingDatabase, clearTables } from './tables';
import type { Database } from './tables';

/*
 * The journal fences the batch: a node that finds, under the batch's lock, that it is not the master
 * writes nothing and answers UNAVAILABLE; a batch that committed but is not acknowledged answers
 * UNAVAILABLE too, and the client's retry under the same key replays the committed answer instead
 * of writing again.
 */

const logger = createLogger('test', { level: 'silent' });
const [alice, bob] = [USERS[0]!, USERS[1]!];
const bytes = (hold: Hold): string => Buffer.from(Hold.encode(hold).finish()).toString('base64');

/** LOCAL_JOURNAL with a switch for being master (checked under lock) and for acknowledging. */
function switchableJournal() {
  const modes = { master: true, acknowledge: true };
  const journal: Journal = {
    ...LOCAL_JOURNAL,
    position(results) {
      if (!modes.master) throw new UnavailableError('node 2 is not the master');
      return LOCAL_JOURNAL.position(results);
    },
    acknowledge: (index) =>
      modes.acknowledge
        ? LOCAL_JOURNAL.acknowledge(index)
        : Promise.reject(new UnavailableError('deposed before a majority acknowledged')),
  };
  return { journal, modes };
}

describe('fencing in the WriteBatcher', () => {
  let database: Database;
  beforeAll(async () => {
    database = await bookingDatabase('fencing');
  });
  afterAll(() => database.drop());

  async function writerOnFreshShow() {
    await clearTables(database.pool);
    const { journal, modes } = switchableJournal();
    const writer = new WriteBatcher({ pool: database.pool, journal, clock: () => T0, logger });
    await writer.submit(materializeCommand(showSpec(10)));
    return { writer, modes };
  }

  const count = async (table: string): Promise<number> =>
    (await queryRows<{ n: number }>(database.pool, `SELECT COUNT(*) AS n FROM ${table}`))[0]!.n;

  it('answers every waiter UNAVAILABLE and writes nothing when the locked position says this node is not the master', async () => {
    const { writer, modes } = await writerOnFreshShow();
    const stats = { ...writer.stats };
    modes.master = false; // deposed after the submits were let in (isMaster/assertWritable still say yes)

    const answers = await Promise.allSettled(
      [1, 2, 3, 4, 5].map((i) =>
        writer.submit(holdCommand(alice, `k${i}`, { seatIds: [`A-${i}`] }, `hold-${i}`)),
      ),
    );

    for (const answer of answers)
      expect(answer).toEqual({
        status: 'rejected',
        reason: expect.objectContaining({ code: Code.UNAVAILABLE, message: 'node 2 is not the master' }),
      });
    expect(writer.stats).toEqual(stats);
    expect([
      await count('holds'),
      await count('idempotency'),
      await count("seats WHERE state <> 'FREE'"),
    ]).toEqual([0, 0, 0]);
  });

  it('answers UNAVAILABLE when a committed batch is not acknowledged, and a retry with the same key replays the answer without writing again', async () => {
    const { writer, modes } = await writerOnFreshShow();
    const alices = holdCommand(alice, 'alice-1', { seatIds: ['A-1', 'A-2'] }, 'hold-alice');
    const bobs = holdCommand(bob, 'bob-1', { seatIds: ['A-3'] }, 'hold-bob');
    modes.acknowledge = false;

    const answers = await Promise.allSettled([alices, bobs].map((c) => writer.submit(c)));

    for (const answer of answers)
      expect(answer).toEqual({
        status: 'rejected',
        reason: expect.objectContaining({
          code: Code.UNAVAILABLE,
          message:
            'the write is not acknowledged by the booking group (deposed before a majority acknowledged); retry with the same idempotency key',
        }),
      });
    const [stored] = await queryRows<{ response: Buffer }>(
      database.pool,
      "SELECT response FROM idempotency WHERE `key` = 'alice-1'",
    );
    expect(stored).toBeDefined(); // committed, just not acknowledged

    modes.acknowledge = true;
    const retried = await writer.submit({ ...alices, holdId: 'hold-alice-retry' });

    expect(retried.id).toBe('hold-alice');
    expect(bytes(retried)).toBe(stored!.response.toString('base64'));
    expect(await count('holds')).toBe(2);
    const seats = await queryRows<{ seat_id: string; hold_id: string }>(
      database.pool,
      "SELECT seat_id, hold_id FROM seats WHERE state = 'HELD' ORDER BY seat_id",
    );
    expect(seats).toEqual([
      { seat_id: 'A-1', hold_id: 'hold-alice' },
      { seat_id: 'A-2', hold_id: 'hold-alice' },
      { seat_id: 'A-3', hold_id: 'hold-bob' },
    ]);
  });

  it('leaves no unhandled rejection when a batch of refusals is not acknowledged (Node would stop the process)', async () => {
    const { writer, modes } = await writerOnFreshShow();
    await writer.submit(holdCommand(alice, 'alice-1', { seatIds: ['A-1'] }, 'hold-alice'));
    modes.acknowledge = false;

    // A batch of one refused command: nobody waits on its acknowledgement, which fails.
    const refused = writer.submit(holdCommand(bob, 'bob-1', { seatIds: ['A-1'] }, 'hold-bob'));

    await expect(refused).rejects.toMatchObject({
      code: Code.FAILED_PRECONDITION,
      details: { seat_ids: 'A-1' },
    });
    // Give a dangling rejection the turns it needs to be reported (jest fails the test on one).
    await new Promise((resolve) => setImmediate(resolve));
    expect(await count('holds')).toBe(1);
  });
});
