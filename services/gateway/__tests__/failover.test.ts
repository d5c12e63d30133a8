import type { Session } from '../../../proto/gen/marquee/booking/v1/booking';
import { freePort } from '../../../scripts/lib/processes';
import { BookingGroup } from '../../booking/__tests__/booking-group';
import { call as grpcCall, makeShow } from '../../booking/__tests__/harness';
import type { Pool } from '../../common/mysql';
import type { Gateway } from '../server';
import { SseClient, eventually, send, startGateway } from './harness';

/*
 * The retry rule against a REAL three-node booking group (cluster mode, one MariaDB database per
 * node): a POST /api/holds sent while the master is down, or in flight when it goes down, answers
 * 201 once a new master serves, and the group holds exactly one hold for its idempotency key.
 * Operators watching /api/cluster/events see the master change. No timing is asserted: the retry
 * budget is set generously so a slow machine's election still fits in it.
 */

const SHOW = 'gw-failover-show';

async function count(pool: Pool, text: string, ...values: unknown[]): Promise<number> {
  const [rows] = await pool.query(text, values);
  return Number((rows as { n: number }[])[0]?.n);
}

describe('when every booking node is down', () => {
  it('a write answers 503 after the bounded retry time, saying what happened', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const { gateway, port } = await startGateway({
      MARQUEE_CATALOG_ADDR: `127.0.0.1:${await freePort()}`,
      MARQUEE_BOOKING_ADDRS: ports.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(','),
      MARQUEE_PEERS: ports.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(','),
      MARQUEE_GATEWAY_RETRY_MS: '600',
    });
    try {
      const reply = await send(port, {
        method: 'POST',
        url: '/api/holds',
        token: 'any.token',
        body: { showId: SHOW, seatIds: ['ORCH-A-1'] },
      });
      expect(reply.status).toBe(503);
      expect(reply.body.error).toEqual({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(
          /^the booking group is unavailable .*; gave up after \d+ attempts? .*: /,
        ),
      });
      expect(gateway.upstreams.retries).toBeGreaterThan(0);
      // Reads of the catalog say the same in their own words.
      const events = await send(port, { url: '/api/events' });
      expect(events.status).toBe(503);
      expect(events.body.error.message).toMatch(/^the catalog is unavailable/);
      const health = await send(port, { url: '/api/health' });
      expect(health.status).toBe(200);
      expect(health.body.status).toBe('degraded');
    } finally {
      await gateway.stop();
    }
  });
});

describe('gateway over a three-node booking group', () => {
  let group: BookingGroup;
  let gateway: Gateway;
  let port: number;
  let token = '';
  let userId = '';

  /** Holds (of this user) and idempotency records for `key` on node `id`. */
  const recordsOn = async (id: number, key: string): Promise<{ keys: number; holds: number }> => {
    const pool = group.member(id).pool;
    return {
      keys: await count(
        pool,
        'SELECT COUNT(*) AS n FROM idempotency WHERE user_id = ? AND `key` = ?',
        userId,
        key,
      ),
      holds: await count(pool, 'SELECT COUNT(*) AS n FROM holds WHERE user_id = ?', userId),
    };
  };

  beforeAll(async () => {
    group = await new BookingGroup({
      label: 'gwfo',
      shows: [makeShow(SHOW, 12, [{ areaId: 'PIT', capacity: 8 }])],
    }).start();
    await eventually(() => expect(group.writers()).toEqual([3]), 30_000);
    // Node 3 (the master) first in the round robin: the gateway's first booking call goes there.
    const order = [3, 1, 2];
    ({ gateway, port } = await startGateway({
      MARQUEE_CATALOG_ADDR: `127.0.0.1:${await freePort()}`,
      MARQUEE_BOOKING_ADDRS: order.map((id) => `${id}=${group.member(id).clientAddress}`).join(','),
      MARQUEE_PEERS: order.map((id) => `${id}=127.0.0.1:${group.member(id).peerPort}`).join(','),
      MARQUEE_GATEWAY_RETRY_MS: '30000',
    }));
    // Registered directly on the master, so the gateway's round robin is untouched.
    const accounts = group.member(3).accounts;
    const session: Session = await grpcCall(accounts.register.bind(accounts), {
      email: 'failover@example.com',
      password: 'correct horse battery',
      displayName: 'Failover',
    });
    token = session.token;
    userId = session.user!.id;
  });

  afterAll(async () => {
    await gateway?.stop();
    await group?.stop();
  });

  it('GET /api/cluster shows each node with role, term, master, Lamport clock, indexes and lag', async () => {
    const reply = await send(port, { url: '/api/cluster' });
    expect(reply.status).toBe(200);
    expect(reply.body.master).toEqual({ nodeId: 3, term: expect.any(Number) });
    const byId = new Map<number, Record<string, unknown>>(
      (reply.body.nodes as Record<string, unknown>[]).map((n) => [n.nodeId as number, n]),
    );
    expect(byId.get(3)).toMatchObject({
      reachable: true,
      role: 'master',
      masterId: 3,
      canServeWrites: true,
      lagEntries: null,
    });
    expect(byId.get(1)).toMatchObject({ reachable: true, role: 'slave', masterId: 3, canServeWrites: false });
    expect(byId.get(3)!.slaves).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ nodeId: 1 }),
        expect.objectContaining({ nodeId: 2 }),
      ]),
    );
    for (const node of byId.values())
      expect(node).toMatchObject({
        term: expect.any(Number),
        lamport: expect.any(Number),
        commitIndex: expect.any(Number),
        appliedIndex: expect.any(Number),
        etcdLeaseHolder: null,
        etcdLeaseToken: null,
      });
    await eventually(async () => {
      const again = await send(port, { url: '/api/cluster' });
      const slave = (again.body.nodes as { nodeId: number; lagEntries: number | null }[]).find(
        (n) => n.nodeId === 1,
      );
      expect(typeof slave?.lagEntries).toBe('number');
    });
  });

  it('a hold sent just after the master stopped is retried on the next nodes with the same key: 201, one hold', async () => {
    const watcher = await SseClient.open(port, '/api/cluster/events');
    try {
      const snapshot = await watcher.next((e) => e.event === 'snapshot', 'a snapshot');
      expect(snapshot.data.master).toMatchObject({ nodeId: 3 });

      await group.stopMember(3);
      const key = 'failover-hold-before-0001';
      const reply = await send(port, {
        method: 'POST',
        url: '/api/holds',
        token,
        headers: { 'idempotency-key': key },
        body: { showId: SHOW, seatIds: ['ORCH-A-1', 'ORCH-A-2'], ga: [{ areaId: 'PIT', quantity: 2 }] },
      });
      expect(reply.status).toBe(201);
      expect(reply.body).toMatchObject({
        state: 'active',
        seats: [{ seatId: 'ORCH-A-1' }, { seatId: 'ORCH-A-2' }],
      });
      // Its first attempt went to the stopped node 3, so it was retried.
      expect(gateway.upstreams.retries).toBeGreaterThan(0);
      expect(group.writers()).toEqual([2]);
      expect(await recordsOn(2, key)).toEqual({ keys: 1, holds: 1 });
      await eventually(async () => expect(await recordsOn(1, key)).toEqual({ keys: 1, holds: 1 }));

      // The operator saw node 3 go and node 2 take over.
      await watcher.next(
        (e) => e.event === 'node' && e.data.node.nodeId === 3 && e.data.node.reachable === false,
        'node 3 unreachable',
      );
      const takeover = await watcher.next((e) => e.event === 'master' && e.data.to === 2, 'node 2 as master');
      expect(takeover.data).toMatchObject({
        term: expect.any(Number),
        at: expect.any(String),
        lamport: expect.any(Number),
      });
      await watcher.next(
        (e) =>
          e.event === 'node' &&
          e.data.node.nodeId === 2 &&
          e.data.node.role === 'master' &&
          e.data.changed.includes('role'),
        'node 2 role change',
      );
    } finally {
      watcher.close();
    }
    await eventually(() => expect(gateway.clusterFeed.running).toBe(false));
  });

  it('a hold in flight when the master stops answers 201 and leaves exactly one hold for its key', async () => {
    await group.startMember(3);
    // A returning higher id catches up as a slave, then takes over.
    await eventually(() => expect(group.writers()).toEqual([3]), 60_000);
    const key = 'failover-hold-inflight-0001';
    const pending = send(port, {
      method: 'POST',
      url: '/api/holds',
      token,
      headers: { 'idempotency-key': key },
      body: { showId: SHOW, seatIds: ['ORCH-A-5'] },
    });
    await group.stopMember(3);
    const reply = await pending;
    expect(reply.status).toBe(201);
    expect(reply.headers['idempotency-key']).toBe(key);
    await eventually(() => expect(group.writers()).toEqual([2]), 60_000);
    for (const id of [1, 2])
      await eventually(async () => expect(await recordsOn(id, key)).toEqual({ keys: 1, holds: 2 }));

    // Checkout after the failover goes through too, and the seat map comes to say sold.
    const paid = await send(port, {
      method: 'POST',
      url: `/api/holds/${reply.body.id}/checkout`,
      token,
      body: { card: { number: '4242 4242 4242 4242', expMonth: 12, expYear: 2099, cvc: '123' } },
    });
    expect(paid.status).toBe(201);
    // Availability is read on any node, and a slave may be a heartbeat behind.
    await eventually(async () => {
      const seats = await send(port, { url: `/api/shows/${SHOW}/availability`, token });
      expect(seats.body.seats.find((s: { seatId: string }) => s.seatId === 'ORCH-A-5').state).toBe('sold');
    });
  });
});
