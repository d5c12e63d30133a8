import fc from 'fast-check';
import { status as Code } from '@grpc/grpc-js';
import { UnavailableError } from '../../../common/errors';
import { createLogger } from '../../../common/logger';
import type { Pool } from '../../../common/mysql';
import { ReplicationLog } from '../../../replication/log-store';
import { CachedLogPosition } from '../../../replication/log-view';
import type { ReplicationNode } from '../../../replication/node';
import type { LogEntry } from '../../../replication/types';
import { T0, confirmCommand, holdCommand } from '../../domain/__tests__/world';
import type { Command } from '../../domain/decide';
import { queryRows } from '../../sql';
import { WriteBatcher } from '../batcher';
import { replicatedJournal } from '../journal';
import type { Journal } from '../journal';
import { Model, USERS, materializeCommand, outcomeOf, runArb, showSpec } from './scenario';
import type { Outcome, Step } from './scenario';
import { bookingDatabase, clearTables, viewOfState, viewOfTables } from './tables';
import type { Database } from './tables';

/*
 * In a group the master writes a batch's log entries first and its rows only once they are
 * acknowledged (journal.appliesAcknowledgedOnly). Decisions meanwhile read the tables plus the
 * unapplied tail replayed in memory: they must be the decisions the whole state gives. And a master
 * deposed before an acknowledgement holds none of the tail's rows, so it rejoins by dropping its
 * log tail rather than by a whole snapshot.
 */

const logger = createLogger('test', { level: 'silent' });
const [alice, bob] = [USERS[0]!, USERS[1]!];

interface Acks {
  /** Acknowledgements resolve only when released (held) or after a short random delay. */
  hold: boolean;
  release(): void;
  /** Deposed: the acknowledgements held and asked for from now on fail, as a stopped replicator's do. */
  depose(): void;
}

/** The replicated journal over a real log in `pool`, on a node that is master of term 1. */
async function groupJournal(pool: Pool): Promise<{ journal: Journal; acks: Acks; log: ReplicationLog }> {
  await pool.query('DROP TABLE IF EXISTS replication_log, replication_state, replication_snapshot_receive');
  const log = new ReplicationLog(pool, 3);
  await log.migrate();
  await log.claimTerm(1);
  let held: { resolve(): void; reject(error: Error): void }[] = [];
  let deposed = false;
  const deposedError = (): Error => new UnavailableError('node 3 was deposed by term 2');
  const acks: Acks = {
    hold: false,
    release() {
      const waiting = held;
      held = [];
      for (const w of waiting) w.resolve();
    },
    depose() {
      deposed = true;
      const waiting = held;
      held = [];
      for (const w of waiting) w.reject(deposedError());
    },
  };
  let lamport = 0;
  const position = new CachedLogPosition(log);
  const node = {
    log,
    position,
    appended: (entries: readonly LogEntry[]) => {
      const last = entries.at(-1);
      if (last) position.advance(last.index, last.term);
    },
    masterTerm: () => (deposed ? undefined : 1),
    replicate: () =>
      deposed
        ? Promise.reject(deposedError())
        : new Promise<void>((resolve, reject) => {
            if (acks.hold) held.push({ resolve, reject });
            else setTimeout(resolve, Math.floor(Math.random() * 4));
          }),
  } as unknown as ReplicationNode;
  return { journal: replicatedJournal(node, () => ++lamport), acks, log };
}

/** Steps between clock moves: their commands go in together, without waiting for answers. */
function segments(steps: readonly Step[]): Step[][] {
  const out: Step[][] = [[]];
  for (const step of steps) {
    if (step.kind === 'batch') out.at(-1)!.push(step);
    else out.push([step], []);
  }
  return out.filter((s) => s.length > 0);
}

describe('a master applies only acknowledged entries', () => {
  let database: Database;
  beforeAll(async () => {
    database = await bookingDatabase('acknowledged_apply');
  });
  afterAll(() => database.drop());

  it('decides on the tables plus the unapplied tail exactly as on the whole state, and applies every entry once acknowledged', async () => {
    let decidedOnTail = 0;
    await fc.assert(
      fc.asyncProperty(runArb, async ({ spec, steps }) => {
        const { pool } = database;
        await clearTables(pool);
        const { journal } = await groupJournal(pool);
        const watched: Journal = {
          ...journal,
          position(results) {
            const position = journal.position(results);
            if (position.appliedIndex < position.lastIndex) decidedOnTail++;
            return position;
          },
        };
        const model = new Model(spec);
        const writer = new WriteBatcher({ pool, journal: watched, clock: () => model.now, logger });
        const submitAll = (list: readonly Command[]): Promise<Outcome[]> =>
          Promise.allSettled(list.map((c) => writer.submit(c))).then((settled) =>
            settled.map((s, i) => outcomeOf(list[i]!, s)),
          );

        const show = materializeCommand(spec);
        expect(await submitAll([show])).toEqual([model.decide(show)]);
        for (const segment of segments(steps)) {
          // Every batch step of the segment is submitted before any is answered: later batches are
          // decided while earlier ones wait for their acknowledgement.
          const pending: { answers: Promise<Outcome[]>; expected: Outcome[] }[] = [];
          for (const step of segment) {
            if (step.kind !== 'batch') {
              model.move(step);
              continue;
            }
            const { commands, expected } = model.batch(step.intents);
            pending.push({ answers: submitAll(commands), expected });
          }
          for (const { answers, expected } of pending) expect(await answers).toEqual(expected);
        }
        expect(await viewOfTables(pool)).toEqual(viewOfState(model.state));
      }),
      { numRuns: 40 },
    );
    // Not vacuous: some batches were decided while entries were still unapplied.
    expect(decidedOnTail).toBeGreaterThan(0);
  });

  it('holds none of an unacknowledged tail in its tables, while deciding against it', async () => {
    const { pool } = database;
    await clearTables(pool);
    const { journal, acks } = await groupJournal(pool);
    const writer = new WriteBatcher({ pool, journal, clock: () => T0, logger });
    await writer.submit(materializeCommand(showSpec(10)));

    acks.hold = true;
    const aliceHold = writer.submit(holdCommand(alice, 'a1', { seatIds: ['A-1'] }, 'hold-a'));
    // Bob asks for the same seat while Alice's hold is only in the log: refused all the same.
    const bobHold = writer.submit(holdCommand(bob, 'b1', { seatIds: ['A-1'] }, 'hold-b'));
    await expect(bobHold).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    // Alice confirms the hold the tables do not have yet: its seats come from the tail.
    const confirm = writer.submit(confirmCommand(alice, 'a2', 'hold-a', 'booking-a', 4500));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const logged = await queryRows<{ n: number }>(pool, 'SELECT COUNT(*) AS n FROM replication_log');
    expect(logged[0]!.n).toBe(3); // the show, Alice's hold and her booking; Bob's refusal wrote nothing
    expect(await queryRows(pool, 'SELECT id FROM holds')).toEqual([]);
    expect(await queryRows(pool, "SELECT seat_id FROM seats WHERE state <> 'FREE'")).toEqual([]);

    acks.hold = false;
    acks.release();
    await expect(aliceHold).resolves.toMatchObject({ id: 'hold-a' });
    await expect(confirm).resolves.toMatchObject({ id: 'booking-a' });
    expect(await queryRows(pool, "SELECT seat_id, state FROM seats WHERE state <> 'FREE'")).toEqual([
      { seat_id: 'A-1', state: 'SOLD' },
    ]);
  });

  it('deposed before the acknowledgement: the callers hear UNAVAILABLE and the tables stay without the tail', async () => {
    const { pool } = database;
    await clearTables(pool);
    const { journal, acks, log } = await groupJournal(pool);
    const writer = new WriteBatcher({ pool, journal, clock: () => T0, logger });
    await writer.submit(materializeCommand(showSpec(10)));
    const before = await log.state();

    acks.hold = true;
    const hold = writer.submit(holdCommand(alice, 'a1', { seatIds: ['A-2'] }, 'hold-a'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    acks.depose();
    await expect(hold).rejects.toMatchObject({ code: Code.UNAVAILABLE });

    const after = await log.state();
    expect(after.lastIndex).toBe(before.lastIndex + 1); // the hold's entry is in the log...
    expect(after.appliedIndex).toBe(before.appliedIndex); // ...and not in the tables
    expect(await queryRows(pool, 'SELECT id FROM holds')).toEqual([]);
    expect(await queryRows(pool, 'SELECT `key` FROM idempotency')).toEqual([]);
  });

  it('leaves no unhandled rejection when a batch of refusals is not acknowledged (a master stepping down in a sale crashed on it)', async () => {
    const { pool } = database;
    await clearTables(pool);
    const { journal, acks } = await groupJournal(pool);
    const writer = new WriteBatcher({ pool, journal, clock: () => T0, logger });
    await writer.submit(materializeCommand(showSpec(10)));
    await writer.submit(holdCommand(alice, 'a1', { seatIds: ['A-1'] }, 'hold-a'));

    acks.hold = true;
    // A batch of one refused command: nobody waits on its acknowledgement, which then fails.
    const refused = writer.submit(holdCommand(bob, 'b1', { seatIds: ['A-1'] }, 'hold-b'));
    await expect(refused).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    acks.depose();
    // Give a dangling rejection the turns it needs to be reported (jest fails the test on one).
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await queryRows(pool, 'SELECT id FROM holds')).toEqual([{ id: 'hold-a' }]);
  });
});
