import { status as Code } from '@grpc/grpc-js';
import { createLogger } from '../../../common/logger';
import type { Command } from '../../domain/decide';
import { T0, cancelCommand, confirmCommand, holdCommand, releaseCommand } from '../../domain/__tests__/world';
import { queryRows } from '../../sql';
import { WriteBatcher } from '../batcher';
import { LOCAL_JOURNAL } from '../journal';
import { USERS, materializeCommand, showSpec } from './scenario';
import { bookingDatabase } from './tables';
import type { Database } from './tables';

/*
 * A batch is one transaction: when one command's statements fail at the database, the batch is
 * rolled back and its commands are written one by one, so the others are still written and answered
 * and only the failing one is refused, with nothing of it written. The failures are made by tables
 * that disagree with what the decision could see: a cancel reads its booking but not its seats
 * (the applier's guard on the seats fails), a confirm cannot see that its payment id is taken.
 */

const logger = createLogger('test', { level: 'silent' });
const [alice, bob] = [USERS[0]!, USERS[1]!];

describe('a command whose statements fail at the database', () => {
  let database: Database;
  beforeAll(async () => {
    database = await bookingDatabase('isolation');
  });
  afterAll(() => database.drop());

  it('fails alone: the rest of its batch is written and answered, and nothing of it is written', async () => {
    const { pool } = database;
    const writer = new WriteBatcher({ pool, journal: LOCAL_JOURNAL, clock: () => T0, logger });
    await writer.submit(materializeCommand(showSpec(10, [{ areaId: 'GA-1', capacity: 5 }])));
    // alice's booking of A-1 and two places, and her hold of A-2 to be paid for.
    await writer.submit(
      holdCommand(alice, 'h1', { seatIds: ['A-1'], ga: [{ areaId: 'GA-1', quantity: 2 }] }, 'hold-1'),
    );
    await writer.submit(confirmCommand(alice, 'c1', 'hold-1', 'booking-1', 8500, 'pay-1'));
    await writer.submit(holdCommand(alice, 'h2', { seatIds: ['A-2'] }, 'hold-2'));
    await writer.submit(holdCommand(bob, 'h3', { seatIds: ['A-5'] }, 'hold-3'));

    // Tables that disagree with the decisions: A-1 no longer sold to booking-1 (the cancel reads
    // no seats), and a payment row already under the id the confirm's charge got.
    await pool.query("UPDATE seats SET state = 'FREE', booking_id = NULL WHERE seat_id = 'A-1'");
    await pool.query(
      `INSERT INTO payments (id, kind, booking_id, user_id, amount_cents, currency, created_at)
       VALUES ('pay-2', 'CHARGE', 'elsewhere', 'carol', 1, 'EUR', '2026-12-07 19:00:00')`,
    );
    const tablesBefore = await snapshot();
    const stats = { ...writer.stats };

    const filler = holdCommand(bob, 'filler', { seatIds: ['A-10'] }, 'hold-filler');
    const batch: Command[] = [
      holdCommand(bob, 'h4', { seatIds: ['A-3'], ga: [{ areaId: 'GA-1', quantity: 1 }] }, 'hold-4'),
      cancelCommand(alice, 'x1', 'booking-1', 'refund-1'),
      releaseCommand(bob, 'r3', 'hold-3'),
      confirmCommand(alice, 'c2', 'hold-2', 'booking-2', 4500, 'pay-2'),
      holdCommand(bob, 'h5', { seatIds: ['A-4'] }, 'hold-5'),
    ];
    const [fillerAnswer, ...answers] = await Promise.allSettled(
      [filler, ...batch].map((c) => writer.submit(c)),
    );

    expect(fillerAnswer!.status).toBe('fulfilled');
    expect(answers.map((a) => a.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect((answers[1] as PromiseRejectedResult).reason).toEqual(
      expect.objectContaining({
        code: Code.ABORTED,
        message: 'the write met tables that changed under it; retry with the same idempotency key',
      }),
    );
    expect((answers[3] as PromiseRejectedResult).reason).toEqual(expect.objectContaining({ errno: 1062 })); // ER_DUP_ENTRY
    // Written: the filler alone, then the batch's commands one by one, the two failing ones not at all.
    expect(writer.stats.commands - stats.commands).toBe(4);

    const after = await snapshot();
    // The others are written in full...
    expect(after.holds).toEqual(
      expect.arrayContaining([
        { id: 'hold-3', state: 'RELEASED', booking_id: null },
        { id: 'hold-4', state: 'ACTIVE', booking_id: null },
        { id: 'hold-5', state: 'ACTIVE', booking_id: null },
        { id: 'hold-filler', state: 'ACTIVE', booking_id: null },
      ]),
    );
    expect(after.pools).toEqual([{ area_id: 'GA-1', held: 1, sold: 2 }]);
    // ...and of the failing two, nothing: the booking still CONFIRMED without a refund, the hold
    // still ACTIVE and its seat still HELD, no booking-2, no key stored for either.
    const untouched = (t: typeof after): unknown => ({
      bookings: t.bookings,
      payments: t.payments,
      hold2: t.holds.find((h) => h.id === 'hold-2'),
      seats: t.seats.filter((s) => ['A-1', 'A-2'].includes(s.seat_id)),
    });
    expect(untouched(after)).toEqual(untouched(tablesBefore));
    expect(after.keys).toEqual(['c1', 'filler', 'h1', 'h2', 'h3', 'h4', 'h5', 'r3']);
  });

  async function snapshot() {
    const { pool } = database;
    return {
      holds: await queryRows<{ id: string; state: string; booking_id: string | null }>(
        pool,
        'SELECT id, state, booking_id FROM holds ORDER BY id',
      ),
      seats: await queryRows<{
        seat_id: string;
        state: string;
        hold_id: string | null;
        booking_id: string | null;
      }>(pool, 'SELECT seat_id, state, hold_id, booking_id FROM seats ORDER BY seat_id'),
      pools: await queryRows<{ area_id: string; held: number; sold: number }>(
        pool,
        'SELECT area_id, held, sold FROM ga_pools ORDER BY area_id',
      ),
      bookings: await queryRows<unknown>(pool, 'SELECT * FROM bookings ORDER BY id'),
      payments: await queryRows<unknown>(pool, 'SELECT * FROM payments ORDER BY id'),
      keys: (await queryRows<{ key: string }>(pool, 'SELECT `key` FROM idempotency ORDER BY `key`')).map(
        (k) => k.key,
      ),
    };
  }
});
