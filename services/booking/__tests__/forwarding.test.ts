import type { RowDataPacket } from 'mysql2/promise';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Metadata, status as Code } from '@grpc/grpc-js';
import pino from 'pino';
import {
  AccountServiceClient,
  AccountServiceService,
  BookingServiceClient,
  BookingServiceService,
  BookingState,
} from '../../../proto/gen/marquee/booking/v1/booking';
import { snapshotNode } from '../../../scripts/lib/invariants';
import { freshDatabase, testMysqlUrl } from '../../../test/databases';
import type { Pool } from '../../common/mysql';
import { loadConfig } from '../config';
import { ClusterSecret, PEER_AUTH_METADATA_KEY } from '../../common/peer-auth';
import { FORWARDED_BY_HEADER, ROUTES, decide, forwardedMetadata } from '../forwarding';
import type { GroupView } from '../forwarding';
import { startBookingServer } from '../server';
import type { BookingServer } from '../server';
import { StaticShowSource } from '../show-source';
import { GOOD_CARD, call, expectError, makeShow } from './harness';

describe('forwarding decision (pure)', () => {
  const slave: GroupView = { nodeId: 1, canServeWrites: false, masterId: 3, masterAddress: 'b3:50071' };
  const master: GroupView = { nodeId: 3, canServeWrites: true, masterId: 3, masterAddress: undefined };

  it('lists every RPC of both services, and only those', () => {
    const names = (definition: object): string[] => Object.keys(definition).sort();
    expect(names(ROUTES.AccountService)).toEqual(names(AccountServiceService));
    expect(names(ROUTES.BookingService)).toEqual(names(BookingServiceService));
  });

  it('the master serves everything itself, forwarded or not', () => {
    for (const route of ['write', 'current read', 'local read'] as const) {
      expect(decide(route, master, undefined)).toEqual({ kind: 'local' });
      expect(decide(route, master, '1')).toEqual({ kind: 'local' });
    }
  });

  it('a slave forwards writes and current reads to the master and serves browsing reads itself', () => {
    expect(decide('write', slave, undefined)).toEqual({ kind: 'forward', address: 'b3:50071' });
    expect(decide('current read', slave, undefined)).toEqual({ kind: 'forward', address: 'b3:50071' });
    expect(decide('local read', slave, undefined)).toEqual({ kind: 'local' });
  });

  const refusal = (route: 'write' | 'current read', group: GroupView, by?: string): string => {
    const decision = decide(route, group, by);
    if (decision.kind !== 'refuse') throw new Error(`expected a refusal, got ${decision.kind}`);
    expect(decision.error.code).toBe(Code.UNAVAILABLE);
    return decision.error.message;
  };

  it('a slave refuses a call that was already forwarded instead of forwarding it again', () => {
    expect(refusal('write', slave, '2')).toBe(
      'node 1 is not the master; the master is node 3 at b3:50071; this call was forwarded here by node 2 ' +
        'and is not forwarded twice: retry',
    );
    expect(decide('local read', slave, '2')).toEqual({ kind: 'local' });
  });

  it('with no master, or a master not yet serving, or no address for it, the call is refused naming why', () => {
    const none = { nodeId: 1, canServeWrites: false, masterId: undefined, masterAddress: undefined };
    expect(refusal('write', none)).toBe(
      'node 1 is not the master and no master is known yet (election in progress); retry shortly',
    );
    expect(refusal('current read', { ...none, masterId: 1 })).toBe(
      'node 1 is not the master yet (taking over); retry shortly',
    );
    expect(refusal('write', { ...slave, masterAddress: undefined })).toBe(
      'node 1 is not the master; the master is node 3 (its client address is not configured, see ' +
        'MARQUEE_BOOKING_ADDRS, so calls are not forwarded: retry there)',
    );
  });

  it("forwards the caller's headers, not the hop's, and marks the call as forwarded", () => {
    const incoming = new Metadata();
    incoming.set('authorization', 'Bearer t');
    incoming.set('idempotency-key', 'k-1');
    incoming.set('x-lamport', '42');
    incoming.set('user-agent', 'grpc-node-js/1');
    incoming.set('grpc-accept-encoding', 'identity');
    incoming.set(FORWARDED_BY_HEADER, '9');
    incoming.set(PEER_AUTH_METADATA_KEY, 'a caller cannot pass its own credential on');
    const secret = new ClusterSecret('forwarding-unit-secret-0123456789');
    expect(forwardedMetadata(incoming, 2, secret).toJSON()).toEqual({
      [PEER_AUTH_METADATA_KEY]: [secret.metadata().get(PEER_AUTH_METADATA_KEY)[0]],
      authorization: ['Bearer t'],
      'idempotency-key': ['k-1'],
      [FORWARDED_BY_HEADER]: ['2'],
    });
  });
});

/*
 * Three booking nodes in cluster mode, configured through the environment (MARQUEE_PEERS and
 * MARQUEE_BOOKING_ADDRS), each with its own database. Node 3 is elected; every call below goes to a
 * slave unless it says otherwise. Everything is polled; no timing is asserted.
 */

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const SHOW = 'forward-show';
const show = makeShow(SHOW, 12, [{ areaId: 'PIT', capacity: 8 }]);
const IDS = [1, 2, 3] as const;
const CLUSTER_SECRET = 'forwarding-test-secret-0123456789';
const peerCredential = new ClusterSecret(CLUSTER_SECRET).metadata().get(PEER_AUTH_METADATA_KEY)[0] as string;

interface Member {
  id: number;
  pool: Pool;
  address: string;
  server: BookingServer | undefined;
  booking: BookingServiceClient;
  accounts: AccountServiceClient;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function eventually<T>(check: () => T | Promise<T>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

let keyCounter = 0;
const key = (label: string): string => `${label}-${++keyCounter}-key`;

describe('forwarding in cluster mode (three nodes, MARQUEE_BOOKING_ADDRS)', () => {
  const members = new Map<number, Member>();
  const drops: (() => Promise<void>)[] = [];
  let stateRoot = '';
  let token = '';

  const member = (id: number): Member => {
    const m = members.get(id);
    if (!m) throw new Error(`no node ${id}`);
    return m;
  };
  const writers = (): number[] =>
    [...members.values()].filter((m) => m.server?.cluster?.canServeWrites()).map((m) => m.id);
  const forwarded = (id: number): number => member(id).server?.forwardedCalls() ?? 0;
  const bookingIds = async (id: number): Promise<string[]> =>
    (await snapshotNode(member(id).pool, id)).bookings.map((b) => b.id);

  beforeAll(async () => {
    stateRoot = await mkdtemp(path.join(tmpdir(), 'marquee-forward-'));
    const peerPorts = new Map<number, number>();
    const clientPorts = new Map<number, number>();
    for (const id of IDS) {
      peerPorts.set(id, await freePort());
      clientPorts.set(id, await freePort());
    }
    const list = (ports: Map<number, number>): string =>
      IDS.map((id) => `${id}=127.0.0.1:${ports.get(id)}`).join(',');
    for (const id of IDS) {
      const database = await freshDatabase(`bfwd${id}`);
      drops.push(database.drop);
      const config = loadConfig({
        MARQUEE_NODE_ID: String(id),
        MARQUEE_BOOKING_PORT: String(clientPorts.get(id)),
        MARQUEE_MYSQL_URL: testMysqlUrl(),
        MARQUEE_BOOKING_DB: database.name,
        MARQUEE_BOOKING_MYSQL_CONNECTIONS: '8',
        MARQUEE_LOG_LEVEL: 'silent',
        MARQUEE_PEERS: list(peerPorts),
        MARQUEE_BOOKING_ADDRS: list(clientPorts),
        MARQUEE_CLUSTER_SECRET: CLUSTER_SECRET,
        MARQUEE_ACK_POLICY: 'majority',
        MARQUEE_STATE_DIR: path.join(stateRoot, `node-${id}`),
      });
      const server = await startBookingServer({
        config,
        logger: logger.child({ nodeId: id }),
        pool: database.pool,
        showSource: new StaticShowSource([show]),
      });
      const address = `127.0.0.1:${clientPorts.get(id)}`;
      members.set(id, {
        id,
        pool: database.pool,
        address,
        server,
        booking: new BookingServiceClient(address, grpc.credentials.createInsecure()),
        accounts: new AccountServiceClient(address, grpc.credentials.createInsecure()),
      });
    }
    await eventually(() => expect(writers()).toEqual([3]));
  });

  afterAll(async () => {
    for (const m of [...members.values()].reverse()) {
      m.booking.close();
      m.accounts.close();
      await m.server?.stop().catch(() => undefined);
    }
    for (const drop of drops) await drop().catch(() => undefined);
    if (stateRoot) await rm(stateRoot, { recursive: true, force: true });
  });

  it('a slave forwards register, login, hold, confirm, reads of own bookings and cancel to the master', async () => {
    const one = member(1);
    const two = member(2);
    const session = await call(
      one.accounts.register.bind(one.accounts),
      { email: 'forward@example.com', password: 'correct horse battery', displayName: 'Forward' },
      undefined,
      { 'idempotency-key': key('register') },
    );
    token = session.token;
    // The account is only sure to exist on the master yet: login and whoAmI must be current.
    const login = await call(two.accounts.login.bind(two.accounts), {
      email: 'forward@example.com',
      password: 'correct horse battery',
    });
    expect(login.user?.id).toBe(session.user?.id);
    const me = await call(one.accounts.whoAmI.bind(one.accounts), {}, login.token);
    expect(me.email).toBe('forward@example.com');

    // A retry with the same idempotency key through the other slave gets the first answer.
    const holdRequest = { showId: SHOW, seatIds: ['ORCH-A-1'], ga: [], idempotencyKey: key('hold') };
    const hold = await call(one.booking.holdSeats.bind(one.booking), holdRequest, token);
    const holdAgain = await call(two.booking.holdSeats.bind(two.booking), holdRequest, token);
    expect(holdAgain.id).toBe(hold.id);
    const confirmRequest = { holdId: hold.id, card: GOOD_CARD, idempotencyKey: key('pay') };
    const booking = await call(two.booking.confirmBooking.bind(two.booking), confirmRequest, token);
    const bookingAgain = await call(one.booking.confirmBooking.bind(one.booking), confirmRequest, token);
    expect(bookingAgain.id).toBe(booking.id);

    // Read-your-writes through a slave, before replication is waited for.
    const got = await call(one.booking.getBooking.bind(one.booking), { bookingId: booking.id }, token);
    expect(got.id).toBe(booking.id);
    const mine = await call(
      two.booking.listMyBookings.bind(two.booking),
      { pageSize: 10, pageToken: '' },
      token,
    );
    expect(mine.bookings.map((b) => b.id)).toEqual([booking.id]);

    // The booking was made on the master and replicated to both slaves.
    expect(await bookingIds(3)).toEqual([booking.id]);
    for (const id of [1, 2]) await eventually(async () => expect(await bookingIds(id)).toEqual([booking.id]));

    const cancelled = await call(
      one.booking.cancelBooking.bind(one.booking),
      { bookingId: booking.id, idempotencyKey: key('cancel') },
      token,
    );
    expect(cancelled.state).toBe(BookingState.BOOKING_STATE_CANCELLED);

    expect(forwarded(1)).toBeGreaterThan(0);
    expect(forwarded(2)).toBeGreaterThan(0);
    expect(forwarded(3)).toBe(0);
  });

  it('a slave serves the seat map itself', async () => {
    const one = member(1);
    const before = forwarded(1);
    await call(one.booking.getAvailability.bind(one.booking), { showId: SHOW }, token);
    expect(forwarded(1)).toBe(before);
  });

  it('bad input through a slave is INVALID_ARGUMENT naming the field', async () => {
    const one = member(1);
    const error = await expectError(
      call(
        one.booking.holdSeats.bind(one.booking),
        { showId: SHOW, seatIds: ['ORCH-A-2', 'ORCH-A-2'], ga: [], idempotencyKey: key('hold') },
        token,
      ),
      Code.INVALID_ARGUMENT,
      'seat_ids[1]',
    );
    // The master's status as it sent it: same message, same field detail.
    expect(error.details).toMatch(/^seat_ids\[1\]: /);
    expect(error.metadata.get('x-error-field')).toEqual(['seat_ids[1]']);
    await expectError(
      call(one.accounts.register.bind(one.accounts), {
        email: 'not-an-email',
        password: 'correct horse battery',
        displayName: '',
      }),
      Code.INVALID_ARGUMENT,
      'email',
    );
  });

  it('a forwarded call that reaches a slave is refused UNAVAILABLE and not forwarded again', async () => {
    const one = member(1);
    const before = forwarded(1);
    const request = { showId: SHOW, seatIds: ['ORCH-A-3'], ga: [], idempotencyKey: key('hold') };
    const asPeer = { [FORWARDED_BY_HEADER]: '2', [PEER_AUTH_METADATA_KEY]: peerCredential };
    await expectError(
      call(one.booking.holdSeats.bind(one.booking), request, token, asPeer),
      Code.UNAVAILABLE,
      `the master is node 3 at ${member(3).address}; this call was forwarded here by node 2`,
    );
    expect(forwarded(1)).toBe(before);
    // The master serves a forwarded call like any other.
    const master = member(3).booking;
    const hold = await call(master.holdSeats.bind(master), request, token, asPeer);
    expect(hold.seats.map((s) => s.seatId)).toEqual(['ORCH-A-3']);
  });

  it('a call that claims to be forwarded without the cluster credential is refused UNAUTHENTICATED', async () => {
    const request = { showId: SHOW, seatIds: ['ORCH-A-9'], ga: [], idempotencyKey: key('hold') };
    for (const id of [1, 3]) {
      const { booking } = member(id);
      for (const credential of [undefined, 'not-the-credential'])
        await expectError(
          call(booking.holdSeats.bind(booking), request, token, {
            [FORWARDED_BY_HEADER]: '2',
            ...(credential === undefined ? {} : { [PEER_AUTH_METADATA_KEY]: credential }),
          }),
          Code.UNAUTHENTICATED,
          PEER_AUTH_METADATA_KEY,
        );
    }
    const [held] = await member(3).pool.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM hold_items WHERE item_id = 'ORCH-A-9'",
    );
    expect(Number(held[0]?.n)).toBe(0);
  });

  it('with no master, a slave answers UNAVAILABLE naming the situation', async () => {
    await Promise.all(
      [2, 3].map(async (id) => {
        await member(id).server?.stop();
        member(id).server = undefined;
      }),
    );
    const one = member(1);
    // Until node 1 notices node 3 is gone it still forwards there, and that fails too (UNAVAILABLE).
    await eventually(() =>
      expectError(
        call(
          one.booking.holdSeats.bind(one.booking),
          { showId: SHOW, seatIds: ['ORCH-A-4'], ga: [], idempotencyKey: key('hold') },
          token,
        ),
        Code.UNAVAILABLE,
        'node 1 is not the master and no master is known yet (election in progress); retry shortly',
      ),
    );
  }, 30_000);
});
