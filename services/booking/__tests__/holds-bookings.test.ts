import { status as Code } from '@grpc/grpc-js';
import { BookingState, HoldState, SeatState } from '../../../proto/gen/marquee/booking/v1/booking';
import type { BookingServiceClient } from '../../../proto/gen/marquee/booking/v1/booking';
import { SimulatedCardProcessor } from '../payments';
import type { PaymentProcessor } from '../payments';
import { DECLINED_CARD, GOOD_CARD, call, expectError, makeShow, queryRows, startHarness } from './harness';
import type { Harness } from './harness';

let keyCounter = 0;
const key = (label: string): string => `${label}-${++keyCounter}-key`;

function api(h: Harness, userId: string, role: 'user' | 'admin' = 'user') {
  const client: BookingServiceClient = h.booking[0]!;
  const token = h.token(userId, role);
  return {
    hold: (showId: string, seatIds: string[], ga: { areaId: string; quantity: number }[] = []) =>
      call(client.holdSeats.bind(client), { showId, seatIds, ga, idempotencyKey: key('hold') }, token),
    confirm: (holdId: string, card = GOOD_CARD) =>
      call(client.confirmBooking.bind(client), { holdId, card, idempotencyKey: key('pay') }, token),
    release: (holdId: string) =>
      call(client.releaseHold.bind(client), { holdId, idempotencyKey: key('release') }, token),
    cancel: (bookingId: string) =>
      call(client.cancelBooking.bind(client), { bookingId, idempotencyKey: key('cancel') }, token),
    get: (bookingId: string) => call(client.getBooking.bind(client), { bookingId }, token),
    list: (pageSize: number, pageToken = '') =>
      call(client.listMyBookings.bind(client), { pageSize, pageToken }, token),
    availability: (showId: string) => call(client.getAvailability.bind(client), { showId }, token),
  };
}

async function seatStates(h: Harness, showId: string): Promise<Record<string, string>> {
  const rows = await queryRows<{ seat_id: string; state: string }>(
    h.db,
    'SELECT seat_id, state FROM seats WHERE show_id = ?',
    showId,
  );
  return Object.fromEntries(rows.map((r) => [r.seat_id, r.state]));
}

async function holdState(h: Harness, holdId: string): Promise<string | undefined> {
  return (await queryRows<{ state: string }>(h.db, 'SELECT state FROM holds WHERE id = ?', holdId))[0]?.state;
}

describe('holds expire (lazily, without the sweeper)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      shows: [makeShow('exp', 4, [{ areaId: 'PIT', capacity: 3 }])],
      holdTtlSeconds: 1,
    });
  });
  afterAll(() => h.stop());

  it('a hold of a free seat and a taken one names only the taken seat (message and x-error-seat_ids)', async () => {
    const carol = api(h, 'carol');
    const dave = api(h, 'dave');
    await carol.hold('exp', ['ORCH-A-4']);
    const error = await expectError(
      dave.hold('exp', ['ORCH-A-3', 'ORCH-A-4']),
      Code.FAILED_PRECONDITION,
      'seat ORCH-A-4 is already held',
    );
    expect(error.details).not.toContain('ORCH-A-3');
    expect(error.metadata.get('x-error-seat_ids')).toEqual(['ORCH-A-4']);
    // All or nothing: the free seat stayed free.
    expect((await seatStates(h, 'exp'))['ORCH-A-3']).toBe('FREE');
    h.advance(1500); // let carol's hold lapse for the tests below
  });

  it('an expired hold’s seats can be held by someone else at once, and the old hold can no longer be confirmed', async () => {
    const alice = api(h, 'alice');
    const bob = api(h, 'bob');
    const first = await alice.hold('exp', ['ORCH-A-1', 'ORCH-A-2']);
    await expectError(
      bob.hold('exp', ['ORCH-A-2']),
      Code.FAILED_PRECONDITION,
      'seat ORCH-A-2 is already held',
    );
    h.advance(1500);
    expect((await bob.availability('exp')).seats.slice(0, 2).map((s) => s.state)).toEqual([
      SeatState.SEAT_STATE_FREE,
      SeatState.SEAT_STATE_FREE,
    ]);
    const second = await bob.hold('exp', ['ORCH-A-2']);
    await expectError(alice.confirm(first.id), Code.FAILED_PRECONDITION, `hold ${first.id} expired`);
    const booking = await bob.confirm(second.id);
    expect(booking.seats.map((s) => s.seatId)).toEqual(['ORCH-A-2']);
    const states = await seatStates(h, 'exp');
    expect(states['ORCH-A-2']).toBe('SOLD');
  });

  it('places of a lapsed GA hold go back to the pool for the next buyer', async () => {
    const alice = api(h, 'alice');
    const bob = api(h, 'bob');
    const first = await alice.hold('exp', [], [{ areaId: 'PIT', quantity: 3 }]);
    await expectError(
      bob.hold('exp', [], [{ areaId: 'PIT', quantity: 1 }]),
      Code.FAILED_PRECONDITION,
      'area PIT has only 0 places left',
    );
    h.advance(1500);
    const pit = (await bob.availability('exp')).pools[0];
    expect(pit).toEqual(expect.objectContaining({ held: 0, sold: 0, remaining: 3 }));
    const second = await bob.hold('exp', [], [{ areaId: 'PIT', quantity: 2 }]);
    expect(await holdState(h, first.id)).toBe('EXPIRED');
    await bob.confirm(second.id);
    const [pool] = await queryRows<{ held: number; sold: number }>(
      h.db,
      "SELECT held, sold FROM ga_pools WHERE show_id = 'exp' AND area_id = 'PIT'",
    );
    expect(pool).toEqual({ held: 0, sold: 2 });
  });
});

describe('the sweeper', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      shows: [makeShow('swept', 2, [{ areaId: 'LAWN', capacity: 5 }])],
      holdTtlSeconds: 1,
      sweepIntervalMs: 20,
    });
  });
  afterAll(() => h.stop());

  it('marks lapsed holds EXPIRED and frees their seats and places', async () => {
    const carol = api(h, 'carol');
    const hold = await carol.hold('swept', ['ORCH-A-1'], [{ areaId: 'LAWN', quantity: 4 }]);
    expect(await holdState(h, hold.id)).toBe('ACTIVE');
    h.advance(2000);
    for (let i = 0; i < 500 && (await holdState(h, hold.id)) === 'ACTIVE'; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await holdState(h, hold.id)).toBe('EXPIRED');
    expect(await seatStates(h, 'swept')).toEqual({ 'ORCH-A-1': 'FREE', 'ORCH-A-2': 'FREE' });
    const [pool] = await queryRows<{ held: number }>(
      h.db,
      "SELECT held FROM ga_pools WHERE show_id = 'swept'",
    );
    expect(pool?.held).toBe(0);
  });

  it('purges idempotency keys once they are older than 24 h', async () => {
    await api(h, 'dora').hold('swept', ['ORCH-A-2']);
    const count = async () =>
      Number((await queryRows<{ n: number }>(h.db, 'SELECT COUNT(*) AS n FROM idempotency'))[0]?.n);
    expect(await count()).toBeGreaterThan(0);
    h.advance(23 * 3600 * 1000);
    await new Promise((resolve) => setTimeout(resolve, 200)); // several sweeps: nothing is old enough yet
    expect(await count()).toBeGreaterThan(0);
    h.advance(2 * 3600 * 1000);
    for (let i = 0; i < 500 && (await count()) > 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await count()).toBe(0);
  });
});

describe('booking, paying, cancelling', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      shows: [makeShow('main', 10, [{ areaId: 'BALCONY', capacity: 10, amountCents: 1500 }])],
    });
  });
  afterAll(() => h.stop());

  it('a hold prices its seats and places and a confirm sells them', async () => {
    const dan = api(h, 'dan');
    const hold = await dan.hold('main', ['ORCH-A-3', 'ORCH-A-1'], [{ areaId: 'BALCONY', quantity: 2 }]);
    expect(hold).toEqual(
      expect.objectContaining({
        showId: 'main',
        currency: 'EUR',
        totalCents: 2 * 4500 + 2 * 1500,
        state: HoldState.HOLD_STATE_ACTIVE,
        seats: [
          { seatId: 'ORCH-A-1', label: 'Orchestra A1', amountCents: 4500 },
          { seatId: 'ORCH-A-3', label: 'Orchestra A3', amountCents: 4500 },
        ],
        ga: [{ areaId: 'BALCONY', quantity: 2, amountCents: 1500 }],
      }),
    );
    expect(Date.parse(hold.expiresAt) - h.now()).toBeGreaterThan(500_000);
    const booking = await dan.confirm(hold.id);
    expect(booking).toEqual(
      expect.objectContaining({
        userId: 'dan',
        holdId: hold.id,
        totalCents: hold.totalCents,
        state: BookingState.BOOKING_STATE_CONFIRMED,
      }),
    );
    expect(booking.paymentId).toMatch(/^pay_/);
    const availability = await dan.availability('main');
    expect(
      availability.seats.filter((s) => s.state === SeatState.SEAT_STATE_SOLD).map((s) => s.seatId),
    ).toEqual(['ORCH-A-1', 'ORCH-A-3']);
    expect(availability.pools[0]).toEqual(expect.objectContaining({ sold: 2, held: 0, remaining: 8 }));
    expect(await dan.get(booking.id)).toEqual(booking);
    await expectError(dan.confirm(hold.id), Code.FAILED_PRECONDITION, `hold ${hold.id} is already confirmed`);
  });

  it('a declined card leaves the hold intact; another card then confirms it', async () => {
    const erin = api(h, 'erin');
    const hold = await erin.hold('main', ['ORCH-A-5']);
    await expectError(erin.confirm(hold.id, DECLINED_CARD), Code.FAILED_PRECONDITION, /^card declined: /);
    expect(await holdState(h, hold.id)).toBe('ACTIVE');
    expect((await seatStates(h, 'main'))['ORCH-A-5']).toBe('HELD');
    expect(await queryRows(h.db, 'SELECT id FROM bookings WHERE hold_id = ?', hold.id)).toEqual([]);
    const booking = await erin.confirm(hold.id, GOOD_CARD);
    expect(booking.seats.map((s) => s.seatId)).toEqual(['ORCH-A-5']);
    const payments = await queryRows<{ kind: string; card_last4: string }>(
      h.db,
      'SELECT kind, card_last4 FROM payments WHERE booking_id = ?',
      booking.id,
    );
    expect(payments).toEqual([{ kind: 'CHARGE', card_last4: '4242' }]);
  });

  it('cancelling refunds the charge and frees the seats and places for someone else', async () => {
    const fay = api(h, 'fay');
    const booking = await fay.confirm(
      (await fay.hold('main', ['ORCH-A-7'], [{ areaId: 'BALCONY', quantity: 3 }])).id,
    );
    const cancelled = await fay.cancel(booking.id);
    expect(cancelled).toEqual(
      expect.objectContaining({
        id: booking.id,
        state: BookingState.BOOKING_STATE_CANCELLED,
        paymentId: booking.paymentId,
      }),
    );
    expect(cancelled.refundId).toMatch(/^ref_/);
    expect(cancelled.cancelledAt).not.toBe('');
    const payments = await queryRows<{ kind: string; charge_id: string | null }>(
      h.db,
      'SELECT kind, charge_id FROM payments WHERE booking_id = ? ORDER BY kind',
      booking.id,
    );
    expect(payments).toEqual([
      { kind: 'CHARGE', charge_id: null },
      { kind: 'REFUND', charge_id: booking.paymentId },
    ]);
    expect((await seatStates(h, 'main'))['ORCH-A-7']).toBe('FREE');
    await expectError(
      fay.cancel(booking.id),
      Code.FAILED_PRECONDITION,
      `booking ${booking.id} is already cancelled`,
    );
    const gus = api(h, 'gus');
    await gus.confirm((await gus.hold('main', ['ORCH-A-7'], [{ areaId: 'BALCONY', quantity: 1 }])).id);
  });

  it('a released hold gives its seats back; releasing twice is refused', async () => {
    const hal = api(h, 'hal');
    const hold = await hal.hold('main', ['ORCH-A-9'], [{ areaId: 'BALCONY', quantity: 1 }]);
    const before = (await hal.availability('main')).pools[0]!;
    const released = await hal.release(hold.id);
    expect(released).toEqual(expect.objectContaining({ id: hold.id, state: HoldState.HOLD_STATE_RELEASED }));
    expect((await seatStates(h, 'main'))['ORCH-A-9']).toBe('FREE');
    expect((await hal.availability('main')).pools[0]!.held).toBe(before.held - 1);
    await expectError(hal.release(hold.id), Code.FAILED_PRECONDITION, `hold ${hold.id} is already released`);
    await expectError(hal.confirm(hold.id), Code.FAILED_PRECONDITION, `hold ${hold.id} is released`);
  });

  it('a user cannot read, cancel, confirm or release what is another user’s; an admin can read and cancel', async () => {
    const ivy = api(h, 'ivy');
    const mallory = api(h, 'mallory');
    const admin = api(h, 'root', 'admin');
    const booking = await ivy.confirm((await ivy.hold('main', ['ORCH-A-10'])).id);
    await expectError(mallory.get(booking.id), Code.PERMISSION_DENIED, 'booking_id');
    await expectError(mallory.cancel(booking.id), Code.PERMISSION_DENIED, 'booking_id');
    const hold = await ivy.hold('main', ['ORCH-A-8']);
    await expectError(mallory.confirm(hold.id), Code.PERMISSION_DENIED, 'hold_id');
    await expectError(mallory.release(hold.id), Code.PERMISSION_DENIED, 'hold_id');
    expect(await holdState(h, hold.id)).toBe('ACTIVE');
    expect((await mallory.list(10)).bookings).toEqual([]);
    expect((await admin.get(booking.id)).id).toBe(booking.id);
    const cancelled = await admin.cancel(booking.id);
    expect(cancelled.state).toBe(BookingState.BOOKING_STATE_CANCELLED);
    expect((await ivy.get(booking.id)).state).toBe(BookingState.BOOKING_STATE_CANCELLED);
  });

  it('lists my bookings newest first, a page at a time', async () => {
    const jo = api(h, 'jo');
    const ids: string[] = [];
    for (const quantity of [1, 1, 1]) {
      ids.push((await jo.confirm((await jo.hold('main', [], [{ areaId: 'BALCONY', quantity }])).id)).id);
      h.advance(5); // distinct creation times
    }
    const first = await jo.list(2);
    expect(first.bookings.map((b) => b.id)).toEqual([ids[2], ids[1]]);
    expect(first.nextPageToken).not.toBe('');
    const second = await jo.list(2, first.nextPageToken);
    expect(second.bookings.map((b) => b.id)).toEqual([ids[0]]);
    expect(second.nextPageToken).toBe('');
    expect(second.bookings[0]!.ga).toEqual([{ areaId: 'BALCONY', quantity: 1, amountCents: 1500 }]);
  });
});

describe('a hold that lapses while its payment is being taken', () => {
  let h: Harness;
  let duringCharge: (() => Promise<void>) | undefined;
  const refunds: string[] = [];
  const simulated = new SimulatedCardProcessor();
  const processor: PaymentProcessor = {
    charge: async (request) => {
      const result = await simulated.charge(request);
      const hook = duringCharge;
      duringCharge = undefined;
      await hook?.();
      return result;
    },
    refund: async (request) => {
      refunds.push(request.paymentId);
      return simulated.refund(request);
    },
  };
  beforeAll(async () => {
    h = await startHarness({ shows: [makeShow('slow-pay', 2)], holdTtlSeconds: 1, payments: processor });
  });
  afterAll(() => h.stop());

  it('is not confirmed when its seat was taken meanwhile, and the charge is refunded', async () => {
    const alice = api(h, 'alice');
    const bob = api(h, 'bob');
    const hold = await alice.hold('slow-pay', ['ORCH-A-1', 'ORCH-A-2']);
    duringCharge = async () => {
      h.advance(1500);
      await bob.hold('slow-pay', ['ORCH-A-2']);
    };
    await expectError(
      alice.confirm(hold.id),
      Code.FAILED_PRECONDITION,
      `hold ${hold.id} lapsed while being confirmed`,
    );
    expect(refunds).toHaveLength(1);
    expect(await queryRows(h.db, 'SELECT id FROM bookings')).toEqual([]);
    expect(await queryRows(h.db, 'SELECT id FROM payments')).toEqual([]);
    const seats = await queryRows<{ seat_id: string; state: string; hold_id: string | null }>(
      h.db,
      "SELECT seat_id, state, hold_id FROM seats WHERE show_id = 'slow-pay' ORDER BY seat_id",
    );
    expect(seats.map((s) => [s.seat_id, s.state, s.hold_id === hold.id])).toEqual([
      ['ORCH-A-1', 'HELD', true], // the lapsed hold's other seat waits for the sweeper or the next buyer
      ['ORCH-A-2', 'HELD', false],
    ]);
  });
});
