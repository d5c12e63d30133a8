import { status as Code } from '@grpc/grpc-js';
import fc from 'fast-check';
import type { Principal } from '../../../common/auth';
import { DomainError } from '../../../common/errors';
import { decide } from '../decide';
import type { Command as AnyCommand, Decision, MaterializeCommand, RegisterCommand } from '../decide';

/** The buyers' and the sweeper's commands (accounts and shows are not part of this model). */
type Command = Exclude<AnyCommand, RegisterCommand | MaterializeCommand>;
import { BOOKING_OPS } from '../operations';
import type { BookingOp } from '../operations';
import { evolve, idempotencyKey } from '../state';
import type { BookingState } from '../state';
import { violations } from './invariants';
import type { Ledger } from './invariants';
import {
  SHOW,
  T0,
  answerBytes,
  cancelCommand,
  confirmCommand,
  fingerprint,
  holdCommand,
  releaseCommand,
  specArb,
  stateOf,
  user,
} from './world';
import type { ShowSpec } from './world';

/*
 * Random interleavings of hold, release, confirm, cancel and the sweeper's expire, by a few users
 * (one admin) on one small show, with a clock that moves on by random steps past short hold TTLs.
 * Some calls retry an earlier request under its key, some reuse a key for another request.
 * Each step is decided against the whole state and, on a write, every operation is evolved into it;
 * a second state evolves the same operations after a JSON round trip, as a slave reads the log.
 * After every step: the outcome matches a plain model of the rules, decide left its input as it
 * was, and the invariants of ./invariants.ts hold.
 */

const USERS: readonly Principal[] = [user('alice'), user('bob'), user('root', 'admin')];
const UNKNOWN = 'unknown';

type Pick = number; // an index from the latest of what exists so far, or -1 for an unknown id
type KeyChoice = { reuse: Pick | null };

type Intent =
  | { kind: 'tick'; ms: number }
  | { kind: 'toExpiry'; hold: Pick }
  | {
      kind: 'hold';
      user: number;
      seats: number[];
      ga: { area: number; quantity: number }[];
      ttl: number;
      key: KeyChoice;
    }
  | { kind: 'release'; user: number; hold: Pick; key: KeyChoice }
  | { kind: 'confirm'; user: number; hold: Pick; overpay: boolean; key: KeyChoice }
  | { kind: 'cancel'; user: number; booking: Pick; key: KeyChoice }
  | { kind: 'expire'; holds: Pick[] }
  | { kind: 'retry'; request: Pick };

type Request =
  | { kind: 'hold'; seatIds: string[]; ga: { areaId: string; quantity: number }[]; ttl: number }
  | { kind: 'release'; holdId: string }
  | { kind: 'confirm'; holdId: string; overpay: boolean }
  | { kind: 'cancel'; bookingId: string };

interface Keyed {
  who: Principal;
  key: string;
  request: Request;
}

type Expected =
  | { kind: 'write'; count?: number }
  | { kind: 'replay'; bytes: Buffer }
  | { kind: 'error'; code: Code; field?: string; details?: Record<string, string> };

// --- generators -------------------------------------------------------------------------------

const pick = fc.oneof(
  { weight: 8, arbitrary: fc.nat({ max: 20 }) },
  { weight: 1, arbitrary: fc.constant(-1) },
);
const who = fc.nat({ max: USERS.length - 1 });
// -1: whoever owns the hold or booking acted on (mostly), else one of the users.
const actor = fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: who });
const key: fc.Arbitrary<KeyChoice> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ reuse: null }) },
  { weight: 1, arbitrary: pick.map((reuse) => ({ reuse })) },
);
// -1 names a seat or area the show does not have.
const index = fc.oneof(
  { weight: 12, arbitrary: fc.nat({ max: 4 }) },
  { weight: 1, arbitrary: fc.constant(-1) },
);

const intentArb: fc.Arbitrary<Intent> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.nat({ max: 2500 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('toExpiry' as const), hold: pick }) },
  {
    weight: 5,
    arbitrary: fc
      .record({
        kind: fc.constant('hold' as const),
        user: who,
        seats: fc.array(index, { maxLength: 3 }),
        ga: fc.array(fc.record({ area: index, quantity: fc.integer({ min: 1, max: 3 }) }), { maxLength: 2 }),
        ttl: fc.integer({ min: 1, max: 2 }),
        key,
      })
      .filter((h) => h.seats.length + h.ga.length > 0),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('release' as const), user: actor, hold: pick, key }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('confirm' as const),
      user: actor,
      hold: pick,
      overpay: fc.oneof(
        { weight: 6, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
      key,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('cancel' as const), user: actor, booking: pick, key }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('expire' as const), holds: fc.array(pick, { maxLength: 3 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('retry' as const), request: pick }) },
);

// --- the run ----------------------------------------------------------------------------------

/** Small picks name the latest; -1 (or an empty list) names nothing, an unknown id. */
const at = <T>(list: readonly T[], i: Pick): T | undefined =>
  i < 0 || list.length === 0 ? undefined : list[list.length - 1 - (i % list.length)];
const distinct = <T>(list: readonly T[], by: (t: T) => string): T[] =>
  list.filter((t, i) => list.findIndex((u) => by(u) === by(t)) === i);

class Run {
  readonly state: BookingState;
  readonly replica: BookingState;
  now = T0;
  readonly ledger: Ledger = { chargedCents: 0, refundedCents: 0 };
  /** The payment processor's charges by payment id. */
  readonly charges = new Map<string, { amountCents: number; refunded: boolean }>();
  readonly holdIds: string[] = [];
  readonly bookingIds: string[] = [];
  readonly keyed: Keyed[] = [];
  /** The model of the idempotency table: what each successful keyed write stored. */
  readonly stored = new Map<string, { method: string; hash: string; bytes: Buffer }>();
  readonly trace: string[] = [];
  step = 0;

  constructor(readonly spec: ShowSpec) {
    this.state = stateOf(spec);
    this.replica = stateOf(spec);
  }

  run(intent: Intent): void {
    this.step++;
    if (intent.kind === 'tick') {
      this.now += intent.ms;
      this.trace.push(`${this.step}. clock +${intent.ms} ms`);
      return;
    }
    if (intent.kind === 'toExpiry') {
      const hold = this.state.holds.get(at(this.holdIds, intent.hold) ?? UNKNOWN);
      if (hold) this.now = Math.max(this.now, hold.expiresAt);
      this.trace.push(`${this.step}. clock to ${hold?.id ?? 'nothing'}'s expiry`);
      return;
    }
    if (intent.kind === 'expire') {
      const ids = intent.holds.map((h) => at(this.holdIds, h) ?? UNKNOWN);
      this.decideAndCheck({ kind: 'expire', holdIds: ids });
      return;
    }
    let keyed: Keyed | undefined;
    if (intent.kind === 'retry') {
      keyed = at(this.keyed, intent.request) ?? this.keyed.at(-1);
      if (!keyed) return;
    } else {
      const request = this.request(intent);
      const reused =
        intent.key.reuse === null ? undefined : (at(this.keyed, intent.key.reuse) ?? this.keyed.at(-1));
      const principal = reused?.who ?? this.actor(intent.user, request);
      keyed = { who: principal, key: reused?.key ?? `key-${this.step}`, request };
      this.keyed.push(keyed);
    }
    this.decideAndCheck(this.command(keyed));
  }

  /** USERS[user], or for -1 the owner of the hold or booking `request` acts on. */
  private actor(user: number, request: Request): Principal {
    const owner =
      request.kind === 'release' || request.kind === 'confirm'
        ? this.state.holds.get(request.holdId)?.userId
        : request.kind === 'cancel'
          ? this.state.bookings.get(request.bookingId)?.userId
          : undefined;
    return USERS.find((u) => u.userId === owner) ?? USERS[Math.max(0, user)]!;
  }

  private request(intent: Exclude<Intent, { kind: 'tick' | 'toExpiry' | 'expire' | 'retry' }>): Request {
    const seatIds = this.spec.seats.map((s) => s.seatId);
    const areaIds = this.spec.pools.map((p) => p.areaId);
    switch (intent.kind) {
      case 'hold':
        return {
          kind: 'hold',
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
          ttl: intent.ttl,
        };
      case 'release':
        return { kind: 'release', holdId: at(this.holdIds, intent.hold) ?? UNKNOWN };
      case 'confirm':
        return { kind: 'confirm', holdId: at(this.holdIds, intent.hold) ?? UNKNOWN, overpay: intent.overpay };
      case 'cancel':
        return { kind: 'cancel', bookingId: at(this.bookingIds, intent.booking) ?? UNKNOWN };
    }
  }

  /** The command a request makes now; a retry gets fresh ids, as a new call to the service would. */
  private command({ who, key, request }: Keyed): Command {
    const n = this.step;
    switch (request.kind) {
      case 'hold':
        return holdCommand(who, key, request, `hold-${n}`, request.ttl);
      case 'release':
        return releaseCommand(who, key, request.holdId);
      case 'confirm': {
        const total = this.state.holds.get(request.holdId)?.totalCents ?? 0;
        return confirmCommand(who, key, request.holdId, `booking-${n}`, total + (request.overpay ? 1 : 0));
      }
      case 'cancel':
        return cancelCommand(who, key, request.bookingId, `refund-${n}`);
    }
  }

  private decideAndCheck(command: Command): void {
    const expected = this.expected(command);
    const fingerprintBefore = fingerprint(this.state);
    let decision: Decision | undefined;
    let error: unknown;
    try {
      decision = decide(command, this.state, this.now);
    } catch (e) {
      error = e;
    }
    this.trace.push(
      `${this.step}. at +${this.now - T0} ms ${narrate(command)} → ${outcome(decision, error)}`,
    );
    this.reach(command, decision, error);
    this.check(fingerprint(this.state) === fingerprintBefore, 'decide changed the state it was given');

    if (error !== undefined) {
      this.check(error instanceof DomainError, `decide threw a non-domain error: ${String(error)}`);
      const e = error as DomainError;
      this.check(
        expected.kind === 'error' &&
          e.code === expected.code &&
          (expected.field === undefined || fieldOf(e) === expected.field) &&
          Object.entries(expected.details ?? {}).every(([k, v]) => e.details[k] === v),
        () =>
          `expected ${show(expected)}, decide threw ${Code[e.code]} ${JSON.stringify(e.details)} ${e.message}`,
      );
      return this.checkState();
    }
    const d = decision!;
    if (d.kind === 'replay') {
      this.check(
        expected.kind === 'replay' && Buffer.from(d.response).equals(expected.bytes),
        () => `replayed an answer where ${show(expected)} was expected, or not the first answer's bytes`,
      );
      return this.checkState();
    }
    this.check(expected.kind === 'write', () => `decide wrote where ${show(expected)} was expected`);
    if (expected.count !== undefined)
      this.check(
        d.answer === expected.count && d.ops.length === expected.count,
        `the sweeper expired ${d.ops.length} holds (answered ${String(d.answer)}), ${expected.count} were due`,
      );
    this.check(
      JSON.stringify(decide(command, this.state, this.now)) === JSON.stringify(d),
      'decide gave a different decision for the same command, state and time',
    );
    this.checkOps(command, d.ops, this.state); // before evolving
    for (const op of d.ops) {
      evolve(this.state, op);
      evolve(this.replica, JSON.parse(JSON.stringify(op)) as BookingOp);
    }
    this.record(command, d);
    this.checkState();
  }

  private record(command: Command, d: Extract<Decision, { kind: 'write' }>): void {
    switch (command.kind) {
      case 'expire':
        return;
      case 'hold':
        this.holdIds.push(command.holdId);
        break;
      case 'release':
        break;
      case 'confirm': {
        const { paymentId, amountCents } = command.payment;
        this.ledger.chargedCents += amountCents;
        this.charges.set(paymentId, { amountCents, refunded: false });
        this.bookingIds.push(command.bookingId);
        const booking = this.state.bookings.get(command.bookingId);
        this.check(
          booking?.paymentId === paymentId && (d.answer as { paymentId: string }).paymentId === paymentId,
          `booking ${command.bookingId} does not record the charge ${paymentId} it was paid with`,
        );
        break;
      }
      case 'cancel':
        for (const op of d.ops) {
          if (op.op !== BOOKING_OPS.bookingCancelled) continue;
          // A refund goes back to the charge that paid for the booking, for its whole amount, once.
          const charge = this.charges.get(op.payload.chargeId);
          this.check(
            charge !== undefined && !charge.refunded && charge.amountCents === op.payload.amountCents,
            `refund of ${op.payload.amountCents} against charge ${op.payload.chargeId} (${JSON.stringify(charge)})`,
          );
          charge.refunded = true;
          this.ledger.refundedCents += op.payload.amountCents;
          this.check(
            this.state.bookings.get(command.bookingId)?.refundId === command.refundId,
            `booking ${command.bookingId} does not record refund ${command.refundId}`,
          );
        }
        break;
    }
    this.stored.set(idempotencyKey(command.scope.userId, command.scope.key), {
      method: command.scope.method,
      hash: command.scope.requestHash.toString('base64'),
      bytes: answerBytes(command.kind, d.answer),
    });
  }

  /** The operations of a write, against the state before it. */
  private checkOps(command: Command, ops: readonly BookingOp[], before: BookingState): void {
    for (const op of ops) {
      if (op.op !== BOOKING_OPS.holdExpired) continue;
      const hold = before.holds.get(op.payload.holdId);
      this.check(
        hold?.state === 'ACTIVE' && hold.expiresAt <= this.now,
        `expired hold ${op.payload.holdId}, which was ${hold?.state} until ${hold?.expiresAt}`,
      );
    }
    if (command.kind !== 'hold') return;
    const expired = ops.filter((op) => op.op === BOOKING_OPS.holdExpired);
    const asked = new Map<string, number>();
    for (const g of command.ga) asked.set(g.areaId, (asked.get(g.areaId) ?? 0) + g.quantity);
    for (const op of expired)
      this.check(
        op.payload.items.some((i) => i.kind === 'GA' && asked.has(i.itemId)),
        `a hold expired ${op.payload.holdId}, which holds no place it asked for`,
      );
    const roomWithoutExpiring = [...asked].every(([areaId, q]) => {
      const pool = before.pool(SHOW, areaId)!;
      return pool.capacity - pool.sold - pool.held >= q;
    });
    this.check(!roomWithoutExpiring || expired.length === 0, 'a hold expired holds it did not need to');
    this.check(ops.at(-1)?.op === BOOKING_OPS.holdCreated, 'a hold write does not end with its creation');
  }

  private checkState(): void {
    const broken = violations(this.state, this.now, this.ledger);
    this.check(broken.length === 0, `invariants broken:\n  ${broken.join('\n  ')}`);
    this.check(
      fingerprint(this.replica) === fingerprint(this.state),
      'the state evolved from the JSON of the operations differs from the master state',
    );
  }

  /** What the rules say the command should come to, from a plain reading of the state. */
  private expected(command: Command): Expected {
    const s = this.state;
    const now = this.now;
    if (command.kind === 'expire') {
      const count = distinct(command.holdIds, (id) => id).filter((id) => {
        const h = s.holds.get(id);
        return h?.state === 'ACTIVE' && h.expiresAt <= now;
      }).length;
      return { kind: 'write', count };
    }
    const stored = this.stored.get(idempotencyKey(command.scope.userId, command.scope.key));
    if (stored)
      return stored.method === command.scope.method &&
        stored.hash === command.scope.requestHash.toString('base64')
        ? { kind: 'replay', bytes: stored.bytes }
        : { kind: 'error', code: Code.INVALID_ARGUMENT, field: 'idempotency_key' };
    const error = (code: Code, field?: string, details?: Record<string, string>): Expected => ({
      kind: 'error',
      code,
      field,
      details,
    });
    const mayTouch = (owner: string): boolean =>
      command.principal.userId === owner || command.principal.role === 'admin';
    switch (command.kind) {
      case 'hold': {
        // Unknown ids first (seats, then areas), then taken seats, then areas short of places.
        const unknownSeat = command.seatIds.findIndex((id) => !s.seat(SHOW, id));
        if (unknownSeat >= 0) return error(Code.NOT_FOUND, `seat_ids[${unknownSeat}]`);
        const unknownArea = command.ga.findIndex((g) => !s.pool(SHOW, g.areaId));
        if (unknownArea >= 0) return error(Code.NOT_FOUND, `ga[${unknownArea}].area_id`);
        const taken = command.seatIds.filter((id) => {
          const seat = s.seat(SHOW, id)!;
          return seat.state === 'SOLD' || (seat.state === 'HELD' && seat.heldUntil! > now);
        });
        if (taken.length > 0)
          return error(Code.FAILED_PRECONDITION, undefined, { seat_ids: taken.join(',') });
        const short = command.ga
          .filter((g) => {
            const pool = s.pool(SHOW, g.areaId)!;
            const liveHeld = [...s.holds.values()]
              .filter((h) => h.state === 'ACTIVE' && h.expiresAt > now)
              .flatMap((h) => h.items)
              .filter((i) => i.kind === 'GA' && i.itemId === g.areaId)
              .reduce((sum, i) => sum + i.quantity, 0);
            return pool.capacity - pool.sold - liveHeld < g.quantity;
          })
          .map((g) => g.areaId);
        if (short.length > 0)
          return error(Code.FAILED_PRECONDITION, undefined, { area_ids: short.join(',') });
        return { kind: 'write' };
      }
      case 'release': {
        const hold = s.holds.get(command.holdId);
        if (!hold) return error(Code.NOT_FOUND, 'hold_id');
        if (!mayTouch(hold.userId)) return error(Code.PERMISSION_DENIED, 'hold_id');
        if (hold.state !== 'ACTIVE') return error(Code.FAILED_PRECONDITION);
        return { kind: 'write' };
      }
      case 'confirm': {
        const hold = s.holds.get(command.holdId);
        if (!hold) return error(Code.NOT_FOUND, 'hold_id');
        // Paying is the owner's alone: an admin may release a hold but not buy it.
        if (hold.userId !== command.principal.userId) return error(Code.PERMISSION_DENIED, 'hold_id');
        if (hold.state !== 'ACTIVE' || hold.expiresAt <= now) return error(Code.FAILED_PRECONDITION);
        if (command.payment.amountCents !== hold.totalCents) return error(Code.ABORTED);
        return { kind: 'write' };
      }
      case 'cancel': {
        const booking = s.bookings.get(command.bookingId);
        if (!booking) return error(Code.NOT_FOUND, 'booking_id');
        if (!mayTouch(booking.userId)) return error(Code.PERMISSION_DENIED, 'booking_id');
        if (booking.state !== 'CONFIRMED') return error(Code.FAILED_PRECONDITION);
        return { kind: 'write' };
      }
    }
  }

  /** Counts the paths the runs went down, so a generator that stops reaching one is noticed. */
  private reach(command: Command, decision: Decision | undefined, error: unknown): void {
    const paths = [`${command.kind} ${error instanceof DomainError ? Code[error.code] : decision?.kind}`];
    if (command.kind === 'hold' && decision?.kind === 'write') {
      if (command.seatIds.some((id) => this.state.seat(SHOW, id)?.state === 'HELD'))
        paths.push("hold takes a lapsed hold's seat");
      if (decision.ops.length > 1) paths.push('hold expires lapsed GA holds');
    }
    if (command.kind === 'expire' && decision?.kind === 'write' && decision.ops.length > 0)
      paths.push('sweeper expires holds');
    for (const path of paths) REACHED.set(path, (REACHED.get(path) ?? 0) + 1);
  }

  /** Throws `problem` (a function when costly to build) with the steps that led to it. */
  private check(ok: boolean, problem: string | (() => string)): asserts ok {
    if (ok) return;
    const text = typeof problem === 'string' ? problem : problem();
    throw new Error(`step ${this.step}: ${text}\n\nsteps:\n${this.trace.slice(-40).join('\n')}`);
  }
}

const show = (expected: Expected): string =>
  expected.kind === 'replay' ? `a replay of ${expected.bytes.toString('base64')}` : JSON.stringify(expected);

/** The field a domain error names: in its details, or before the colon of its message. */
const fieldOf = (e: DomainError): string | undefined => e.details.field ?? e.message.split(':')[0];

function narrate(c: Command): string {
  switch (c.kind) {
    case 'hold':
      return `${c.principal.userId} holds ${c.holdId} [${[...c.seatIds, ...c.ga.map((g) => `${g.areaId}×${g.quantity}`)].join(' ')}] ttl ${c.ttlSeconds}s key ${c.scope.key}`;
    case 'release':
      return `${c.principal.userId} releases ${c.holdId} key ${c.scope.key}`;
    case 'confirm':
      return `${c.principal.userId} confirms ${c.holdId} as ${c.bookingId} paying ${c.payment.amountCents} key ${c.scope.key}`;
    case 'cancel':
      return `${c.principal.userId} cancels ${c.bookingId} key ${c.scope.key}`;
    case 'expire':
      return `sweeper expires [${c.holdIds.join(' ')}]`;
  }
}

function outcome(d: Decision | undefined, error: unknown): string {
  if (error instanceof DomainError) return `${Code[error.code]}: ${error.message}`;
  if (error !== undefined) return `threw ${String(error)}`;
  if (d?.kind === 'replay') return 'replay';
  return `write ${d?.ops.map((op) => op.op.replace('booking.', '')).join(', ')}`;
}

const REACHED = new Map<string, number>();
const MUST_REACH = [
  'hold write',
  'hold replay',
  'hold INVALID_ARGUMENT',
  'hold NOT_FOUND',
  'hold FAILED_PRECONDITION',
  "hold takes a lapsed hold's seat",
  'hold expires lapsed GA holds',
  'release write',
  'release replay',
  'release PERMISSION_DENIED',
  'release FAILED_PRECONDITION',
  'confirm write',
  'confirm replay',
  'confirm PERMISSION_DENIED',
  'confirm FAILED_PRECONDITION',
  'confirm ABORTED',
  'cancel write',
  'cancel replay',
  'cancel FAILED_PRECONDITION',
  'sweeper expires holds',
];

describe('the booking domain under random interleavings of commands', () => {
  it('keeps every invariant, matches the rules step by step, and replays stored answers byte for byte', () => {
    fc.assert(
      fc.property(
        specArb,
        fc.array(intentArb, { minLength: 1, maxLength: 60, size: 'max' }),
        (spec, intents) => {
          const run = new Run(spec);
          for (const intent of intents) run.run(intent);
        },
      ),
      { numRuns: 200 },
    );
    // Not vacuous: the runs went down every path.
    if (process.env.SHOW_REACHED) console.log(JSON.stringify([...REACHED].sort()));
    expect(MUST_REACH.filter((path) => !REACHED.has(path))).toEqual([]);
  });
});
