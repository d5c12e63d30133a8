import fc from 'fast-check';
import { createLogger } from '../../../common/logger';
import type { Command } from '../../domain/decide';
import { WriteBatcher } from '../batcher';
import { LOCAL_JOURNAL } from '../journal';
import { Model, materializeCommand, outcomeOf, runArb } from './scenario';
import type { Outcome } from './scenario';
import { bookingDatabase, clearTables, viewOfState, viewOfTables } from './tables';
import type { Database } from './tables';

/*
 * The batcher's decisions read a partial view loaded from the tables (loader.ts) and its writes go
 * through the applier; the domain's property tests read the whole state and move it with evolve().
 * The two must agree: the same random commands, decided in memory against the whole state and
 * written through a WriteBatcher into MariaDB, give every caller the same answer (or the same
 * refusal, word for word) and leave the tables equal to the in-memory state.
 */

const logger = createLogger('test', { level: 'silent' });

describe('the batcher (loader + applier) and the domain (decide + evolve) agree', () => {
  let database: Database;
  beforeAll(async () => {
    database = await bookingDatabase('applier_evolve');
  });
  afterAll(() => database.drop());

  it('answers every command as the in-memory decision does and leaves the tables equal to the in-memory state', async () => {
    const reached = new Map<string, number>();
    let batches = 0;
    let commands = 0;
    await fc.assert(
      fc.asyncProperty(runArb, async ({ spec, steps }) => {
        const { pool } = database;
        await clearTables(pool);
        const model = new Model(spec);
        const writer = new WriteBatcher({ pool, journal: LOCAL_JOURNAL, clock: () => model.now, logger });
        const submitAll = async (list: readonly Command[]): Promise<Outcome[]> =>
          (await Promise.allSettled(list.map((c) => writer.submit(c)))).map((s, i) => outcomeOf(list[i]!, s));

        const show = materializeCommand(spec);
        expect(await submitAll([show])).toEqual([model.decide(show)]);
        for (const step of steps) {
          if (step.kind !== 'batch') {
            model.move(step);
            continue;
          }
          const { commands: list, expected } = model.batch(step.intents);
          expect(await submitAll(list)).toEqual(expected);
        }
        expect(await viewOfTables(pool)).toEqual(viewOfState(model.state));
        for (const [path, n] of model.paths) reached.set(path, (reached.get(path) ?? 0) + n);
        batches += writer.stats.batches;
        commands += writer.stats.commands;
      }),
      { numRuns: 60 },
    );
    // Not vacuous: batches held several commands, and the runs went down the interesting paths.
    expect(batches).toBeLessThan(commands);
    const mustReach = [
      'hold write',
      'hold replay',
      'hold FAILED_PRECONDITION',
      'hold NOT_FOUND',
      'hold INVALID_ARGUMENT',
      'hold expires lapsed GA holds',
      "hold takes a lapsed hold's seat",
      'release write',
      'confirm write',
      'confirm replay',
      'confirm FAILED_PRECONDITION',
      'confirm of a lapsed hold asked on time',
      'cancel write',
      'cancel FAILED_PRECONDITION',
      'sweeper expires holds',
    ];
    expect(mustReach.filter((path) => !reached.has(path))).toEqual([]);
  });
});
