import { status as Code } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { SeatState } from '../../../proto/gen/marquee/booking/v1/booking';
import type { Booking } from '../../../proto/gen/marquee/booking/v1/booking';
import { seededRandom } from '../../common/prng';
import { GOOD_CARD, call, expectError, makeShow, queryRows, startHarness } from './harness';
import type { Harness } from './harness';

const CLIENTS = 500;
const SEATS = 50;
const CAPACITY = 100;

/** One logical client: hold, then confirm. Resolves with the booking or the error it got. */
async function holdAndConfirm(
  h: Harness,
  i: number,
  request: { showId: string; seatIds: string[]; ga: { areaId: string; quantity: number }[] },
) {
  const client = h.booking[i % h.booking.length]!;
  const token = h.token(`racer-${i}`);
  try {
    const hold = await call(
      client.holdSeats.bind(client),
      { ...request, idempotencyKey: `race-hold-${request.showId}-${i}` },
      token,
    );
    const booking = await call(
      client.confirmBooking.bind(client),
      { holdId: hold.id, card: GOOD_CARD, idempotencyKey: `race-pay-${request.showId}-${i}` },
      token,
    );
    return { booking };
  } catch (error) {
    return { error: error as ServiceError };
  }
}

describe('concurrent buyers never oversell', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      shows: [
        makeShow('race-seats', SEATS),
        makeShow('race-ga', 0, [{ areaId: 'FLOOR', capacity: CAPACITY }]),
      ],
      channels: 4,
    });
  });
  afterAll(() => h.stop());

  it(`${CLIENTS} clients racing for ${SEATS} seats: each seat is sold once, every loser is told which seat`, async () => {
    const random = seededRandom(42);
    const requests = Array.from({ length: CLIENTS }, () => {
      const first = 1 + Math.floor(random() * SEATS);
      const seats = new Set([`ORCH-A-${first}`]);
      if (random() < 0.5) seats.add(`ORCH-A-${1 + Math.floor(random() * SEATS)}`);
      return { showId: 'race-seats', seatIds: [...seats], ga: [] };
    });
    const outcomes = await Promise.all(requests.map((request, i) => holdAndConfirm(h, i, request)));

    const bookings = outcomes.flatMap((o) => (o.booking ? [o.booking] : []));
    const failures = outcomes.flatMap((o) => (o.error ? [o.error] : []));
    expect(bookings.length).toBeGreaterThan(0);
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) {
      expect([Code.FAILED_PRECONDITION, Code.ABORTED]).toContain(failure.code);
      expect(failure.details).toMatch(/seat.* ORCH-A-\d+/);
    }
    const sold = bookings.flatMap((b) => b.seats.map((s) => s.seatId));
    expect(new Set(sold).size).toBe(sold.length); // no seat in two bookings

    // Whatever stayed free (a seat only ever wanted together with a lost one) is bought now.
    const client = h.booking[0]!;
    const mid = await call(
      client.getAvailability.bind(client),
      { showId: 'race-seats' },
      h.token('observer'),
    );
    const free = mid.seats.filter((s) => s.state === SeatState.SEAT_STATE_FREE).map((s) => s.seatId);
    expect(free.length + sold.length).toBe(SEATS);
    const sweepUp = await Promise.all(
      free.map((seatId, i) =>
        holdAndConfirm(h, CLIENTS + i, { showId: 'race-seats', seatIds: [seatId], ga: [] }),
      ),
    );
    expect(sweepUp.every((o) => o.booking)).toBe(true);

    const rows = await queryRows<{ state: string; n: number }>(
      h.db,
      "SELECT state, COUNT(*) AS n FROM seats WHERE show_id = 'race-seats' GROUP BY state",
    );
    expect(rows.map((r) => [r.state, Number(r.n)])).toEqual([['SOLD', SEATS]]);
    const perSeat = await queryRows<{ n: number }>(
      h.db,
      `SELECT COUNT(*) AS n FROM hold_items i JOIN bookings b ON b.hold_id = i.hold_id
       WHERE b.show_id = 'race-seats' AND b.state = 'CONFIRMED' AND i.kind = 'SEAT' GROUP BY i.item_id`,
    );
    expect(perSeat.length).toBe(SEATS);
    expect(perSeat.every((r) => Number(r.n) === 1)).toBe(true);
    const after = await call(
      client.getAvailability.bind(client),
      { showId: 'race-seats' },
      h.token('observer'),
    );
    expect(after.seats.every((s) => s.state === SeatState.SEAT_STATE_SOLD)).toBe(true);
    await expectError(
      call(
        client.holdSeats.bind(client),
        { showId: 'race-seats', seatIds: ['ORCH-A-7'], ga: [], idempotencyKey: 'late-comer-1' },
        h.token('late'),
      ),
      Code.FAILED_PRECONDITION,
      'seat ORCH-A-7 is already sold',
    );
  });

  it(`${CLIENTS} clients racing for a pool of ${CAPACITY}: sold stops at capacity exactly`, async () => {
    const random = seededRandom(7);
    const quantities = Array.from({ length: CLIENTS }, () => 1 + Math.floor(random() * 4));
    const outcomes = await Promise.all(
      quantities.map((quantity, i) =>
        holdAndConfirm(h, i, { showId: 'race-ga', seatIds: [], ga: [{ areaId: 'FLOOR', quantity }] }),
      ),
    );

    const bookings: Booking[] = outcomes.flatMap((o) => (o.booking ? [o.booking] : []));
    for (const failure of outcomes.flatMap((o) => (o.error ? [o.error] : []))) {
      expect([Code.FAILED_PRECONDITION, Code.ABORTED]).toContain(failure.code);
      expect(failure.details).toMatch(/FLOOR/);
    }
    let sold = bookings.reduce((sum, b) => sum + (b.ga[0]?.quantity ?? 0), 0);
    expect(sold).toBeLessThanOrEqual(CAPACITY);
    // Fill any places left over (the last buyers may all have wanted more than remained).
    for (let i = 0; sold < CAPACITY; i++) {
      const outcome = await holdAndConfirm(h, 10_000 + i, {
        showId: 'race-ga',
        seatIds: [],
        ga: [{ areaId: 'FLOOR', quantity: 1 }],
      });
      expect(outcome.error).toBeUndefined();
      sold++;
    }
    const [pool] = await queryRows<{ held: number; sold: number }>(
      h.db,
      "SELECT held, sold FROM ga_pools WHERE show_id = 'race-ga' AND area_id = 'FLOOR'",
    );
    expect(pool).toEqual({ held: 0, sold: CAPACITY });
    const client = h.booking[1]!;
    await expectError(
      call(
        client.holdSeats.bind(client),
        {
          showId: 'race-ga',
          seatIds: [],
          ga: [{ areaId: 'FLOOR', quantity: 1 }],
          idempotencyKey: 'one-too-many',
        },
        h.token('late'),
      ),
      Code.FAILED_PRECONDITION,
      'area FLOOR has only 0 places left',
    );
    const availability = await call(
      client.getAvailability.bind(client),
      { showId: 'race-ga' },
      h.token('observer'),
    );
    expect(availability.pools).toEqual([
      expect.objectContaining({ areaId: 'FLOOR', capacity: CAPACITY, held: 0, sold: CAPACITY, remaining: 0 }),
    ]);
  });
});
