import { BookingChangeKind } from '../../../proto/gen/marquee/booking/v1/booking';
import type { BookingChange } from '../../../proto/gen/marquee/booking/v1/booking';
import { FeedAssembler, FeedProtocolError, coalesce } from '../feed-batches';

const Kind = BookingChangeKind;

function change(kind: BookingChangeKind, position: number, bookingId = ''): BookingChange {
  return { position, kind, bookingId, userId: 'u', showId: 's', quantity: 1, at: '', lamport: 0, term: 0 };
}

describe('FeedAssembler', () => {
  it('hands over each booking, cancellation and checkpoint as a batch at its position', () => {
    const assembler = new FeedAssembler(3);
    expect(assembler.push(change(Kind.BOOKING_CHANGE_KIND_CONFIRMED, 4, 'b1'))).toEqual([
      { kind: 'changes', changes: [change(Kind.BOOKING_CHANGE_KIND_CONFIRMED, 4, 'b1')], position: 4 },
    ]);
    expect(assembler.push(change(Kind.BOOKING_CHANGE_KIND_CHECKPOINT, 9))).toEqual([
      { kind: 'changes', changes: [], position: 9 },
    ]);
    expect(assembler.push(change(Kind.BOOKING_CHANGE_KIND_CANCELLED, 10, 'b1'))[0]).toMatchObject({
      position: 10,
    });
  });

  it('holds a reset until its checkpoint: a stream that breaks inside one hands over nothing', () => {
    const assembler = new FeedAssembler(0);
    expect(assembler.push(change(Kind.BOOKING_CHANGE_KIND_RESET, 50))).toEqual([]);
    expect(assembler.push(change(Kind.BOOKING_CHANGE_KIND_CONFIRMED, 50, 'b1'))).toEqual([]);
    expect(assembler.push(change(Kind.BOOKING_CHANGE_KIND_CONFIRMED, 50, 'b2'))).toEqual([]);
    const [reset] = assembler.push(change(Kind.BOOKING_CHANGE_KIND_CHECKPOINT, 50));
    expect(reset).toEqual({
      kind: 'reset',
      position: 50,
      bookings: [
        change(Kind.BOOKING_CHANGE_KIND_CONFIRMED, 50, 'b1'),
        change(Kind.BOOKING_CHANGE_KIND_CONFIRMED, 50, 'b2'),
      ],
    });
    // After it, the stream goes on from 50.
    expect(assembler.push(change(Kind.BOOKING_CHANGE_KIND_CONFIRMED, 51, 'b3'))[0]).toMatchObject({
      position: 51,
    });
  });

  it('refuses a stream that goes back, or interrupts a reset', () => {
    const behind = new FeedAssembler(10);
    expect(() => behind.push(change(Kind.BOOKING_CHANGE_KIND_CONFIRMED, 10, 'b'))).toThrow(FeedProtocolError);
    const interrupted = new FeedAssembler(0);
    interrupted.push(change(Kind.BOOKING_CHANGE_KIND_RESET, 5));
    expect(() => interrupted.push(change(Kind.BOOKING_CHANGE_KIND_CONFIRMED, 6, 'b'))).toThrow(/interrupted/);
  });
});

describe('coalesce', () => {
  it('folds consecutive change batches into one, and a reset replaces everything before it', () => {
    const a = {
      kind: 'changes' as const,
      changes: [change(Kind.BOOKING_CHANGE_KIND_CONFIRMED, 1, 'a')],
      position: 1,
    };
    const b = {
      kind: 'changes' as const,
      changes: [change(Kind.BOOKING_CHANGE_KIND_CONFIRMED, 2, 'b')],
      position: 2,
    };
    const reset = { kind: 'reset' as const, bookings: [], position: 7 };
    const c = { kind: 'changes' as const, changes: [], position: 8 };
    expect(coalesce([a, b])).toEqual([
      { kind: 'changes', changes: [...a.changes, ...b.changes], position: 2 },
    ]);
    expect(coalesce([a, reset, c])).toEqual([reset, c]);
  });
});
