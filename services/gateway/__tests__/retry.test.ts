import { Metadata, status as Code } from '@grpc/grpc-js';
import { HttpError } from '../http-errors';
import { backoffMs, withRetries } from '../retry';
import type { Attempt } from '../retry';

/** Fake time: sleeping moves the clock, nothing waits. */
function fakeTime(): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let t = 1_000_000;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
    slept,
  };
}

function failure(code: Code, details = 'node 1 is not the master'): Error {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

const policy = { deadlineMs: 5000, budgetMs: 10_000 };

describe('the retry rule', () => {
  it('retries UNAVAILABLE, ABORTED and DEADLINE_EXCEEDED, each attempt told its index and deadline', async () => {
    const time = fakeTime();
    const seen: Attempt[] = [];
    const codes = [Code.UNAVAILABLE, Code.ABORTED, Code.DEADLINE_EXCEEDED];
    const result = await withRetries(
      'the booking group',
      policy,
      async (attempt) => {
        seen.push(attempt);
        const code = codes[attempt.index];
        if (code !== undefined) throw failure(code);
        return 'hold';
      },
      { ...time, random: () => 1 },
    );
    expect(result).toBe('hold');
    expect(seen.map((a) => a.index)).toEqual([0, 1, 2, 3]);
    expect(time.slept).toEqual([50, 100, 200]);
    // The first attempt gets the whole per-call deadline.
    expect(seen[0]!.deadline).toBe(1_000_000 + 5000);
  });

  it('does not retry an answer (a taken seat, a bad request)', async () => {
    const time = fakeTime();
    let attempts = 0;
    const error = failure(Code.FAILED_PRECONDITION, 'seat A-1 is already sold');
    await expect(
      withRetries(
        'the booking group',
        policy,
        async () => {
          attempts += 1;
          throw error;
        },
        time,
      ),
    ).rejects.toBe(error);
    expect(attempts).toBe(1);
  });

  it('gives up when the budget is spent, no attempt running past it, and says so', async () => {
    const time = fakeTime();
    const seen: Attempt[] = [];
    const start = time.now();
    const outcome = withRetries(
      'the booking group',
      policy,
      async (attempt) => {
        seen.push(attempt);
        throw failure(Code.UNAVAILABLE, 'no master known yet (election in progress)');
      },
      { ...time, random: () => 1 },
    );
    await expect(outcome).rejects.toBeInstanceOf(HttpError);
    const error = (await outcome.catch((e: unknown) => e)) as HttpError;
    expect(error.code).toBe(Code.UNAVAILABLE);
    expect(error.message).toMatch(
      /^the booking group is unavailable \(node down or an election in progress\); gave up after \d+ attempts in [\d.]+ s: no master known yet/,
    );
    expect(seen.length).toBeGreaterThan(5);
    for (const attempt of seen.slice(1))
      expect(attempt.deadline).toBeLessThanOrEqual(start + policy.budgetMs);
    expect(time.now()).toBeLessThanOrEqual(start + policy.budgetMs);
  });

  it.each([
    [Code.INTERNAL, 'Received RST_STREAM with code 2'],
    [Code.UNKNOWN, 'Received RST_STREAM with code 2 (Call ended without gRPC status)'],
    [Code.CANCELLED, 'Received RST_STREAM with code 8'],
  ])(
    'an unknown outcome (%p, %p: the node may have committed) is retried, and the retry returns the first answer',
    async (code, details) => {
      const time = fakeTime();
      let attempts = 0;
      const result = await withRetries(
        'the booking group',
        policy,
        async () => {
          attempts += 1;
          if (attempts === 1) throw failure(code, details);
          return 'bk_1';
        },
        time,
      );
      expect(result).toBe('bk_1');
      expect(attempts).toBe(2);
    },
  );

  it('an outcome still unknown when the budget is spent is a 503 to retry with the same key, never a 500', async () => {
    const time = fakeTime();
    const outcome = withRetries(
      'the booking group',
      policy,
      async () => {
        throw failure(Code.INTERNAL, 'Received RST_STREAM with code 2');
      },
      time,
    );
    const error = (await outcome.catch((e: unknown) => e)) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error.code).toBe(Code.UNAVAILABLE);
    expect(error.message).toMatch(
      /^the booking group did not say whether the call took effect; retry with the same Idempotency-Key \(gave up after \d+ attempts/,
    );
    expect(time.now()).toBeLessThanOrEqual(1_000_000 + policy.budgetMs);
  });

  it('a deadline still running out when the budget is spent is a 504 that says how to find out', async () => {
    const time = fakeTime();
    const error = (await withRetries(
      'the booking group',
      policy,
      async () => {
        throw failure(Code.DEADLINE_EXCEEDED, 'Deadline exceeded');
      },
      time,
    ).catch((e: unknown) => e)) as HttpError;
    expect(error.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(error.message).toMatch(
      /^the booking group did not answer in time \(a write may have taken effect: retry with the same Idempotency-Key\); gave up after/,
    );
  });

  it('a zero budget means one attempt', async () => {
    const time = fakeTime();
    let attempts = 0;
    await expect(
      withRetries(
        'the catalog',
        { deadlineMs: 5000, budgetMs: 0 },
        async () => {
          attempts += 1;
          throw failure(Code.UNAVAILABLE, 'connect ECONNREFUSED');
        },
        time,
      ),
    ).rejects.toThrow('gave up after 1 attempt: connect ECONNREFUSED');
    expect(attempts).toBe(1);
  });

  it('backs off exponentially up to a cap, with jitter between half and all of it', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map((n) => backoffMs(n, policy, () => 1))).toEqual([
      50, 100, 200, 400, 800, 1000, 1000,
    ]);
    expect(backoffMs(3, policy, () => 0)).toBe(100);
  });
});
