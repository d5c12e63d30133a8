import type { NodeId } from './types';

/**
 * Election timing is counted in ticks; the shell decides how long a tick is. Defaults are for a LAN
 * with a 50 ms tick: heartbeat every 100 ms, failure suspected after 400 ms.
 */
export interface ElectionConfig {
  readonly id: NodeId;
  /** Every member of the group, this node included. Static: membership changes are out of scope. */
  readonly peers: readonly NodeId[];
  /** A master sends a heartbeat every heartbeatTicks. */
  readonly heartbeatTicks: number;
  /**
   * A slave suspects its master after this many ticks without a heartbeat; a master stops serving
   * (and steps down) once it has not heard from a majority for failureTicks - LEASE_MARGIN_TICKS.
   */
  readonly failureTicks: number;
  /** After sending ELECTION, how long to wait for an ANSWER before proposing itself. */
  readonly answerTimeoutTicks: number;
  /**
   * How long to wait for a COORDINATOR after an ANSWER, and how long a proposer waits for acks
   * before re-sending its COORDINATOR.
   */
  readonly coordinatorTimeoutTicks: number;
  /**
   * A slave that has had no heartbeat for this many ticks asks the shell to probe the master
   * (Ready.probes): a killed process's port refuses connections at once, so a dead master is
   * replaced long before the silence timeout (failureTicks) that a busy or paused one gets.
   * Probed again every probeAfterTicks while the silence lasts.
   */
  readonly probeAfterTicks: number;
  /** Suspicion fires after failureTicks plus a random 0..electionJitterTicks, to break ties. */
  readonly electionJitterTicks: number;
  /**
   * How many committed entries a log may lack and still count as caught up for a vote (and not stand
   * aside): that many are fetched in a moment, and a slave's view of its own log lags the commit
   * index its master announces by a few entries under load. 0 in the core's tests; the booking node
   * uses more (services/booking/cluster.ts). Far behind (restarted from an old disk, rebuilding from a
   * snapshot) stays far behind.
   */
  readonly catchUpSlackEntries: number;
  /** A new master that cannot finish catching up in this many ticks steps down and lets the group retry. */
  readonly catchUpTimeoutTicks: number;
}

/**
 * Ticks a master's lease is shortened by, relative to the failure timeout its slaves use. Tick
 * counters on different machines have different phases (up to one tick each way), so durations
 * measured on two nodes differ by up to two ticks.
 */
export const LEASE_MARGIN_TICKS = 2;

export const DEFAULT_TIMINGS = Object.freeze({
  heartbeatTicks: 2,
  failureTicks: 8,
  answerTimeoutTicks: 4,
  coordinatorTimeoutTicks: 8,
  electionJitterTicks: 2,
  catchUpTimeoutTicks: 200,
  probeAfterTicks: 3,
  catchUpSlackEntries: 0,
});

export class ElectionConfigError extends Error {
  constructor(field: string, problem: string) {
    super(`election config ${field}: ${problem}`);
    this.name = 'ElectionConfigError';
  }
}

/** The master's lease in ticks: how long a majority's acks let it serve. */
export function leaseTicks(config: ElectionConfig): number {
  return config.failureTicks - LEASE_MARGIN_TICKS;
}

export function majority(config: ElectionConfig): number {
  return Math.floor(config.peers.length / 2) + 1;
}

/** Fills defaults, validates, freezes. */
export function makeConfig(
  partial: Pick<ElectionConfig, 'id' | 'peers'> & Partial<ElectionConfig>,
): ElectionConfig {
  const config: ElectionConfig = { ...DEFAULT_TIMINGS, ...partial, peers: Object.freeze([...partial.peers]) };
  validateConfig(config);
  return Object.freeze(config);
}

/** Throws ElectionConfigError naming the first field that is wrong. */
export function validateConfig(config: ElectionConfig): void {
  const { id, peers } = config;
  if (!isPositiveInt(id))
    throw new ElectionConfigError('id', `must be a positive integer (got ${String(id)})`);
  if (peers.length === 0) throw new ElectionConfigError('peers', 'must list every node of the group');
  for (const peer of peers) {
    if (!isPositiveInt(peer))
      throw new ElectionConfigError('peers', `ids must be positive integers (got ${String(peer)})`);
  }
  if (new Set(peers).size !== peers.length) throw new ElectionConfigError('peers', 'must not repeat an id');
  if (!peers.includes(id)) throw new ElectionConfigError('peers', `must include this node's own id ${id}`);

  for (const field of [
    'heartbeatTicks',
    'failureTicks',
    'answerTimeoutTicks',
    'coordinatorTimeoutTicks',
    'catchUpTimeoutTicks',
    'probeAfterTicks',
  ] as const) {
    if (!isPositiveInt(config[field])) {
      throw new ElectionConfigError(
        field,
        `must be a positive integer number of ticks (got ${String(config[field])})`,
      );
    }
  }
  if (!Number.isInteger(config.catchUpSlackEntries) || config.catchUpSlackEntries < 0) {
    throw new ElectionConfigError(
      'catchUpSlackEntries',
      `must be a non-negative integer (got ${String(config.catchUpSlackEntries)})`,
    );
  }
  if (!Number.isInteger(config.electionJitterTicks) || config.electionJitterTicks < 0) {
    throw new ElectionConfigError(
      'electionJitterTicks',
      `must be a non-negative integer (got ${String(config.electionJitterTicks)})`,
    );
  }
  // Two missed heartbeats must not be enough to suspect the master: one lost packet is normal.
  if (config.failureTicks <= 2 * config.heartbeatTicks) {
    throw new ElectionConfigError(
      'failureTicks',
      `must exceed 2 × heartbeatTicks (${2 * config.heartbeatTicks}), got ${config.failureTicks}`,
    );
  }
  // The lease must outlive one heartbeat round trip, or a healthy master would keep losing it.
  if (leaseTicks(config) < config.heartbeatTicks + 2) {
    throw new ElectionConfigError(
      'failureTicks',
      `must be at least heartbeatTicks + ${LEASE_MARGIN_TICKS + 2} (${config.heartbeatTicks + LEASE_MARGIN_TICKS + 2}) so the master's lease outlives a heartbeat round trip, got ${config.failureTicks}`,
    );
  }
  // A probe is for a master that missed more than one heartbeat, and only helps before suspicion.
  if (config.probeAfterTicks <= config.heartbeatTicks || config.probeAfterTicks >= config.failureTicks) {
    throw new ElectionConfigError(
      'probeAfterTicks',
      `must lie between heartbeatTicks (${config.heartbeatTicks}) and failureTicks (${config.failureTicks}), exclusive, got ${config.probeAfterTicks}`,
    );
  }
  // After an ANSWER, the higher node needs its own answer round before it can propose.
  if (config.coordinatorTimeoutTicks <= config.answerTimeoutTicks) {
    throw new ElectionConfigError(
      'coordinatorTimeoutTicks',
      `must exceed answerTimeoutTicks (${config.answerTimeoutTicks}), got ${config.coordinatorTimeoutTicks}`,
    );
  }
}

function isPositiveInt(value: number): boolean {
  return Number.isInteger(value) && value > 0;
}
