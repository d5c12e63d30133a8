import { createLogger } from '../../common/logger';
import { migrate } from '../../common/mysql';
import type { Principal } from '../../common/auth';
import { freshDatabase } from '../../../test/databases';
import { scopeFor } from '../idempotency';
import { Inventory } from '../inventory';
import { SimulatedCardProcessor } from '../payments';
import { BOOKING_SCHEMA } from '../schema';
import { StaticShowSource } from '../show-source';
import { MysqlBookingStore } from '../store';
import { singleNodeWriter } from '../write/batcher';
import { makeShow } from './harness';

const logger = createLogger('test', { level: 'silent' });
const SHOW = 'shw_race';
const T0 = Date.parse('2030-01-01T10:00:00Z');

describe('a general-admission hold racing the sweeper for lapsed places', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    database = await freshDatabase('garace');
    await migrate(database.pool, BOOKING_SCHEMA);
  });
  afterAll(() => database.drop());

  it('gets the lapsed places, given back once, when the sweeper expires the lapsed hold at the same time', async () => {
    let now = T0;
    const clock = (): number => now;
    const { pool } = database;
    const writer = singleNodeWriter(pool, clock, logger);
    const store = new MysqlBookingStore(
      { pool, clock, holdTtlSeconds: 600, payments: new SimulatedCardProcessor(clock), logger },
      new Inventory(
        pool,
        new StaticShowSource([makeShow(SHOW, 0, [{ areaId: 'FLOOR', capacity: 4 }])]),
        clock,
        logger,
        writer,
      ),
      24,
      writer,
    );
    const user = (id: string): Principal => ({ userId: id, email: `${id}@example.com`, role: 'user' });
    const holdFloor = (who: Principal, key: string) => {
      const request = { showId: SHOW, seatIds: [], ga: [{ areaId: 'FLOOR', quantity: 4 }] };
      return store.hold(who, scopeFor(who.userId, key, 'HoldSeats', request), request, Infinity);
    };

    const lapsed = await holdFloor(user('alice'), 'alice-hold-1');
    now = T0 + 601_000; // alice's hold has lapsed; nobody has expired it yet

    // The sweeper and bob arrive together. Both are decided by the master's one writer in arrival
    // order: whichever comes first expires alice's hold and the other sees it expired.
    const [swept, bobs] = await Promise.all([
      store.sweep({ purgeKeys: false }),
      holdFloor(user('bob'), 'bob-hold-1'),
    ]);
    expect(bobs.ga).toEqual([expect.objectContaining({ areaId: 'FLOOR', quantity: 4 })]);
    expect(swept.expired).toBeLessThanOrEqual(1);
    const [holds] = await pool.query('SELECT id, state FROM holds');
    expect(holds).toEqual(
      expect.arrayContaining([
        { id: lapsed.id, state: 'EXPIRED' },
        { id: bobs.id, state: 'ACTIVE' },
      ]),
    );
    const [pools] = await pool.query(
      "SELECT held, sold FROM ga_pools WHERE show_id = ? AND area_id = 'FLOOR'",
      [SHOW],
    );
    expect(pools).toEqual([{ held: 4, sold: 0 }]);
  });
});
