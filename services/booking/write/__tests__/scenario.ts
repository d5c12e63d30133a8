import { status as Code } from '@grpc/grpc-js';
import fc from 'fast-check';
import { Booking, Hold } from '../../../../proto/gen/marquee/booking/v1/booking';
import type { Principal } from '../../../common/auth';
import { DomainError } from '../../../common/errors';
import { decide } from '../../domain/decide';
import type { Command, MaterializeCommand } from '../../domain/decide';
import { utcTime } from '../../domain/operations';
import type { BookingOp } from '../../domain/operations';
import { BookingState, evolve } from '../../domain/state';
import {
  SHOW,
  T0,
  cancelCommand,
  confirmCommand,
  holdCommand,
  releaseCommand,
  specArb,
  user,
} from '../../domain/__tests__/world';
import type { ShowSpec } from '../../domain/__tests__/world';

/*
 * Random command sequences for the write path, in the domain tests' world (../../domain/__tests__/
 * world.ts): one small show, a few users (one admin), holds with short TTLs and a clock that jumps
 * past them. A run is a list of steps; a `batch` step is a few commands submitted together. The
 * Model decides every command against the WHOLE state in memory (decide + evolve) in the order the
 * batcher receives them, and records what each caller must be answered and the ops written.
 */

export const USERS: readonly Principal[] = [user('alice'), user('bob'), user('root', 'admin')];
const UNKNOWN = 'unknown';

/** An index from the latest of what exists so far (0 = newest), or -1 for an unknown id. */
type Pick = number;

export type Intent =
  | { kind: 'hold'; user: number; seats: number[]; ga: { area: number; quantity: number }[]; ttl: number }
  | { kind: 'release'; user: number; hold: Pick }
  /** `onTime`: asked just before the hold lapsed (the payment took longer than the hold). */
  | { kind: 'confirm'; user: number; hold: Pick; overpay: boolean; onTime: boolean }
  | { kind: 'cancel'; user: number; booking: Pick }
  | { kind: 'expire'; holds: Pick[] }
  /** The same request again under its key (a client retry): a replay once it was written. */
  | { kind: 'retry'; request: Pick }
  /** An earlier key for a different request: INVALID_ARGUMENT once the key was written. */
  | { kind: 'misuse'; request: Pick; seat: number };

export type Step =
  { kind: 'tick'; ms: number } | { kind: 'toExpiry'; hold: Pick } | { kind: 'batch'; intents: Intent[] };

const pick = fc.oneof(
  { weight: 12, arbitrary: fc.nat({ max: 6 }) },
  { weight: 1, arbitrary: fc.constant(-1) },
);
const who = fc.nat({ max: USERS.length - 1 });
/** -1: the owner of what is acted on (mostly), else one of the users. */
const actor = fc.oneof({ weight: 4, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: who });
/** -1 names a seat or area the show does not have. */
const index = fc.oneof(
  { weight: 12, arbitrary: fc.nat({ max: 4 }) },
  { weight: 1, arbitrary: fc.constant(-1) },
);

const intentArb: fc.Arbitrary<Intent> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        kind: fc.constant('hold' as const),
        user: who,
        seats: fc.array(index, { maxLength: 3 }),
        ga: fc.array(fc.record({ area: index, quantity: fc.integer({ min: 1, max: 3 }) }), { maxLength: 2 }),
        ttl: fc.integer({ min: 1, max: 2 }),
      })
      .filter((h) => h.seats.length + h.ga.length > 0),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), user: actor, hold: pick }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('confirm' as const),
      user: actor,
      hold: pick,
      overpay: fc.oneof(
        { weight: 8, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
      onTime: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), user: actor, booking: pick }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('expire' as const),
      holds: fc.array(pick, { minLength: 1, maxLength: 3 }),
    }),
  },
  // Mostly a request of the last few: a client retries soon.
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('retry' as const), request: fc.nat({ max: 3 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('misuse' as const), request: pick, seat: fc.nat({ max: 4 }) }),
  },
);

export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.nat({ max: 2500 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('toExpiry' as const), hold: pick }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('batch' as const),
      intents: fc.array(intentArb, { minLength: 1, maxLength: 4 }),
    }),
  },
);

export const runArb = fc.record({
  spec: specArb,
  steps: fc.array(stepArb, { minLength: 4, maxLength: 20, size: 'max' }),
});

/** A show of `seats` seats, ... at 45.00 and the given GA areas at 20.00. */
export function showSpec(
  seats: number,
  pools: readonly { areaId: string; capacity: number }[] = [],
): ShowSpec {
  return {
    seats: Array.from({ length: seats }, (_, i) => ({ seatId: `A-${i + 1}`, amountCents: 4500 })),
    pools: pools.map((p) => ({ ...p, amountCents: 2000 })),
  };
}

/** The show's materialisation, as the inventory submits it (labels as world.ts's stateOf names them). */
export function materializeCommand(spec: ShowSpec): MaterializeCommand {
  return {
    kind: 'materialize',
    show: {
      show: { showId: SHOW, currency: 'EUR', startsAt: '2026-12-08T20:00:00Z', materializedAt: utcTime(T0) },
      seats: spec.seats.map((s, i) => [s.seatId, i, `Seat ${s.seatId}`, 'orchestra', s.amountCents]),
      pools: spec.pools.map((p, i) => [p.areaId, i, `Area ${p.areaId}`, 'ga', p.amountCents, p.capacity]),
    },
  };
}

/** What a caller is answered: the answer's protobuf bytes (base64), or the domain error. */
export type Outcome =
  | { answer: string }
  | { error: { name: string; code: number; message: string; details: Record<string, string> } };

/** What the caller of `submit(command)` got, from its settled promise (an error that is not a refusal is thrown). */
export function outcomeOf(command: Command, settled: PromiseSettledResult<unknown>): Outcome {
  if (settled.status === 'rejected') {
    const e = settled.reason as unknown;
    if (!(e instanceof DomainError)) throw e; // not a refusal: a broken write, shown as it is
    return { error: { name: e.name, code: e.code, message: e.message, details: { ...e.details } } };
  }
  return { answer: encodeAnswer(command, settled.value) };
}

function encodeAnswer(command: Command, answer: unknown): string {
  switch (command.kind) {
    case 'hold':
    case 'release':
      return Buffer.from(Hold.encode(answer as Hold).finish()).toString('base64');
    case 'confirm':
    case 'cancel':
      return Buffer.from(Booking.encode(answer as Booking).finish()).toString('base64');
    default:
      return JSON.stringify(answer);
  }
}

interface Keyed {
  command: Extract<Command, { kind: 'hold' | 'release' | 'confirm' | 'cancel' }>;
}

const at = <T>(list: readonly T[], i: Pick): T | undefined =>
  i < 0 || list.length === 0 ? undefined : list[list.length - 1 - (i % list.length)];
const distinct = <T>(list: readonly T[], by: (t: T) => string): T[] =>
  list.filter((t, i) => list.findIndex((u) => by(u) === by(t)) === i);

export class Model {
  readonly state = new BookingState();
  now = T0;
  readonly ops: BookingOp[] = [];
  /** The paths the decisions went down ("hold write", "confirm FAILED_PRECONDITION", ...). */
  readonly paths = new Map<string, number>();
  private readonly holdIds: string[] = [];
  private readonly bookingIds: string[] = [];
  private readonly keyed: Keyed[] = [];
  private n = 0;

  constructor(readonly spec: ShowSpec) {}

  /** Decides `command` against the whole state, evolves its ops into it, and says what its caller gets. */
  decide(command: Command): Outcome {
    let decision;
    try {
      decision = decide(command, this.state, this.now);
    } catch (error) {
      const outcome = outcomeOf(command, { status: 'rejected', reason: error });
      if ('error' in outcome) this.reach(`${command.kind} ${Code[outcome.error.code]}`);
      return outcome;
    }
    this.reach(`${command.kind} ${decision.kind}`);
    if (decision.kind === 'replay') return { answer: Buffer.from(decision.response).toString('base64') };
    if (command.kind === 'hold' && decision.ops.length > 1) this.reach('hold expires lapsed GA holds');
    if (command.kind === 'hold' && command.seatIds.some((id) => this.state.seat(SHOW, id)?.state === 'HELD'))
      this.reach("hold takes a lapsed hold's seat");
    if (command.kind === 'expire' && decision.ops.length > 0) this.reach('sweeper expires holds');
    if (command.kind === 'confirm' && this.state.holds.get(command.holdId)!.expiresAt <= this.now)
      this.reach('confirm of a lapsed hold asked on time');
    for (const op of decision.ops) {
      evolve(this.state, op);
      this.ops.push(op);
    }
    if (command.kind === 'hold') this.holdIds.push(command.holdId);
    if (command.kind === 'confirm') this.bookingIds.push(command.bookingId);
    return outcomeOf(command, { status: 'fulfilled', value: decision.answer });
  }

  /** The commands of a batch step, each decided here in order (so later ones may name earlier ones' holds). */
  batch(intents: readonly Intent[]): { commands: Command[]; expected: Outcome[] } {
    const commands: Command[] = [];
    const expected: Outcome[] = [];
    for (const intent of intents) {
      const command = this.command(intent);
      if (!command) continue;
      commands.push(command);
      expected.push(this.decide(command));
    }
    return { commands, expected };
  }

  private reach(path: string): void {
    this.paths.set(path, (this.paths.get(path) ?? 0) + 1);
  }

  /** Moves the clock by a `tick` or `toExpiry` step (batch steps go through `batch`). */
  move(step: Step): void {
    if (step.kind === 'tick') this.now += step.ms;
    if (step.kind === 'toExpiry') {
      const hold = this.state.holds.get(at(this.holdIds, step.hold) ?? UNKNOWN);
      if (hold) this.now = Math.max(this.now, hold.expiresAt);
    }
  }

  private command(intent: Intent): Command | undefined {
    const n = ++this.n;
    const key = `key-${n}`;
    const ownerOf = (userId: string | undefined, chosen: number): Principal =>
      chosen < 0 ? (USERS.find((u) => u.userId === userId) ?? USERS[0]!) : USERS[chosen]!;
    let command: Keyed['command'];
    switch (intent.kind) {
      case 'expire':
        return { kind: 'expire', holdIds: intent.holds.map((h) => at(this.holdIds, h) ?? UNKNOWN) };
      case 'retry': {
        const earlier = at(this.keyed, intent.request);
        if (!earlier) return undefined;
        // A new call: the service gives it fresh ids; the key and request are the same.
        const c = earlier.command;
        if (c.kind === 'hold') return { ...c, holdId: `hold-${n}` };
        if (c.kind === 'confirm')
          return { ...c, bookingId: `booking-${n}`, payment: { ...c.payment, paymentId: `pay-${n}` } };
        if (c.kind === 'cancel') return { ...c, refundId: `refund-${n}` };
        return c;
      }
      case 'misuse': {
        const earlier = at(this.keyed, intent.request);
        if (!earlier) return undefined;
        const seatId = this.spec.seats[intent.seat % this.spec.seats.length]!.seatId;
        const who = earlier.command.principal;
        return holdCommand(who, earlier.command.scope.key, { seatIds: [seatId, 'misused'] }, `hold-${n}`);
      }
      case 'hold': {
        const seatIds = this.spec.seats.map((s) => s.seatId);
        const areaIds = this.spec.pools.map((p) => p.areaId);
        command = holdCommand(
          USERS[intent.user]!,
          key,
          {
            seatIds: distinct(
              intent.seats.map((i) => (i < 0 ? 'Z-9' : seatIds[i % seatIds.length]!)),
              (s) => s,
            ),
            ga: distinct(
              intent.ga.map((g) => ({
                areaId: g.area < 0 ? 'GA-9' : areaIds[g.area % areaIds.length]!,
                quantity: g.quantity,
              })),
              (g) => g.areaId,
            ),
          },
          `hold-${n}`,
          intent.ttl,
        );
        break;
      }
      case 'release': {
        const holdId = at(this.holdIds, intent.hold) ?? UNKNOWN;
        command = releaseCommand(ownerOf(this.state.holds.get(holdId)?.userId, intent.user), key, holdId);
        break;
      }
      case 'confirm': {
        const holdId = at(this.holdIds, intent.hold) ?? UNKNOWN;
        const hold = this.state.holds.get(holdId);
        const total = (hold?.totalCents ?? 0) + (intent.overpay ? 1 : 0);
        command = confirmCommand(
          ownerOf(hold?.userId, intent.user),
          key,
          holdId,
          `booking-${n}`,
          total,
          `pay-${n}`,
          intent.onTime && hold ? hold.expiresAt - 1 : Number.POSITIVE_INFINITY,
        );
        break;
      }
      case 'cancel': {
        const bookingId = at(this.bookingIds, intent.booking) ?? UNKNOWN;
        command = cancelCommand(
          ownerOf(this.state.bookings.get(bookingId)?.userId, intent.user),
          key,
          bookingId,
          `refund-${n}`,
        );
        break;
      }
    }
    this.keyed.push({ command });
    return command;
  }
}
