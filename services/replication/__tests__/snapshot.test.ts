import type { RowDataPacket } from 'mysql2/promise';
import pino from 'pino';
import { LamportClock } from '../../common/lamport';
import type { Pool } from '../../common/mysql';
import type { FetchSnapshotArgs } from '../catch-up';
import { GrpcReplicationPeer } from '../transport';
import type { ReplicationPeer } from '../transport';
import type { NodeId, SnapshotChunk, SnapshotCursor } from '../types';
import type { SentChunk } from '../wire';
import { TestCluster, secret } from './cluster';

/*
 * Snapshots between real nodes (own MariaDB database and gRPC server each) with peer messages capped
 * at 64 KiB: a state of a few megabytes only gets across in chunks. The peers are the real gRPC
 * peers, wrapped to drop or stall a stream at a chosen point; every wait polls for an outcome.
 */

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const SMALL_MESSAGES = 64 * 1024;
/** 4,000 rows of ~310 bytes: ~1.2 MB, over sixteen times the message cap. */
const FILL = { op: 'kv.fill', k: 'row', v: 'x'.repeat(300), count: 4000 } as const;

/** What the wrapped peers saw, and what they are told to do to the next snapshot stream. */
interface Plan {
  offers: { to: NodeId; snapshotId: string; resume: SnapshotCursor }[];
  pulls: FetchSnapshotArgs[];
  /** Streams still to drop (push or pull), each once the receiver stored a chunk and `after` went by. */
  drops: number;
  after: number;
  /** While set, a stream stalls after `after` chunks until it resolves. */
  gate: Promise<void> | undefined;
  gateReached: boolean;
}

const newPlan = (): Plan => ({
  offers: [],
  pulls: [],
  drops: 0,
  after: 5,
  gate: undefined,
  gateReached: false,
});

/** Rows the receiving node has in staging so far (0 before any). */
async function staged(pool: Pool): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT row_count FROM replication_snapshot_receive');
  return Number(rows[0]?.row_count ?? 0);
}

async function* interfere<T>(chunks: AsyncIterable<T>, plan: Plan, receiver: () => Pool): AsyncGenerator<T> {
  let sent = 0;
  for await (const chunk of chunks) {
    if (sent === plan.after && (plan.drops > 0 || plan.gate)) {
      // Only once the receiver has stored something, so there is a position to resume from.
      while ((await staged(receiver())) === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      if (plan.gate) {
        plan.gateReached = true;
        await plan.gate;
      } else {
        plan.drops -= 1;
        throw new Error('test: the snapshot stream drops');
      }
    }
    sent += 1;
    yield chunk;
  }
}

function wrappedPeers(plan: Plan, cluster: () => TestCluster, self: () => NodeId | undefined) {
  return (id: NodeId, address: string): ReplicationPeer => {
    const real = new GrpcReplicationPeer(address, secret, new LamportClock(), logger, 1000, SMALL_MESSAGES);
    return {
      append: (args, timeoutMs) => real.append(args, timeoutMs),
      fetch: (args, timeoutMs) => real.fetch(args, timeoutMs),
      offerSnapshot: async (args, timeoutMs) => {
        const offer = await real.offerSnapshot(args, timeoutMs);
        plan.offers.push({ to: id, snapshotId: args.snapshotId, resume: offer.resume });
        return offer;
      },
      installSnapshot: (sender, chunks, options) =>
        real.installSnapshot(
          sender,
          interfere<SnapshotChunk>(chunks, plan, () => cluster().node(id).pool),
          options,
        ),
      fetchSnapshot: (args, options) => {
        plan.pulls.push(args);
        const puller = self();
        if (puller === undefined) throw new Error('test: no puller');
        return interfere<SentChunk>(
          real.fetchSnapshot(args, options),
          plan,
          () => cluster().node(puller).pool,
        );
      },
      close: () => real.close(),
    };
  };
}

async function tablesLike(pool: Pool, pattern: string): Promise<string[]> {
  const [rows] = await pool.query<RowDataPacket[]>('SHOW TABLES LIKE ?', [pattern]);
  return rows.map((row) => String(Object.values(row)[0]));
}

async function kvBytes(pool: Pool): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT SUM(LENGTH(k) + LENGTH(v)) AS n FROM kv');
  return Number(rows[0]?.n ?? 0);
}

describe('streamed snapshots', () => {
  const clusters: TestCluster[] = [];
  afterAll(async () => {
    for (const made of clusters) await made.stop();
  });

  /** A cluster with small messages, a short log, and peers that obey `plan`. */
  const cluster = async (plan: Plan, options: ConstructorParameters<typeof TestCluster>[0] = {}) => {
    let puller: NodeId | undefined;
    const made: TestCluster = new TestCluster({
      retainEntries: 5,
      maxBatch: 4,
      maxMessageBytes: SMALL_MESSAGES,
      snapshotChunkBytes: 16 * 1024,
      snapshotBatchRows: 300,
      snapshotIdleMs: 5000,
      peerFactory: wrappedPeers(
        plan,
        () => made,
        () => puller,
      ),
      ...options,
    });
    clusters.push(made);
    await made.start();
    return { c: made, pullAs: (id: NodeId) => (puller = id) };
  };

  /** Node 1 masters term 1; node 3 misses a large fill and enough writes to be behind the compacted log. */
  async function largeStateWithNode3Behind(c: TestCluster): Promise<void> {
    await c.node(1).replication.becomeMaster(1);
    await c.node(1).replication.replicate(await c.write(1, { op: 'kv.put', k: 'x', v: 'old' }));
    await c.eventually(async () => expect(await c.kv(3)).toEqual({ x: 'old' }));
    await c.down(3);
    await c.node(1).replication.replicate(await c.write(1, FILL));
    for (let i = 0; i < 12; i++)
      await c.node(1).replication.replicate(await c.write(1, { op: 'kv.put', k: `k${i % 3}`, v: `${i}` }));
    await c.eventually(async () =>
      expect((await c.node(1).replication.log.state()).snapshotIndex).toBeGreaterThan(3),
    );
    expect(await kvBytes(c.node(1).pool)).toBeGreaterThan(16 * SMALL_MESSAGES);
  }

  async function expectInstalledLike(c: TestCluster, id: NodeId, source: NodeId): Promise<void> {
    await c.eventually(async () => expect(await c.checksum(id)).toBe(await c.checksum(source)), 60_000);
    const pool = c.node(id).pool;
    await c.eventually(async () => {
      expect(await tablesLike(pool, 'kv\\_%')).toEqual([]);
      expect(await staged(pool)).toBe(0);
    });
    expect((await c.node(id).replication.log.state()).snapshotIndex).toBeGreaterThan(3);
  }

  it('a state sixteen times the peer message cap reaches a slave in chunks and is swapped in whole', async () => {
    const plan = newPlan();
    const { c } = await cluster(plan);
    await largeStateWithNode3Behind(c);
    await c.restart(3);
    await expectInstalledLike(c, 3, 1);
    expect(Object.keys(await c.kv(3))).toHaveLength(FILL.count + 4);
    // After the snapshot the slave follows by entries again.
    await c.node(1).replication.replicate(await c.write(1, { op: 'kv.put', k: 'after', v: 'snapshot' }));
    await c.eventually(async () => expect((await c.kv(3)).after).toBe('snapshot'));
  }, 90_000);

  it('a dropped stream resumes after the last stored key, on the same read point', async () => {
    const plan = { ...newPlan(), drops: 1 };
    const { c } = await cluster(plan);
    await largeStateWithNode3Behind(c);
    await c.restart(3);
    await expectInstalledLike(c, 3, 1);
    expect(plan.drops).toBe(0);
    const [first, second] = plan.offers.filter((offer) => offer.to === 3);
    expect(first?.resume).toEqual({ table: '', key: undefined });
    expect(second?.snapshotId).toBe(first?.snapshotId);
    expect(second?.resume.table).toBe('kv');
    expect(second?.resume.key).toEqual([expect.stringMatching(/^row\d{6}$/)]);
  }, 90_000);

  it('when the sender no longer holds the read point, the receiver starts over from a new one', async () => {
    const plan = { ...newPlan(), drops: 1 };
    // The master keeps a dropped read point open for 1 ms: it is gone by the retry.
    const { c } = await cluster(plan, { snapshotLingerMs: 1 });
    await largeStateWithNode3Behind(c);
    await c.restart(3);
    await expectInstalledLike(c, 3, 1);
    const [first, second] = plan.offers.filter((offer) => offer.to === 3);
    expect(second?.snapshotId).not.toBe(first?.snapshotId);
    expect(second?.resume).toEqual({ table: '', key: undefined });
  }, 90_000);

  it('a stalled snapshot leaves the slave serving its old state; the next one discards the staged rows', async () => {
    let open: () => void = () => undefined;
    const plan: Plan = { ...newPlan(), gate: new Promise<void>((resolve) => (open = resolve)) };
    const { c } = await cluster(plan);
    await largeStateWithNode3Behind(c);
    const before = await c.node(3).replication.log.state();
    await c.restart(3);
    await c.eventually(async () => expect(plan.gateReached).toBe(true));
    // Part of the snapshot is staged; the live table and every position are as they were.
    expect(await staged(c.node(3).pool)).toBeGreaterThan(0);
    expect(await c.kv(3)).toEqual({ x: 'old' });
    expect(await c.node(3).replication.log.state()).toEqual(before);
    // The master's term ends mid-stream; the next master's snapshot is a new one from the start.
    await c.node(1).replication.stepDown();
    plan.gate = undefined;
    open();
    await c.node(1).replication.becomeMaster(2);
    await expectInstalledLike(c, 3, 1);
    const offers = plan.offers.filter((offer) => offer.to === 3);
    const fresh = offers.find((offer) => offer.snapshotId !== offers[0]?.snapshotId);
    expect(fresh?.resume).toEqual({ table: '', key: undefined });
  }, 90_000);

  it('a stream silent for the idle timeout is dropped by the slave and resumed where it got to', async () => {
    let open: () => void = () => undefined;
    const plan: Plan = { ...newPlan(), gate: new Promise<void>((resolve) => (open = resolve)) };
    const { c } = await cluster(plan, { snapshotIdleMs: 500 });
    await largeStateWithNode3Behind(c);
    await c.restart(3);
    await c.eventually(async () => expect(plan.gateReached).toBe(true));
    // Nothing else happens while the stream is silent: a second offer means a side gave up on it.
    await c.eventually(async () =>
      expect(plan.offers.filter((offer) => offer.to === 3).length).toBeGreaterThan(1),
    );
    plan.gate = undefined;
    open();
    await expectInstalledLike(c, 3, 1);
    const offers = plan.offers.filter((offer) => offer.to === 3);
    expect(
      offers.slice(1).some((o) => o.snapshotId === offers[0]?.snapshotId && o.resume.table === 'kv'),
    ).toBe(true);
  }, 90_000);

  it('a slave restarted mid-snapshot resumes where its database says it got to', async () => {
    let open: () => void = () => undefined;
    const plan: Plan = { ...newPlan(), gate: new Promise<void>((resolve) => (open = resolve)) };
    const { c } = await cluster(plan);
    await largeStateWithNode3Behind(c);
    await c.restart(3);
    await c.eventually(async () => expect(plan.gateReached).toBe(true));
    const stored = await staged(c.node(3).pool);
    // The process restarts (its stream dies with it); what it staged is in its database.
    plan.gate = undefined;
    await c.restart(3);
    open();
    await expectInstalledLike(c, 3, 1);
    const offers = plan.offers.filter((offer) => offer.to === 3);
    expect(stored).toBeGreaterThan(0);
    expect(
      offers.slice(1).some((o) => o.snapshotId === offers[0]?.snapshotId && o.resume.table === 'kv'),
    ).toBe(true);
  }, 90_000);

  it('a catch-up pull whose stream drops resumes on the same read point', async () => {
    const plan = { ...newPlan(), drops: 1 };
    const { c, pullAs } = await cluster(plan);
    await largeStateWithNode3Behind(c);
    // Node 1 stops shipping (so it pushes nothing); node 3, elected in term 2, pulls from it.
    await c.node(1).replication.stepDown();
    await c.restart(3);
    pullAs(3);
    await c.node(3).replication.catchUpFrom(1, 2, new AbortController().signal);
    expect(await c.checksum(3)).toBe(await c.checksum(1));
    expect(await tablesLike(c.node(3).pool, 'kv\\_%')).toEqual([]);
    expect(plan.drops).toBe(0);
    const [first, second] = plan.pulls;
    expect(first?.resume).toBeUndefined();
    expect(second?.resume?.cursor.table).toBe('kv');
    await c.node(3).replication.becomeMaster(2);
    await c.node(3).replication.replicate(await c.write(3, { op: 'kv.put', k: 'new', v: 'master' }));
    await c.eventually(async () => expect((await c.kv(1)).new).toBe('master'));
  }, 90_000);
});
