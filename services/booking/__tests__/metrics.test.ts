import * as grpc from '@grpc/grpc-js';
import { scrapeMetrics, sumOf } from '../../common/metrics';
import type { Sample } from '../../common/metrics';
import { send, startGateway } from '../../gateway/__tests__/harness';
import type { TargetSummary } from '../../gateway/metrics-summary';
import { loadConfig } from '../config';
import { BookingGroup, eventually } from './booking-group';
import { call, makeShow } from './harness';

/*
 * A three-node booking group with GET /metrics on every node: the master's endpoint says master, its
 * term, each slave's lag and the elections it won; the slaves agree on the term; calls count by code
 * (a NOT_FOUND is one) on the node that got them, a slave counts what it forwarded, and the master's
 * sweeper counts the holds it expired. Everything is polled; no timing is asserted.
 */

const SHOW = 'metrics-show';

let group: BookingGroup;
let token = '';

const scrape = (id: number): Promise<Sample[]> =>
  scrapeMetrics(`http://127.0.0.1:${group.member(id).server!.metricsPort}/metrics`);

const role = (samples: Sample[]): string | undefined =>
  samples.find((s) => s.name === 'marquee_election_role' && s.value === 1)?.labels.role;

beforeAll(async () => {
  group = await new BookingGroup({
    label: 'bmet',
    shows: [makeShow(SHOW, 6)],
    env: {
      MARQUEE_METRICS_PORT: '0',
      MARQUEE_HOLD_TTL_SECONDS: '1',
      MARQUEE_SWEEP_INTERVAL_MS: '50',
    },
  }).start();
  await eventually(() => expect(group.writers()).toEqual([3]));
  const { accounts } = group.member(3);
  const session = await call(
    accounts.register.bind(accounts),
    { email: 'metrics@example.com', password: 'correct horse battery', displayName: 'Metrics' },
    undefined,
    { 'idempotency-key': 'metrics-register-key' },
  );
  token = session.token;
});

afterAll(async () => {
  await group?.stop();
});

describe('booking node GET /metrics (cluster mode)', () => {
  it("the master says master, its term, and each slave's lag; the slaves agree on the term", async () => {
    await eventually(async () => {
      const status = await group.status(3);
      const [master, one, two] = await Promise.all([scrape(3), scrape(1), scrape(2)]);
      expect(role(master)).toBe('master');
      expect(role(one)).toBe('slave');
      expect(role(two)).toBe('slave');
      expect(sumOf(master, 'marquee_election_term')).toBe(status.term);
      expect(sumOf(one, 'marquee_election_term')).toBe(status.term);
      expect(sumOf(two, 'marquee_election_term')).toBe(status.term);
      expect(sumOf(master, 'marquee_booking_can_serve_writes')).toBe(1);
      expect(sumOf(one, 'marquee_booking_can_serve_writes')).toBe(0);
      // Lag is the master's view, per slave: both have caught up with the registration.
      const lag = master.filter((s) => s.name === 'marquee_replication_slave_lag_entries');
      expect(lag.map((s) => [s.labels.slave, s.value]).sort()).toEqual([
        ['1', 0],
        ['2', 0],
      ]);
      expect(one.some((s) => s.name === 'marquee_replication_slave_lag_entries')).toBe(false);
      expect(sumOf(master, 'marquee_replication_commit_index')).toBeGreaterThan(0);
      expect(sumOf(one, 'marquee_replication_applied_index')).toBe(
        sumOf(master, 'marquee_replication_applied_index'),
      );
      expect(sumOf(master, 'marquee_elections_won_total')).toBeGreaterThanOrEqual(1);
      expect(sumOf(master, 'marquee_elections_started_total')).toBeGreaterThanOrEqual(
        sumOf(master, 'marquee_elections_won_total'),
      );
      for (const sample of master) expect(sample.labels).toMatchObject({ service: 'booking', node_id: '3' });
    });
  });

  it('counts calls where they arrive, by code, and what a slave forwarded', async () => {
    const loginOk = (s: Sample[]) =>
      sumOf(s, 'marquee_grpc_requests_total', {
        grpc_service: 'marquee.booking.v1.AccountService',
        grpc_method: 'Login',
        grpc_code: 'OK',
      });
    const notFound = (s: Sample[]) =>
      sumOf(s, 'marquee_grpc_requests_total', { grpc_method: 'GetBooking', grpc_code: 'NOT_FOUND' });
    const forwarded = (s: Sample[]) => sumOf(s, 'marquee_booking_forwarded_calls_total');
    const before = { master: await scrape(3), slave: await scrape(1) };

    // Login is a current read: a slave sends it on to the master, and both answer it.
    const { accounts } = group.member(1);
    await call(accounts.login.bind(accounts), {
      email: 'metrics@example.com',
      password: 'correct horse battery',
    });
    const { booking } = group.member(3);
    const error = await call(booking.getBooking.bind(booking), { bookingId: 'no-such-booking' }, token).catch(
      (e: grpc.ServiceError) => e,
    );
    expect(error).toMatchObject({ code: grpc.status.NOT_FOUND });

    const after = { master: await scrape(3), slave: await scrape(1) };
    expect(loginOk(after.slave) - loginOk(before.slave)).toBe(1);
    expect(loginOk(after.master) - loginOk(before.master)).toBe(1);
    expect(forwarded(after.slave) - forwarded(before.slave)).toBe(1);
    expect(forwarded(after.slave)).toBe(group.member(1).server!.forwardedCalls());
    expect(forwarded(after.master) - forwarded(before.master)).toBe(0);
    expect(notFound(after.master) - notFound(before.master)).toBe(1);
    expect(notFound(after.slave)).toBe(notFound(before.slave));
  });

  it("counts the holds the master's sweeper expired", async () => {
    const expiries = (s: Sample[]) => sumOf(s, 'marquee_booking_hold_expiries_total');
    const before = await scrape(3);
    const { booking } = group.member(3);
    await call(
      booking.holdSeats.bind(booking),
      { showId: SHOW, seatIds: ['ORCH-A-1'], ga: [], idempotencyKey: 'metrics-hold-key' },
      token,
    );
    // The hold lives one second; the sweeper runs every 50 ms.
    await eventually(async () => expect(expiries(await scrape(3)) - expiries(before)).toBe(1));
    // Both writes (the hold, the sweeper's expiry) went through the master's write batches.
    const batches = (s: Sample[]) => sumOf(s, 'marquee_booking_write_batches_total');
    const commands = (s: Sample[]) => sumOf(s, 'marquee_booking_write_commands_total');
    const after = await scrape(3);
    expect(commands(after) - commands(before)).toBeGreaterThanOrEqual(2);
    expect(batches(after) - batches(before)).toBeGreaterThanOrEqual(1);
    expect(batches(after) - batches(before)).toBeLessThanOrEqual(commands(after) - commands(before));
  });

  it("the gateway's summary shows the master, the term and the lag; a stopped node is unreachable", async () => {
    const list = (ports: (id: number) => number | string) =>
      [1, 2, 3].map((id) => `${id}=127.0.0.1:${ports(id)}`).join(',');
    const { gateway, port } = await startGateway(
      {
        MARQUEE_BOOKING_ADDRS: list((id) => group.member(id).clientAddress.split(':')[1]!),
        MARQUEE_PEERS: list((id) => group.member(id).peerPort),
        MARQUEE_METRICS_ADDRS: [1, 2, 3]
          .map((id) => `booking-${id}=127.0.0.1:${group.member(id).server!.metricsPort}`)
          .join(','),
      },
      { metricsSummaryMinIntervalMs: 0 },
    );
    const summary = async (): Promise<TargetSummary[]> => {
      const reply = await send(port, { url: '/api/metrics/summary' });
      expect(reply.status).toBe(200);
      return reply.body.targets as TargetSummary[];
    };
    try {
      // The term is read inside the poll: under load a missed heartbeat can start a new term meanwhile.
      await eventually(async () => {
        const { term } = await group.status(3);
        expect((await summary()).map((t) => [t.name, t.nodeId, t.role, t.term, t.lagEntries])).toEqual([
          ['booking-1', 1, 'slave', term, 0],
          ['booking-2', 2, 'slave', term, 0],
          ['booking-3', 3, 'master', term, 0],
        ]);
      });
      await group.stopMember(1);
      const after = await summary();
      expect(after[0]).toMatchObject({ name: 'booking-1', reachable: false, error: expect.any(String) });
      expect(after[2]).toMatchObject({ name: 'booking-3', reachable: true, role: 'master' });
    } finally {
      await gateway.stop();
    }
  });
});

describe('booking MARQUEE_METRICS_PORT', () => {
  it('is off unless set; served on the node host unless MARQUEE_METRICS_HOST says otherwise', () => {
    expect(loadConfig({}).metrics).toBeUndefined();
    expect(loadConfig({ MARQUEE_BOOKING_HOST: '0.0.0.0', MARQUEE_METRICS_PORT: '9471' }).metrics).toEqual({
      host: '0.0.0.0',
      port: 9471,
    });
    expect(() => loadConfig({ MARQUEE_METRICS_PORT: 'x' })).toThrow('config MARQUEE_METRICS_PORT');
  });
});
