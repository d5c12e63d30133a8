import { status as Code } from '@grpc/grpc-js';
import { isGrpcError, mayRetry } from '../../../services/common/errors';

/*
 * What a real client does while the group elects a master: send the write to the node it believes
 * is master; on UNAVAILABLE / DEADLINE_EXCEEDED / ABORTED, or an unknown outcome (INTERNAL / UNKNOWN /
 * CANCELLED: a stream reset when a node died after committing), send the SAME request (same idempotency
 * key: the caller builds the request once, `attempt` only gets an address) to the next candidate —
 * the master a refusing slave named, else the next address in the current preference order — until
 * a bounded budget runs out. Time and sleep are injected so the rule is testable without a network.
 */

/** The metadata key a refusing slave names the master's client address under (see errors.ts). */
export const MASTER_ADDRESS_KEY = 'x-error-masteraddress';

export interface RetryOptions {
  /** Total time allowed for all attempts (the first one included). */
  budgetMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Pause between attempts, doubled each time up to 4×; 50 ms unless told. */
  backoffMs?: number;
  /** Called on every failed attempt (to count errors by code). */
  onAttemptError?: (code: Code | undefined, address: string) => void;
}

export interface RetryOutcome<T> {
  value: T;
  address: string;
  attempts: number;
}

/** The last error of a call that never succeeded, and whether it may nevertheless have taken effect. */
export class RetryFailed extends Error {
  constructor(
    readonly last: unknown,
    readonly attempts: number,
    /** Some attempt failed in a way that leaves the outcome unknown (deadline, dropped connection). */
    readonly inDoubt: boolean,
  ) {
    super(`${attempts} attempt${attempts === 1 ? '' : 's'} failed; last: ${errorText(last)}`);
    this.name = 'RetryFailed';
  }

  get code(): Code | undefined {
    return isGrpcError(this.last) ? this.last.code : undefined;
  }
}

export function errorText(error: unknown): string {
  if (isGrpcError(error)) return `${Code[error.code] ?? error.code}: ${error.details}`;
  return error instanceof Error ? error.message : String(error);
}

/** The project's rule (services/common/errors.ts) for a call that is safe to repeat: every write here carries a key. */
export function isRetryable(error: unknown): boolean {
  return mayRetry(error, true);
}

/** A slave's refusal ("node 1 is not the master ..."): definitely not applied. */
export function isRefusal(error: unknown): boolean {
  return isGrpcError(error) && error.code === Code.UNAVAILABLE && /is not the master/.test(error.details);
}

/** The master address a refusal names, if any. */
export function masterHint(error: unknown): string | undefined {
  if (!isGrpcError(error) || !error.metadata) return undefined;
  const value = error.metadata.get(MASTER_ADDRESS_KEY)[0];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * The address to try after `last` failed: the head of the preference list unless that is the one
 * that just failed, in which case the one after it (wrapping around).
 */
export function nextCandidate(candidates: readonly string[], last: string | undefined): string | undefined {
  if (candidates.length === 0) return last;
  if (last === undefined || candidates[0] !== last) return candidates[0];
  const at = candidates.indexOf(last);
  return candidates[(at + 1) % candidates.length];
}

export async function retryOnCandidates<T>(
  attempt: (address: string) => Promise<T>,
  candidates: () => readonly string[],
  options: RetryOptions,
): Promise<RetryOutcome<T>> {
  const deadline = options.now() + options.budgetMs;
  const base = options.backoffMs ?? 50;
  let attempts = 0;
  let inDoubt = false;
  let address = nextCandidate(candidates(), undefined);
  for (;;) {
    if (address === undefined) throw new RetryFailed(new Error('no node to send to'), attempts, inDoubt);
    attempts += 1;
    try {
      return { value: await attempt(address), address, attempts };
    } catch (error) {
      options.onAttemptError?.(isGrpcError(error) ? error.code : undefined, address);
      if (!isRetryable(error)) throw new RetryFailed(error, attempts, inDoubt);
      if (!isRefusal(error)) inDoubt = true;
      const pause = Math.min(base * 2 ** Math.min(attempts - 1, 2), Math.max(0, deadline - options.now()));
      if (options.now() + pause >= deadline) throw new RetryFailed(error, attempts, inDoubt);
      await options.sleep(pause);
      address = masterHint(error) ?? nextCandidate(candidates(), address);
    }
  }
}
