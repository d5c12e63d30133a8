import { UnavailableError } from '../../common/errors';
import { TestCluster } from './cluster';

/*
 * Catch-up before serving (election/README.md): a node elected master copies the newest log of its
 * majority before it takes over. Real nodes (own MariaDB database and gRPC server each); the
 * election is played by the test, which calls catchUpFrom / becomeMaster as cluster.ts does.
 */

let fence = 0;

/**
 * A write on node 1 and its wait for acks: 'acknowledged', or the error. A fenced node may refuse
 * at the append (a heartbeat already met the fence) or when waiting for acks, depending on timing.
 */
function writeOnNode1(c: TestCluster, v: string): Promise<unknown> {
  return c
    .write(1, { op: 'kv.put', k: 'x', v })
    .then((index) => c.node(1).replication.replicate(index, 2000))
    .then(
      () => 'acknowledged',
      (error: unknown) => error,
    );
}

describe('catch-up of a newly elected master', () => {
  const clusters: TestCluster[] = [];
  const cluster = async (options: ConstructorParameters<typeof TestCluster>[0] = {}) => {
    const made = new TestCluster(options);
    clusters.push(made);
    return made.start();
  };
  const never = () => new AbortController().signal;
  afterAll(async () => {
    for (const made of clusters) await made.stop();
  });
  beforeEach(() => {
    fence = 0;
  });

  it('a new master that missed acknowledged entries copies them from a more up-to-date voter before serving', async () => {
    const c = await cluster();
    await c.node(1).replication.becomeMaster(1);
    await c.down(3);
    for (const v of ['a', 'b', 'c'])
      await c.node(1).replication.replicate(await c.write(1, { op: 'kv.append', k: 's', v }));
    await c.down(1);
    // Node 3 comes back empty and is elected in term 2 by {3, 2}; node 2 has every acknowledged entry.
    await c.restart(3);
    expect(await c.kv(3)).toEqual({});
    const reached = await c.node(3).replication.catchUpFrom(2, 2, never());
    expect(reached).toBe((await c.node(2).replication.log.state()).lastIndex);
    await c.node(3).replication.becomeMaster(2);
    expect(await c.kv(3)).toEqual({ s: 'abc' });
    await c.node(3).replication.replicate(await c.write(3, { op: 'kv.append', k: 's', v: 'd' }));
    await c.eventually(async () => expect(await c.kv(2)).toEqual({ s: 'abcd' }));
    expect(await c.checksum(2)).toBe(await c.checksum(3));
  });

  it('the catch-up source records the new term, so the old master can no longer get acknowledgements', async () => {
    const c = await cluster();
    await c.node(1).replication.becomeMaster(1);
    await c.node(1).replication.replicate(await c.write(1, { op: 'kv.put', k: 'x', v: 'old' }));
    await c.eventually(async () => expect(await c.kv(3)).toEqual({ x: 'old' }));
    // Node 3 is elected in term 2 and copies from node 2 while node 1 still thinks it is master.
    await c.node(3).replication.catchUpFrom(2, 2, never());
    expect((await c.node(2).replication.log.state()).currentTerm).toBe(2);
    expect(await writeOnNode1(c, 'late')).toBeInstanceOf(UnavailableError);
    await c.eventually(async () => expect(c.node(1).replication.status().role).toBe('slave'));
    await c.node(3).replication.becomeMaster(2);
    await c.eventually(async () => expect(await c.kv(1)).toEqual({ x: 'old' }));
  });

  it("a deposed master whose applied state holds an unacknowledged tail catches up by the source's snapshot", async () => {
    const c = await cluster();
    await c.node(1).replication.becomeMaster(1);
    for (const v of ['a', 'b'])
      await c.node(1).replication.replicate(await c.write(1, { op: 'kv.append', k: 's', v }));
    await c.eventually(async () => expect(await c.kv(2)).toEqual({ s: 'ab' }));
    await c.down(2);
    await c.down(3);
    const tail = await c.write(1, { op: 'kv.append', k: 's', v: 'X' });
    await expect(c.node(1).replication.replicate(tail, 200)).rejects.toBeInstanceOf(UnavailableError);
    await c.down(1);
    await c.restart(2);
    await c.node(2).replication.becomeMaster(2);
    await c.down(3);
    for (const v of ['c', 'd'])
      await c
        .node(2)
        .replication.replicate(
          await c.write(2, { op: 'kv.append', k: 's', v }),
          // Only node 2 is up: async policy would do; here the write is simply applied and logged.
          1,
        )
        .catch(() => undefined);
    await c.restart(3);
    await c.eventually(async () => expect(await c.kv(3)).toEqual({ s: 'abcd' }));
    // Node 2 dies; node 1 returns and is elected in term 3 with node 3, the most up-to-date voter.
    await c.down(2);
    await c.restart(1);
    expect(await c.kv(1)).toEqual({ s: 'abX' });
    await c.node(1).replication.catchUpFrom(3, 3, never());
    await c.node(1).replication.becomeMaster(3);
    expect(await c.kv(1)).toEqual({ s: 'abcd' });
    expect(await c.checksum(1)).toBe(await c.checksum(3));
  });

  it('a slave that voted for a newer term (fenceTerm) refuses the older master, which steps down', async () => {
    const c = await cluster({ fenceTerm: () => fence });
    await c.node(1).replication.becomeMaster(1);
    await c.node(1).replication.replicate(await c.write(1, { op: 'kv.put', k: 'x', v: '1' }));
    fence = 2;
    expect(await writeOnNode1(c, '2')).toBeInstanceOf(UnavailableError);
    await c.eventually(async () => expect(c.node(1).replication.status().role).toBe('slave'));
  });

  it('a slave acknowledges an entry only once the position the election reads includes it', async () => {
    const c = await cluster({ policy: 'all' });
    await c.node(1).replication.becomeMaster(1);
    for (let i = 0; i < 5; i++) {
      const index = await c.write(1, { op: 'kv.put', k: `k${i}`, v: 'v' });
      await c.node(1).replication.replicate(index);
      for (const id of [2, 3])
        expect(c.node(id).replication.logView().position()).toEqual({ lastTerm: 1, lastIndex: index });
    }
  });

  it('a catch-up whose source is down keeps retrying until it is cancelled', async () => {
    const c = await cluster({ rpcTimeoutMs: 200 });
    await c.down(2);
    const controller = new AbortController();
    const pending = c.node(3).replication.catchUpFrom(2, 2, controller.signal);
    setTimeout(() => controller.abort(), 500);
    await expect(pending).rejects.toThrow(/cancelled/);
  });
});
