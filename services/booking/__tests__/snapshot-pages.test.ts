import { freshDatabase } from '../../../test/databases';
import { migrate } from '../../common/mysql';
import type { SnapshotKey } from '../../replication/types';
import { BOOKING_SCHEMA } from '../schema';
import { BookingStateMachine, SNAPSHOT_TABLES } from '../state-machine';

/*
 * A snapshot reads each booking table in primary-key pages (keyset pagination): page boundaries must
 * neither skip nor repeat a row, whatever the key's column types. hold_items' key has an ENUM
 * (kind: SEAT, GA), which InnoDB orders by its index, not its text.
 */

describe('booking snapshot pages', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>> | undefined;
  afterAll(async () => {
    await database?.drop();
  });

  it('reading one row per page returns every row of every table once, in key order', async () => {
    database = await freshDatabase('bsnappages');
    await migrate(database.pool, BOOKING_SCHEMA);
    await database.pool.query(
      `INSERT INTO hold_items (hold_id, kind, item_id, label, quantity, amount_cents) VALUES
         ('h1', 'SEAT', 'A-1', 'A1', 1, 100), ('h1', 'SEAT', 'A-2', 'A2', 1, 100), ('h1', 'GA', 'PIT', 'Pit', 2, 50),
         ('h2', 'GA', 'PIT', 'Pit', 1, 50), ('h2', 'SEAT', 'B-1', 'B1', 1, 100)`,
    );
    await database.pool.query(
      `INSERT INTO ga_pools (show_id, area_id, position, name, price_tier, amount_cents, capacity) VALUES
         ('s1', 'PIT', 0, 'Pit', 'GA', 50, 10), ('s1', 'BAL', 1, 'Balcony', 'GA', 40, 10), ('s2', 'PIT', 0, 'Pit', 'GA', 50, 10)`,
    );
    const machine = new BookingStateMachine();
    const connection = await database.pool.getConnection();
    try {
      for (const table of SNAPSHOT_TABLES) {
        const whole = await machine.readSnapshot(connection, table, undefined, 1000);
        const paged: unknown[] = [];
        let after: SnapshotKey | undefined;
        for (;;) {
          const page = await machine.readSnapshot(connection, table, after, 1);
          if (page.length === 0) break;
          paged.push(...page.map((row) => row.row));
          after = page.at(-1)?.key;
        }
        expect({ table, rows: paged }).toEqual({ table, rows: whole.map((row) => row.row) });
      }
      expect((await machine.readSnapshot(connection, 'hold_items', undefined, 1000)).length).toBe(5);
    } finally {
      connection.release();
    }
  });
});
