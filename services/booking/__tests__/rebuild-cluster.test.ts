import type { RowDataPacket } from 'mysql2/promise';
import { migrate } from '../../common/mysql';
import type { Pool } from '../../common/mysql';
import { snapshotNode } from '../../../scripts/lib/invariants';
import { BOOKING_SCHEMA } from '../schema';
import { BookingGroup, eventually, registerUser, retryUnavailable } from './booking-group';
import { GOOD_CARD, call, makeShow } from './harness';

/*
 * Cluster mode (election, forwarding): a slave whose database is dropped while it is down comes back
 * empty and is rebuilt from the master's log (not compacted at this size) while bookings go on.
 * Whether the rebuild also leaves the term alone is issue 12's failure-detection work, not asserted
 * here.
 */

const SHOW = 'rebuild-show';
const show = makeShow(SHOW, 60, [{ areaId: 'PIT', capacity: 100 }]);

/** Every table dropped and the booking schema made again: what a dropped database looks like. */
async function wipe(pool: Pool): Promise<void> {
  const [tables] = await pool.query<RowDataPacket[]>(
    'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()',
  );
  for (const { name } of tables) await pool.query(`DROP TABLE \`${String(name)}\``);
  await migrate(pool, BOOKING_SCHEMA);
}

async function appliedIndex(pool: Pool): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT applied_index FROM replication_state WHERE id = 1',
  );
  return Number(rows[0]?.applied_index ?? 0);
}

describe('a wiped slave in cluster mode', () => {
  let group: BookingGroup;

  beforeAll(async () => {
    group = await new BookingGroup({
      label: 'brebuild',
      shows: [show],
    }).start();
    await eventually(() => expect(group.writers()).toEqual([3]));
  });
  afterAll(async () => {
    await group?.stop();
  });

  it('is rebuilt from the master while bookings go on, and then holds the same bookings and seats', async () => {
    const { booking } = group.member(3);
    const session = await registerUser(group.member(3), 'rebuild');
    let seat = 0;
    const book = async (): Promise<void> => {
      const n = ++seat;
      const hold = await retryUnavailable(() =>
        call(
          booking.holdSeats.bind(booking),
          { showId: SHOW, seatIds: [`ORCH-A-${n}`], ga: [], idempotencyKey: `rebuild-hold-${n}` },
          session.token,
        ),
      );
      await retryUnavailable(() =>
        call(
          booking.confirmBooking.bind(booking),
          { holdId: hold.id, card: GOOD_CARD, idempotencyKey: `rebuild-pay-${n}` },
          session.token,
        ),
      );
    };
    for (let i = 0; i < 10; i++) await book();
    const slave = group.member(1);
    await eventually(async () =>
      expect(await appliedIndex(slave.pool)).toBe(await appliedIndex(group.member(3).pool)),
    );
    await group.stopMember(1);
    await wipe(slave.pool);
    await book();
    await group.startMember(1);
    const restartedAt = await appliedIndex(group.member(3).pool);
    for (let round = 0; round < 20 && (await appliedIndex(slave.pool)) <= restartedAt; round++) await book();

    await eventually(async () => {
      const master = await appliedIndex(group.member(3).pool);
      expect(await appliedIndex(slave.pool)).toBe(master);
      expect(await appliedIndex(group.member(2).pool)).toBe(master);
    });
    const [one, two, three] = await Promise.all(
      [1, 2, 3].map((id) => snapshotNode(group.member(id).pool, id)),
    );
    expect(three!.bookings).toHaveLength(seat);
    expect(one!.bookings).toEqual(three!.bookings);
    expect(one!.seats).toEqual(three!.seats);
    expect(two!.checksum).toBe(three!.checksum);
  }, 60_000);
});
