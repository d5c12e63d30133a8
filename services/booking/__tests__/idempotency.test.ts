import { status as Code } from '@grpc/grpc-js';
import { BookingState } from '../../../proto/gen/marquee/booking/v1/booking';
import { DECLINED_CARD, GOOD_CARD, call, expectError, makeShow, queryRows, startHarness } from './harness';
import type { Harness } from './harness';

// This suite hands the server the test's pool, which has no multi-statement batches: the same
// transactions then run statement by statement, so both paths of sql.ts are exercised.
describe('idempotent writes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      shows: [makeShow('idem', 10, [{ areaId: 'GA', capacity: 50 }])],
      sharedPool: true,
    });
  });
  afterAll(() => h.stop());

  const client = () => h.booking[0]!;
  const hold = (
    token: string,
    idempotencyKey: string,
    seatIds: string[],
    ga: { areaId: string; quantity: number }[] = [],
  ) => call(client().holdSeats.bind(client()), { showId: 'idem', seatIds, ga, idempotencyKey }, token);
  const confirm = (token: string, idempotencyKey: string, holdId: string, card = GOOD_CARD) =>
    call(client().confirmBooking.bind(client()), { holdId, card, idempotencyKey }, token);
  const cancel = (token: string, idempotencyKey: string, bookingId: string) =>
    call(client().cancelBooking.bind(client()), { bookingId, idempotencyKey }, token);
  const release = (token: string, idempotencyKey: string, holdId: string) =>
    call(client().releaseHold.bind(client()), { holdId, idempotencyKey }, token);

  it('a retried hold, confirm and cancel each return the first answer, and write once', async () => {
    const token = h.token('kim');
    const first = await hold(token, 'hold-key-0001', ['ORCH-A-1'], [{ areaId: 'GA', quantity: 2 }]);
    expect(await hold(token, 'hold-key-0001', ['ORCH-A-1'], [{ areaId: 'GA', quantity: 2 }])).toEqual(first);
    const booking = await confirm(token, 'pay-key-0001', first.id);
    expect(await confirm(token, 'pay-key-0001', first.id)).toEqual(booking);
    const cancelled = await cancel(token, 'cancel-key-0001', booking.id);
    expect(await cancel(token, 'cancel-key-0001', booking.id)).toEqual(cancelled);
    expect(cancelled.state).toBe(BookingState.BOOKING_STATE_CANCELLED);
    // A new key is a new request: cancelling twice is refused.
    await expectError(
      cancel(token, 'cancel-key-0002', booking.id),
      Code.FAILED_PRECONDITION,
      'already cancelled',
    );

    expect(await queryRows(h.db, "SELECT id FROM holds WHERE user_id = 'kim'")).toHaveLength(1);
    expect(await queryRows(h.db, 'SELECT id FROM bookings WHERE hold_id = ?', first.id)).toHaveLength(1);
    expect(await queryRows(h.db, 'SELECT id FROM payments WHERE booking_id = ?', booking.id)).toHaveLength(2);
    const [pool] = await queryRows<{ held: number; sold: number }>(
      h.db,
      "SELECT held, sold FROM ga_pools WHERE show_id = 'idem'",
    );
    expect(pool).toEqual({ held: 0, sold: 0 });
  });

  it('two concurrent calls with one key get one answer', async () => {
    const token = h.token('lee');
    const holds = await Promise.all(
      [1, 2, 3].map(() => hold(token, 'same-time-hold', ['ORCH-A-2'], [{ areaId: 'GA', quantity: 1 }])),
    );
    expect(new Set(holds.map((x) => x.id)).size).toBe(1);
    const bookings = await Promise.all([1, 2, 3].map(() => confirm(token, 'same-time-pay', holds[0]!.id)));
    expect(new Set(bookings.map((b) => b.id)).size).toBe(1);
    const cancels = await Promise.all([1, 2].map(() => cancel(token, 'same-time-cancel', bookings[0]!.id)));
    expect(cancels[0]).toEqual(cancels[1]);
    expect(await queryRows(h.db, "SELECT id FROM holds WHERE user_id = 'lee'")).toHaveLength(1);
    expect(
      await queryRows(h.db, "SELECT id FROM payments WHERE user_id = 'lee' AND kind = 'CHARGE'"),
    ).toHaveLength(1);
    expect(
      await queryRows(h.db, "SELECT id FROM payments WHERE user_id = 'lee' AND kind = 'REFUND'"),
    ).toHaveLength(1);
  });

  it('the same key with a different request is INVALID_ARGUMENT, and writes nothing', async () => {
    const token = h.token('max');
    const first = await hold(token, 'reused-key-1', ['ORCH-A-3']);
    await expectError(
      hold(token, 'reused-key-1', ['ORCH-A-4']),
      Code.INVALID_ARGUMENT,
      'idempotency_key: was used for a different request',
    );
    await expectError(
      release(token, 'reused-key-1', first.id),
      Code.INVALID_ARGUMENT,
      'idempotency_key: was used for a different request',
    );
    const [seat] = await queryRows<{ state: string }>(
      h.db,
      "SELECT state FROM seats WHERE show_id = 'idem' AND seat_id = 'ORCH-A-4'",
    );
    expect(seat?.state).toBe('FREE');
    const released = await release(token, 'release-key-1', first.id);
    expect(await release(token, 'release-key-1', first.id)).toEqual(released);
  });

  it('keys belong to their caller: another user may use the same key', async () => {
    const a = await hold(h.token('nia'), 'shared-key-1', ['ORCH-A-5']);
    const b = await hold(h.token('oli'), 'shared-key-1', ['ORCH-A-6']);
    expect(a.id).not.toBe(b.id);
  });

  it('a failed call is not stored: the same key may be retried and then succeeds', async () => {
    const token = h.token('pat');
    const held = await hold(token, 'retry-hold-1', ['ORCH-A-7']);
    await expectError(
      confirm(token, 'retry-pay-1', held.id, DECLINED_CARD),
      Code.FAILED_PRECONDITION,
      'card declined',
    );
    const booking = await confirm(token, 'retry-pay-1', held.id, GOOD_CARD);
    expect(booking.holdId).toBe(held.id);
    // A hold refused because the seat was taken can be retried with its key once the seat is free.
    const other = h.token('quin');
    await expectError(
      hold(other, 'retry-hold-2', ['ORCH-A-7']),
      Code.FAILED_PRECONDITION,
      'seat ORCH-A-7 is already sold',
    );
    await cancel(token, 'retry-cancel-1', booking.id);
    expect((await hold(other, 'retry-hold-2', ['ORCH-A-7'])).seats[0]?.seatId).toBe('ORCH-A-7');
  });
});
