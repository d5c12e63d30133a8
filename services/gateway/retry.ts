import { status as Code } from '@grpc/grpc-js';
import { isGrpcError, isUnknownOutcome, mayRetry } from '../common/errors';
import { HttpError } from './http-errors';

/*
 * The retry rule (README "Retries"; the rule itself is mayRetry in services/common/errors.ts). An
 * upstream call is tried on one booking node after another (round robin) while it fails with a
 * retryable code — UNAVAILABLE (node down, election in progress, write not yet acknowledged),
 * ABORTED (a lost race the server asks to retry), DEADLINE_EXCEEDED — or with an unknown outcome
 * (INTERNAL, UNKNOWN, CANCELLED: a stream reset when a node died after committing), with
 * exponential backoff, until the retry budget is spent. Every call made through withRetries is safe
 * to repeat: a read, or a write carrying the SAME idempotency key on every attempt, so a retry of a
 * write that did land returns the first answer instead of writing again: a buyer clicking "Book"
 * during a failover gets one booking, not an error and not two. (Catalog writes carry no key and
 * are not sent through here.)
 *
 * Time: the first attempt always gets the full per-call deadline; a retry starts only while the
 * budget lasts and its deadline is cut to what is left of it. A call therefore ends within
 * max(deadline, budget) plus one backoff pause of scheduling slack.
 */

export interface RetryPolicy {
  /** Deadline of one attempt. */
  deadlineMs: number;
  /** Total time in which retries may start (0: never retry). */
  budgetMs: number;
  /** Pause before the first retry; doubles each time up to maxDelayMs, with jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface Attempt {
  /** 0 for the first try. */
  index: number;
  /** Absolute deadline (ms since the epoch) for this attempt's call. */
  deadline: number;
}

export interface RetryHooks {
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Told of every failed attempt that will be retried. */
  onRetry?: (attempt: Attempt, error: unknown) => void;
}

/** Shortest deadline worth starting a retry with; less than this is left unspent. */
const MIN_ATTEMPT_MS = 50;

/** For calls that are safe to repeat, the only kind withRetries makes. */
export function isRetryable(error: unknown): boolean {
  return mayRetry(error, true);
}

/** The backoff pause before retry number `retry` (1, 2, ...): 50, 100, 200 ... ms, capped, jittered to 50–100 %. */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const base = policy.baseDelayMs ?? 50;
  const max = policy.maxDelayMs ?? 1000;
  const full = Math.min(max, base * 2 ** Math.min(retry - 1, 30));
  return Math.round(full * (0.5 + random() / 2));
}

/**
 * Runs `attempt` until it succeeds, fails with a code that is not retryable, or the budget is spent.
 * When retries run out the last error is thrown, its message saying how long and how often it was
 * tried (the upstream's own message follows).
 */
export async function withRetries<T>(
  what: string,
  policy: RetryPolicy,
  attempt: (attempt: Attempt) => Promise<T>,
  hooks: RetryHooks = {},
): Promise<T> {
  const now = hooks.now ?? Date.now;
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = hooks.random ?? Math.random;
  const start = now();
  const budgetEnd = start + policy.budgetMs;
  let deadline = start + policy.deadlineMs;
  for (let index = 0; ; index++) {
    try {
      return await attempt({ index, deadline });
    } catch (error) {
      if (!isRetryable(error)) throw error;
      const pause = backoffMs(index + 1, policy, random);
      const resume = now() + pause;
      if (resume + MIN_ATTEMPT_MS > budgetEnd) throw exhausted(what, error, index + 1, now() - start);
      hooks.onRetry?.({ index, deadline }, error);
      await sleep(pause);
      deadline = Math.min(now() + policy.deadlineMs, budgetEnd);
    }
  }
}

/** The last error, with what was tried, for the client: "... gave up after 7 attempts in 10.0 s: ...". */
function exhausted(what: string, error: unknown, attempts: number, elapsedMs: number): unknown {
  if (!isGrpcError(error)) return error;
  const tried = attempts === 1 ? '1 attempt' : `${attempts} attempts in ${(elapsedMs / 1000).toFixed(1)} s`;
  // The write may have landed: never a 500, which says it failed. 503 says "try again", and the same
  // Idempotency-Key (the answer carries it) returns the first answer if it did.
  if (isUnknownOutcome(error))
    return new HttpError(
      Code.UNAVAILABLE,
      `${what} did not say whether the call took effect; retry with the same Idempotency-Key ` +
        `(gave up after ${tried}: ${error.details})`,
    );
  const situation =
    error.code === Code.UNAVAILABLE
      ? `${what} is unavailable (node down or an election in progress)`
      : error.code === Code.DEADLINE_EXCEEDED
        ? // A deadline leaves the outcome unknown too: say how to find out.
          `${what} did not answer in time (a write may have taken effect: retry with the same Idempotency-Key)`
        : `${what} kept refusing the call`;
  return new HttpError(error.code, `${situation}; gave up after ${tried}: ${error.details}`);
}
