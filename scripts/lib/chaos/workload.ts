import { status as Code } from '@grpc/grpc-js';
import type { Card } from '../../../proto/gen/marquee/booking/v1/booking';
import { BookingState } from '../../../proto/gen/marquee/booking/v1/booking';
import type { AcknowledgedBooking, GaQuantity } from '../invariants';
import { RetryFailed, retryOnCandidates } from './retry';
import { targetOf } from './shows';
import type { ShowTarget } from './shows';
import type { RetryOutcome } from './retry';
import type { Timeline } from './timeline';
import type { Answer, BookingTransport } from './transport';

/*
 * Concurrent booking clients, as the soak's load: each worker registers one user, then loops —
 * hold 1–2 seats or 1–2 general-admission places of a show, confirm, sometimes cancel. Every write
 * goes through retryOnCandidates with its idempotency key made once per operation, so a retry on the
 * next node is the same request. What a client saw acknowledged (and in which final state) is kept
 * for the invariant checker; errors are counted by gRPC code.
 */

export const CHAOS_CARD: Card = {
  number: '4242 4242 4242 4242',
  expMonth: 12,
  expYear: 2099,
  cvc: '123',
  holderName: 'Chaos Monkey',
};

export interface WorkloadOptions {
  transport: BookingTransport;
  /** Client addresses in preference order: the current master first. */
  candidates: () => readonly string[];
  /** The node behind a client address (for the timeline). */
  nodeOf: (address: string) => number | undefined;
  timeline?: Timeline;
  workers: number;
  /** Makes user emails and idempotency keys unique to this run. */
  runId: string;
  retryBudgetMs?: number;
  cancelRatio?: number;
  random?: () => number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface WorkloadStats {
  acknowledged: number;
  confirmed: number;
  cancelled: number;
  /** Failed attempts (retried ones included) by gRPC code name. */
  attemptErrors: Record<string, number>;
  /** Operations that finally failed, by "<op> <code>". */
  failures: Record<string, number>;
}

interface ShowState {
  showId: string;
  free: Set<string>;
  pools: Map<string, number>;
}

interface Worker {
  index: number;
  token: string;
}

export class Workload {
  private readonly shows: ShowState[] = [];
  private readonly workers: Worker[] = [];
  private readonly acks = new Map<string, AcknowledgedBooking>();
  private readonly attemptErrors: Record<string, number> = {};
  private readonly failures: Record<string, number> = {};
  private readonly loops: Promise<void>[] = [];
  private running = false;
  private counter = 0;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: WorkloadOptions) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Registers one user per worker (through the master, like any write). */
  async register(): Promise<void> {
    for (let index = this.workers.length; index < this.options.workers; index++) {
      const email = `chaos-${this.options.runId}-${index}@example.com`;
      const { value } = await this.write('register', (address) =>
        this.options.transport.register(
          address,
          { email, password: 'chaos-password-0123', displayName: `Chaos ${index}` },
          `chaos-${this.options.runId}-register-${index}`,
        ),
      );
      this.workers.push({ index, token: value.value.token });
    }
  }

  /** Adds shows to book from, with the seats and places they still had. */
  addShows(targets: readonly ShowTarget[]): void {
    for (const t of targets)
      this.shows.push({
        showId: t.showId,
        free: new Set(t.seatIds),
        pools: new Map(t.pools.map((p) => [p.areaId, p.remaining])),
      });
  }

  /** Reads each show's availability (as a registered user) and adds what is still free. */
  async loadShows(showIds: readonly string[]): Promise<void> {
    const worker = this.workers[0];
    if (!worker) throw new Error('register() first');
    for (const showId of showIds) {
      const { value } = await this.write('availability', (address) =>
        this.options.transport.availability(address, showId, worker.token),
      );
      this.addShows([targetOf(value.value)]);
    }
  }

  start(): void {
    if (this.running) return;
    if (this.workers.length === 0 || this.shows.length === 0)
      throw new Error('the workload needs registered users and shows (register(), addShows())');
    this.running = true;
    for (const worker of this.workers) this.loops.push(this.loop(worker));
  }

  /** Stops after each worker's current operation (a retry in progress finishes first). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops.length = 0;
  }

  acknowledged(): AcknowledgedBooking[] {
    return [...this.acks.values()].map((a) => ({ ...a, seatIds: [...a.seatIds] }));
  }

  stats(): WorkloadStats {
    const acks = [...this.acks.values()];
    return {
      acknowledged: acks.length,
      confirmed: acks.filter((a) => a.state === 'CONFIRMED').length,
      cancelled: acks.filter((a) => a.state === 'CANCELLED').length,
      attemptErrors: { ...this.attemptErrors },
      failures: { ...this.failures },
    };
  }

  private async loop(worker: Worker): Promise<void> {
    while (this.running) {
      await this.round(worker);
      await this.sleep(5 + Math.floor(this.random() * 20));
    }
  }

  /** One hold → confirm (→ cancel) round as worker `index` (tests drive it directly); never throws. */
  async bookOne(index = 0): Promise<void> {
    const worker = this.workers[index];
    if (!worker) throw new Error(`no worker ${index}: register() first`);
    await this.round(worker);
  }

  private async round(worker: Worker): Promise<void> {
    const show = this.pickShow();
    if (!show) return;
    const request = this.pickItems(show);
    if (!request) return;
    const { transport } = this.options;
    const key = (op: string): string => `chaos-${this.options.runId}-${worker.index}-${++this.counter}-${op}`;

    const holdKey = key('hold');
    const hold = await this.tryWrite('hold', (address) =>
      transport.hold(
        address,
        { showId: show.showId, seatIds: request.seatIds, ga: request.ga, idempotencyKey: holdKey },
        worker.token,
      ),
    );
    if (!hold) return;

    const confirmKey = key('confirm');
    const confirmed = await this.tryWrite('confirm', (address) =>
      transport.confirm(
        address,
        { holdId: hold.value.value.id, card: CHAOS_CARD, idempotencyKey: confirmKey },
        worker.token,
      ),
    );
    if (!confirmed) return;
    const booking = confirmed.value.value;
    this.acknowledge(confirmed);
    const ack: AcknowledgedBooking = {
      id: booking.id,
      showId: booking.showId,
      seatIds: booking.seats.map((s) => s.seatId).sort(),
      ga: booking.ga.map((g): GaQuantity => ({ areaId: g.areaId, quantity: g.quantity })),
      state: 'CONFIRMED',
    };
    this.acks.set(ack.id, ack);

    if (this.random() >= (this.options.cancelRatio ?? 0.2)) return;
    const cancelKey = key('cancel');
    try {
      const cancelled = await this.write('cancel', (address) =>
        transport.cancel(address, { bookingId: booking.id, idempotencyKey: cancelKey }, worker.token),
      );
      if (cancelled.value.value.state === BookingState.BOOKING_STATE_CANCELLED) {
        this.acknowledge(cancelled);
        this.acks.set(ack.id, { ...ack, state: 'CANCELLED' });
        for (const seatId of ack.seatIds) show.free.add(seatId);
        for (const g of ack.ga ?? []) show.pools.set(g.areaId, (show.pools.get(g.areaId) ?? 0) + g.quantity);
      }
    } catch (error) {
      // Sent but unanswered: the booking may now be cancelled, and that is not a lost write.
      if (error instanceof RetryFailed && error.inDoubt)
        this.acks.set(ack.id, { ...ack, cancelInDoubt: true });
    }
  }

  private acknowledge(outcome: RetryOutcome<Answer<unknown>>): void {
    const node = this.options.nodeOf(outcome.address);
    if (node !== undefined)
      this.options.timeline?.ack({ wallMs: this.now(), node, lamport: outcome.value.lamport });
  }

  private pickShow(): ShowState | undefined {
    const open = this.shows.filter((s) => s.free.size > 0 || [...s.pools.values()].some((r) => r > 0));
    return open[Math.floor(this.random() * open.length)];
  }

  /** 1–2 free seats, or 1–2 places of a pool with room; taken out of the local free lists at once. */
  private pickItems(
    show: ShowState,
  ): { seatIds: string[]; ga: { areaId: string; quantity: number }[] } | undefined {
    const pools = [...show.pools].filter(([, remaining]) => remaining > 0);
    const wantGa = pools.length > 0 && (show.free.size === 0 || this.random() < 0.5);
    const count = 1 + Math.floor(this.random() * 2);
    if (wantGa) {
      const [areaId, remaining] = pools[Math.floor(this.random() * pools.length)]!;
      const quantity = Math.min(count, remaining);
      show.pools.set(areaId, remaining - quantity);
      return { seatIds: [], ga: [{ areaId, quantity }] };
    }
    const free = [...show.free];
    if (free.length === 0) return undefined;
    const seatIds: string[] = [];
    for (let i = 0; i < count && free.length > 0; i++) {
      const [seat] = free.splice(Math.floor(this.random() * free.length), 1);
      seatIds.push(seat!);
      show.free.delete(seat!);
    }
    return { seatIds, ga: [] };
  }

  private write<T>(op: string, attempt: (address: string) => Promise<T>): Promise<RetryOutcome<T>> {
    return retryOnCandidates(attempt, this.options.candidates, {
      budgetMs: this.options.retryBudgetMs ?? 10_000,
      now: this.now,
      sleep: this.sleep,
      onAttemptError: (code) => {
        const name = code === undefined ? 'LOCAL' : (Code[code] ?? String(code));
        this.attemptErrors[name] = (this.attemptErrors[name] ?? 0) + 1;
      },
    }).catch((error: unknown) => {
      const code = error instanceof RetryFailed ? error.code : undefined;
      const name = `${op} ${code === undefined ? 'LOCAL' : (Code[code] ?? String(code))}`;
      this.failures[name] = (this.failures[name] ?? 0) + 1;
      throw error;
    });
  }

  /** write(), with a final failure counted and turned into undefined. */
  private async tryWrite<T>(
    op: string,
    attempt: (address: string) => Promise<T>,
  ): Promise<RetryOutcome<T> | undefined> {
    try {
      return await this.write(op, attempt);
    } catch {
      return undefined;
    }
  }
}
