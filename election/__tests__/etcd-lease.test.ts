import { rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Etcd3 } from 'etcd3';
import { startPrivateEtcd } from '../../scripts/lib/etcd';
import type { PrivateEtcd } from '../../scripts/lib/etcd';
import { freePort } from '../../scripts/lib/processes';
import { EtcdLease, decideWithLease } from '../etcd-lease';
import type { LeaseDecisionInput, LeaseHolder, LeaseLoss } from '../etcd-lease';

// Rules of the etcd fallback lease. The pure decision table first, then EtcdLease against a real,
// private etcd (Debian's 3.4) on free ports. Timings are never asserted: waits poll with generous
// deadlines, so a slow machine makes the suite slower, not red.

const holderOf = (nodeId: number, term = 1): LeaseHolder => ({ nodeId, term, revision: 10 });

function decide(overrides: Partial<LeaseDecisionInput>): ReturnType<typeof decideWithLease> {
  return decideWithLease({
    etcdConfigured: true,
    etcdReachable: true,
    bullyHasQuorum: false,
    newerTermSeen: false,
    leaseHeldBySelf: false,
    leaseHolder: undefined,
    nodeId: 1,
    term: 1,
    ...overrides,
  });
}

describe('decideWithLease', () => {
  it('mode 1, etcd not configured: bully + quorum alone decides, the lease inputs are ignored', () => {
    for (const leaseHeldBySelf of [false, true]) {
      for (const leaseHolder of [undefined, holderOf(2)]) {
        const base = { etcdConfigured: false, etcdReachable: false, leaseHeldBySelf, leaseHolder };
        expect(decide({ ...base, bullyHasQuorum: true })).toBe('serve');
        expect(decide({ ...base, bullyHasQuorum: false })).toBe('stand-by');
      }
    }
  });

  it('mode 3, etcd unreachable: writes are never blocked by etcd, the lease is ignored', () => {
    // Another node's lease in the last read does not stop a quorum master once etcd is gone...
    expect(decide({ etcdReachable: false, bullyHasQuorum: true, leaseHolder: holderOf(2) })).toBe('serve');
    // ...and holding one does not let a node without quorum serve.
    expect(decide({ etcdReachable: false, bullyHasQuorum: false, leaseHeldBySelf: true })).toBe('stand-by');
    for (const rule of ['lease-decides', 'quorum-and-lease'] as const) {
      expect(decide({ etcdReachable: false, bullyHasQuorum: true, rule })).toBe('serve');
      expect(decide({ etcdReachable: false, bullyHasQuorum: false, rule })).toBe('stand-by');
    }
  });

  it('mode 2: nobody serves without holding the lease, whatever the rule', () => {
    for (const rule of ['lease-decides', 'quorum-and-lease'] as const) {
      for (const bullyHasQuorum of [false, true]) {
        expect(decide({ rule, bullyHasQuorum, leaseHolder: holderOf(2) })).not.toBe('serve');
        expect(decide({ rule, bullyHasQuorum, leaseHolder: undefined })).not.toBe('serve');
      }
      expect(decide({ rule, bullyHasQuorum: true, leaseHeldBySelf: true, leaseHolder: holderOf(1) })).toBe(
        'serve',
      );
    }
  });

  it('mode 2: only a bully master with quorum campaigns for a free lease', () => {
    expect(decide({ bullyHasQuorum: true })).toBe('campaign');
    expect(decide({ bullyHasQuorum: false })).toBe('stand-by');
  });

  it('mode 2: a master with quorum takes over a key held in an older term at once, without waiting for its TTL', () => {
    expect(decide({ bullyHasQuorum: true, term: 4, leaseHolder: holderOf(3, 3) })).toBe('campaign');
    // Without quorum nobody takes anything over: the key stays with the last quorum-backed master.
    expect(decide({ bullyHasQuorum: false, term: 4, leaseHolder: holderOf(3, 3) })).toBe('stand-by');
  });

  it('mode 2: a key held in the same or a newer term by another node is waited for', () => {
    expect(decide({ bullyHasQuorum: true, term: 4, leaseHolder: holderOf(3, 4) })).toBe('stand-by');
    expect(decide({ bullyHasQuorum: true, term: 4, leaseHolder: holderOf(3, 5) })).toBe('stand-by');
  });

  it('mode 2: a key this node left in its own term (lapsed, or a previous incarnation) is taken back at once', () => {
    expect(decide({ bullyHasQuorum: true, nodeId: 1, term: 2, leaseHolder: holderOf(1, 2) })).toBe(
      'campaign',
    );
    expect(decide({ bullyHasQuorum: true, nodeId: 1, term: 2, leaseHolder: holderOf(1, 3) })).toBe(
      'stand-by',
    );
  });

  it('mode 2, lease-decides: the holder keeps leading while the bully protocol has no quorum', () => {
    expect(decide({ bullyHasQuorum: false, leaseHeldBySelf: true })).toBe('serve');
  });

  it('mode 2, quorum-and-lease: a holder without quorum stands by (and resigns)', () => {
    expect(decide({ rule: 'quorum-and-lease', bullyHasQuorum: false, leaseHeldBySelf: true })).toBe(
      'stand-by',
    );
  });

  it('mode 2: a holder that saw a newer term resigns, or refreshes the term if it is the new master', () => {
    for (const rule of ['lease-decides', 'quorum-and-lease'] as const) {
      expect(decide({ rule, newerTermSeen: true, bullyHasQuorum: false, leaseHeldBySelf: true })).toBe(
        'stand-by',
      );
      expect(decide({ rule, newerTermSeen: true, bullyHasQuorum: true, leaseHeldBySelf: true })).toBe(
        'campaign',
      );
    }
  });
});

describe('EtcdLease against a real etcd', () => {
  const dir = path.join(__dirname, '..', '..', '.data', 'test', `etcd-${process.pid}`);
  let etcd: PrivateEtcd;
  const opened: EtcdLease[] = [];
  let groupSeq = 0;

  beforeAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    etcd = await startPrivateEtcd({
      dataDir: path.join(dir, 'data'),
      clientPort: await freePort(),
      peerPort: await freePort(),
      logFile: path.join(dir, 'etcd.log'),
    });
  }, 30000);

  afterAll(async () => {
    for (const lease of opened) lease.close();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30000);

  afterEach(() => {
    for (const lease of opened.splice(0)) lease.close();
  });

  /** Each test gets its own key, so tests never see each other's holders. */
  function leasesFor(count: number, overrides: { now?: () => number } = {}): EtcdLease[] {
    groupSeq += 1;
    const group = `test-${process.pid}-${groupSeq}`;
    return Array.from({ length: count }, () => {
      const lease = new EtcdLease({
        endpoints: etcd.endpoint,
        group,
        ttlSeconds: 2,
        callTimeoutMs: 500,
        ...overrides,
      });
      opened.push(lease);
      return lease;
    });
  }

  function nextLoss(lease: EtcdLease, timeoutMs = 15000): Promise<LeaseLoss> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no 'lost' event within ${timeoutMs} ms`)), timeoutMs);
      lease.on('lost', (loss) => {
        clearTimeout(timer);
        resolve(loss);
      });
    });
  }

  async function campaignUntilAcquired(lease: EtcdLease, nodeId: number, term: number): Promise<LeaseHolder> {
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      const result = await lease.campaign(nodeId, term);
      if (result.acquired) return result.holder;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`node ${nodeId} did not acquire the lease within 15 s`);
  }

  it('two campaigners at once: exactly one holds the key, the other learns who does', async () => {
    const [a, b] = leasesFor(2) as [EtcdLease, EtcdLease];
    const [ra, rb] = await Promise.all([a.campaign(1, 5), b.campaign(2, 5)]);
    expect([ra.acquired, rb.acquired].filter(Boolean)).toHaveLength(1);
    const winner = ra.acquired ? ra.holder : rb.holder;
    expect(ra.holder).toEqual(winner);
    expect(rb.holder).toEqual(winner);
    expect(await a.holder()).toEqual(winner);
    expect(await b.holder()).toEqual(winner);
    expect([a.isHeld(), b.isHeld()]).toEqual([ra.acquired, rb.acquired]);
    // A loser asking again in the same term changes nothing (only a newer term takes over).
    const loser = ra.acquired ? b : a;
    expect(await loser.campaign(ra.acquired ? 2 : 1, 5)).toEqual({ acquired: false, holder: winner });
  });

  it('the holder keeps the key across several TTLs by renewing it', async () => {
    const [a, b] = leasesFor(2) as [EtcdLease, EtcdLease];
    const first = await a.campaign(1, 1);
    expect(first.acquired).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 4500));
    expect(a.isHeld()).toBe(true);
    expect(await b.campaign(2, 1)).toEqual({ acquired: false, holder: first.holder });
  });

  it('resign hands over at once, and the fencing token grows with every hand-over', async () => {
    const [a, b] = leasesFor(2) as [EtcdLease, EtcdLease];
    const tokens: number[] = [];
    let holderLease = a;
    let other = b;
    for (let round = 0; round < 3; round += 1) {
      const nodeId = holderLease === a ? 1 : 2;
      // Right after the previous holder's resign: no waiting for a TTL.
      const result = await holderLease.campaign(nodeId, round + 1);
      expect(result).toMatchObject({ acquired: true, holder: { nodeId, term: round + 1 } });
      tokens.push(result.holder.revision);
      await holderLease.resign();
      expect(holderLease.isHeld()).toBe(false);
      [holderLease, other] = [other, holderLease];
    }
    expect(tokens[1]).toBeGreaterThan(tokens[0] as number);
    expect(tokens[2]).toBeGreaterThan(tokens[1] as number);
    expect(await a.holder()).toBeUndefined();
  });

  it('a holder that stops renewing (crashed) loses the key after the TTL; the next holder has a higher token', async () => {
    const [a, b] = leasesFor(2) as [EtcdLease, EtcdLease];
    const first = await a.campaign(1, 1);
    expect(first.acquired).toBe(true);
    a.close(); // no resign: like SIGKILL, the key stays until etcd expires the lease
    // Same term (no newer master was elected): nothing to take over, the key is waited for.
    expect(await b.campaign(2, 1)).toEqual({ acquired: false, holder: first.holder });
    const second = await campaignUntilAcquired(b, 2, 1);
    expect(second.revision).toBeGreaterThan(first.holder.revision);
    expect(await b.holder()).toEqual(second);
  });

  it('a newer term is a new tenure under the same lease, with a higher fencing token; the same term is idempotent', async () => {
    const [a] = leasesFor(1) as [EtcdLease];
    const first = await a.campaign(1, 3);
    expect(await a.campaign(1, 3)).toEqual(first);
    const refreshed = await a.campaign(1, 4);
    expect(refreshed).toMatchObject({ acquired: true, holder: { nodeId: 1, term: 4 } });
    expect(refreshed.holder.revision).toBeGreaterThan(first.holder.revision);
    expect(a.isHeld()).toBe(true);
    expect(await a.holder()).toEqual(refreshed.holder);
    await expect(a.campaign(2, 4)).rejects.toThrow(/while holding the lease as node 1/);
  });

  it('a newer term takes the key of a crashed holder by transaction while the old lease is still alive', async () => {
    const [a, b] = leasesFor(2) as [EtcdLease, EtcdLease];
    const first = await a.campaign(3, 1);
    expect(first.acquired).toBe(true);
    const admin = new Etcd3({ hosts: etcd.endpoint });
    try {
      const oldLease = (await admin.get(a.key).exec()).kvs[0]!.lease;
      a.close(); // crashed: no resign, nothing revokes its lease
      const second = await b.campaign(2, 2);
      expect(second).toMatchObject({ acquired: true, holder: { nodeId: 2, term: 2 } });
      expect(second.holder.revision).toBeGreaterThan(first.holder.revision);
      // The dead holder's lease is still granted in etcd: the key changed hands without waiting for it.
      const { TTL } = await admin.leaseClient.leaseTimeToLive({ ID: oldLease });
      expect(Number(TTL)).toBeGreaterThan(0);
      const kv = (await admin.get(b.key).exec()).kvs[0]!;
      expect(kv.lease).not.toBe(oldLease);
      expect(await b.holder()).toEqual(second.holder);
    } finally {
      admin.close();
    }
  });

  it('a deposed holder is fenced by the token: it loses the key and can neither write under it nor take it back', async () => {
    const [a, b] = leasesFor(2) as [EtcdLease, EtcdLease];
    const first = await a.campaign(3, 1);
    expect(await a.putFenced(`${a.key}-fenced`, 'by 3')).toBe(true);
    const lost = nextLoss(a);
    const second = await b.campaign(2, 2);
    expect(second.acquired).toBe(true);
    // Whatever a still believes locally, etcd refuses a write fenced by its token.
    const admin = new Etcd3({ hosts: etcd.endpoint });
    try {
      const written = (await admin.get(`${a.key}-fenced`).string()) ?? '';
      await a.putFenced(`${a.key}-fenced`, 'by the deposed 3').then((ok) => expect(ok).toBe(false));
      expect(await admin.get(`${a.key}-fenced`).string()).toBe(written);
      expect(await b.putFenced(`${a.key}-fenced`, 'by 2')).toBe(true);
      expect(await admin.get(`${a.key}-fenced`).string()).toBe('by 2');
    } finally {
      admin.close();
    }
    expect(await lost).toMatchObject({ reason: 'key-replaced', revision: first.holder.revision });
    expect(a.isHeld()).toBe(false);
    // Its old term cannot take the key back; only a newer term could.
    expect(await a.campaign(3, 1)).toEqual({ acquired: false, holder: second.holder });
    expect(b.isHeld()).toBe(true);
    expect(await b.holder()).toEqual(second.holder);
  });

  it('a key deleted behind the holder ends its tenure with a lost event', async () => {
    const [a] = leasesFor(1) as [EtcdLease];
    const first = await a.campaign(1, 1);
    const lost = nextLoss(a);
    const admin = new Etcd3({ hosts: etcd.endpoint });
    try {
      await admin.delete().key(a.key).exec();
    } finally {
      admin.close();
    }
    expect(await lost).toMatchObject({ reason: 'key-deleted', revision: first.holder.revision });
    expect(a.isHeld()).toBe(false);
  });

  it('a process paused past its lease learns it on its next isHeld(), before any timer runs', async () => {
    let skew = 0;
    const [a] = leasesFor(1, { now: () => performance.now() + skew }) as [EtcdLease];
    expect((await a.campaign(1, 1)).acquired).toBe(true);
    const lost = nextLoss(a);
    skew = 2500; // the monotonic clock jumped a TTL ahead, as after a SIGSTOP or a long GC pause
    expect(a.isHeld()).toBe(false);
    expect(await lost).toMatchObject({ reason: 'expired' });
  });

  // Last: it leaves etcd stopped (afterAll resumes and stops it).
  it('etcd down: the holder gets a lost event, calls reject with a clear error, bully + quorum decides', async () => {
    const [a, b] = leasesFor(2) as [EtcdLease, EtcdLease];
    const first = await a.campaign(1, 1);
    expect(first.acquired).toBe(true);
    expect(a.etcdReachable()).toBe(true);
    // A holder (of another group) whose clock runs slower than its timers: they fire "early" by its
    // clock, and it must still notice the deadline.
    const [slow] = leasesFor(1, { now: () => performance.now() * 0.95 }) as [EtcdLease];
    expect((await slow.campaign(1, 1)).acquired).toBe(true);
    const lost = nextLoss(a);
    const slowLost = nextLoss(slow);
    process.kill(etcd.process.pid, 'SIGSTOP');

    expect(await slowLost).toMatchObject({ reason: 'expired' });
    const loss = await lost;
    expect(loss).toMatchObject({ reason: 'expired', revision: first.holder.revision });
    expect(loss.message).toMatch(/no renewal acknowledged by etcd at http:\/\/127\.0\.0\.1:\d+/);
    expect(a.isHeld()).toBe(false);
    await expect(b.holder()).rejects.toThrow(
      /etcd at http:\/\/127\.0\.0\.1:\d+: read the master key timed out after 500 ms/,
    );
    await expect(b.campaign(2, 2)).rejects.toThrow(
      /etcd at http:\/\/127\.0\.0\.1:\d+: grant a lease timed out after 500 ms/,
    );
    expect(a.etcdReachable()).toBe(false);
    expect(b.etcdReachable()).toBe(false);

    const view = {
      etcdConfigured: true,
      etcdReachable: b.etcdReachable(),
      newerTermSeen: false,
      nodeId: 2,
      term: 2,
    };
    expect(
      decideWithLease({
        ...view,
        bullyHasQuorum: true,
        leaseHeldBySelf: b.isHeld(),
        leaseHolder: first.holder,
      }),
    ).toBe('serve');
    expect(
      decideWithLease({ ...view, bullyHasQuorum: false, leaseHeldBySelf: false, leaseHolder: undefined }),
    ).toBe('stand-by');
  });
});
