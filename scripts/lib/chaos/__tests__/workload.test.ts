import { Metadata, status as Code } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { BookingState, HoldState } from '../../../../proto/gen/marquee/booking/v1/booking';
import type {
  Availability,
  Booking,
  CancelBookingRequest,
  ConfirmBookingRequest,
  Hold,
  HoldSeatsRequest,
  RegisterRequest,
  Session,
} from '../../../../proto/gen/marquee/booking/v1/booking';
import { MASTER_ADDRESS_KEY, RetryFailed, nextCandidate, retryOnCandidates } from '../retry';
import { Timeline } from '../timeline';
import type { Answer, BookingTransport } from '../transport';
import { Workload } from '../workload';

function grpcError(code: Code, details: string, masterAddress?: string): ServiceError {
  const metadata = new Metadata();
  if (masterAddress) metadata.set(MASTER_ADDRESS_KEY, masterAddress);
  return Object.assign(new Error(details), { code, details, metadata });
}

/** A clock that only moves when the code under test sleeps. */
function fakeTime() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
    sleeps,
  };
}

describe('retryOnCandidates (what a client does during an election)', () => {
  it('follows the master a refusing slave names, with the same request', async () => {
    const time = fakeTime();
    const calls: string[] = [];
    const outcome = await retryOnCandidates(
      async (address) => {
        calls.push(address);
        if (address !== 'n3')
          throw grpcError(Code.UNAVAILABLE, 'node 1 is not the master; the master is node 3', 'n3');
        return 'ok';
      },
      () => ['n1', 'n2', 'n3'],
      { budgetMs: 10_000, ...time },
    );
    expect(calls).toEqual(['n1', 'n3']);
    expect(outcome).toEqual({ value: 'ok', address: 'n3', attempts: 2 });
  });

  it('without a hint moves on to the next candidate, and takes a new master first as soon as it is known', async () => {
    const time = fakeTime();
    const calls: string[] = [];
    let preference = ['n3', 'n2', 'n1'];
    await retryOnCandidates(
      async (address) => {
        calls.push(address);
        if (calls.length === 2) preference = ['n2', 'n3', 'n1']; // the observer saw node 2 elected
        if (address !== 'n2' || calls.length < 3) throw grpcError(Code.DEADLINE_EXCEEDED, 'deadline');
        return 'ok';
      },
      () => preference,
      { budgetMs: 10_000, ...time },
    );
    expect(calls).toEqual(['n3', 'n2', 'n3', 'n2']);
  });

  it('stops at once on a non-retryable error, saying whether an earlier attempt may have taken effect', async () => {
    const time = fakeTime();
    let n = 0;
    const failure = await retryOnCandidates(
      async () => {
        n += 1;
        throw n === 1
          ? grpcError(Code.DEADLINE_EXCEEDED, 'deadline')
          : grpcError(Code.FAILED_PRECONDITION, 'hold h1 is already confirmed');
      },
      () => ['n1'],
      { budgetMs: 10_000, ...time },
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RetryFailed);
    expect((failure as RetryFailed).code).toBe(Code.FAILED_PRECONDITION);
    expect((failure as RetryFailed).attempts).toBe(2);
    expect((failure as RetryFailed).inDoubt).toBe(true);
  });

  it('a stream reset by nginx when the node died after committing (INTERNAL) is retried with the same request, in doubt', async () => {
    const time = fakeTime();
    const calls: string[] = [];
    const outcome = await retryOnCandidates(
      async (address) => {
        calls.push(address);
        if (calls.length === 1) throw grpcError(Code.INTERNAL, 'Received RST_STREAM with code 2');
        return 'bk_1';
      },
      () => ['n1', 'n2'],
      { budgetMs: 10_000, ...time },
    );
    expect(outcome).toEqual({ value: 'bk_1', address: 'n2', attempts: 2 });
  });

  it('a refusal alone is not in doubt; the budget bounds the whole call', async () => {
    const time = fakeTime();
    const failure = (await retryOnCandidates(
      async () => {
        throw grpcError(Code.UNAVAILABLE, 'node 1 is not the master and no master is known yet');
      },
      () => ['n1', 'n2'],
      { budgetMs: 2_000, ...time },
    ).catch((error: unknown) => error)) as RetryFailed;
    expect(failure.inDoubt).toBe(false);
    expect(time.now()).toBeLessThanOrEqual(2_000);
    expect(failure.attempts).toBeGreaterThan(3);
    // Backoff doubles up to 4× the base.
    expect(time.sleeps.slice(0, 5)).toEqual([50, 100, 200, 200, 200]);
  });

  it('nextCandidate: the head unless it just failed, then the one after it', () => {
    expect(nextCandidate(['a', 'b', 'c'], undefined)).toBe('a');
    expect(nextCandidate(['a', 'b', 'c'], 'b')).toBe('a');
    expect(nextCandidate(['a', 'b', 'c'], 'a')).toBe('b');
    expect(nextCandidate(['c', 'b', 'a'], 'c')).toBe('b');
    expect(nextCandidate([], 'x')).toBe('x');
  });
});

/** A group of nodes behind addresses n1..n3; `script` decides each call's fate. */
class FakeTransport implements BookingTransport {
  readonly calls: { op: string; address: string; key: string }[] = [];
  constructor(
    private readonly script: (op: string, address: string, attempt: number) => ServiceError | undefined,
  ) {}

  private run<T>(op: string, address: string, key: string, value: T): Promise<Answer<T>> {
    const attempt = this.calls.filter((c) => c.op === op && c.key === key).length + 1;
    this.calls.push({ op, address, key });
    const error = this.script(op, address, attempt);
    return error ? Promise.reject(error) : Promise.resolve({ value, lamport: 100 + this.calls.length });
  }

  register(address: string, request: RegisterRequest, key: string): Promise<Answer<Session>> {
    return this.run('register', address, key, {
      token: `token-${request.email}`,
      expiresAt: '',
      user: undefined,
    });
  }
  availability(address: string, showId: string): Promise<Answer<Availability>> {
    return this.run('availability', address, showId, {
      showId,
      currency: 'EUR',
      seats: [{ seatId: 'A-1', label: 'A1', priceTier: 'x', amountCents: 1, state: 1 }],
      pools: [],
    });
  }
  hold(address: string, request: HoldSeatsRequest): Promise<Answer<Hold>> {
    return this.run('hold', address, request.idempotencyKey, {
      id: 'hold-1',
      showId: request.showId,
      seats: request.seatIds.map((seatId) => ({ seatId, label: seatId, amountCents: 1 })),
      ga: [],
      totalCents: 1,
      currency: 'EUR',
      expiresAt: '',
      state: HoldState.HOLD_STATE_ACTIVE,
    });
  }
  confirm(address: string, request: ConfirmBookingRequest): Promise<Answer<Booking>> {
    return this.run(
      'confirm',
      address,
      request.idempotencyKey,
      booking(BookingState.BOOKING_STATE_CONFIRMED),
    );
  }
  cancel(address: string, request: CancelBookingRequest): Promise<Answer<Booking>> {
    return this.run('cancel', address, request.idempotencyKey, booking(BookingState.BOOKING_STATE_CANCELLED));
  }
  close(): void {}
}

function booking(state: BookingState): Booking {
  return {
    id: 'booking-1',
    userId: 'u',
    showId: 'show-1',
    holdId: 'hold-1',
    seats: [{ seatId: 'A-1', label: 'A1', amountCents: 1 }],
    ga: [],
    totalCents: 1,
    currency: 'EUR',
    state,
    paymentId: '',
    refundId: '',
    createdAt: '',
    cancelledAt: '',
  };
}

describe('Workload', () => {
  const nodeOf = (address: string): number => Number(address.slice(1));

  async function workloadWith(script: ConstructorParameters<typeof FakeTransport>[0], cancelRatio = 0) {
    const transport = new FakeTransport(script);
    const timeline = new Timeline(0);
    const time = fakeTime();
    const workload = new Workload({
      transport,
      candidates: () => ['n1', 'n2', 'n3'],
      nodeOf,
      timeline,
      workers: 1,
      runId: 'test',
      cancelRatio,
      random: () => 0,
      ...time,
    });
    await workload.register();
    await workload.loadShows(['show-1']);
    transport.calls.length = 0;
    return { transport, timeline, workload };
  }

  it('retries a refused hold at the named master and a timed-out confirm with the same idempotency keys', async () => {
    const { transport, timeline, workload } = await workloadWith((op, address, attempt) => {
      if (op === 'hold' && address !== 'n3')
        return grpcError(Code.UNAVAILABLE, 'node 1 is not the master', 'n3');
      if (op === 'confirm' && attempt === 1) return grpcError(Code.DEADLINE_EXCEEDED, 'deadline exceeded');
      return undefined;
    });
    await workload.bookOne();
    const holds = transport.calls.filter((c) => c.op === 'hold');
    const confirms = transport.calls.filter((c) => c.op === 'confirm');
    expect(holds.map((c) => c.address)).toEqual(['n1', 'n3']);
    expect(new Set(holds.map((c) => c.key)).size).toBe(1);
    expect(confirms).toHaveLength(2);
    expect(new Set(confirms.map((c) => c.key)).size).toBe(1);
    expect(confirms[0]!.key).not.toBe(holds[0]!.key);
    expect(workload.acknowledged()).toEqual([
      { id: 'booking-1', showId: 'show-1', seatIds: ['A-1'], ga: [], state: 'CONFIRMED' },
    ]);
    expect(timeline.acks().map((a) => a.node)).toHaveLength(1);
    expect(workload.stats().attemptErrors).toEqual({ UNAVAILABLE: 1, DEADLINE_EXCEEDED: 1 });
    expect(workload.stats().failures).toEqual({});
  });

  it('records nothing for a confirm that finally failed, and counts it by code', async () => {
    const { workload } = await workloadWith((op) =>
      op === 'confirm' ? grpcError(Code.FAILED_PRECONDITION, 'card declined') : undefined,
    );
    await workload.bookOne();
    expect(workload.acknowledged()).toEqual([]);
    expect(workload.stats().failures).toEqual({ 'confirm FAILED_PRECONDITION': 1 });
  });

  it('an acknowledged cancel makes the booking CANCELLED; an unanswered one leaves it in doubt', async () => {
    const ok = await workloadWith(() => undefined, 1);
    await ok.workload.bookOne();
    expect(ok.workload.acknowledged()[0]).toMatchObject({ state: 'CANCELLED' });

    const lost = await workloadWith(
      (op) => (op === 'cancel' ? grpcError(Code.DEADLINE_EXCEEDED, 'deadline exceeded') : undefined),
      1,
    );
    await lost.workload.bookOne();
    expect(lost.workload.acknowledged()[0]).toMatchObject({ state: 'CONFIRMED', cancelInDoubt: true });
  });
});
