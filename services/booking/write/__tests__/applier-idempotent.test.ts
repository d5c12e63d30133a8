import fc from 'fast-check';
import type { PoolConnection } from '../../../common/mysql';
import type { BookingOp } from '../../domain/operations';
import { send, sql } from '../../sql';
import { applyStatements, opOfEntry } from '../applier';
import { Model, materializeCommand, runArb } from './scenario';
import { bookingDatabase, clearTables, dumpTables, viewOfState, viewOfTables } from './tables';
import type { Database } from './tables';

/*
 * DESIGN.md: applying an entry is idempotent. Each op of a random run (decided in memory by the
 * domain) goes through the log's JSON, as a slave reads it, and its applier statements run twice in
 * one transaction: the second time changes no row of any table. At the end the whole log is applied
 * once more (a re-delivery of old entries) and changes nothing either, and the tables are the
 * domain's in-memory state: a slave replaying the log ends where the master's decisions did.
 */

/** An op as a slave gets it: its name and its payload's JSON (write/applier.ts opOfEntry). */
const fromLog = (op: BookingOp): BookingOp => opOfEntry(op.op, JSON.stringify(op.payload));

/** Runs `statements` in one round trip (the connection is opened with multipleStatements). */
const apply = (connection: PoolConnection, op: BookingOp): Promise<unknown> =>
  send(connection, applyStatements(fromLog(op)));

describe('the applier', () => {
  let database: Database;
  beforeAll(async () => {
    database = await bookingDatabase('applier_twice');
  });
  afterAll(() => database.drop());

  it('changes nothing when an entry is applied a second time, at once or after the rest of the log', async () => {
    await fc.assert(
      fc.asyncProperty(runArb, async ({ spec, steps }) => {
        const model = new Model(spec);
        model.decide(materializeCommand(spec));
        for (const step of steps)
          if (step.kind === 'batch') model.batch(step.intents);
          else model.move(step);

        const { pool } = database;
        await clearTables(pool);
        const connection = await pool.getConnection();
        try {
          for (const op of model.ops) {
            await send(connection, [sql('START TRANSACTION')]);
            const before = await dumpTables(connection);
            await apply(connection, op);
            const once = await dumpTables(connection);
            await apply(connection, op);
            const twice = await dumpTables(connection);
            await send(connection, [sql('COMMIT')]);
            expect(once).not.toEqual(before); // not vacuous: the op did change the tables
            expect({ op: op.op, tables: twice }).toEqual({ op: op.op, tables: once });
          }
          const applied = await dumpTables(connection);
          await send(connection, [sql('START TRANSACTION')]);
          for (const op of model.ops) await apply(connection, op);
          await send(connection, [sql('COMMIT')]);
          expect(await dumpTables(connection)).toEqual(applied);
        } finally {
          await send(connection, [sql('ROLLBACK')]); // a failed check may leave one open
          connection.release();
        }
        expect(await viewOfTables(pool)).toEqual(viewOfState(model.state));
      }),
      { numRuns: 15 },
    );
  });
});
