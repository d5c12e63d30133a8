import { rmSync } from 'node:fs';
import path from 'node:path';
import { startPrivateEtcd } from '../../../scripts/lib/etcd';
import type { PrivateEtcd } from '../../../scripts/lib/etcd';
import { freePort } from '../../../scripts/lib/processes';
import { GOOD_CARD, call, makeShow } from './harness';
import { BookingGroup, eventually } from './booking-group';

/*
 * Three booking nodes with the etcd fallback lease (MARQUEE_ETCD_ENDPOINTS) against a real etcd:
 * the bully master takes the lease and serves; with etcd stopped the group keeps serving on bully
 * quorum alone; after a failover with etcd back, the new master serves only once it holds the lease.
 */

const SHOW = 'etcd-show';
const LOAD_SHOW = 'etcd-load-show';
const dir = path.join(__dirname, '..', '..', '..', '.data', 'test', `cluster-etcd-${process.pid}`);

describe('booking cluster with the etcd fallback lease', () => {
  let etcd: PrivateEtcd | undefined;
  let group: BookingGroup;
  let token = '';
  let keys = 0;
  const etcdPorts = { client: 0, peer: 0 };

  const startEtcd = async (fresh: boolean) => {
    if (fresh) rmSync(dir, { recursive: true, force: true });
    etcd = await startPrivateEtcd({
      dataDir: path.join(dir, 'data'),
      clientPort: etcdPorts.client,
      peerPort: etcdPorts.peer,
      logFile: path.join(dir, 'etcd.log'),
    });
  };
  const book = async (id: number, seat: string) => {
    const { booking } = group.member(id);
    const hold = await call(
      booking.holdSeats.bind(booking),
      { showId: SHOW, seatIds: [seat], ga: [], idempotencyKey: `etcd-hold-${++keys}` },
      token,
    );
    return call(
      booking.confirmBooking.bind(booking),
      { holdId: hold.id, card: GOOD_CARD, idempotencyKey: `etcd-pay-${++keys}` },
      token,
    );
  };

  beforeAll(async () => {
    etcdPorts.client = await freePort();
    etcdPorts.peer = await freePort();
    await startEtcd(true);
    group = await new BookingGroup({
      label: 'betcd',
      shows: [makeShow(SHOW, 12), makeShow(LOAD_SHOW, 2000)],
      env: { MARQUEE_ETCD_ENDPOINTS: `http://127.0.0.1:${etcdPorts.client}`, MARQUEE_ETCD_TTL_SECONDS: '1' },
    }).start();
  }, 60_000);

  afterAll(async () => {
    await group?.stop();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('the bully master holds the lease; every node reports the holder; writes go through', async () => {
    await eventually(() => expect(group.writers()).toEqual([3]));
    await eventually(async () => {
      for (const id of [1, 2, 3]) expect((await group.status(id)).etcdLeaseHolder).toBe(3);
    });
    const { accounts } = group.member(1);
    token = (
      await call(
        accounts.register.bind(accounts),
        { email: 'etcd@example.com', password: 'correct horse battery', displayName: 'Etcd' },
        undefined,
        { 'idempotency-key': 'etcd-register' },
      )
    ).token;
    expect((await book(1, 'ORCH-A-1')).seats.map((s) => s.seatId)).toEqual(['ORCH-A-1']);
  }, 30_000);

  it('etcd killed and restarted under booking load: no term change, no write refused, the master takes its key back', async () => {
    const { booking } = group.member(3);
    const before = await group.status(3);
    expect(before.etcdLeaseHolder).toBe(3);
    const refused: unknown[] = [];
    let held = 0;
    let seat = 0;
    let running = true;
    // Two clients holding one seat each, back to back, on the master, with no retries: any refusal counts.
    const client = async (): Promise<void> => {
      while (running) {
        const seatId = `ORCH-A-${++seat}`;
        try {
          await call(
            booking.holdSeats.bind(booking),
            { showId: LOAD_SHOW, seatIds: [seatId], ga: [], idempotencyKey: `etcd-load-${seatId}` },
            token,
          );
          held += 1;
        } catch (error) {
          refused.push(error);
        }
      }
    };
    const clients = [client(), client()];
    const heldBy = async (count: number) =>
      eventually(() => expect(held).toBeGreaterThanOrEqual(count), 30_000);
    try {
      await heldBy(20);
      await etcd!.process.stop('SIGKILL');
      etcd = undefined;
      // Long enough for the holder's renewals to fail and its tenure to end (TTL 1 s here): the
      // writes below are made with etcd gone, on bully quorum alone.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      await heldBy(held + 20);
      await startEtcd(false);
      // Back: the master takes its own key again (same node, same term: a new tenure, higher token).
      await eventually(async () => {
        const status = await group.status(3);
        expect(status.etcdLeaseHolder).toBe(3);
        expect(status.etcdLeaseToken).toBeGreaterThan(before.etcdLeaseToken);
      }, 20_000);
      await heldBy(held + 20);
    } finally {
      running = false;
      await Promise.all(clients);
    }
    expect(refused).toEqual([]);
    for (const id of [1, 2, 3]) expect((await group.status(id)).term).toBe(before.term);
    expect(group.writers()).toEqual([3]);
  }, 90_000);

  it('with etcd stopped, the group keeps serving on bully quorum alone and survives a failover', async () => {
    await etcd!.stop();
    etcd = undefined;
    await eventually(() => book(2, 'ORCH-A-2'));
    await group.stopMember(3);
    await eventually(() => expect(group.writers()).toEqual([2]));
    await eventually(() => book(1, 'ORCH-A-3'));
  }, 30_000);

  it('with etcd back, the master serves again once it holds the lease', async () => {
    await startEtcd(false);
    await eventually(async () => {
      for (const id of [1, 2]) expect((await group.status(id)).etcdLeaseHolder).toBe(2);
    }, 20_000);
    await eventually(() => book(1, 'ORCH-A-4'));
  }, 40_000);
});
