import { status as Code } from '@grpc/grpc-js';
import type { Card, GaRequest } from '../../../proto/gen/marquee/booking/v1/booking';
import { GOOD_CARD, call, expectError, makeShow, queryRows, startHarness } from './harness';
import type { Harness } from './harness';

describe('bad input is refused with a message naming the field, and nothing is written', () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startHarness({ shows: [makeShow('val', 12, [{ areaId: 'GA', capacity: 100 }])] });
    token = h.token('val-user');
  });
  afterAll(() => h.stop());

  const client = () => h.booking[0]!;
  const hold = (request: {
    showId?: string;
    seatIds?: string[];
    ga?: GaRequest[];
    idempotencyKey?: string;
  }) =>
    call(
      client().holdSeats.bind(client()),
      { showId: 'val', seatIds: [], ga: [], idempotencyKey: 'valid-key-1', ...request },
      token,
    );
  const seats = (n: number) => Array.from({ length: n }, (_, i) => `ORCH-A-${i + 1}`);

  it.each([
    ['missing show_id', { showId: '' }, Code.INVALID_ARGUMENT, 'show_id: is required'],
    [
      'show_id with bad characters',
      { showId: 'a b', seatIds: ['ORCH-A-1'] },
      Code.INVALID_ARGUMENT,
      'show_id',
    ],
    [
      'unknown show',
      { showId: 'no-such-show', seatIds: ['ORCH-A-1'] },
      Code.NOT_FOUND,
      'show_id: show "no-such-show" not found',
    ],
    ['nothing to hold', {}, Code.INVALID_ARGUMENT, 'seat_ids'],
    [
      'more than 10 seats',
      { seatIds: seats(11) },
      Code.INVALID_ARGUMENT,
      'seat_ids: must have at most 10 items',
    ],
    [
      'a duplicated seat',
      { seatIds: ['ORCH-A-1', 'ORCH-A-2', 'ORCH-A-3', 'ORCH-A-1'] },
      Code.INVALID_ARGUMENT,
      'seat_ids[3]: "ORCH-A-1" is already listed as seat_ids[0]',
    ],
    ['an empty seat id', { seatIds: ['ORCH-A-1', ''] }, Code.INVALID_ARGUMENT, 'seat_ids[1]: is required'],
    [
      'an overlong seat id',
      { seatIds: ['S'.repeat(65)] },
      Code.INVALID_ARGUMENT,
      'seat_ids[0]: must be at most 64',
    ],
    [
      'an unknown seat',
      { seatIds: ['ORCH-A-1', 'ORCH-Z-99'] },
      Code.NOT_FOUND,
      'seat_ids[1]: seat of show val "ORCH-Z-99" not found',
    ],
    [
      'a zero quantity',
      { ga: [{ areaId: 'GA', quantity: 0 }] },
      Code.INVALID_ARGUMENT,
      'ga[0].quantity: must be between 1 and 10',
    ],
    [
      'a negative quantity',
      { ga: [{ areaId: 'GA', quantity: -3 }] },
      Code.INVALID_ARGUMENT,
      'ga[0].quantity',
    ],
    [
      'a huge quantity',
      { ga: [{ areaId: 'GA', quantity: 2147483647 }] },
      Code.INVALID_ARGUMENT,
      'ga[0].quantity',
    ],
    [
      'a GA item without area',
      { ga: [{ areaId: '', quantity: 1 }] },
      Code.INVALID_ARGUMENT,
      'ga[0].area_id: is required',
    ],
    [
      'an unknown area',
      { seatIds: ['ORCH-A-1'], ga: [{ areaId: 'VIP', quantity: 1 }] },
      Code.NOT_FOUND,
      'ga[0].area_id',
    ],
    [
      'a duplicated area',
      {
        ga: [
          { areaId: 'GA', quantity: 1 },
          { areaId: 'GA', quantity: 2 },
        ],
      },
      Code.INVALID_ARGUMENT,
      'ga[1].area_id',
    ],
    [
      'no idempotency key',
      { seatIds: ['ORCH-A-1'], idempotencyKey: '' },
      Code.INVALID_ARGUMENT,
      'idempotency_key: is required',
    ],
    [
      'a short idempotency key',
      { seatIds: ['ORCH-A-1'], idempotencyKey: 'abc' },
      Code.INVALID_ARGUMENT,
      'idempotency_key: must be at least 8',
    ],
    [
      'an overlong idempotency key',
      { seatIds: ['ORCH-A-1'], idempotencyKey: 'k'.repeat(129) },
      Code.INVALID_ARGUMENT,
      'idempotency_key: must be at most 128',
    ],
    [
      'an idempotency key with spaces',
      { seatIds: ['ORCH-A-1'], idempotencyKey: 'my key 123' },
      Code.INVALID_ARGUMENT,
      'idempotency_key',
    ],
  ])('HoldSeats with %s', async (_name, request, code, message) => {
    await expectError(hold(request), code, message);
  });

  it('after every rejected hold the seats are still FREE and no hold or key was stored', async () => {
    const states = await queryRows<{ state: string }>(
      h.db,
      "SELECT DISTINCT state FROM seats WHERE show_id = 'val'",
    );
    expect(states).toEqual([{ state: 'FREE' }]);
    expect(await queryRows(h.db, 'SELECT id FROM holds')).toEqual([]);
    expect(await queryRows(h.db, 'SELECT `key` FROM idempotency')).toEqual([]);
    const [pool] = await queryRows<{ held: number }>(h.db, "SELECT held FROM ga_pools WHERE show_id = 'val'");
    expect(pool?.held).toBe(0);
  });

  it('a hold refused because one seat is taken holds none of the others', async () => {
    const other = h.token('val-other');
    await call(
      client().holdSeats.bind(client()),
      { showId: 'val', seatIds: ['ORCH-A-12'], ga: [], idempotencyKey: 'other-key-1' },
      other,
    );
    await expectError(
      hold({ seatIds: ['ORCH-A-10', 'ORCH-A-11', 'ORCH-A-12'], ga: [{ areaId: 'GA', quantity: 2 }] }),
      Code.FAILED_PRECONDITION,
      'seat ORCH-A-12 is already held',
    );
    const held = await queryRows<{ seat_id: string }>(
      h.db,
      "SELECT seat_id FROM seats WHERE show_id = 'val' AND state <> 'FREE'",
    );
    expect(held).toEqual([{ seat_id: 'ORCH-A-12' }]);
    const [pool] = await queryRows<{ held: number }>(h.db, "SELECT held FROM ga_pools WHERE show_id = 'val'");
    expect(pool?.held).toBe(0);
    await expectError(
      hold({
        ga: [
          { areaId: 'GA', quantity: 5 },
          { areaId: 'GA2', quantity: 1 },
        ],
      }),
      Code.NOT_FOUND,
      'ga[1].area_id',
    );
  });

  const card = (change: Partial<Card>): Card => ({ ...GOOD_CARD, ...change });
  it.each([
    ['missing hold_id', { holdId: '' }, Code.INVALID_ARGUMENT, 'hold_id: is required'],
    ['unknown hold', { holdId: 'hold_nope' }, Code.NOT_FOUND, 'hold_id: hold "hold_nope" not found'],
    ['no card', { card: undefined }, Code.INVALID_ARGUMENT, 'card: is required'],
    [
      'letters in the number',
      { card: card({ number: '4242 4242 abcd 4242' }) },
      Code.INVALID_ARGUMENT,
      'card.number: must contain only digits',
    ],
    [
      'a short number',
      { card: card({ number: '4242 4242' }) },
      Code.INVALID_ARGUMENT,
      'card.number: must have 12 to 19 digits',
    ],
    [
      'a bad checksum',
      { card: card({ number: '4242 4242 4242 4241' }) },
      Code.INVALID_ARGUMENT,
      'card.number: is not a valid card number',
    ],
    ['month 13', { card: card({ expMonth: 13 }) }, Code.INVALID_ARGUMENT, 'card.exp_month'],
    [
      'an expired card',
      { card: card({ expYear: 2020 }) },
      Code.INVALID_ARGUMENT,
      'card.exp_year: the card expired',
    ],
    ['a bad cvc', { card: card({ cvc: '12' }) }, Code.INVALID_ARGUMENT, 'card.cvc'],
    [
      'an overlong holder name',
      { card: card({ holderName: 'h'.repeat(101) }) },
      Code.INVALID_ARGUMENT,
      'card.holder_name',
    ],
    ['no idempotency key', { idempotencyKey: '' }, Code.INVALID_ARGUMENT, 'idempotency_key'],
  ])('ConfirmBooking with %s', async (_name, change, code, message) => {
    const request = {
      holdId: 'hold_nope',
      card: GOOD_CARD as Card | undefined,
      idempotencyKey: 'confirm-key-1',
      ...change,
    };
    await expectError(call(client().confirmBooking.bind(client()), request, token), code, message);
  });

  it.each([
    ['missing hold_id', { holdId: '' }, Code.INVALID_ARGUMENT, 'hold_id: is required'],
    ['an overlong hold_id', { holdId: 'h'.repeat(65) }, Code.INVALID_ARGUMENT, 'hold_id'],
    ['unknown hold', { holdId: 'hold_nope' }, Code.NOT_FOUND, 'hold_id'],
    ['no idempotency key', { idempotencyKey: '' }, Code.INVALID_ARGUMENT, 'idempotency_key'],
  ])('ReleaseHold with %s', async (_name, change, code, message) => {
    await expectError(
      call(
        client().releaseHold.bind(client()),
        { holdId: 'hold_nope', idempotencyKey: 'release-key-1', ...change },
        token,
      ),
      code,
      message,
    );
  });

  it.each([
    ['missing booking_id', { bookingId: '' }, Code.INVALID_ARGUMENT, 'booking_id: is required'],
    ['unknown booking', { bookingId: 'bk_nope' }, Code.NOT_FOUND, 'booking_id: booking "bk_nope" not found'],
    ['no idempotency key', { idempotencyKey: '' }, Code.INVALID_ARGUMENT, 'idempotency_key'],
  ])('CancelBooking with %s', async (_name, change, code, message) => {
    await expectError(
      call(
        client().cancelBooking.bind(client()),
        { bookingId: 'bk_nope', idempotencyKey: 'cancel-key-1', ...change },
        token,
      ),
      code,
      message,
    );
  });

  it.each([
    ['missing booking_id', '', Code.INVALID_ARGUMENT, 'booking_id: is required'],
    ['a booking_id with bad characters', 'bk/../x', Code.INVALID_ARGUMENT, 'booking_id'],
    ['unknown booking', 'bk_nope', Code.NOT_FOUND, 'booking_id'],
  ])('GetBooking with %s', async (_name, bookingId, code, message) => {
    await expectError(call(client().getBooking.bind(client()), { bookingId }, token), code, message);
  });

  it.each([
    ['a negative page_size', { pageSize: -1 }, 'page_size'],
    ['a huge page_size', { pageSize: 100000 }, 'page_size'],
    ['a made-up page_token', { pageToken: 'not-a-token' }, 'page_token'],
    ['an overlong page_token', { pageToken: 'x'.repeat(100) }, 'page_token'],
  ])('ListMyBookings with %s', async (_name, change, message) => {
    await expectError(
      call(client().listMyBookings.bind(client()), { pageSize: 10, pageToken: '', ...change }, token),
      Code.INVALID_ARGUMENT,
      message,
    );
  });

  it.each([
    ['missing show_id', '', Code.INVALID_ARGUMENT, 'show_id: is required'],
    ['an overlong show_id', 's'.repeat(65), Code.INVALID_ARGUMENT, 'show_id'],
    ['unknown show', 'nope', Code.NOT_FOUND, 'show_id'],
  ])('GetAvailability with %s', async (_name, showId, code, message) => {
    await expectError(call(client().getAvailability.bind(client()), { showId }, token), code, message);
  });
});
