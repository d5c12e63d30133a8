import pino from 'pino';
import { LamportClock } from '../../common/lamport';
import type { AppendArgs, AppendResult } from '../follower';
import type { OfferResult } from '../snapshot-install';
import { START } from '../snapshot-source';
import type { OfferArgs } from '../wire';
import { GrpcReplicationPeer } from '../transport';
import type { ReplicationPeer } from '../transport';
import type { NodeId } from '../types';
import { TestCluster, secret } from './cluster';

/*
 * A slave that refuses without telling the master anything new (here: one that keeps answering
 * "not you" in the master's own term, as a node does that believes another master holds the term)
 * must not be asked again at once, nor once per write: only at the next heartbeat. The heartbeat is
 * a minute long, so every call the test counts comes from a retry at once or from a write's kick.
 */

/** Node 3 as the master sees it: it refuses every Append, or asks for a snapshot and refuses that. */
class RefusingSlave implements ReplicationPeer {
  appends = 0;
  snapshots = 0;

  constructor(private readonly asks: 'nothing' | 'a snapshot') {}

  async append(args: AppendArgs): Promise<AppendResult> {
    this.appends++;
    const snapshotNeeded = this.asks === 'a snapshot';
    return { term: args.term, success: false, matchIndex: 0, conflictIndex: 0, snapshotNeeded };
  }

  /** Refuses every offer in the master's own term (it believes another node leads it). */
  async offerSnapshot(args: OfferArgs): Promise<OfferResult> {
    this.snapshots++;
    return { term: args.term, accepted: false, installed: false, resume: START };
  }

  installSnapshot(): never {
    throw new Error('an offer was refused: nothing is streamed');
  }

  fetch(): never {
    throw new Error('not a catch-up source');
  }

  fetchSnapshot(): never {
    throw new Error('not a catch-up source');
  }

  close(): void {}
}

describe('refusals that teach the master nothing', () => {
  const clusters: TestCluster[] = [];
  afterAll(async () => {
    for (const made of clusters) await made.stop();
  });

  /** Node 1 master, node 2 a real slave (the majority), node 3 `slave`; 20 acknowledged writes. */
  const writeThrough = async (slave: RefusingSlave): Promise<void> => {
    const c = new TestCluster({
      heartbeatMs: 60_000,
      peerFactory: (id: NodeId, address: string) =>
        id === 3
          ? slave
          : new GrpcReplicationPeer(address, secret, new LamportClock(), pino({ level: 'silent' })),
    });
    clusters.push(c);
    await c.start();
    await c.node(1).replication.becomeMaster(1);
    for (let i = 0; i < 20; i++)
      await c.node(1).replication.replicate(await c.write(1, { op: 'kv.put', k: `k${i}`, v: `${i}` }));
  };

  it('a refused Append without a hint is not resent at once or on each write', async () => {
    const slave = new RefusingSlave('nothing');
    await writeThrough(slave);
    expect(slave.appends).toBe(1);
  });

  it('a refused snapshot is not sent again on each write', async () => {
    const slave = new RefusingSlave('a snapshot');
    await writeThrough(slave);
    expect(slave.appends).toBe(1);
    expect(slave.snapshots).toBe(1);
  });
});
