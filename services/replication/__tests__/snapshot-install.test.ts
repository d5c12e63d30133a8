import type { RowDataPacket } from 'mysql2/promise';
import pino from 'pino';
import { freshDatabase } from '../../../test/databases';
import { FailedPreconditionError } from '../../common/errors';
import { migrate } from '../../common/mysql';
import { keyAfter } from '../keyset';
import { ReplicationLog } from '../log-store';
import { SnapshotInstaller } from '../snapshot-install';
import type { SnapshotChunk } from '../types';
import { KV_SCHEMA, KvMachine } from './kv-machine';

/*
 * The receiving side against a real MariaDB: the swap of staging tables and positions, including the
 * two places a crash can interrupt it (see snapshot-install.ts), which recovery at start finishes.
 */

const logger = pino({ level: 'silent' });
const HEADER = { snapshotId: 'snap-1', lastIndex: 40, lastTerm: 3, commitIndex: 40 };

const chunk = (over: Partial<SnapshotChunk>): SnapshotChunk => ({
  ...HEADER,
  table: 'kv',
  after: undefined,
  lastKey: undefined,
  rows: [],
  done: false,
  ...over,
});
const rowsOf = (...pairs: [string, string][]) => pairs.map(([k, v]) => JSON.stringify({ k, v }));

describe('snapshot installer', () => {
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const drop of drops) await drop();
  });

  /** A node holding {old: 'x'} at index 7 with entries in its log, and half a snapshot staged. */
  async function nodeWithHalfASnapshot() {
    const database = await freshDatabase('snapinst');
    drops.push(database.drop);
    const { pool } = database;
    await migrate(pool, KV_SCHEMA);
    const log = new ReplicationLog(pool, 2);
    await log.migrate();
    await pool.query("INSERT INTO kv VALUES ('old', 'x')");
    await pool.query(
      "INSERT INTO replication_log (log_index, term, lamport, op, payload) VALUES (7, 1, 1, 'kv.put', '{}')",
    );
    await pool.query(
      'UPDATE replication_state SET current_term = 1, leader_id = 1, last_index = 7, last_term = 1, commit_index = 7, applied_index = 7',
    );
    const installer = (beforeSwap?: () => Promise<void>) =>
      new SnapshotInstaller({
        log,
        machine: new KvMachine(),
        logger,
        onLeader: () => undefined,
        ...(beforeSwap === undefined ? {} : { beforeSwap }),
      });
    const first = installer();
    await first.accept(3, 1, chunk({ lastKey: ['a'], rows: rowsOf(['a', '1']) }));
    await first.accept(3, 1, chunk({ after: ['a'], lastKey: ['b'], rows: rowsOf(['b', '2']) }));
    const kv = async () => {
      const [rows] = await pool.query<RowDataPacket[]>('SELECT k, v FROM kv ORDER BY k');
      return rows.map((row) => `${String(row.k)}=${String(row.v)}`);
    };
    const tables = async () => {
      const [rows] = await pool.query<RowDataPacket[]>("SHOW TABLES LIKE 'kv%'");
      return rows.map((row) => String(Object.values(row)[0])).sort();
    };
    /** The replaced tables are dropped after the answer, in the background: wait for it. */
    const tablesOnceSettled = async () => {
      for (let i = 0; i < 200 && (await tables()).includes('kv_old'); i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      return tables();
    };
    return { pool, log, installer, first, kv, tables, tablesOnceSettled };
  }

  it('stages chunks without touching the live table; a chunk that does not continue is refused', async () => {
    const node = await nodeWithHalfASnapshot();
    expect(await node.kv()).toEqual(['old=x']);
    expect(await node.tables()).toEqual(['kv', 'kv_staging']);
    await expect(
      node.first.accept(3, 1, chunk({ after: ['zz'], lastKey: ['zzz'], rows: rowsOf(['zzz', '9']) })),
    ).rejects.toBeInstanceOf(FailedPreconditionError);
    expect(await node.installer().stored()).toEqual({
      snapshotId: 'snap-1',
      cursor: { table: 'kv', key: ['b'] },
    });
    // An older term is refused before anything is stored.
    expect(await node.first.accept(0, 1, chunk({ after: ['b'], done: true }))).toMatchObject({
      success: false,
    });
  });

  it('the done chunk swaps the staged rows in and moves every position in one step', async () => {
    const node = await nodeWithHalfASnapshot();
    expect(await node.first.accept(3, 1, chunk({ after: ['b'], done: true }))).toEqual({
      term: 3,
      success: true,
      matchIndex: 40,
    });
    expect(await node.kv()).toEqual(['a=1', 'b=2']);
    expect(await node.tablesOnceSettled()).toEqual(['kv']);
    expect(await node.log.state()).toMatchObject({
      currentTerm: 3,
      leaderId: 1,
      lastIndex: 40,
      appliedIndex: 40,
      snapshotIndex: 40,
      snapshotTerm: 3,
    });
    expect(await node.log.entries(1, 100)).toEqual([]);
    expect(await node.installer().stored()).toBeUndefined();
    // Offered again (the answer was lost): nothing to send. A different history at 40 is not "held".
    expect(await node.installer().offer(3, 1, { ...HEADER, snapshotId: 'snap-2' })).toMatchObject({
      accepted: true,
      installed: true,
    });
    expect(
      await node.installer().offer(3, 1, { snapshotId: 'snap-3', lastIndex: 40, lastTerm: 2 }),
    ).toMatchObject({ accepted: true, installed: false, resume: { table: '' } });
  });

  it.each([
    ['after every row was staged, before the rename', false],
    ['after the rename, before the positions moved', true],
  ])('recovery at start finishes an install a crash interrupted %s', async (_, renamed) => {
    const node = await nodeWithHalfASnapshot();
    // Step 1 of the swap (the done chunk's transaction), then the crash; or step 3 as well.
    await node.pool.query('UPDATE replication_snapshot_receive SET complete = 1');
    if (renamed) await node.pool.query('RENAME TABLE kv TO kv_old, kv_staging TO kv');
    await node.installer().recover();
    expect(await node.kv()).toEqual(['a=1', 'b=2']);
    expect(await node.tablesOnceSettled()).toEqual(['kv']);
    expect(await node.log.state()).toMatchObject({ lastIndex: 40, appliedIndex: 40, snapshotIndex: 40 });
    expect(await node.log.entries(1, 100)).toEqual([]);
    // Recovering again changes nothing.
    await node.installer().recover();
    expect(await node.kv()).toEqual(['a=1', 'b=2']);
  });
});

describe("snapshot installer and the node's own long reads", () => {
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const drop of drops) await drop();
  });

  it("the swap first ends the node's own read points (beforeSwap): it does not wait on them", async () => {
    const database = await freshDatabase('snapself');
    drops.push(database.drop);
    const { pool } = database;
    await migrate(pool, KV_SCHEMA);
    const log = new ReplicationLog(pool, 2);
    await log.migrate();
    // A read point this node serves snapshots from: a consistent-read transaction that read the live
    // table, so it holds the table's metadata lock until it ends (SnapshotSource does exactly this).
    const reader = await pool.getConnection();
    await reader.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
    await reader.query('SELECT COUNT(*) FROM kv');
    let ended = false;
    const installer = new SnapshotInstaller({
      log,
      machine: new KvMachine(),
      logger,
      onLeader: () => undefined,
      beforeSwap: async () => {
        await reader.query('COMMIT');
        ended = true;
      },
    });
    try {
      await installer.accept(3, 1, chunk({ lastKey: ['a'], rows: rowsOf(['a', '1']) }));
      expect(await installer.accept(3, 1, chunk({ after: ['a'], done: true }))).toMatchObject({
        success: true,
        matchIndex: 40,
      });
      expect(ended).toBe(true);
      const [rows] = await pool.query<RowDataPacket[]>('SELECT k, v FROM kv');
      expect(rows.map((row) => `${String(row.k)}=${String(row.v)}`)).toEqual(['a=1']);
    } finally {
      reader.release();
    }
  });
});

describe('keyset condition', () => {
  it('spells (a, b) > (x, y) with a leading range on a', () => {
    expect(keyAfter(['a', 'b'], ['x', 'y'])).toEqual({
      sql: 'a >= ? AND (a > ? OR (a = ? AND (b > ?)))',
      values: ['x', 'x', 'x', 'y'],
    });
    expect(keyAfter(['k'], ['x'])).toEqual({ sql: 'k >= ? AND (k > ?)', values: ['x', 'x'] });
  });
});
