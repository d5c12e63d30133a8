import { status as Code } from '@grpc/grpc-js';
import {
  Booking,
  BookingState as BookingStateProto,
  Hold,
  HoldState,
} from '../../../../proto/gen/marquee/booking/v1/booking';
import { DomainError } from '../../../common/errors';
import { decide } from '../decide';
import type { Decision } from '../decide';
import { BOOKING_OPS } from '../operations';
import type { BookingOp } from '../operations';
import type { BookingState } from '../state';
import { violations } from './invariants';
import {
  SHOW,
  T0,
  answerBytes,
  apply,
  cancelCommand,
  confirmCommand,
  holdCommand,
  releaseCommand,
  stateOf,
  thrown,
  user,
} from './world';

const alice = user('alice');
const bob = user('bob');
const root = user('root', 'admin');
const SECOND = 1000;

/** Three seats and two GA areas (4 and 2 places). */
const show = (): BookingState =>
  stateOf({
    seats: [
      { seatId: 'A-1', amountCents: 1000 },
      { seatId: 'A-2', amountCents: 2000 },
      { seatId: 'A-3', amountCents: 3000 },
    ],
    pools: [
      { areaId: 'GA-1', amountCents: 500, capacity: 4 },
      { areaId: 'GA-2', amountCents: 700, capacity: 2 },
    ],
  });

function written<D extends Decision>(decision: D): Extract<D, { kind: 'write' }> {
  if (decision.kind !== 'write') throw new Error(`expected a write, got a ${decision.kind}`);
  return decision as Extract<D, { kind: 'write' }>;
}

/** The DomainError `fn` throws, checked to have `code`. */
function refusal(fn: () => unknown, code: Code): DomainError {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(DomainError);
  expect(Code[(error as DomainError).code]).toBe(Code[code]);
  return error as DomainError;
}

const holdIdOf = (op: BookingOp): string | undefined =>
  op.op === BOOKING_OPS.holdExpired || op.op === BOOKING_OPS.holdReleased ? op.payload.holdId : undefined;

let n = 0;
const fresh = (prefix: string): string => `${prefix}-${++n}`;

/** Holds `request` for `who` (TTL 60 s unless given) and returns the hold's id. */
function hold(
  state: BookingState,
  who: typeof alice,
  request: Parameters<typeof holdCommand>[2],
  now = T0,
  ttlSeconds = 60,
): string {
  const id = fresh('hold');
  written(apply(state, holdCommand(who, fresh('key'), request, id, ttlSeconds), now));
  return id;
}

function confirm(state: BookingState, who: typeof alice, holdId: string, now = T0): string {
  const id = fresh('booking');
  const total = state.holds.get(holdId)!.totalCents;
  written(apply(state, confirmCommand(who, fresh('key'), holdId, id, total), now));
  return id;
}

const ledgerOf = (state: BookingState): { chargedCents: number; refundedCents: number } => {
  const bookings = [...state.bookings.values()];
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  return {
    chargedCents: sum(bookings.map((b) => b.totalCents)),
    refundedCents: sum(bookings.filter((b) => b.state === 'CANCELLED').map((b) => b.totalCents)),
  };
};

afterEach(() => {
  // Whatever a test did, the view it left is consistent.
  for (const state of states.splice(0)) expect(violations(state, latest, ledgerOf(state))).toEqual([]);
});
const states: BookingState[] = [];
let latest = T0;
const tracked = (state: BookingState, now = T0): BookingState => {
  states.push(state);
  latest = now;
  return state;
};

describe('hold', () => {
  it('a hold takes FREE seats and GA places and totals their prices', () => {
    const state = tracked(show());
    const d = written(
      apply(
        state,
        holdCommand(alice, 'k', { seatIds: ['A-2', 'A-1'], ga: [{ areaId: 'GA-1', quantity: 3 }] }, 'h1', 60),
        T0,
      ),
    );
    expect(d.answer).toMatchObject({
      id: 'h1',
      totalCents: 2000 + 1000 + 3 * 500,
      state: HoldState.HOLD_STATE_ACTIVE,
      expiresAt: new Date(T0 + 60 * SECOND).toISOString(),
    });
    expect(d.answer.seats.map((s) => s.seatId)).toEqual(['A-1', 'A-2']); // by id, whatever the request order
    expect(state.seat(SHOW, 'A-1')).toMatchObject({
      state: 'HELD',
      holdId: 'h1',
      heldUntil: T0 + 60 * SECOND,
    });
    expect(state.pool(SHOW, 'GA-1')).toMatchObject({ held: 3, sold: 0 });
  });

  it('a hold on a seat held by a live hold is FAILED_PRECONDITION naming the seat, and takes nothing', () => {
    const state = tracked(show());
    const first = hold(state, alice, { seatIds: ['A-2'] });
    const e = refusal(
      () =>
        apply(
          state,
          holdCommand(bob, 'k', { seatIds: ['A-1', 'A-2'], ga: [{ areaId: 'GA-1', quantity: 1 }] }, 'h2'),
          T0 + 59 * SECOND,
        ),
      Code.FAILED_PRECONDITION,
    );
    expect(e.details).toEqual({ seat_ids: 'A-2' });
    expect(e.message).toBe('seat A-2 is already held');
    expect(state.seat(SHOW, 'A-1')?.state).toBe('FREE');
    expect(state.seat(SHOW, 'A-2')?.holdId).toBe(first);
    expect(state.pool(SHOW, 'GA-1')?.held).toBe(0);
  });

  it('a hold on a sold seat is FAILED_PRECONDITION naming it as sold', () => {
    const state = tracked(show());
    confirm(state, alice, hold(state, alice, { seatIds: ['A-3'] }));
    const e = refusal(
      () => decide(holdCommand(bob, 'k', { seatIds: ['A-3'] }, 'h2'), state, T0 + 3600 * SECOND),
      Code.FAILED_PRECONDITION,
    );
    expect(e.details).toEqual({ seat_ids: 'A-3' });
    expect(e.message).toBe('seat A-3 is already sold');
  });

  it('a hold on a seat held by a lapsed hold takes it, and the lapsed hold expiring later leaves it with the new one', () => {
    const now = T0 + 11 * SECOND;
    const state = tracked(show(), now);
    const lapsed = hold(state, alice, { seatIds: ['A-1', 'A-2'] }, T0, 10);
    const d = written(apply(state, holdCommand(bob, 'k', { seatIds: ['A-1'] }, 'h2'), now));
    expect(d.ops.map((op) => op.op)).toEqual([BOOKING_OPS.holdCreated]); // seats alone expire nothing
    expect(state.seat(SHOW, 'A-1')).toMatchObject({ state: 'HELD', holdId: 'h2' });
    expect(state.holds.get(lapsed)?.state).toBe('ACTIVE');

    const sweep = written(apply(state, { kind: 'expire', holdIds: [lapsed] }, now));
    expect(sweep.answer).toBe(1);
    expect(state.seat(SHOW, 'A-1')).toMatchObject({ state: 'HELD', holdId: 'h2' });
    expect(state.seat(SHOW, 'A-2')).toMatchObject({ state: 'FREE', holdId: null, heldUntil: null });
  });

  it('a hold lapses at its expiry instant: at exactly expiresAt its seat may be taken and it may not be paid', () => {
    const state = tracked(show(), T0 + 10 * SECOND);
    const first = hold(state, alice, { seatIds: ['A-1'] }, T0, 10);
    refusal(
      () => decide(holdCommand(bob, 'k', { seatIds: ['A-1'] }, 'h2'), state, T0 + 10 * SECOND - 1),
      Code.FAILED_PRECONDITION,
    );
    const e = refusal(
      () => decide(confirmCommand(alice, 'k', first, 'b1', 1000), state, T0 + 10 * SECOND),
      Code.FAILED_PRECONDITION,
    );
    expect(e.message).toContain('expired at');
    written(apply(state, holdCommand(bob, 'k', { seatIds: ['A-1'] }, 'h2'), T0 + 10 * SECOND));
  });

  it('an unknown seat is NOT_FOUND naming seat_ids[1]', () => {
    const state = tracked(show());
    const e = refusal(
      () => decide(holdCommand(alice, 'k', { seatIds: ['A-1', 'Z-9', 'A-2'] }, 'h1'), state, T0),
      Code.NOT_FOUND,
    );
    expect(e.details).toEqual({ field: 'seat_ids[1]' });
    expect(e.message).toMatch(/^seat_ids\[1\]: .*"Z-9" not found$/);
  });

  it('an unknown seat or area is NOT_FOUND whatever the state of the others, as planHold answers', () => {
    // Checked before availability: a request naming something the show lacks is wrong in every state.
    const state = tracked(show());
    hold(state, alice, { seatIds: ['A-1'] });
    const unknownArea = holdCommand(
      bob,
      'k',
      { seatIds: ['A-1'], ga: [{ areaId: 'GA-9', quantity: 1 }] },
      'h2',
    );
    expect(refusal(() => decide(unknownArea, state, T0), Code.NOT_FOUND).details).toEqual({
      field: 'ga[0].area_id',
    });
    const unknownSeat = holdCommand(bob, 'k', { seatIds: ['A-1', 'Z-9'] }, 'h2');
    expect(refusal(() => decide(unknownSeat, state, T0), Code.NOT_FOUND).details).toEqual({
      field: 'seat_ids[1]',
    });
  });

  it('an unknown area is NOT_FOUND naming ga[1].area_id', () => {
    const state = tracked(show());
    const e = refusal(
      () =>
        decide(
          holdCommand(
            alice,
            'k',
            {
              ga: [
                { areaId: 'GA-1', quantity: 1 },
                { areaId: 'GA-9', quantity: 1 },
              ],
            },
            'h1',
          ),
          state,
          T0,
        ),
      Code.NOT_FOUND,
    );
    expect(e.details).toEqual({ field: 'ga[1].area_id' });
  });

  it('a GA hold short of places is FAILED_PRECONDITION naming the area and how many are left', () => {
    const state = tracked(show());
    hold(state, alice, { ga: [{ areaId: 'GA-1', quantity: 3 }] });
    const e = refusal(
      () =>
        decide(
          holdCommand(
            bob,
            'k',
            {
              ga: [
                { areaId: 'GA-1', quantity: 2 },
                { areaId: 'GA-2', quantity: 2 },
              ],
            },
            'h2',
          ),
          state,
          T0,
        ),
      Code.FAILED_PRECONDITION,
    );
    expect(e.details).toEqual({ area_ids: 'GA-1' });
    expect(e.message).toBe('area GA-1 has only 1 places left (asked for 2)');
  });

  it('a GA hold short of places expires the oldest lapsed holds first and only as many as it needs', () => {
    const now = T0 + 100 * SECOND;
    const state = tracked(show(), now);
    // GA-1 (4 places): three lapsed holds of one place each, lapsing at +30 s, +10 s and +20 s, and one live.
    const third = hold(state, alice, { ga: [{ areaId: 'GA-1', quantity: 1 }] }, T0, 30);
    const first = hold(state, bob, { ga: [{ areaId: 'GA-1', quantity: 1 }], seatIds: ['A-3'] }, T0, 10);
    const second = hold(state, alice, { ga: [{ areaId: 'GA-1', quantity: 1 }] }, T0, 20);
    const live = hold(state, bob, { ga: [{ areaId: 'GA-1', quantity: 1 }] }, T0, 3600);
    // Full; two places asked: the two oldest lapsed holds go, the third stays ACTIVE.
    const d = written(
      apply(state, holdCommand(root, 'k', { ga: [{ areaId: 'GA-1', quantity: 2 }] }, 'h-new'), now),
    );
    expect(
      d.ops.map((op) => [op.op, op.op === BOOKING_OPS.holdCreated ? op.payload.hold.id : holdIdOf(op)]),
    ).toEqual([
      [BOOKING_OPS.holdExpired, first],
      [BOOKING_OPS.holdExpired, second],
      [BOOKING_OPS.holdCreated, 'h-new'],
    ]);
    expect(state.holds.get(first)?.state).toBe('EXPIRED');
    expect(state.holds.get(second)?.state).toBe('EXPIRED');
    expect(state.holds.get(third)?.state).toBe('ACTIVE');
    expect(state.holds.get(live)?.state).toBe('ACTIVE');
    expect(state.seat(SHOW, 'A-3')?.state).toBe('FREE'); // the expired hold's seat came back too
    expect(state.pool(SHOW, 'GA-1')).toMatchObject({ held: 4, sold: 0 });
  });

  it('a GA hold with room to spare expires no lapsed hold', () => {
    const now = T0 + 100 * SECOND;
    const state = tracked(show(), now);
    const lapsed = hold(state, alice, { ga: [{ areaId: 'GA-1', quantity: 2 }] }, T0, 10);
    const d = written(
      apply(state, holdCommand(bob, 'k', { ga: [{ areaId: 'GA-1', quantity: 2 }] }, 'h2'), now),
    );
    expect(d.ops.map((op) => op.op)).toEqual([BOOKING_OPS.holdCreated]);
    expect(state.holds.get(lapsed)?.state).toBe('ACTIVE');
  });

  it('a GA hold never expires a live hold: short even with the lapsed ones back, it expires nothing', () => {
    const now = T0 + 100 * SECOND;
    const state = tracked(show(), now);
    const lapsed = hold(state, alice, { ga: [{ areaId: 'GA-2', quantity: 1 }] }, T0, 10);
    hold(state, bob, { ga: [{ areaId: 'GA-2', quantity: 1 }] }, T0, 3600);
    const e = refusal(
      () => apply(state, holdCommand(root, 'k', { ga: [{ areaId: 'GA-2', quantity: 2 }] }, 'h3'), now),
      Code.FAILED_PRECONDITION,
    );
    expect(e.details).toEqual({ area_ids: 'GA-2' });
    expect(e.message).toBe('area GA-2 has only 1 places left (asked for 2)');
    expect(state.holds.get(lapsed)?.state).toBe('ACTIVE');
    expect(state.pool(SHOW, 'GA-2')?.held).toBe(2);
  });

  it('a lapsed hold expired for one area gives back its places in the others too', () => {
    const now = T0 + 100 * SECOND;
    const state = tracked(show(), now);
    const lapsed = hold(
      state,
      alice,
      {
        ga: [
          { areaId: 'GA-1', quantity: 4 },
          { areaId: 'GA-2', quantity: 2 },
        ],
      },
      T0,
      10,
    );
    const d = written(
      apply(
        state,
        holdCommand(
          bob,
          'k',
          {
            ga: [
              { areaId: 'GA-1', quantity: 1 },
              { areaId: 'GA-2', quantity: 2 },
            ],
          },
          'h2',
        ),
        now,
      ),
    );
    expect(d.ops.filter((op) => op.op === BOOKING_OPS.holdExpired)).toHaveLength(1);
    expect(state.holds.get(lapsed)?.state).toBe('EXPIRED');
    expect(state.pool(SHOW, 'GA-1')).toMatchObject({ held: 1 });
    expect(state.pool(SHOW, 'GA-2')).toMatchObject({ held: 2 });
  });

  it('one area listed twice in a hold counts both quantities against its capacity', () => {
    // The handlers refuse such a request (requests.ts); decide still never oversells on one.
    const state = tracked(show());
    const twice = {
      ga: [
        { areaId: 'GA-2', quantity: 1 },
        { areaId: 'GA-2', quantity: 2 },
      ],
    };
    const e = refusal(
      () => decide(holdCommand(alice, 'k', twice, 'h1'), state, T0),
      Code.FAILED_PRECONDITION,
    );
    expect(e.message).toBe('area GA-2 has only 2 places left (asked for 3)');
  });
});

describe('release', () => {
  it('releasing frees the hold’s seats and places and answers it as RELEASED', () => {
    const state = tracked(show());
    const id = hold(state, alice, { seatIds: ['A-1'], ga: [{ areaId: 'GA-2', quantity: 2 }] });
    const d = written(apply(state, releaseCommand(alice, 'k', id), T0 + SECOND));
    expect(d.answer.state).toBe(HoldState.HOLD_STATE_RELEASED);
    expect(state.holds.get(id)?.state).toBe('RELEASED');
    expect(state.seat(SHOW, 'A-1')?.state).toBe('FREE');
    expect(state.pool(SHOW, 'GA-2')?.held).toBe(0);
  });

  it('releasing another user’s hold is PERMISSION_DENIED naming hold_id; an admin may release it', () => {
    const state = tracked(show());
    const id = hold(state, alice, { seatIds: ['A-1'] });
    const e = refusal(() => decide(releaseCommand(bob, 'k', id), state, T0), Code.PERMISSION_DENIED);
    expect(e.message).toMatch(/^hold_id: /);
    written(apply(state, releaseCommand(root, 'k', id), T0));
    expect(state.holds.get(id)?.state).toBe('RELEASED');
  });

  it('releasing an unknown hold is NOT_FOUND naming hold_id; releasing one twice is FAILED_PRECONDITION', () => {
    const state = tracked(show());
    expect(
      refusal(() => decide(releaseCommand(alice, 'k', 'nope'), state, T0), Code.NOT_FOUND).details,
    ).toEqual({ field: 'hold_id' });
    const id = hold(state, alice, { seatIds: ['A-1'] });
    written(apply(state, releaseCommand(alice, 'k1', id), T0));
    expect(
      refusal(() => decide(releaseCommand(alice, 'k2', id), state, T0), Code.FAILED_PRECONDITION).message,
    ).toBe(`hold ${id} is already released`);
  });

  it('releasing a lapsed hold whose seat another hold took leaves that seat with the other hold', () => {
    const now = T0 + 20 * SECOND;
    const state = tracked(show(), now);
    const lapsed = hold(
      state,
      alice,
      { seatIds: ['A-1', 'A-2'], ga: [{ areaId: 'GA-1', quantity: 1 }] },
      T0,
      10,
    );
    const taker = hold(state, bob, { seatIds: ['A-1'] }, now);
    written(apply(state, releaseCommand(alice, 'k', lapsed), now));
    expect(state.seat(SHOW, 'A-1')).toMatchObject({ state: 'HELD', holdId: taker });
    expect(state.seat(SHOW, 'A-2')?.state).toBe('FREE');
    expect(state.pool(SHOW, 'GA-1')?.held).toBe(0);
  });
});

describe('confirm', () => {
  it('confirming sells the seats and places for exactly the hold’s total', () => {
    const state = tracked(show());
    const id = hold(state, alice, { seatIds: ['A-1'], ga: [{ areaId: 'GA-1', quantity: 2 }] });
    const d = written(apply(state, confirmCommand(alice, 'k', id, 'b1', 2000, 'pay-1'), T0 + SECOND));
    expect(d.answer).toMatchObject({
      id: 'b1',
      holdId: id,
      totalCents: 2000,
      paymentId: 'pay-1',
      state: BookingStateProto.BOOKING_STATE_CONFIRMED,
    });
    expect(state.holds.get(id)).toMatchObject({ state: 'CONFIRMED', bookingId: 'b1' });
    expect(state.seat(SHOW, 'A-1')).toMatchObject({
      state: 'SOLD',
      bookingId: 'b1',
      holdId: null,
      heldUntil: null,
    });
    expect(state.pool(SHOW, 'GA-1')).toMatchObject({ held: 0, sold: 2 });
  });

  it('confirming someone else’s hold is PERMISSION_DENIED naming hold_id, even for an admin', () => {
    const state = tracked(show());
    const id = hold(state, alice, { seatIds: ['A-1'] });
    for (const who of [bob, root])
      expect(
        refusal(() => decide(confirmCommand(who, 'k', id, 'b1', 1000), state, T0), Code.PERMISSION_DENIED)
          .message,
      ).toMatch(/^hold_id: /);
  });

  it('confirming an unknown hold is NOT_FOUND naming hold_id', () => {
    const state = tracked(show());
    expect(
      refusal(() => decide(confirmCommand(alice, 'k', 'nope', 'b1', 0), state, T0), Code.NOT_FOUND).details,
    ).toEqual({ field: 'hold_id' });
  });

  it('confirming a released, expired or already confirmed hold is FAILED_PRECONDITION', () => {
    const state = tracked(show(), T0 + 20 * SECOND);
    const released = hold(state, alice, { seatIds: ['A-1'] });
    written(apply(state, releaseCommand(alice, 'k-r', released), T0));
    const expired = hold(state, alice, { seatIds: ['A-2'] }, T0, 10);
    written(apply(state, { kind: 'expire', holdIds: [expired] }, T0 + 10 * SECOND));
    const confirmed = hold(state, alice, { seatIds: ['A-3'] });
    const bookingId = confirm(state, alice, confirmed);
    const message = (holdId: string): string =>
      refusal(
        () =>
          decide(
            confirmCommand(alice, 'k', holdId, 'b9', state.holds.get(holdId)!.totalCents),
            state,
            T0 + 20 * SECOND,
          ),
        Code.FAILED_PRECONDITION,
      ).message;
    expect(message(released)).toBe(`hold ${released} is released; hold the seats again`);
    expect(message(expired)).toBe(`hold ${expired} is expired; hold the seats again`);
    expect(message(confirmed)).toBe(`hold ${confirmed} is already confirmed as booking ${bookingId}`);
  });

  it('a charge that differs from the hold’s total is ABORTED and sells nothing', () => {
    const state = tracked(show());
    const id = hold(state, alice, { seatIds: ['A-1'] });
    refusal(() => apply(state, confirmCommand(alice, 'k', id, 'b1', 999), T0), Code.ABORTED);
    expect(state.seat(SHOW, 'A-1')?.state).toBe('HELD');
    expect(state.bookings.size).toBe(0);
  });
});

describe('cancel', () => {
  it('cancelling frees the seats and places, refunds the total and leaves the hold CONFIRMED', () => {
    const state = tracked(show());
    const holdId = hold(state, alice, { seatIds: ['A-2'], ga: [{ areaId: 'GA-2', quantity: 1 }] });
    const bookingId = confirm(state, alice, holdId);
    const d = written(apply(state, cancelCommand(alice, 'k', bookingId, 'refund-1'), T0 + 5 * SECOND));
    expect(d.answer).toMatchObject({
      state: BookingStateProto.BOOKING_STATE_CANCELLED,
      refundId: 'refund-1',
      cancelledAt: new Date(T0 + 5 * SECOND).toISOString(),
    });
    const op = d.ops[0];
    expect(op?.op === BOOKING_OPS.bookingCancelled && op.payload).toMatchObject({
      amountCents: 2700,
      chargeId: `pay-${bookingId}`,
      seatIds: ['A-2'],
      ga: [{ areaId: 'GA-2', quantity: 1 }],
    });
    expect(state.seat(SHOW, 'A-2')).toMatchObject({ state: 'FREE', bookingId: null });
    expect(state.pool(SHOW, 'GA-2')).toMatchObject({ held: 0, sold: 0 });
    expect(state.holds.get(holdId)?.state).toBe('CONFIRMED');
  });

  it('cancelling another user’s booking is PERMISSION_DENIED naming booking_id; an admin may cancel it', () => {
    const state = tracked(show());
    const bookingId = confirm(state, alice, hold(state, alice, { seatIds: ['A-1'] }));
    expect(
      refusal(() => decide(cancelCommand(bob, 'k', bookingId, 'r'), state, T0), Code.PERMISSION_DENIED)
        .message,
    ).toMatch(/^booking_id: /);
    written(apply(state, cancelCommand(root, 'k', bookingId, 'r'), T0));
  });

  it('cancelling an unknown booking is NOT_FOUND naming booking_id; cancelling twice is FAILED_PRECONDITION', () => {
    const state = tracked(show());
    expect(
      refusal(() => decide(cancelCommand(alice, 'k', 'nope', 'r'), state, T0), Code.NOT_FOUND).details,
    ).toEqual({ field: 'booking_id' });
    const bookingId = confirm(state, alice, hold(state, alice, { seatIds: ['A-1'] }));
    written(apply(state, cancelCommand(alice, 'k1', bookingId, 'r1'), T0));
    refusal(() => decide(cancelCommand(alice, 'k2', bookingId, 'r2'), state, T0), Code.FAILED_PRECONDITION);
  });

  it('a cancelled booking’s seat can be held and sold again', () => {
    const state = tracked(show());
    const bookingId = confirm(state, alice, hold(state, alice, { seatIds: ['A-1'] }));
    written(apply(state, cancelCommand(alice, 'k', bookingId, 'r'), T0));
    const again = confirm(state, bob, hold(state, bob, { seatIds: ['A-1'] }));
    expect(state.seat(SHOW, 'A-1')).toMatchObject({ state: 'SOLD', bookingId: again });
  });
});

describe('expire (the sweeper)', () => {
  it('expires only the ACTIVE lapsed holds among those named, each once, and answers how many', () => {
    const now = T0 + 20 * SECOND;
    const state = tracked(show(), now);
    const lapsed = hold(state, alice, { seatIds: ['A-1'], ga: [{ areaId: 'GA-1', quantity: 2 }] }, T0, 10);
    const live = hold(state, alice, { seatIds: ['A-2'] }, T0, 60);
    const released = hold(state, bob, { seatIds: ['A-3'] }, T0, 10);
    written(apply(state, releaseCommand(bob, 'k', released), T0));
    const d = written(
      apply(state, { kind: 'expire', holdIds: [lapsed, live, released, lapsed, 'nope'] }, now),
    );
    expect(d.answer).toBe(1);
    expect(d.ops).toEqual([
      {
        op: BOOKING_OPS.holdExpired,
        payload: { holdId: lapsed, showId: SHOW, items: state.holds.get(lapsed)!.items },
      },
    ]);
    expect(state.holds.get(lapsed)?.state).toBe('EXPIRED');
    expect(state.holds.get(live)?.state).toBe('ACTIVE');
    expect(state.holds.get(released)?.state).toBe('RELEASED');
    expect(state.pool(SHOW, 'GA-1')?.held).toBe(0);
    expect(state.seat(SHOW, 'A-1')?.state).toBe('FREE');
    expect(written(apply(state, { kind: 'expire', holdIds: [lapsed] }, now)).answer).toBe(0);
  });
});

describe('idempotency', () => {
  it('the same request under a used key replays the first answer’s bytes, even after the state moved on', () => {
    const state = tracked(show(), T0 + 5 * SECOND);
    const command = holdCommand(alice, 'k', { seatIds: ['A-1'] }, 'h1');
    const first = written(apply(state, command, T0));
    written(apply(state, releaseCommand(alice, 'k-release', 'h1'), T0 + SECOND));
    // A retry is a new call: the service gives it a new hold id, the answer is still the first one.
    const retry = apply(state, { ...command, holdId: 'h-retry' }, T0 + 5 * SECOND);
    expect(retry.kind).toBe('replay');
    expect(
      retry.kind === 'replay' && Buffer.from(retry.response).equals(answerBytes('hold', first.answer)),
    ).toBe(true);
    expect(Hold.decode(retry.kind === 'replay' ? retry.response : new Uint8Array()).state).toBe(
      HoldState.HOLD_STATE_ACTIVE,
    );
    expect(state.holds.has('h-retry')).toBe(false);
  });

  it('a replayed confirm answers the booking as first confirmed, not as cancelled since', () => {
    const state = tracked(show());
    const holdId = hold(state, alice, { seatIds: ['A-1'] });
    const command = confirmCommand(alice, 'k', holdId, 'b1', 1000);
    const first = written(apply(state, command, T0));
    written(apply(state, cancelCommand(alice, 'k2', 'b1', 'r1'), T0));
    const retry = apply(state, { ...command, bookingId: 'b-retry' }, T0);
    expect(retry.kind === 'replay' && Booking.decode(retry.response)).toEqual(first.answer);
  });

  it('a different request under a used key is INVALID_ARGUMENT naming idempotency_key', () => {
    const state = tracked(show());
    written(apply(state, holdCommand(alice, 'k', { seatIds: ['A-1'] }, 'h1'), T0));
    for (const other of [
      holdCommand(alice, 'k', { seatIds: ['A-2'] }, 'h2'),
      releaseCommand(alice, 'k', 'h1'),
    ])
      expect(refusal(() => decide(other, state, T0), Code.INVALID_ARGUMENT).details).toEqual({
        field: 'idempotency_key',
      });
  });

  it('the same key from another user is another key', () => {
    const state = tracked(show());
    written(apply(state, holdCommand(alice, 'k', { seatIds: ['A-1'] }, 'h1'), T0));
    written(apply(state, holdCommand(bob, 'k', { seatIds: ['A-2'] }, 'h2'), T0));
  });

  it('a refused call stores no key: retrying it under the same key decides again', () => {
    const state = tracked(show(), T0 + 11 * SECOND);
    hold(state, alice, { seatIds: ['A-1'] }, T0, 10);
    const command = holdCommand(bob, 'k', { seatIds: ['A-1'] }, 'h2');
    refusal(() => apply(state, command, T0 + 5 * SECOND), Code.FAILED_PRECONDITION);
    expect(state.keys.size).toBe(1);
    expect(written(apply(state, command, T0 + 11 * SECOND)).answer.id).toBe('h2');
  });

  it('the sweeper’s expire carries no key and is never a replay', () => {
    const state = tracked(show(), T0 + 20 * SECOND);
    const id = hold(state, alice, { seatIds: ['A-1'] }, T0, 10);
    const d = written(apply(state, { kind: 'expire', holdIds: [id] }, T0 + 20 * SECOND));
    expect(d.ops.every((op) => !('idempotency' in op.payload))).toBe(true);
  });
});

describe('a batch', () => {
  it('decisions later in a batch see the state earlier ones left', () => {
    const state = tracked(show());
    // As the batcher does: decide, evolve every op, decide the next against the result.
    written(apply(state, holdCommand(alice, 'k1', { seatIds: ['A-1'] }, 'h1'), T0));
    const e = refusal(
      () => apply(state, holdCommand(bob, 'k2', { seatIds: ['A-1'] }, 'h2'), T0),
      Code.FAILED_PRECONDITION,
    );
    expect(e.details).toEqual({ seat_ids: 'A-1' });
    // The same request twice in one batch: the second sees the key the first stored.
    const again = holdCommand(alice, 'k3', { ga: [{ areaId: 'GA-2', quantity: 2 }] }, 'h3');
    written(apply(state, again, T0));
    expect(apply(state, { ...again, holdId: 'h4' }, T0).kind).toBe('replay');
    expect(state.pool(SHOW, 'GA-2')?.held).toBe(2);
  });

  it('decide does not change the state it is given, even when its write would expire holds', () => {
    const now = T0 + 100 * SECOND;
    const state = tracked(show(), now);
    hold(state, alice, { seatIds: ['A-1'], ga: [{ areaId: 'GA-2', quantity: 2 }] }, T0, 10);
    const before = structuredClone(state);
    const d = written(
      decide(
        holdCommand(bob, 'k', { seatIds: ['A-1'], ga: [{ areaId: 'GA-2', quantity: 2 }] }, 'h2'),
        state,
        now,
      ),
    );
    expect(d.ops).toHaveLength(2);
    expect(structuredClone(state)).toEqual(before);
  });
});
