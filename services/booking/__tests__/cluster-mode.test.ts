import type { Booking } from '../../../proto/gen/marquee/booking/v1/booking';
import { NodeRole } from '../../../proto/gen/marquee/cluster/v1/cluster';
import { checkInvariants, snapshotNode } from '../../../scripts/lib/invariants';
import type { AcknowledgedBooking, ElectionEvent } from '../../../scripts/lib/invariants';
import { BookingGroup, eventually, retryUnavailable } from './booking-group';
import { GOOD_CARD, call, makeShow } from './harness';

/*
 * Cluster mode end to end: three booking servers configured only through the environment
 * (MARQUEE_PEERS and friends), each with its own database. The election picks node 3, writes go
 * through it, a slave forwards writes to the master, and after node 3 stops node 2 takes over without
 * losing an acknowledged booking. Everything is polled; no timing is asserted.
 */

const SHOW = 'cluster-show';
const show = makeShow(SHOW, 12, [{ areaId: 'PIT', capacity: 8 }]);

let keyCounter = 0;
const key = (label: string): string => `${label}-${++keyCounter}-key`;

describe('booking cluster mode (MARQUEE_PEERS, three nodes)', () => {
  let group: BookingGroup;
  const acknowledged: AcknowledgedBooking[] = [];
  const elections: ElectionEvent[] = [];
  const catchUps: { masterId: number; from: number | undefined }[] = [];
  let token = '';

  const member = (id: number) => group.member(id);
  const writers = (): number[] => group.writers();
  const startServer = (id: number) => group.startMember(id);
  const stopServer = (id: number) => group.stopMember(id);
  const clusterStatus = (id: number) => group.status(id);
  const acknowledge = (booking: Booking): void => {
    acknowledged.push({
      id: booking.id,
      showId: booking.showId,
      seatIds: booking.seats.map((s) => s.seatId),
      ga: booking.ga.map((g) => ({ areaId: g.areaId, quantity: g.quantity })),
      state: 'CONFIRMED',
    });
  };
  /**
   * Hold + confirm on node `id`, as a real client does it: an election can start at any moment on a
   * loaded machine, so UNAVAILABLE is retried with the SAME idempotency keys (never a second booking).
   */
  const book = async (id: number, seatIds: string[], ga: { areaId: string; quantity: number }[] = []) => {
    const { booking } = member(id);
    const holdKey = key('hold');
    const payKey = key('pay');
    const hold = await retryUnavailable(() =>
      call(booking.holdSeats.bind(booking), { showId: SHOW, seatIds, ga, idempotencyKey: holdKey }, token),
    );
    const confirmed = await retryUnavailable(() =>
      call(
        booking.confirmBooking.bind(booking),
        { holdId: hold.id, card: GOOD_CARD, idempotencyKey: payKey },
        token,
      ),
    );
    acknowledge(confirmed);
    return confirmed;
  };

  beforeAll(async () => {
    group = await new BookingGroup({
      label: 'bclu',
      shows: [show],
      env: { MARQUEE_ACK_POLICY: 'majority' },
      onStarted: (id, server) =>
        server.cluster!.election.runner.onRoleChange((event) => {
          if (event.role !== 'master') return;
          elections.push({ term: event.term, masterId: id });
          catchUps.push({ masterId: id, from: event.catchUp?.fromNode });
        }),
    }).start();
  });

  afterAll(async () => {
    await group?.stop();
  });

  it('elects node 3, writes through it, forwards writes from a slave, fails over to node 2', async () => {
    await eventually(() => expect(writers()).toEqual([3]));

    const { accounts } = member(3);
    const session = await call(
      accounts.register.bind(accounts),
      { email: 'cluster@example.com', password: 'correct horse battery', displayName: 'Cluster' },
      undefined,
      { 'idempotency-key': key('register') },
    );
    token = session.token;
    await book(3, ['ORCH-A-1', 'ORCH-A-2'], [{ areaId: 'PIT', quantity: 2 }]);
    await book(3, ['ORCH-A-3']);

    // Status on every node: the master reports its slaves' lag, a slave names the master.
    const masterStatus = await clusterStatus(3);
    expect(masterStatus).toMatchObject({ nodeId: 3, role: NodeRole.NODE_ROLE_MASTER, masterId: 3 });
    expect(masterStatus.appliedIndex).toBeGreaterThan(0);
    expect(masterStatus.slaves.map((slave) => slave.nodeId).sort()).toEqual([1, 2]);
    await eventually(async () => {
      // Both read again each time: a node's figures come from a position re-read every 100 ms.
      const [master, slave] = await Promise.all([3, 1].map((id) => clusterStatus(id)));
      expect(slave).toMatchObject({ nodeId: 1, role: NodeRole.NODE_ROLE_SLAVE, masterId: 3 });
      expect(slave!.appliedIndex).toBe(master!.appliedIndex);
    });

    // A slave forwards a write to the master (forwarding.ts): the booking is made there.
    const viaSlave = await book(1, ['ORCH-A-4']);
    const onMaster = await snapshotNode(member(3).pool, 3);
    expect(onMaster.bookings.map((b) => b.id)).toContain(viaSlave.id);

    // No waiting for node 2 to catch up: if it lacks an acknowledged entry, the election makes it
    // copy node 1's log before it serves (catch-up before serving).
    await stopServer(3);

    await eventually(() => expect(writers()).toEqual([2]));
    // The first write after a takeover may race the new master's term start: retry until acknowledged.
    const seat = ['ORCH-A-5'];
    const after = await eventually(() => book(2, seat, [{ areaId: 'PIT', quantity: 1 }]));
    expect(after.seats.map((s) => s.seatId)).toEqual(seat);

    // Both live nodes converge, hold every acknowledged booking, and break no invariant.
    const master = member(2).server!.cluster!.node;
    const { lastIndex: finalIndex } = await master.log.state();
    await eventually(async () => {
      const state = await member(1).server!.cluster!.node.log.state();
      expect(state.appliedIndex).toBe(finalIndex);
    });
    const snapshots = await Promise.all([1, 2].map((id) => snapshotNode(member(id).pool, id)));
    expect(new Set(snapshots.map((s) => s.checksum)).size).toBe(1);
    expect(elections.at(-1)?.masterId).toBe(2);
    const violations = checkInvariants({ nodes: snapshots, masterId: 2, acknowledged, elections });
    expect(violations.map((v) => v.message)).toEqual([]);
    expect(acknowledged).toHaveLength(4);
    for (const booking of acknowledged)
      for (const snapshot of snapshots) expect(snapshot.bookings.map((b) => b.id)).toContain(booking.id);
  }, 30_000);

  it('a returning higher id catches up and takes over; a new master that missed bookings copies them first', async () => {
    // Node 3 returns: it follows node 2, catches up, then takes over (the highest live id wins).
    await startServer(3);
    await eventually(() => expect(writers()).toEqual([3]));
    const first = await eventually(() => book(3, ['ORCH-A-6']));

    // Node 2 is down while node 3 acknowledges two more bookings (on nodes 3 and 1 only).
    await stopServer(2);
    const missed = [await book(3, ['ORCH-A-7']), await book(3, [], [{ areaId: 'PIT', quantity: 2 }])];
    await stopServer(3);
    // Node 2 returns without them (two entries: within the catch-up slack, so it is not behind); with
    // node 1 it elects itself, and must fetch them from node 1 before it serves.
    await startServer(2);
    await eventually(() => expect(writers()).toEqual([2]));
    // It copied them from node 1: as a returning higher id following node 1, or by the election's
    // catch-up when node 1's log was still ahead of it (which of the two depends on timing).
    expect(catchUps.filter((c) => c.masterId === 2).map((c) => c.from ?? 1)).not.toContain(3);
    const snapshot2 = await snapshotNode(member(2).pool, 2);
    for (const booking of [first, ...missed])
      expect(snapshot2.bookings.map((b) => b.id)).toContain(booking.id);
    await eventually(() => book(2, ['ORCH-A-8']));

    const master = member(2).server!.cluster!.node;
    const { lastIndex } = await master.log.state();
    await eventually(async () => {
      expect((await member(1).server!.cluster!.node.log.state()).appliedIndex).toBe(lastIndex);
    });
    const snapshots = await Promise.all([1, 2].map((id) => snapshotNode(member(id).pool, id)));
    expect(new Set(snapshots.map((s) => s.checksum)).size).toBe(1);
    const violations = checkInvariants({ nodes: snapshots, masterId: 2, acknowledged, elections });
    expect(violations.map((v) => v.message)).toEqual([]);
  }, 60_000);

  it("Status says a node serves writes only when a write there would be accepted (what npm start's 'up' waits for)", async () => {
    const cluster = member(2).server!.cluster!;
    expect((await clusterStatus(2)).canServeWrites).toBe(true);
    // The election still names node 2 master, but its replication is not serving the term (as in the
    // moment between winning and taking over): a write would be refused, so Status must say so.
    const { term } = await clusterStatus(2);
    await cluster.node.stepDown('test: replication not serving yet');
    expect(cluster.canServeWrites()).toBe(false);
    expect(await clusterStatus(2)).toMatchObject({ role: NodeRole.NODE_ROLE_MASTER, canServeWrites: false });
    await cluster.node.becomeMaster(term);
    expect((await clusterStatus(2)).canServeWrites).toBe(true);
  });
});
