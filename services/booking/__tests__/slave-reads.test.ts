import type { RowDataPacket } from 'mysql2/promise';
import { SeatState } from '../../../proto/gen/marquee/booking/v1/booking';
import type { Pool } from '../../common/mysql';
import { BookingGroup, eventually, registerUser, retryUnavailable } from './booking-group';
import { call, makeShow } from './harness';

/*
 * Every node's state comes from the log (DESIGN.md, Replication). A seat map asked of a slave for a
 * show no node has materialised yet must not create that show's rows on the slave alone: once every
 * node has applied the same log, every node holds the same shows, seats and GA pools.
 */

const SHOWS = [1, 2, 3, 4, 5, 6].map((n) =>
  makeShow(`slave-read-${n}`, 4 + n, [{ areaId: `GA${n}`, capacity: 10 * n }]),
);

/** Rows of the tables a materialisation writes, in a stable order. */
async function materialised(pool: Pool): Promise<unknown[][]> {
  const tables = [
    'SELECT show_id, currency, starts_at, materialized_at FROM shows ORDER BY show_id',
    'SELECT show_id, seat_id, position, label, price_tier, amount_cents, state FROM seats ORDER BY show_id, seat_id',
    'SELECT show_id, area_id, position, name, price_tier, amount_cents, capacity, held, sold FROM ga_pools ORDER BY show_id, area_id',
  ];
  return Promise.all(tables.map(async (sql) => (await pool.query<RowDataPacket[]>(sql))[0]));
}

async function appliedIndex(pool: Pool): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT applied_index FROM replication_state WHERE id = 1',
  );
  return Number(rows[0]?.applied_index);
}

describe('seat maps read from slaves', () => {
  let group: BookingGroup;

  beforeAll(async () => {
    group = await new BookingGroup({ label: 'bslread', shows: SHOWS }).start();
    await eventually(() => expect(group.writers()).toEqual([3]));
  });
  afterAll(async () => {
    await group?.stop();
  });

  /** Waits until every node applied the same log, then compares what the materialisations wrote. */
  const expectSameRows = async (): Promise<void> => {
    const pools = [3, 1, 2].map((id) => group.member(id).pool);
    await eventually(async () => {
      const indexes = await Promise.all(pools.map(appliedIndex));
      expect(new Set(indexes).size).toBe(1);
    });
    const [master, ...slaves] = await Promise.all(pools.map(materialised));
    expect(master![0]).toHaveLength(SHOWS.length);
    for (const slave of slaves) expect(slave).toEqual(master);
    // Still one applied index after the reads: no write came in between.
    expect(new Set(await Promise.all(pools.map(appliedIndex))).size).toBe(1);
  };

  it('a show first asked of a slave is materialised through the log: every node at the same applied index holds the same rows', async () => {
    const session = await registerUser(group.member(3), 'slave-reads');
    const seatMap = (id: number, showId: string) => {
      const { booking } = group.member(id);
      return retryUnavailable(() => call(booking.getAvailability.bind(booking), { showId }, session.token));
    };
    // Two never-seen shows per node, slaves first.
    const firstReads = [1, 2, 3, 1, 2, 3].map((id, i) => ({ id, show: SHOWS[i]! }));
    for (const { id, show } of firstReads) {
      const { seats, pools } = await seatMap(id, show.showId);
      expect(seats.map((seat) => seat.seatId)).toEqual(show.seats.map((seat) => seat.id));
      expect(seats.every((seat) => seat.state === SeatState.SEAT_STATE_FREE)).toBe(true);
      expect(pools.map((pool) => pool.remaining)).toEqual(show.pools.map((pool) => pool.capacity));
    }
    await expectSameRows();
    // The slaves sent their first reads on to the master, which materialised the shows.
    const forwarded = [1, 2].map((id) => group.member(id).server?.forwardedCalls() ?? 0);
    expect(forwarded[0]! + forwarded[1]!).toBeGreaterThan(0);
    // Then every node reads every show once more.
    for (const id of [1, 2, 3]) for (const show of SHOWS) await seatMap(id, show.showId);
    await expectSameRows();
  });
});
