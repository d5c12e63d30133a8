import pino from 'pino';
import { LamportClock } from '../../common/lamport';
import { migrate } from '../../common/mysql';
import type { AppendArgs, AppendResult } from '../follower';
import { GrpcReplicationPeer } from '../transport';
import type { ReplicationPeer } from '../transport';
import type { NodeId } from '../types';
import { TestCluster, secret } from './cluster';
import { KV_SCHEMA } from './kv-machine';

/*
 * A slave whose log is behind what the master recorded as matched: its database was wiped, or
 * restored from an older backup, while it was down. The master must notice from the slave's first
 * refusal and rebuild it (from the start of its log, or by a snapshot once that is compacted)
 * instead of resending the same refused Append for ever. Counts, not times: the master's peers
 * count the Appends the slave refused.
 */

const TABLES = ['kv', 'replication_log', 'replication_state'];

/** What the master's calls to one slave came back with. */
interface Tally {
  refused: number;
  snapshots: number;
}

/** A real gRPC peer that counts refused Appends and sent snapshots per slave. */
class CountingPeer implements ReplicationPeer {
  constructor(
    private readonly inner: ReplicationPeer,
    private readonly tally: Tally,
  ) {}

  async append(args: AppendArgs, timeoutMs: number): Promise<AppendResult> {
    const result = await this.inner.append(args, timeoutMs);
    if (!result.success) this.tally.refused++;
    return result;
  }

  offerSnapshot(
    ...args: Parameters<ReplicationPeer['offerSnapshot']>
  ): ReturnType<ReplicationPeer['offerSnapshot']> {
    return this.inner.offerSnapshot(...args);
  }

  /** One transfer of a snapshot's chunks (a resumed one counts again). */
  installSnapshot(
    ...args: Parameters<ReplicationPeer['installSnapshot']>
  ): ReturnType<ReplicationPeer['installSnapshot']> {
    this.tally.snapshots++;
    return this.inner.installSnapshot(...args);
  }

  fetch(...args: Parameters<ReplicationPeer['fetch']>): ReturnType<ReplicationPeer['fetch']> {
    return this.inner.fetch(...args);
  }

  fetchSnapshot(
    ...args: Parameters<ReplicationPeer['fetchSnapshot']>
  ): ReturnType<ReplicationPeer['fetchSnapshot']> {
    return this.inner.fetchSnapshot(...args);
  }

  close(): void {
    this.inner.close();
  }
}

describe('a slave behind the match the master remembers', () => {
  const clusters: TestCluster[] = [];
  const tallies = new Map<NodeId, Tally>();
  const tally = (id: NodeId): Tally => {
    const found = tallies.get(id) ?? { refused: 0, snapshots: 0 };
    tallies.set(id, found);
    return found;
  };
  const cluster = (options: { retainEntries?: number; maxBatch?: number } = {}) => {
    const made = new TestCluster({
      ...options,
      peerFactory: (id, address) =>
        new CountingPeer(
          new GrpcReplicationPeer(address, secret, new LamportClock(), pino({ level: 'silent' })),
          tally(id),
        ),
    });
    clusters.push(made);
    return made.start();
  };
  beforeEach(() => tallies.clear());
  afterAll(async () => {
    for (const made of clusters) await made.stop();
  });

  const put = async (c: TestCluster, from: number, to: number): Promise<void> => {
    for (let i = from; i < to; i++)
      await c.node(1).replication.replicate(await c.write(1, { op: 'kv.put', k: `k${i % 7}`, v: `${i}` }));
  };

  /** Waits until node `id` holds the master's whole state and the master knows it matches. */
  const rebuilt = async (c: TestCluster, id: NodeId): Promise<void> => {
    await c.eventually(async () => {
      const { lastIndex } = await c.node(1).replication.log.state();
      expect(await c.checksum(id)).toBe(await c.checksum(1));
      expect((await c.node(id).replication.log.state()).appliedIndex).toBe(lastIndex);
      const lag = c
        .node(1)
        .replication.status()
        .slaves.find((slave) => slave.nodeId === id);
      expect(lag?.matchIndex).toBe(lastIndex);
    });
  };

  /** The node's database as after DROP DATABASE and a fresh start: every table empty or new. */
  const wipe = async (c: TestCluster, id: NodeId): Promise<void> => {
    const { pool } = c.node(id);
    for (const table of TABLES) await pool.query(`DROP TABLE ${table}`);
    await migrate(pool, KV_SCHEMA);
  };

  it('a wiped slave is rebuilt from the start of the log after one refusal, and follows again', async () => {
    const c = await cluster();
    await c.node(1).replication.becomeMaster(1);
    await put(c, 0, 20);
    await rebuilt(c, 3);
    await c.down(3);
    await wipe(c, 3);
    await c.restart(3);
    await rebuilt(c, 3);
    // One refusal tells the master where the slave's log ends; a probe stuck on the old match
    // would be refused thousands of times while this test waits.
    expect(tally(3).refused).toBeLessThanOrEqual(2);
    expect(tally(3).snapshots).toBe(0);
    await put(c, 20, 25);
    await rebuilt(c, 3);
  });

  it('a wiped slave is rebuilt by a snapshot when the log it needs is compacted', async () => {
    const c = await cluster({ retainEntries: 5, maxBatch: 4 });
    await c.node(1).replication.becomeMaster(1);
    await put(c, 0, 30);
    await rebuilt(c, 3);
    await c.eventually(async () =>
      expect((await c.node(1).replication.log.state()).snapshotIndex).toBeGreaterThan(1),
    );
    await c.down(3);
    await wipe(c, 3);
    await c.restart(3);
    await rebuilt(c, 3);
    expect(tally(3).refused).toBeLessThanOrEqual(2);
    expect(tally(3).snapshots).toBeGreaterThanOrEqual(1);
    expect((await c.node(3).replication.log.state()).snapshotIndex).toBeGreaterThan(1);
  });

  it('a slave restored from an older backup resumes after the end of its old log', async () => {
    const c = await cluster();
    await c.node(1).replication.becomeMaster(1);
    await put(c, 0, 10);
    await rebuilt(c, 3);
    const { pool } = c.node(3);
    await c.down(3);
    for (const table of TABLES) await pool.query(`CREATE TABLE backup_${table} AS SELECT * FROM ${table}`);
    const backedUp = (await c.node(3).replication.log.state()).lastIndex;
    await c.restart(3);
    await put(c, 10, 20);
    await rebuilt(c, 3);
    await c.down(3);
    for (const table of TABLES) {
      await pool.query(`DELETE FROM ${table}`);
      await pool.query(`INSERT INTO ${table} SELECT * FROM backup_${table}`);
    }
    await c.restart(3);
    expect((await c.node(3).replication.log.state()).lastIndex).toBe(backedUp);
    await rebuilt(c, 3);
    expect(tally(3).refused).toBeLessThanOrEqual(2);
    expect(tally(3).snapshots).toBe(0);
  });
});
