import { createLogger } from '../../common/logger';
import { migrate } from '../../common/mysql';
import type { Pool } from '../../common/mysql';
import type { Principal } from '../../common/auth';
import { freshDatabase } from '../../../test/databases';
import { scopeFor } from '../idempotency';
import { Inventory } from '../inventory';
import { SimulatedCardProcessor } from '../payments';
import { BOOKING_SCHEMA } from '../schema';
import { StaticShowSource } from '../show-source';
import { MysqlBookingStore } from '../store';
import { makeShow } from './harness';

const logger = createLogger('test', { level: 'silent' });
const SHOW = 'shw_race';
const T0 = Date.parse('2030-01-01T10:00:00Z');

/**
 * Waits until another connection is blocked trying to expire a hold (the row lock the "sweeper"
 * below holds). MariaDB lists such a statement in the process list while it waits.
 */
async function someoneWaitsToExpireAHold(pool: Pool): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const [rows] = await pool.query(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE info LIKE 'UPDATE holds SET state = ''EXPIRED''%'",
    );
    if (Number((rows as { n: number }[])[0]?.n) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('no connection ever waited to expire a hold');
}

describe('a general-admission hold racing the sweeper for lapsed places', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    database = await freshDatabase('garace');
    await migrate(database.pool, BOOKING_SCHEMA);
  });
  afterAll(() => database.drop());

  it('gets the places when the sweeper expires the lapsed hold while the hold is retrying', async () => {
    let now = T0;
    const clock = (): number => now;
    const { pool } = database;
    const store = new MysqlBookingStore(
      { pool, clock, holdTtlSeconds: 600, payments: new SimulatedCardProcessor(clock), logger },
      new Inventory(
        pool,
        new StaticShowSource([makeShow(SHOW, 0, [{ areaId: 'FLOOR', capacity: 4 }])]),
        clock,
        logger,
      ),
      24,
    );
    const user = (id: string): Principal => ({ userId: id, email: `${id}@example.com`, role: 'user' });
    const holdFloor = (who: Principal, key: string) => {
      const request = { showId: SHOW, seatIds: [], ga: [{ areaId: 'FLOOR', quantity: 4 }] };
      return store.hold(who, scopeFor(who.userId, key, 'HoldSeats', request), request, Infinity);
    };

    const lapsed = await holdFloor(user('alice'), 'alice-hold-1');
    now = T0 + 601_000; // alice's hold has lapsed; nobody has expired it yet

    // The sweeper has claimed alice's hold but not yet given its places back.
    const sweeper = await pool.getConnection();
    try {
      await sweeper.beginTransaction();
      await sweeper.query("UPDATE holds SET state = 'EXPIRED' WHERE id = ? AND state = 'ACTIVE'", [
        lapsed.id,
      ]);

      // Bob finds the pool full, sees alice's lapsed hold and waits for its row lock...
      const bob = holdFloor(user('bob'), 'bob-hold-1');
      await someoneWaitsToExpireAHold(pool);
      // ...while the sweeper finishes the release and commits.
      await sweeper.query("UPDATE ga_pools SET held = held - 4 WHERE show_id = ? AND area_id = 'FLOOR'", [
        SHOW,
      ]);
      await sweeper.commit();

      const hold = await bob;
      expect(hold.ga).toEqual([expect.objectContaining({ areaId: 'FLOOR', quantity: 4 })]);
    } finally {
      sweeper.release();
    }
    const [pools] = await pool.query(
      "SELECT held, sold FROM ga_pools WHERE show_id = ? AND area_id = 'FLOOR'",
      [SHOW],
    );
    expect(pools).toEqual([{ held: 4, sold: 0 }]);
  });
});
