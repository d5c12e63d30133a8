/**
 * The whole local stack (catalog, three booking nodes, nginx front door, control API) as `npm start`
 * runs it, on free ports, driven through the front door with generated clients — the path a grpcurl
 * user takes — and through the control API a chaos tool uses.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthClient,
} from '../proto/gen/grpc/health/v1/health';
import { ServerReflectionClient } from '../proto/gen/grpc/reflection/v1/reflection';
import type { ServerReflectionResponse } from '../proto/gen/grpc/reflection/v1/reflection';
import {
  AccountServiceClient,
  BookingServiceClient,
  BookingState,
  SeatState,
} from '../proto/gen/marquee/booking/v1/booking';
import { CatalogServiceClient, Event, EventKind, Show } from '../proto/gen/marquee/catalog/v1/catalog';
import { RecommendationServiceClient } from '../proto/gen/marquee/recommendation/v1/recommendation';
import { DEMO_FAN_PASSWORD } from '../scripts/demo-data/demo-bookings';
import { seedDemoData } from '../scripts/demo-data/seed';
import { callUnary } from '../services/common/grpc-client';
import { startStack } from '../scripts/lib/stack';
import type { RunningStack } from '../scripts/lib/stack';
import { StackControlClient } from '../scripts/lib/stack-control';
import { errorText, retryOnCandidates } from '../scripts/lib/chaos/retry';
import { testMysqlUrl } from './databases';

const run = promisify(execFile);
const repoRoot = path.join(__dirname, '..');
const suffix = randomBytes(3).toString('hex');
const bookingPrefix = `e2e_booking_${suffix}`;
const databases = [
  `e2e_catalog_${suffix}`,
  `e2e_recommendation_${suffix}`,
  ...[1, 2, 3].map((id) => `${bookingPrefix}_${id}`),
];
const dataDir = path.join(repoRoot, '.data', 'test', `stack-${suffix}`);
/** While this file exists, the first booking node to answer nginx a ConfirmBooking dies just before answering. */
const crashArmFile = path.join(dataDir, 'crash-before-answer.armed');
const CONFIRM_PATH = '/marquee.booking.v1.BookingService/ConfirmBooking';
const credentials = grpc.credentials.createInsecure();

let stack: RunningStack;
let catalog: CatalogServiceClient;
let accounts: AccountServiceClient;
let booking: BookingServiceClient;

beforeAll(async () => {
  stack = await startStack({
    repoRoot,
    dataDir,
    mysqlUrl: testMysqlUrl(),
    freshData: true,
    tokenSecret: 'e2e-secret-0123456789',
    logLevel: 'warn',
    bookingDatabasePrefix: bookingPrefix,
    control: true,
    extraEnv: {
      MARQUEE_CATALOG_DB: databases[0]!,
      MARQUEE_RECOMMENDATION_DB: databases[1]!,
      MARQUEE_RECOMMENDATION_CATALOG_REFRESH_MS: '1000',
      // Off until a test creates the file (services/common/fault-injection.ts).
      MARQUEE_FAULT_CRASH_BEFORE_ANSWER: CONFIRM_PATH,
      MARQUEE_FAULT_ARM_FILE: crashArmFile,
    },
  });
  catalog = new CatalogServiceClient(stack.grpcAddress, credentials);
  accounts = new AccountServiceClient(stack.grpcAddress, credentials);
  booking = new BookingServiceClient(stack.grpcAddress, credentials);
}, 90000);

afterAll(async () => {
  for (const client of [catalog, accounts, booking]) client?.close();
  await stack?.stop();
  const admin = await mysql.createConnection(testMysqlUrl());
  for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
  await admin.end();
  rmSync(dataDir, { recursive: true, force: true });
});

/**
 * Runs writes through the front door: nginx picks any booking node, and a slave forwards the call to
 * the master (services/booking/forwarding.ts), so a client never needs to know which node is master.
 * UNAVAILABLE (an election: under the full suite's load on two cores a node can miss heartbeats for
 * longer than the 400 ms failure timeout) is retried as a real client does, with the SAME
 * idempotency key, so a retry never writes twice.
 */
async function viaFrontDoor<T>(
  write: (clients: { accounts: AccountServiceClient; booking: BookingServiceClient }) => Promise<T>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await write({ accounts, booking });
    } catch (error) {
      if ((error as { code?: number }).code !== grpc.status.UNAVAILABLE || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Reads through the front door may land on a slave a moment behind the master: poll. */
async function eventually<T>(check: () => Promise<T>, ms = 10000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function adminToken(): Promise<{ token: string }> {
  // Through viaFrontDoor: a restarted higher-id node taking over (the tests before) is an election.
  const admin = await viaFrontDoor(({ accounts: any }) =>
    callUnary(any.login.bind(any), {
      email: stack.description.adminEmail,
      password: stack.description.adminPassword,
    }),
  );
  return { token: admin.token };
}

/** A venue with one row of four standard seats, an event, and a show of it next week. */
async function createShow(asAdmin: { token: string }, title: string): Promise<string> {
  const venue = await callUnary(
    catalog.createVenue.bind(catalog),
    {
      venue: {
        id: '',
        externalId: '',
        name: `${title} Hall`,
        city: 'Lisbon',
        address: 'Rua 1',
        halls: [
          {
            id: 'MAIN',
            name: 'Main',
            sections: [
              { id: 'STALLS', name: 'Stalls', priceTier: 'standard', rows: [{ label: 'A', seatCount: 4 }] },
            ],
            gaAreas: [],
          },
        ],
      },
    },
    asAdmin,
  );
  const event = await callUnary(
    catalog.createEvent.bind(catalog),
    {
      event: Event.create({
        title,
        kind: EventKind.EVENT_KIND_MOVIE,
        genres: ['Drama'],
        durationMinutes: 100,
        description: 'An end-to-end test.',
        cast: ['A. Tester'],
      }),
    },
    asAdmin,
  );
  const startsAt = new Date(Date.now() + 7 * 86400_000).toISOString();
  const show = await callUnary(
    catalog.createShow.bind(catalog),
    {
      show: Show.create({
        eventId: event.id,
        venueId: venue.id,
        hallId: 'MAIN',
        startsAt,
        currency: 'EUR',
        prices: [{ priceTier: 'standard', amountCents: 1250 }],
      }),
    },
    asAdmin,
  );
  return show.id;
}

describe('the front door (nginx → catalog, booking group)', () => {
  it('lists every marquee service through reflection at the front door', async () => {
    const client = new ServerReflectionClient(stack.grpcAddress, credentials);
    const call = client.serverReflectionInfo();
    const answer = await new Promise<ServerReflectionResponse>((resolve, reject) => {
      call.on('data', resolve);
      call.on('error', reject);
      call.write({ host: '', messageRequest: { $case: 'listServices', value: '' } });
      call.end();
    });
    client.close();
    const names =
      answer.messageResponse?.$case === 'listServicesResponse'
        ? answer.messageResponse.value.service.map((s) => s.name)
        : [];
    expect(names).toEqual(
      expect.arrayContaining([
        'marquee.catalog.v1.CatalogService',
        'marquee.booking.v1.BookingService',
        'marquee.booking.v1.AccountService',
      ]),
    );
  });

  it('lets buf curl (a grpcurl-like client) list and call methods with reflection alone', async () => {
    const buf = path.join(repoRoot, 'node_modules/.bin/buf');
    const base = ['curl', '--protocol', 'grpc', '--http2-prior-knowledge'];
    const listed = await run(buf, [...base, '--list-methods', `http://${stack.grpcAddress}`]);
    expect(listed.stdout).toContain('marquee.catalog.v1.CatalogService/SearchEvents');
    expect(listed.stdout).toContain('marquee.booking.v1.BookingService/HoldSeats');
    const searched = await run(buf, [
      ...base,
      `http://${stack.grpcAddress}/marquee.catalog.v1.CatalogService/SearchEvents`,
      '-d',
      '{"pageSize":5}',
    ]);
    expect(JSON.parse(searched.stdout)).toBeInstanceOf(Object);
  });

  it('answers health SERVING, and UNIMPLEMENTED for a service nobody serves', async () => {
    const health = new HealthClient(stack.grpcAddress, credentials);
    const status = await callUnary(health.check.bind(health), { service: '' });
    expect(status.status).toBe(ServingStatus.SERVING);
    const unknown = new grpc.Client(stack.grpcAddress, credentials);
    const error = await new Promise<grpc.ServiceError>((resolve) =>
      unknown.makeUnaryRequest(
        '/marquee.nope.v1.Nothing/Call',
        (value: Buffer) => value,
        (value: Buffer) => value,
        Buffer.alloc(0),
        (err) => resolve(err as grpc.ServiceError),
      ),
    );
    unknown.close();
    health.close();
    expect(error.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('takes bursts of 500 concurrent calls on one HTTP/2 connection, 1,500 in all, refusing none', async () => {
    // One channel, one connection, grpc-js defaults: it opens as many streams at once as nginx allows
    // (http2_max_concurrent_streams) and keeps the connection for as many calls as nginx allows
    // (keepalive_requests; at nginx's default of 1000 the calls past it were refused).
    // Its own connection: clients of one address otherwise share one, and earlier calls would count.
    const health = new HealthClient(stack.grpcAddress, credentials, { 'grpc.use_local_subchannel_pool': 1 });
    const check = (): Promise<string> =>
      new Promise((resolve) =>
        health.check({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + 60_000 }, (error) =>
          resolve(error ? `${grpc.status[error.code]}: ${error.details}` : 'OK'),
        ),
      );
    try {
      const failed: string[] = [];
      for (let burst = 0; burst < 3; burst++) {
        const codes = await Promise.all(Array.from({ length: 500 }, check));
        failed.push(...codes.filter((c) => c !== 'OK'));
      }
      expect(failed).toEqual([]);
    } finally {
      health.close();
    }
  }, 120_000);

  it('stamps responses with the Lamport clock (x-lamport) through the front door', async () => {
    const health = new HealthClient(stack.grpcAddress, credentials);
    const stamp = await new Promise<string | undefined>((resolve, reject) => {
      const call = health.check({ service: '' }, (error) => error && reject(error));
      call.on('metadata', (metadata: grpc.Metadata) => resolve(metadata.get('x-lamport')[0]?.toString()));
    });
    health.close();
    expect(stamp).toMatch(/^[1-9]\d*$/);
  });

  it('a show an admin creates is bookable at once: register, hold two seats, pay, see it, cancel', async () => {
    const showId = await createShow(await adminToken(), 'The Front Door');
    const session = await viaFrontDoor(({ accounts: master }) =>
      callUnary(
        master.register.bind(master),
        { email: `buyer-${suffix}@example.com`, password: 'correct horse battery', displayName: 'Buyer' },
        { headers: { 'idempotency-key': `register-buyer-${suffix}` } },
      ),
    );
    const asBuyer = { token: session.token };
    const before = await callUnary(booking.getAvailability.bind(booking), { showId }, asBuyer);
    expect(before.seats.map((s) => s.state)).toEqual(Array(4).fill(SeatState.SEAT_STATE_FREE));

    const [first, second] = before.seats;
    const hold = await viaFrontDoor(({ booking: master }) =>
      callUnary(
        master.holdSeats.bind(master),
        { showId, seatIds: [first!.seatId, second!.seatId], ga: [], idempotencyKey: `hold-${suffix}` },
        asBuyer,
      ),
    );
    expect(hold.totalCents).toBe(2500);
    const confirmed = await viaFrontDoor(({ booking: master }) =>
      callUnary(
        master.confirmBooking.bind(master),
        {
          holdId: hold.id,
          card: {
            number: '4242 4242 4242 4242',
            expMonth: 12,
            expYear: 2099,
            cvc: '123',
            holderName: 'Buyer',
          },
          idempotencyKey: `confirm-${suffix}`,
        },
        asBuyer,
      ),
    );
    expect(confirmed.state).toBe(BookingState.BOOKING_STATE_CONFIRMED);
    await eventually(async () => {
      const mine = await callUnary(
        booking.listMyBookings.bind(booking),
        { pageSize: 10, pageToken: '' },
        asBuyer,
      );
      expect(mine.bookings.map((b) => b.id)).toEqual([confirmed.id]);
    });
    await eventually(async () => {
      const sold = await callUnary(booking.getAvailability.bind(booking), { showId }, asBuyer);
      expect(
        sold.seats
          .filter((s) => s.state === SeatState.SEAT_STATE_SOLD)
          .map((s) => s.seatId)
          .sort(),
      ).toEqual([first!.seatId, second!.seatId].sort());
    });

    const cancelled = await viaFrontDoor(({ booking: master }) =>
      callUnary(
        master.cancelBooking.bind(master),
        { bookingId: confirmed.id, idempotencyKey: `cancel-${suffix}` },
        asBuyer,
      ),
    );
    expect(cancelled.state).toBe(BookingState.BOOKING_STATE_CANCELLED);
    await eventually(async () => {
      const after = await callUnary(booking.getAvailability.bind(booking), { showId }, asBuyer);
      expect(after.seats.every((s) => s.state === SeatState.SEAT_STATE_FREE)).toBe(true);
    });
  });
});

describe('the control API (what a chaos tool drives)', () => {
  it('the demo fans get picks learned from their bookings, through the front door', async () => {
    await seedDemoData(stack.grpcAddress, 'e2e-secret-0123456789', new Date());
    const session = await callUnary(accounts.login.bind(accounts), {
      email: 'fan-1-1@demo.marquee.local',
      password: DEMO_FAN_PASSWORD,
    });
    const recommendations = new RecommendationServiceClient(stack.grpcAddress, credentials);
    try {
      // Fan 1 of the first group booked its second and third films: the first is the pick, because
      // the other fans of the group booked it with those (once the service has read the catalog and
      // the bookings, a second or two).
      const [cartographer] = (
        await callUnary(catalog.searchEvents.bind(catalog), {
          query: 'The Cartographer of Tides',
          genre: '',
          city: '',
          fromDate: '',
          toDate: '',
          kind: 0,
          pageSize: 1,
          pageToken: '',
        })
      ).events;
      const deadline = Date.now() + 30_000;
      for (;;) {
        const answer = await callUnary(
          recommendations.recommend.bind(recommendations),
          { userId: '', k: 3, city: '' },
          { token: session.token },
        );
        const top = answer.items[0];
        if (top?.eventId === cartographer!.id && /because you booked|similar to/.test(top.reason)) break;
        if (Date.now() > deadline)
          throw new Error(`no personal pick of ${cartographer!.id}: ${JSON.stringify(answer.items)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      // Seeding again books nothing more.
      expect(await seedDemoData(stack.grpcAddress, 'e2e-secret-0123456789', new Date())).toContain(
        '0 demo fan bookings made',
      );
    } finally {
      recommendations.close();
    }
  }, 60_000);

  it('kills the master: another node takes over and books; the killed node restarts and runs', async () => {
    const control = new StackControlClient(stack.controlUrl!);
    expect((await control.nodes()).map((n) => [n.id, n.state])).toEqual([
      [1, 'running'],
      [2, 'running'],
      [3, 'running'],
    ]);
    const showId = await createShow(await adminToken(), 'The Failover');
    const session = await viaFrontDoor(({ accounts: master }) =>
      callUnary(
        master.register.bind(master),
        {
          email: `failover-${suffix}@example.com`,
          password: 'correct horse battery',
          displayName: 'Failover',
        },
        { headers: { 'idempotency-key': `register-failover-${suffix}` } },
      ),
    );

    const available = await callUnary(
      booking.getAvailability.bind(booking),
      { showId },
      { token: session.token },
    );

    const before = await stack.waitForMaster(15000);
    const oldPid = (await control.nodes()).find((n) => n.id === before.masterId)?.pid;
    const killed = await control.kill(before.masterId);
    expect(killed).toMatchObject({ id: before.masterId, state: 'killed', pid: undefined });

    // waitForMaster asks the running nodes only: the one it finds is a new master.
    const after = await stack.waitForMaster(15000);
    expect(after.masterId).not.toBe(before.masterId);
    expect(after.term).toBeGreaterThan(before.term);
    const hold = await viaFrontDoor(
      ({ booking: master }) =>
        callUnary(
          master.holdSeats.bind(master),
          {
            showId,
            seatIds: [available.seats[0]!.seatId],
            ga: [],
            idempotencyKey: `failover-hold-${suffix}`,
          },
          { token: session.token },
        ),
      // The first write after a takeover waits for the new master's catch-up and term-start entry;
      // under the full suite's load on two cores that once took over 10 s.
      20_000,
    );
    expect(hold.totalCents).toBe(1250);

    const restarted = await control.restart(before.masterId);
    expect(restarted).toMatchObject({ id: before.masterId, state: 'running', pid: expect.any(Number) });
    expect(restarted.pid).not.toBe(oldPid);
    expect((await control.nodes()).map((n) => n.state)).toEqual(['running', 'running', 'running']);
  });
});

describe("a booking node killed between a write's commit and its answer", () => {
  it('the client, retrying the unknown outcome with the same key through nginx, ends with one booking and a success', async () => {
    const control = new StackControlClient(stack.controlUrl!);
    const showId = await createShow(await adminToken(), 'The Lost Answer');
    const session = await viaFrontDoor(({ accounts: master }) =>
      callUnary(
        master.register.bind(master),
        { email: `lost-${suffix}@example.com`, password: 'correct horse battery', displayName: 'Lost' },
        { headers: { 'idempotency-key': `register-lost-${suffix}` } },
      ),
    );
    const asBuyer = { token: session.token };
    const available = await viaFrontDoor(({ booking: any }) =>
      callUnary(any.getAvailability.bind(any), { showId }, asBuyer),
    );
    const hold = await viaFrontDoor(({ booking: master }) =>
      callUnary(
        master.holdSeats.bind(master),
        { showId, seatIds: [available.seats[0]!.seatId], ga: [], idempotencyKey: `lost-hold-${suffix}` },
        asBuyer,
      ),
    );

    // Armed: the node nginx sends the first ConfirmBooking to (the master, or a slave the master
    // answered) dies once the booking is committed and acknowledged, before its answer leaves.
    writeFileSync(crashArmFile, '');
    const failures: string[] = [];
    const request = {
      holdId: hold.id,
      card: { number: '4242 4242 4242 4242', expMonth: 12, expYear: 2099, cvc: '123', holderName: 'Lost' },
      idempotencyKey: `lost-confirm-${suffix}`,
    };
    // The scripts' retry policy (the chaos workload's), over the gRPC front door only.
    const outcome = await retryOnCandidates(
      async () => {
        try {
          return await callUnary(booking.confirmBooking.bind(booking), request, asBuyer);
        } catch (error) {
          failures.push(errorText(error));
          throw error;
        }
      },
      () => [stack.grpcAddress],
      {
        // The retry may need a new master: a takeover's first write took over 10 s under full load.
        budgetMs: 30_000,
        now: Date.now,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      },
    );

    expect(existsSync(crashArmFile)).toBe(false);
    const dead = (await control.nodes()).filter((n) => n.state !== 'running');
    expect(dead).toHaveLength(1);
    // The first attempt did not learn the outcome; a later one got the first answer.
    expect(outcome.attempts).toBeGreaterThan(1);
    expect(failures.length).toBe(outcome.attempts - 1);
    expect(outcome.value.state).toBe(BookingState.BOOKING_STATE_CONFIRMED);
    expect(outcome.value.holdId).toBe(hold.id);
    await eventually(async () => {
      const mine = await callUnary(
        booking.listMyBookings.bind(booking),
        { pageSize: 10, pageToken: '' },
        asBuyer,
      );
      expect(mine.bookings.map((b) => b.id)).toEqual([outcome.value.id]);
    }, 20_000);

    const restarted = await control.restart(dead[0]!.id);
    expect(restarted.state).toBe('running');
    process.stderr.write(
      `killed between commit and answer: node ${dead[0]!.id}; the client saw ${failures.join(' | ')}\n`,
    );
  }, 90_000);
});

/** Every live process below `root` (children, grandchildren: nginx's workers), from /proc. */
function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // Exited while we looked: not a descendant any more.
    }
  }
  const below = new Set<number>([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parentOf)
      if (below.has(ppid) && !below.has(pid)) {
        below.add(pid);
        grew = true;
      }
  }
  below.delete(root);
  return [...below];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead but not yet reaped by its parent.
  return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

describe('stopping the stack (what npm start does on Ctrl-C or SIGTERM)', () => {
  it('leaves no process it started alive, a node restarted through the control API included', async () => {
    const control = new StackControlClient(stack.controlUrl!);
    const restarted = await control.restart(2);
    expect(restarted.state).toBe('running');
    // What the stack started (the test's own MariaDB is not among them), and everything below.
    const roots = [...stack.processes.map((p) => p.pid), ...(await control.nodes()).map((n) => n.pid!)];
    const started = [...roots, ...roots.flatMap(descendants)];
    expect(started).toContain(restarted.pid);
    expect(started.filter(alive)).toEqual(started);

    await stack.stop();

    const named = (pid: number): string =>
      `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()}`;
    expect(started.filter(alive).map(named)).toEqual([]);
  }, 60_000);
});
