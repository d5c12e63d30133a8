import pino from 'pino';
import { freshDatabase } from '../../../test/databases';
import { migrate } from '../../common/mysql';
import type { Pool } from '../../common/mysql';
import { Follower, SafetyViolationError } from '../follower';
import { ReplicationLog } from '../log-store';
import { SnapshotInstaller } from '../snapshot-install';
import type { LogEntry } from '../types';
import { KV_SCHEMA, KvMachine } from './kv-machine';

/** The slave's rules against a real database, without gRPC. */
describe('follower (slave side) against MariaDB', () => {
  let pool: Pool;
  let drop: () => Promise<void>;
  let log: ReplicationLog;
  let follower: Follower;

  beforeAll(async () => {
    ({ pool, drop } = await freshDatabase('replfollow'));
  });
  afterAll(async () => {
    await follower.stop();
    await drop();
  });
  beforeEach(async () => {
    await pool.query('DROP TABLE IF EXISTS replication_log, replication_state, kv');
    await migrate(pool, KV_SCHEMA);
    log = new ReplicationLog(pool, 3);
    await log.migrate();
    follower = new Follower({
      log,
      machine: new KvMachine(),
      logger: pino({ level: 'silent' }),
      onLeader: () => {},
    });
  });
  afterEach(() => follower.stop());

  const put = (term: number, index: number, k: string, v: string): LogEntry => ({
    term,
    index,
    lamport: index,
    op: 'kv.put',
    payload: JSON.stringify({ k, v }),
  });
  const terms = async () => (await log.entries(1, 100)).map((e) => e.term);
  /** Term 1's first Append: entries 1 and 2, nothing committed yet. */
  const twoPuts = () => ({
    term: 1,
    leaderId: 1,
    prevIndex: 0,
    prevTerm: 0,
    entries: [put(1, 1, 'a', '1'), put(1, 2, 'b', '2')],
    commitIndex: 0,
  });

  it('applies what an Append makes committed in the same transaction as the Append', async () => {
    const first = twoPuts();
    await follower.append(first);
    expect((await log.state()).appliedIndex).toBe(0);
    // The next Append carries the commit index of the first two: applied when it answers.
    await follower.append({
      ...first,
      prevIndex: 2,
      prevTerm: 1,
      entries: [put(1, 3, 'c', '3')],
      commitIndex: 2,
    });
    const state = await log.state();
    expect([state.appliedIndex, state.lastIndex]).toEqual([2, 3]);
    const [rows] = await pool.query('SELECT k, v FROM kv ORDER BY k');
    expect(rows).toEqual([
      { k: 'a', v: '1' },
      { k: 'b', v: '2' },
    ]);
  });

  it('refuses an Append from a lower term and answers with its own', async () => {
    await follower.append({ term: 3, leaderId: 1, prevIndex: 0, prevTerm: 0, entries: [], commitIndex: 0 });
    const answer = await follower.append({
      term: 2,
      leaderId: 2,
      prevIndex: 0,
      prevTerm: 0,
      entries: [put(2, 1, 'a', '1')],
      commitIndex: 0,
    });
    expect(answer).toMatchObject({ term: 3, success: false });
    expect(await terms()).toEqual([]);
  });

  it('a resent batch is a no-op, and a gap is refused with where to resume', async () => {
    const batch = twoPuts();
    expect(await follower.append(batch)).toMatchObject({ success: true, matchIndex: 2 });
    expect(await follower.append(batch)).toMatchObject({ success: true, matchIndex: 2 });
    expect(await terms()).toEqual([1, 1]);
    const gap = await follower.append({
      ...batch,
      prevIndex: 5,
      prevTerm: 1,
      entries: [put(1, 6, 'c', '3')],
    });
    expect(gap).toMatchObject({ success: false, conflictIndex: 3, snapshotNeeded: false });
  });

  it('an empty log (a wiped slave) asks for index 1; a log that starts after a snapshot, for the entry after it', async () => {
    const heartbeat = { term: 4, leaderId: 1, prevTerm: 4, entries: [], commitIndex: 9 };
    // The master reaches back to 1 or, once that is compacted, sends a snapshot.
    expect(await follower.append({ ...heartbeat, prevIndex: 19_258 })).toMatchObject({
      success: false,
      conflictIndex: 1,
      snapshotNeeded: false,
    });
    // An empty state at index 10, as one done chunk.
    const installer = new SnapshotInstaller({
      log,
      machine: new KvMachine(),
      logger: pino({ level: 'silent' }),
      onLeader: () => undefined,
    });
    const done = { snapshotId: 's-10', lastIndex: 10, lastTerm: 4, commitIndex: 10 };
    expect(
      await installer.accept(4, 1, {
        ...done,
        table: '',
        after: undefined,
        lastKey: undefined,
        rows: [],
        done: true,
      }),
    ).toMatchObject({ success: true, matchIndex: 10 });
    for (const prevIndex of [3, 30])
      expect(await follower.append({ ...heartbeat, prevIndex })).toMatchObject({
        success: false,
        conflictIndex: 11,
      });
  });

  it('drops a conflicting uncommitted suffix and takes the new master’s entries', async () => {
    await follower.append({
      term: 1,
      leaderId: 1,
      prevIndex: 0,
      prevTerm: 0,
      entries: [put(1, 1, 'a', '1'), put(1, 2, 'b', 'old'), put(1, 3, 'c', 'old')],
      commitIndex: 1,
    });
    // The new master's log has term 2 from index 2: the slave's 2..3 were never committed.
    const probe = await follower.append({
      term: 2,
      leaderId: 2,
      prevIndex: 3,
      prevTerm: 2,
      entries: [],
      commitIndex: 1,
    });
    expect(probe).toMatchObject({ success: false, conflictIndex: 2 });
    const answer = await follower.append({
      term: 2,
      leaderId: 2,
      prevIndex: 1,
      prevTerm: 1,
      entries: [put(2, 2, 'b', 'new')],
      commitIndex: 2,
    });
    expect(answer).toMatchObject({ success: true, matchIndex: 2 });
    expect(await terms()).toEqual([1, 2]);
    expect(await log.state()).toMatchObject({
      lastIndex: 2,
      lastTerm: 2,
      commitIndex: 2,
      currentTerm: 2,
      leaderId: 2,
    });
    await follower.applyAll();
    const [rows] = await pool.query('SELECT k, v FROM kv ORDER BY k');
    expect(rows).toEqual([
      { k: 'a', v: '1' },
      { k: 'b', v: 'new' },
    ]);
  });

  it('never drops a committed entry, and asks for a snapshot to undo an applied one', async () => {
    await follower.append({
      term: 1,
      leaderId: 1,
      prevIndex: 0,
      prevTerm: 0,
      entries: [put(1, 1, 'a', '1'), put(1, 2, 'b', '2'), put(1, 3, 'c', '3')],
      commitIndex: 1,
    });
    const committed = follower.append({
      term: 2,
      leaderId: 2,
      prevIndex: 0,
      prevTerm: 0,
      entries: [put(2, 1, 'a', 'x')],
      commitIndex: 0,
    });
    await expect(committed).rejects.toBeInstanceOf(SafetyViolationError);
    // A node that applied entries 2..3 (as a master does) cannot drop them by deleting log rows.
    await follower.applyAll();
    const applied = await follower.append({
      term: 2,
      leaderId: 2,
      prevIndex: 1,
      prevTerm: 1,
      entries: [put(2, 2, 'b', 'y')],
      commitIndex: 2,
    });
    expect(applied).toMatchObject({ success: false, snapshotNeeded: true });
    expect(await terms()).toEqual([1, 1, 1]);
  });

  it('applies only committed entries, each once, and resumes after a restart', async () => {
    await follower.append({
      term: 1,
      leaderId: 1,
      prevIndex: 0,
      prevTerm: 0,
      entries: [put(1, 1, 'a', '1'), put(1, 2, 'b', '2')],
      commitIndex: 1,
    });
    const waitApplied = async (index: number) => {
      while ((await log.state()).appliedIndex < index)
        await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await waitApplied(1);
    await follower.stop();
    expect(await log.state()).toMatchObject({ appliedIndex: 1, commitIndex: 1 });
    follower = new Follower({
      log,
      machine: new KvMachine(),
      logger: pino({ level: 'silent' }),
      onLeader: () => {},
    });
    await follower.append({ term: 1, leaderId: 1, prevIndex: 2, prevTerm: 1, entries: [], commitIndex: 2 });
    await waitApplied(2);
    const [rows] = await pool.query('SELECT k, v FROM kv ORDER BY k');
    expect(rows).toEqual([
      { k: 'a', v: '1' },
      { k: 'b', v: '2' },
    ]);
  });
});
