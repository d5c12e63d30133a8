import { Metadata, status as Code } from '@grpc/grpc-js';
import type { RowDataPacket } from 'mysql2/promise';
import {
  AccountServiceService,
  BookingServiceService,
  BookingState,
} from '../../../proto/gen/marquee/booking/v1/booking';
import { snapshotNode } from '../../../scripts/lib/invariants';
import { ClusterSecret, PEER_AUTH_METADATA_KEY } from '../../common/peer-auth';
import { FORWARDED_BY_HEADER, ROUTES, decide, forwardedMetadata } from '../forwarding';
import type { GroupView } from '../forwarding';
import { BookingGroup, eventually } from './booking-group';
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

const SHOW = 'forward-show';
const show = makeShow(SHOW, 12, [{ areaId: 'PIT', capacity: 8 }]);
const CLUSTER_SECRET = 'forwarding-test-secret-0123456789';
const peerCredential = new ClusterSecret(CLUSTER_SECRET).metadata().get(PEER_AUTH_METADATA_KEY)[0] as string;

let keyCounter = 0;
const key = (label: string): string => `${label}-${++keyCounter}-key`;

describe('forwarding in cluster mode (three nodes, MARQUEE_BOOKING_ADDRS)', () => {
  let group: BookingGroup;
  let token = '';

  const member = (id: number) => group.member(id);
  const forwarded = (id: number): number => member(id).server?.forwardedCalls() ?? 0;
  const bookingIds = async (id: number): Promise<string[]> =>
    (await snapshotNode(member(id).pool, id)).bookings.map((b) => b.id);

  beforeAll(async () => {
    group = await new BookingGroup({
      label: 'bfwd',
      shows: [show],
      env: { MARQUEE_CLUSTER_SECRET: CLUSTER_SECRET, MARQUEE_ACK_POLICY: 'majority' },
    }).start();
    await eventually(() => expect(group.writers()).toEqual([3]));
  });

  afterAll(async () => {
    await group?.stop();
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
      `the master is node 3 at ${member(3).clientAddress}; this call was forwarded here by node 2`,
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
        await group.stopMember(id);
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
