/**
 * Lamport logical clocks (Lamport 1978, "Time, Clocks, and the Ordering of Events").
 *
 * The clock is a tiny value class. It is stamped onto every gRPC request and response by ONE client
 * and ONE server interceptor (lamport-interceptors.ts); handlers never touch it. Persistence across
 * restarts lives in lamport-store.ts (PersistentLamportClock), so this file stays pure.
 */

/** The metadata key every request and response (errors included) carries. */
export const LAMPORT_METADATA_KEY = 'x-lamport';

/**
 * A stamp is a non-negative safe integer strictly below MAX_SAFE_INTEGER: the upper bound keeps
 * `stamp + 1` exact, so a peer sending the largest safe integer cannot push our counter into the
 * range where doubles stop counting by one (and `max(local, remote) + 1` would silently stall).
 */
export function isLamportStamp(value: unknown): value is number {
  return (
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value < Number.MAX_SAFE_INTEGER
  );
}

// Plain decimal digits only: Number() would also accept ' 12', '0x1f', '1e3', '' and '+4'.
const DECIMAL = /^[0-9]{1,16}$/;

/**
 * Parses an untrusted wire value (a metadata header). Returns undefined for anything that is not a
 * valid stamp instead of throwing, so a garbage header from a peer can never fail a call; the caller
 * decides whether to log it.
 */
export function parseLamportStamp(value: unknown): number | undefined {
  if (typeof value !== 'string' || !DECIMAL.test(value)) return undefined;
  const stamp = Number(value);
  return isLamportStamp(stamp) ? stamp : undefined;
}

export class LamportClock {
  private value: number;

  constructor(start = 0) {
    if (!isLamportStamp(start))
      throw new RangeError(`Lamport clock start must be a non-negative safe integer, got ${String(start)}`);
    this.value = start;
  }

  /** The current value, without advancing: for log lines and status pages. */
  now(): number {
    return this.value;
  }

  /** A local event or a send: advances by one and returns the stamp of that event. */
  tick(): number {
    return this.advanceTo(this.value + 1);
  }

  /**
   * A receive: the event is later than everything the sender had seen and than our own past, so
   * it gets max(local, remote) + 1. `remote` must already be validated (see parseLamportStamp):
   * an invalid value here is a programming error, hence the throw.
   */
  receive(remote: number): number {
    if (!isLamportStamp(remote)) throw new RangeError(`not a Lamport stamp: ${String(remote)}`);
    return this.advanceTo(Math.max(this.value, remote) + 1);
  }

  /**
   * Resolves once `stamp` may be shown to the outside world (sent in a message, written to a
   * replicated log) without risking that a restart hands it out again. A memory-only clock has
   * nothing to wait for; PersistentLamportClock overrides this. Returning undefined instead of a
   * resolved promise keeps the common path synchronous: no microtask hop per gRPC call.
   */
  whenDurable(_stamp: number): Promise<void> | undefined {
    return undefined;
  }

  /** Called after every advance; PersistentLamportClock uses it to reserve ahead of the counter. */
  protected advanced(_value: number): void {}

  private advanceTo(next: number): number {
    // Unreachable in practice (2^53 events), but wrapping or stalling would silently break ordering.
    if (!isLamportStamp(next)) throw new RangeError('Lamport clock exhausted');
    this.value = next;
    this.advanced(next);
    return next;
  }
}

/** An event's position in the total order: Lamport value first, node id breaks ties. */
export interface LamportStamp {
  lamport: number;
  nodeId: number;
}

/**
 * Total order over events of all nodes, consistent with happened-before: if a → b then
 * compareStamps(a, b) < 0. Concurrent events are ordered arbitrarily but identically everywhere.
 * Returns a negative number, zero (same event) or a positive number, as Array.prototype.sort wants.
 */
export function compareStamps(a: LamportStamp, b: LamportStamp): number {
  if (a.lamport !== b.lamport) return a.lamport < b.lamport ? -1 : 1;
  if (a.nodeId !== b.nodeId) return a.nodeId < b.nodeId ? -1 : 1;
  return 0;
}

/**
 * A pino `mixin` that stamps every log line with the clock's current value, so scripts/ can merge
 * all nodes' logs into one causal timeline. It reads `now()` and never ticks: logging is not an
 * event, and ticking here would make the clock depend on the log level.
 */
export function lamportLogMixin(clock: LamportClock): () => { lamport: number } {
  return () => ({ lamport: clock.now() });
}
