import * as grpc from '@grpc/grpc-js';
import { BookingChangeKind, BookingChangeServiceClient } from '../../../proto/gen/marquee/booking/v1/booking';
import type { BookingChange } from '../../../proto/gen/marquee/booking/v1/booking';
import { BookingGroup, eventually, registerUser, retryUnavailable } from './booking-group';
import { GOOD_CARD, call, makeShow, startHarness } from './harness';

/*
 * BookingChangeService.StreamChanges on a real three-node group: committed booking changes in log
 * order from any node; a consumer that loses its node resumes on another from its last position and
 * ends with every booking exactly once; a consumer older than a compacted log gets a RESET with the
 * current bookings; and the stream refuses callers who are not admins.
 */

const SHOW = 'changes-show';
const show = makeShow(SHOW, 20, []);
const Kind = BookingChangeKind;

let group: BookingGroup;
let adminToken = '';
let userToken = '';
let keys = 0;

async function book(nodeId: number, seatId: string): Promise<string> {
  const { booking } = group.member(nodeId);
  const holdKey = `hold-${++keys}-key`;
  const payKey = `pay-${keys}-key`;
  const hold = await retryUnavailable(() =>
    call(
      booking.holdSeats.bind(booking),
      { showId: SHOW, seatIds: [seatId], ga: [], idempotencyKey: holdKey },
      userToken,
    ),
  );
  const confirmed = await retryUnavailable(() =>
    call(
      booking.confirmBooking.bind(booking),
      { holdId: hold.id, card: GOOD_CARD, idempotencyKey: payKey },
      userToken,
    ),
  );
  return confirmed.id;
}

/** A consumer of one node's stream: collects changes until closed. */
class Consumer {
  readonly changes: BookingChange[] = [];
  error: grpc.ServiceError | undefined;
  ended = false;
  private readonly client: BookingChangeServiceClient;
  private readonly stream: grpc.ClientReadableStream<BookingChange>;

  constructor(address: string, afterPosition: number, token = adminToken) {
    this.client = new BookingChangeServiceClient(address, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    if (token) metadata.set('authorization', `Bearer ${token}`);
    this.stream = this.client.streamChanges({ afterPosition }, metadata);
    this.stream.on('data', (change: BookingChange) => this.changes.push(change));
    this.stream.on('error', (error: grpc.ServiceError) => (this.error = error));
    this.stream.on('end', () => (this.ended = true));
  }

  get lastPosition(): number {
    return this.changes.at(-1)?.position ?? 0;
  }

  of(kind: BookingChangeKind): BookingChange[] {
    return this.changes.filter((change) => change.kind === kind);
  }

  close(): void {
    this.stream.cancel();
    this.client.close();
  }
}

const consumers: Consumer[] = [];
const consume = (nodeId: number, after: number, token?: string): Consumer => {
  const consumer = new Consumer(group.member(nodeId).clientAddress, after, token);
  consumers.push(consumer);
  return consumer;
};

beforeAll(async () => {
  group = await new BookingGroup({
    label: 'bchg',
    shows: [show],
    env: { MARQUEE_ACK_POLICY: 'majority' },
  }).start();
  expect(await group.settled()).toBe(3);
  const { accounts } = group.member(3);
  const admin = await call(accounts.login.bind(accounts), {
    email: 'admin@marquee.local',
    password: 'marquee-admin',
  });
  adminToken = admin.token;
  const user = await registerUser(group.member(3), 'changes');
  userToken = user.token;
});

afterAll(async () => {
  for (const consumer of consumers) consumer.close();
  await group?.stop();
});

describe('BookingChangeService.StreamChanges', () => {
  it('streams confirmed and cancelled bookings in log order from a slave, then follows new ones', async () => {
    const first = await book(3, 'ORCH-A-1');
    const second = await book(3, 'ORCH-A-2');
    const { booking } = group.member(3);
    await retryUnavailable(() =>
      call(
        booking.cancelBooking.bind(booking),
        { bookingId: first, idempotencyKey: 'cancel-first-key' },
        userToken,
      ),
    );

    const consumer = consume(1, 0);
    await eventually(() => expect(consumer.of(Kind.BOOKING_CHANGE_KIND_CANCELLED)).toHaveLength(1));
    const counted = consumer.changes.filter((c) => c.kind !== Kind.BOOKING_CHANGE_KIND_CHECKPOINT);
    expect(counted.map((c) => [c.kind, c.bookingId])).toEqual([
      [Kind.BOOKING_CHANGE_KIND_CONFIRMED, first],
      [Kind.BOOKING_CHANGE_KIND_CONFIRMED, second],
      [Kind.BOOKING_CHANGE_KIND_CANCELLED, first],
    ]);
    expect(counted[0]).toMatchObject({ showId: SHOW, quantity: 1 });
    expect(counted[0]!.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(counted[0]!.lamport).toBeGreaterThan(0);
    const positions = consumer.changes.map((c) => c.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));

    // A booking made now reaches the open stream.
    const third = await book(3, 'ORCH-A-3');
    await eventually(() =>
      expect(consumer.of(Kind.BOOKING_CHANGE_KIND_CONFIRMED).map((c) => c.bookingId)).toContain(third),
    );
    expect(consumer.error).toBeUndefined();
  });

  it('a consumer that loses the master resumes on another node: every booking exactly once', async () => {
    const before = consume(3, 0);
    await eventually(() =>
      expect(before.of(Kind.BOOKING_CHANGE_KIND_CONFIRMED).length).toBeGreaterThanOrEqual(3),
    );
    const made = [await book(3, 'ORCH-A-4')];
    await eventually(() =>
      expect(before.of(Kind.BOOKING_CHANGE_KIND_CONFIRMED).map((c) => c.bookingId)).toContain(made[0]),
    );

    await group.stopMember(3);
    await eventually(() => expect(before.error?.code ?? (before.ended ? -1 : undefined)).toBeDefined());
    // Resume on node 2 from the last position seen, while the group elects and takes more bookings.
    const after = consume(2, before.lastPosition);
    await eventually(() => expect(group.writers()).toEqual([2]));
    made.push(await book(2, 'ORCH-A-5'), await book(2, 'ORCH-A-6'));
    await eventually(() =>
      expect(after.of(Kind.BOOKING_CHANGE_KIND_CONFIRMED).map((c) => c.bookingId)).toEqual(
        expect.arrayContaining(made.slice(1)),
      ),
    );

    const seen = [...before.changes, ...after.changes].filter(
      (c) => c.kind === Kind.BOOKING_CHANGE_KIND_CONFIRMED,
    );
    const ids = seen.map((c) => c.bookingId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(made));
    expect(after.changes[0]!.position).toBeGreaterThan(before.lastPosition);
    await group.startMember(3);
  });

  it('a consumer older than a compacted log gets RESET with the bookings as of a position, then goes on', async () => {
    await eventually(() => expect(group.writers()).toHaveLength(1));
    const node = group.member(1).server!.cluster!.node;
    const compactedThrough = await eventually(async () => {
      const through = await node.log.compact(Number.MAX_SAFE_INTEGER);
      expect(through).toBeGreaterThan(0);
      return through;
    });
    const consumer = consume(1, 0);
    await eventually(() =>
      expect(consumer.of(Kind.BOOKING_CHANGE_KIND_CHECKPOINT).length).toBeGreaterThan(0),
    );
    const [reset, ...rest] = consumer.changes;
    expect(reset).toMatchObject({ kind: Kind.BOOKING_CHANGE_KIND_RESET });
    expect(reset!.position).toBeGreaterThanOrEqual(compactedThrough);
    const snapshot = rest.slice(
      0,
      rest.findIndex((c) => c.kind === Kind.BOOKING_CHANGE_KIND_CHECKPOINT),
    );
    // Every CONFIRMED booking on the node as of the reset, none cancelled.
    const [rows] = await group.member(1).pool.query("SELECT id FROM bookings WHERE state = 'CONFIRMED'");
    expect(snapshot.map((c) => c.bookingId).sort()).toEqual(
      (rows as { id: string }[]).map((r) => r.id).sort(),
    );
    expect(
      snapshot.every((c) => c.position === reset!.position && c.kind === Kind.BOOKING_CHANGE_KIND_CONFIRMED),
    ).toBe(true);

    const writer = group.writers()[0]!;
    const next = await book(writer, 'ORCH-A-7');
    await eventually(() =>
      expect(consumer.of(Kind.BOOKING_CHANGE_KIND_CONFIRMED).map((c) => c.bookingId)).toContain(next),
    );
  });

  it('refuses callers without the admin role and bad positions, naming the field', async () => {
    const noToken = consume(1, 0, '');
    await eventually(() => expect(noToken.error?.code).toBe(grpc.status.UNAUTHENTICATED));
    const user = consume(1, 0, userToken);
    await eventually(() => expect(user.error?.code).toBe(grpc.status.PERMISSION_DENIED));
    const negative = consume(1, -5);
    await eventually(() => expect(negative.error?.code).toBe(grpc.status.INVALID_ARGUMENT));
    expect(negative.error?.details).toContain('after_position');
    expect(noToken.changes).toEqual([]);
  });

  it('a single node (no replication log) says the stream needs cluster mode', async () => {
    const single = await startHarness({ shows: [show] });
    try {
      const consumer = new Consumer(`127.0.0.1:${single.server.port}`, 0, single.token('admin-1', 'admin'));
      consumers.push(consumer);
      await eventually(() => expect(consumer.error?.code).toBe(grpc.status.FAILED_PRECONDITION));
      expect(consumer.error?.details).toContain('cluster mode');
    } finally {
      await single.stop();
    }
  });
});
