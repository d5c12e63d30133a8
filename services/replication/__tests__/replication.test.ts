import { status as Code } from '@grpc/grpc-js';
import pino from 'pino';
import { UnavailableError } from '../../common/errors';
import { LamportClock } from '../../common/lamport';
import { withTransaction } from '../../common/mysql';
import { ClusterSecret } from '../../common/peer-auth';
import { GrpcReplicationPeer } from '../transport';
import { TestCluster, secret } from './cluster';

/*
 * Three real nodes (own MariaDB database, own gRPC server on 127.0.0.1 each). Nothing here asserts a
 * duration: waits poll for an outcome, and timeouts only bound how long a refusal takes to arrive.
 */

async function entriesOf(cluster: TestCluster, id: number) {
  const node = cluster.node(id).replication;
  const state = await node.log.state();
  const entries = await node.log.entries(state.snapshotIndex + 1, state.lastIndex);
  return {
    state,
    entries: entries.map((e) => ({ term: e.term, index: e.index, op: e.op, payload: e.payload })),
  };
}

describe('replication between three nodes', () => {
  const clusters: TestCluster[] = [];
  const cluster = async (options: ConstructorParameters<typeof TestCluster>[0] = {}) => {
    const made = new TestCluster(options);
    clusters.push(made);
    return made.start();
  };
  afterAll(async () => {
    for (const made of clusters) await made.stop();
  });

  it('entries appended in the master transaction reach both slaves in order and are applied', async () => {
    const c = await cluster();
    await c.node(1).replication.becomeMaster(1);
    for (let i = 0; i < 10; i++) {
      const index = await c.write(1, { op: 'kv.append', k: 'seq', v: `${i},` });
      await c.node(1).replication.replicate(index);
    }
    const master = await entriesOf(c, 1);
    for (const id of [2, 3]) {
      await c.eventually(async () => {
        expect(await c.kv(id)).toEqual(await c.kv(1));
        expect(await entriesOf(c, id)).toEqual({
          state: expect.objectContaining({
            lastIndex: master.state.lastIndex,
            appliedIndex: master.state.lastIndex,
          }),
          entries: master.entries,
        });
      });
    }
    expect((await c.kv(2)).seq).toBe('0,1,2,3,4,5,6,7,8,9,');
    const status = c.node(1).replication.status();
    expect(status).toMatchObject({ role: 'master', term: 1, commitIndex: master.state.lastIndex });
    expect(status.slaves.map((s) => [s.nodeId, s.matchIndex, s.lagEntries])).toEqual([
      [2, master.state.lastIndex, 0],
      [3, master.state.lastIndex, 0],
    ]);
    expect(c.node(2).replication.status()).toMatchObject({ role: 'slave', term: 1, slaves: [] });
  });

  it('majority acknowledges with one slave down; all does not and fails with UNAVAILABLE', async () => {
    const majority = await cluster({ policy: 'majority' });
    await majority.node(1).replication.becomeMaster(1);
    await majority.down(3);
    const index = await majority.write(1, { op: 'kv.put', k: 'a', v: '1' });
    await expect(majority.node(1).replication.replicate(index)).resolves.toBeUndefined();

    const all = await cluster({ policy: 'all' });
    await all.node(1).replication.becomeMaster(1);
    await all.down(3);
    const other = await all.write(1, { op: 'kv.put', k: 'a', v: '1' });
    const refused = all.node(1).replication.replicate(other, 300);
    await expect(refused).rejects.toBeInstanceOf(UnavailableError);
    await expect(refused).rejects.toMatchObject({ code: Code.UNAVAILABLE });
  });

  it('a restarted slave catches up from its applied position', async () => {
    const c = await cluster();
    await c.node(1).replication.becomeMaster(1);
    await c.node(1).replication.replicate(await c.write(1, { op: 'kv.append', k: 's', v: 'a' }));
    await c.eventually(async () => expect(await c.kv(3)).toEqual({ s: 'a' }));
    await c.down(3);
    for (const v of ['b', 'c', 'd'])
      await c.node(1).replication.replicate(await c.write(1, { op: 'kv.append', k: 's', v }));
    expect(await c.kv(3)).toEqual({ s: 'a' });
    await c.restart(3);
    await c.eventually(async () => expect(await c.kv(3)).toEqual({ s: 'abcd' }));
    // Applied once each: a replay of already-applied entries would have doubled letters.
    const { state } = await entriesOf(c, 3);
    expect(state.appliedIndex).toBe((await entriesOf(c, 1)).state.lastIndex);
  });

  it('a slave refuses a lower-term Append, and the old master learns the higher term and stops', async () => {
    const c = await cluster();
    await c.node(1).replication.becomeMaster(1);
    const oldIndex = await c.write(1, { op: 'kv.put', k: 'x', v: 'old' });
    await c.node(1).replication.replicate(oldIndex);
    // Node 2 is about to be made master by hand: like an election with catch-up, give it the log first.
    await c.eventually(async () =>
      expect((await c.node(2).replication.log.state()).lastIndex).toBeGreaterThanOrEqual(oldIndex),
    );
    // Node 1 is cut off from the new master (its server is down) but can still reach node 3.
    await c.node(1).server?.stop(0);
    await c.node(2).replication.becomeMaster(2);
    await c.node(2).replication.replicate(await c.write(2, { op: 'kv.put', k: 'x', v: 'new' }));
    await c.eventually(async () => expect((await c.node(3).replication.log.state()).currentTerm).toBe(2));

    // The old master's next Append (a heartbeat or an entry) is refused with term 2: it steps down.
    const old = c.node(1).replication;
    await c.eventually(async () => expect(old.isMaster).toBe(false));
    expect((await old.log.state()).currentTerm).toBe(2);
    expect(old.status()).toMatchObject({ role: 'slave', term: 2 });
    await expect(old.replicate(1)).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    // Fenced at the source too: no more term-1 entries, even straight at the log.
    await expect(c.write(1, { op: 'kv.put', k: 'y', v: 'z' })).rejects.toMatchObject({
      code: Code.UNAVAILABLE,
    });
    await expect(
      withTransaction(c.node(1).pool, (connection) =>
        old.log.appendInTransaction(connection, { term: 1, lamport: 1, op: 'kv.put', payload: '{}' }),
      ),
    ).rejects.toBeInstanceOf(UnavailableError);

    // What the slave answers a term-1 Append, seen on the wire.
    const peer = new GrpcReplicationPeer(
      `127.0.0.1:${c.node(3).port}`,
      secret,
      new LamportClock(),
      pino({ level: 'silent' }),
    );
    try {
      const entry = { term: 1, index: 1, lamport: 1, op: 'kv.put', payload: '{"k":"x","v":"stale"}' };
      const answer = await peer.append(
        { term: 1, leaderId: 1, prevIndex: 0, prevTerm: 0, entries: [entry], commitIndex: 0 },
        2000,
      );
      expect(answer).toMatchObject({ term: 2, success: false });
    } finally {
      peer.close();
    }
    const after = await c.node(3).replication.log.entries(1, 100);
    expect(after.some((e) => e.payload.includes('stale'))).toBe(false);
    expect((await c.node(3).replication.log.state()).currentTerm).toBe(2);
    // Node 3 applies once it hears the commit index (next heartbeat).
    await c.eventually(async () => expect((await c.kv(3)).x).toBe('new'));
  });

  it("a deposed master's unacknowledged tail is dropped and replaced by the new master's log and state", async () => {
    const c = await cluster();
    await c.node(1).replication.becomeMaster(1);
    for (const v of ['a', 'b'])
      await c.node(1).replication.replicate(await c.write(1, { op: 'kv.append', k: 's', v }));
    await c.eventually(async () => expect(await c.kv(2)).toEqual({ s: 'ab' }));
    await c.eventually(async () => expect(await c.kv(3)).toEqual({ s: 'ab' }));
    // Node 1 is alone: its next writes reach no slave and are never acknowledged.
    await c.down(2);
    await c.down(3);
    const tail: number[] = [];
    for (const v of ['X', 'Y']) {
      const index = await c.write(1, { op: 'kv.append', k: 's', v });
      tail.push(index);
      await expect(c.node(1).replication.replicate(index, 200)).rejects.toBeInstanceOf(UnavailableError);
    }
    await c.down(1);
    // Nodes 2 and 3 elect node 2 in term 2, which writes different entries at the same indexes.
    await c.restart(2);
    await c.restart(3);
    await c.node(2).replication.becomeMaster(2);
    for (const v of ['c', 'd', 'e'])
      await c.node(2).replication.replicate(await c.write(2, { op: 'kv.append', k: 's', v }));
    const newLog = await entriesOf(c, 2);
    expect(newLog.entries.filter((e) => tail.includes(e.index)).map((e) => e.term)).toEqual([2, 2]);
    // The old master comes back as a slave.
    await c.restart(1);
    await c.eventually(async () => {
      expect(await c.kv(1)).toEqual({ s: 'abcde' });
      const back = await entriesOf(c, 1);
      expect(back.state).toMatchObject({ lastIndex: newLog.state.lastIndex, lastTerm: 2, currentTerm: 2 });
      // Whatever the old node still holds of its log is the new master's, not its own tail.
      expect(newLog.entries).toEqual(expect.arrayContaining(back.entries));
      expect(back.entries.every((e) => !['"X"', '"Y"'].some((v) => e.payload.includes(v)))).toBe(true);
    });
    expect(await c.checksum(1)).toBe(await c.checksum(2));
  });

  it('a slave behind the compacted log catches up from a snapshot, then from entries', async () => {
    const c = await cluster({ retainEntries: 5, maxBatch: 4 });
    await c.node(1).replication.becomeMaster(1);
    await c.down(3);
    for (let i = 0; i < 30; i++)
      await c.node(1).replication.replicate(await c.write(1, { op: 'kv.put', k: `k${i % 7}`, v: `${i}` }));
    await c.eventually(async () =>
      expect((await c.node(1).replication.log.state()).snapshotIndex).toBeGreaterThan(1),
    );
    await c.restart(3);
    await c.eventually(async () => expect(await c.checksum(3)).toBe(await c.checksum(1)));
    expect((await c.node(3).replication.log.state()).snapshotIndex).toBeGreaterThan(1);
    // After the snapshot it follows by entries again.
    await c.node(1).replication.replicate(await c.write(1, { op: 'kv.put', k: 'after', v: 'snapshot' }));
    await c.eventually(async () => expect((await c.kv(3)).after).toBe('snapshot'));
  });

  it("a snapshot larger than gRPC's 4 MiB default still reaches a slave behind the compacted log", async () => {
    const c = await cluster({ retainEntries: 5, maxBatch: 4 });
    await c.node(1).replication.becomeMaster(1);
    await c.down(3);
    const value = 'v'.repeat(60_000);
    for (let i = 0; i < 80; i++)
      await c.node(1).replication.replicate(await c.write(1, { op: 'kv.put', k: `big${i}`, v: value }));
    await c.eventually(async () =>
      expect((await c.node(1).replication.log.state()).snapshotIndex).toBeGreaterThan(70),
    );
    await c.restart(3);
    await c.eventually(async () => expect(await c.checksum(3)).toBe(await c.checksum(1)), 30_000);
    expect(Object.keys(await c.kv(3))).toHaveLength(80);
  }, 60_000);

  it('refuses a peer without the cluster credential before touching the log', async () => {
    const c = await cluster();
    const stranger = new GrpcReplicationPeer(
      `127.0.0.1:${c.node(2).port}`,
      new ClusterSecret('not-the-cluster-secret-at-all'),
      new LamportClock(),
      pino({ level: 'silent' }),
    );
    try {
      const entry = { term: 9, index: 1, lamport: 1, op: 'kv.put', payload: '{"k":"a","v":"b"}' };
      await expect(
        stranger.append(
          { term: 9, leaderId: 1, prevIndex: 0, prevTerm: 0, entries: [entry], commitIndex: 1 },
          2000,
        ),
      ).rejects.toMatchObject({ code: Code.UNAUTHENTICATED });
    } finally {
      stranger.close();
    }
    expect(await c.node(2).replication.log.state()).toMatchObject({ currentTerm: 0, lastIndex: 0 });
  });

  it('concurrent appends get dense ordered indexes and apply in the same order on the slaves', async () => {
    const c = await cluster();
    await c.node(1).replication.becomeMaster(1);
    const indexes = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const index = await c.write(1, { op: 'kv.append', k: 'order', v: `${i};` });
        await c.write(1, { op: 'kv.put', k: `key${i}`, v: String(i) });
        return index;
      }),
    );
    const { state } = await entriesOf(c, 1);
    await c.node(1).replication.replicate(state.lastIndex);
    const sorted = [...indexes].sort((a, b) => a - b);
    expect(new Set(sorted).size).toBe(60);
    const log = await c.node(1).replication.log.entries(1, state.lastIndex);
    expect(log.map((e) => e.index)).toEqual(Array.from({ length: state.lastIndex }, (_, i) => i + 1));
    for (const id of [2, 3])
      await c.eventually(async () => expect(await c.checksum(id)).toBe(await c.checksum(1)));
  });
});
