import type { RowDataPacket } from 'mysql2/promise';
import { compactionPoint } from '../compaction';
import { TestCluster } from './cluster';

/*
 * The log stays bounded (compaction.ts): the rule as a function, then three real nodes whose logs,
 * the master's and the slaves', stay within two retentions while writes go on.
 */

describe('compaction policy', () => {
  it('keeps the newest `retain` entries and compacts in steps of `retain`', () => {
    const at = (safe: number, last: number, compactedThrough: number) =>
      compactionPoint({ safe, last, compactedThrough, retain: 10 });
    expect(at(15, 15, 0)).toBeUndefined(); // 15 entries: not yet two retentions
    expect(at(20, 20, 0)).toBe(10); // keeps 10..20's newest ten
    expect(at(29, 29, 10)).toBeUndefined(); // less than a retention since the last step
    expect(at(30, 30, 10)).toBe(20);
  });

  it('never drops what is not committed and applied here', () => {
    expect(compactionPoint({ safe: 12, last: 100, compactedThrough: 0, retain: 10 })).toBe(12);
    expect(compactionPoint({ safe: 5, last: 100, compactedThrough: 0, retain: 10 })).toBeUndefined();
  });
});

describe('bounded logs', () => {
  let cluster: TestCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  it('every node, master and slaves, keeps between one and two retentions of entries', async () => {
    const retain = 8;
    const c = (cluster = await new TestCluster({ retainEntries: retain, maxBatch: 4 }).start());
    await c.node(1).replication.becomeMaster(1);
    for (let i = 0; i < 60; i++)
      await c.node(1).replication.replicate(await c.write(1, { op: 'kv.put', k: `k${i % 5}`, v: `${i}` }));
    const { lastIndex } = await c.node(1).replication.log.state();
    for (const id of [1, 2, 3])
      await c.eventually(async () => {
        const state = await c.node(id).replication.log.state();
        const [rows] = await c
          .node(id)
          .pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM replication_log');
        const held = Number(rows[0]?.n);
        expect(state.appliedIndex).toBe(lastIndex);
        expect(state.snapshotIndex).toBeGreaterThan(0);
        expect(held).toBe(state.lastIndex - state.snapshotIndex);
        expect(held).toBeGreaterThanOrEqual(retain);
        expect(held).toBeLessThan(2 * retain + 4);
      });
    expect(await c.checksum(2)).toBe(await c.checksum(1));
    expect(await c.checksum(3)).toBe(await c.checksum(1));
  }, 60_000);
});
