import { BookingChangeKind } from '../../proto/gen/marquee/booking/v1/booking';
import type { BookingChange } from '../../proto/gen/marquee/booking/v1/booking';

/*
 * The booking change stream's messages, as the batches the consumer stores. The rule that keeps a
 * consumer exact across reconnects: its position moves only to a point where everything before it
 * has been handed over. A booking or cancellation is such a point; a RESET is not (the bookings it
 * announces follow it), so a reset becomes one batch only when its closing CHECKPOINT arrives, and a
 * stream that breaks in the middle of one leaves the position where it was: the next stream resets
 * again from scratch.
 */

/** Bookings and cancellations to apply, after which the consumer is at `position`. */
export interface ChangesBatch {
  readonly kind: 'changes';
  readonly changes: readonly BookingChange[];
  readonly position: number;
}

/** Forget every interaction; these confirmed bookings are the state as of `position`. */
export interface ResetBatch {
  readonly kind: 'reset';
  readonly bookings: readonly BookingChange[];
  readonly position: number;
}

export type FeedBatch = ChangesBatch | ResetBatch;

/** A stream broke its own rules (the consumer should drop the stream and resume from its position). */
export class FeedProtocolError extends Error {}

/** Turns one stream's messages into batches; make a new one for each stream. */
export class FeedAssembler {
  private reset: { position: number; bookings: BookingChange[] } | undefined;

  constructor(private position: number) {}

  /** The batches `change` completes (none while a reset is being received). */
  push(change: BookingChange): FeedBatch[] {
    const Kind = BookingChangeKind;
    if (this.reset !== undefined) {
      if (change.position !== this.reset.position)
        throw new FeedProtocolError(
          `a reset at ${this.reset.position} was interrupted by position ${change.position}`,
        );
      if (change.kind === Kind.BOOKING_CHANGE_KIND_CONFIRMED) {
        this.reset.bookings.push(change);
        return [];
      }
      if (change.kind === Kind.BOOKING_CHANGE_KIND_CHECKPOINT) {
        const batch: ResetBatch = { kind: 'reset', bookings: this.reset.bookings, position: change.position };
        this.reset = undefined;
        this.position = change.position;
        return [batch];
      }
      throw new FeedProtocolError(`unexpected change kind ${change.kind} inside a reset`);
    }
    if (change.kind === Kind.BOOKING_CHANGE_KIND_RESET) {
      this.reset = { position: change.position, bookings: [] };
      return [];
    }
    if (change.position <= this.position)
      throw new FeedProtocolError(`position ${change.position} is not after ${this.position}`);
    this.position = change.position;
    if (change.kind === Kind.BOOKING_CHANGE_KIND_CHECKPOINT)
      return [{ kind: 'changes', changes: [], position: change.position }];
    if (
      change.kind === Kind.BOOKING_CHANGE_KIND_CONFIRMED ||
      change.kind === Kind.BOOKING_CHANGE_KIND_CANCELLED
    )
      return [{ kind: 'changes', changes: [change], position: change.position }];
    throw new FeedProtocolError(`unknown change kind ${change.kind}`);
  }
}

/**
 * Consecutive batches folded into as few as possible (a reset replaces everything before it), so a
 * consumer that fell behind stores many changes in one transaction.
 */
export function coalesce(batches: readonly FeedBatch[]): FeedBatch[] {
  const out: FeedBatch[] = [];
  for (const batch of batches) {
    const last = out.at(-1);
    if (batch.kind === 'reset') {
      out.length = 0;
      out.push(batch);
    } else if (last?.kind === 'changes') {
      out[out.length - 1] = {
        kind: 'changes',
        changes: [...last.changes, ...batch.changes],
        position: batch.position,
      };
    } else {
      out.push(batch);
    }
  }
  return out;
}
