import { randomBytes } from 'node:crypto';
import type { StackControlClient, StackDescription, StackNodeInfo } from '../stack-control';
import type { ElectionEvent } from '../invariants';
import { LogFollower, electionsFromEvents } from './logs';
import { StatusObserver, sleep } from './observer';
import { findDemoShows } from './shows';
import { Timeline, failovers } from './timeline';
import type { Ack, Failover, FaultKind, TimelineEvent } from './timeline';
import { GrpcBookingTransport } from './transport';
import { Workload } from './workload';
import type { WorkloadStats } from './workload';

/*
 * One chaos run against a running stack: the control API to inject faults, the Status observer, the
 * nodes' logs and (optionally) a booking workload, all feeding one timeline. Commands and the soak
 * are sequences of session steps; the session owns the waiting ("until a new master", "until it
 * acknowledged a write") so that each step reads as a sentence.
 */

export interface SessionOptions {
  /** stack.json: the nodes, the catalog and the directory whose booking-N.log the session follows. */
  description: StackDescription;
  control: StackControlClient;
  /** Concurrent booking clients; 0 runs no workload (then no write is acknowledged). */
  workers: number;
  /** How many demo shows to book from. */
  shows?: number;
  /** Book from these shows instead of the demo ones. */
  showIds?: readonly string[];
  /** Progress lines (workload counters every few seconds, step announcements). */
  log?: (line: string) => void;
}

export interface SessionReport {
  startMs: number;
  endMs: number;
  nodes: number[];
  events: TimelineEvent[];
  acks: Ack[];
  failovers: Failover[];
  elections: ElectionEvent[];
  stats?: WorkloadStats;
}

/** How long a master that is not the highest healthy id must last before the group counts as settled. */
export const SETTLE_QUIET_MS = 3000;

export const FAULT_VERBS: Readonly<Record<FaultKind, { inject: string; undo: string }>> = {
  kill: { inject: 'SIGKILL', undo: 'restarted' },
  pause: { inject: 'SIGSTOP (paused)', undo: 'SIGCONT (resumed)' },
  partition: { inject: 'partitioned from its peers', undo: 'partition healed' },
};

export class ChaosSession {
  readonly timeline = new Timeline(Date.now());
  readonly observer: StatusObserver;
  readonly runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  workload: Workload | undefined;
  private readonly logs: LogFollower;
  private readonly transport = new GrpcBookingTransport();
  private readonly nodeIds: number[];
  private lastMaster: number | undefined;
  private progress: NodeJS.Timeout | undefined;

  private constructor(
    private readonly options: SessionOptions,
    nodes: readonly StackNodeInfo[],
  ) {
    this.nodeIds = nodes.map((n) => n.id).sort((a, b) => a - b);
    this.observer = new StatusObserver(
      nodes.map((n) => ({ id: n.id, peerAddress: n.peerAddress })),
      this.timeline,
    );
    this.logs = new LogFollower(options.description.logsDir, this.nodeIds);
  }

  /** Starts watching; with workers, registers users, loads shows and starts booking. */
  static async open(options: SessionOptions): Promise<ChaosSession> {
    const nodes = await options.control.nodes();
    const session = new ChaosSession(options, nodes);
    session.observer.start();
    try {
      // Writes need a master; heal and restart can run without one (they may be what brings it back).
      const master = await session.waitForMaster(options.workers > 0 ? 15_000 : 2000);
      if (!master && options.workers > 0)
        throw new Error(`no master serving writes within 15 s (${session.describeNodes()})`);
      if (options.workers > 0) await session.startWorkload();
    } catch (error) {
      await session.close();
      throw error;
    }
    return session;
  }

  get nodes(): readonly number[] {
    return this.nodeIds;
  }

  log(line: string): void {
    this.options.log?.(line);
  }

  /** The master serving writes now, as the observer last saw it. */
  master(): { id: number; term: number } | undefined {
    const master = this.observer.master();
    if (master) this.lastMaster = master.id;
    return master;
  }

  async waitForMaster(timeoutMs: number, check: (m: { id: number; term: number }) => boolean = () => true) {
    await this.observer.waitFor(() => {
      const m = this.master();
      return m !== undefined && check(m);
    }, timeoutMs);
    const m = this.master();
    return m !== undefined && check(m) ? m : undefined;
  }

  /** A master elected in a term after `term`. */
  waitForNewMaster(term: number, timeoutMs: number) {
    return this.waitForMaster(timeoutMs, (m) => m.term > term);
  }

  /** Resolves true once `node` acknowledges a write after `afterMs` (false without a workload). */
  async waitForWriteBy(node: number, afterMs: number, timeoutMs: number): Promise<boolean> {
    if (!this.workload) return false;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((this.timeline.lastAckMs(node) ?? -Infinity) > afterMs) return true;
      await sleep(25);
    }
    return false;
  }

  /**
   * Waits until the group is settled: every running, unpartitioned node that answers agrees on one
   * master serving writes (same term), that master is the one the bully protocol ends with (the
   * highest such id — a returning higher id catches up, then takes over) or has stayed master for
   * SETTLE_QUIET_MS, and, with a workload, it acknowledged a write since. Undefined on timeout.
   */
  async settle(timeoutMs: number): Promise<{ id: number; term: number } | undefined> {
    const deadline = Date.now() + timeoutMs;
    const healthy = (await this.options.control.nodes())
      .filter((n) => n.state === 'running' && !n.partitioned)
      .map((n) => n.id);
    const highest = Math.max(...healthy);
    let current: { id: number; term: number } | undefined;
    let since = Date.now();
    while (Date.now() < deadline) {
      const agreed = this.agreedMaster(healthy);
      if (agreed?.id !== current?.id || agreed?.term !== current?.term) {
        current = agreed;
        since = Date.now();
      } else if (current) {
        const final = current.id === highest || Date.now() - since >= SETTLE_QUIET_MS;
        const wrote = !this.workload || (this.timeline.lastAckMs(current.id) ?? -Infinity) > since;
        if (final && wrote) return current;
      }
      await sleep(25);
    }
    return undefined;
  }

  /** The master every listed node agrees on (as last observed), if they all do. */
  private agreedMaster(nodes: readonly number[]): { id: number; term: number } | undefined {
    const master = this.master();
    if (!master) return undefined;
    const all = nodes.every((id) => {
      const view = this.observer.view(id);
      return (
        view !== undefined && view.term === master.term && (id === master.id || view.masterId === master.id)
      );
    });
    return all ? master : undefined;
  }

  /** Client addresses, the master's (or the last known master's) first, then by descending id. */
  candidates(): string[] {
    const master = this.master()?.id ?? this.lastMaster;
    const nodes = [...this.options.description.nodes].sort((a, b) => b.id - a.id);
    const first = nodes.filter((n) => n.id === master);
    return [...first, ...nodes.filter((n) => n.id !== master)].map((n) => n.clientAddress);
  }

  async inject(fault: FaultKind, node: number): Promise<void> {
    const term = this.observer.view(node)?.term ?? this.master()?.term;
    const wasMaster = this.master()?.id === node;
    this.timeline.add({
      wallMs: Date.now(),
      node,
      kind: 'inject',
      fault,
      term,
      text: `${FAULT_VERBS[fault].inject}${wasMaster ? ` (the master, term ${term})` : ''}`,
    });
    this.log(`${fault} node ${node}${wasMaster ? ' (master)' : ''}`);
    const { control } = this.options;
    await this.recordFailure(
      fault === 'kill'
        ? control.kill(node)
        : fault === 'pause'
          ? control.pause(node)
          : control.partition(node),
      node,
      fault,
    );
  }

  /** Undoes a fault: restart after kill, resume after pause, heal after partition. */
  async undo(fault: FaultKind, node: number): Promise<void> {
    this.timeline.add({ wallMs: Date.now(), node, kind: 'heal', fault, text: FAULT_VERBS[fault].undo });
    this.log(`${FAULT_VERBS[fault].undo}: node ${node}`);
    const { control } = this.options;
    await this.recordFailure(
      fault === 'kill'
        ? control.restart(node)
        : fault === 'pause'
          ? control.resume(node)
          : control.heal(node),
      node,
      fault,
    );
  }

  note(text: string, node?: number): void {
    this.timeline.add({ wallMs: Date.now(), node, kind: 'note', text });
  }

  async stopWorkload(): Promise<void> {
    if (this.progress) clearInterval(this.progress);
    this.progress = undefined;
    await this.workload?.stop();
  }

  /** Stops everything the session started and returns what it saw (log events merged in). */
  async close(): Promise<SessionReport> {
    await this.stopWorkload();
    await this.observer.stop();
    this.transport.close();
    const logEvents = this.logs.events().filter((e) => e.wallMs >= this.timeline.startMs);
    for (const event of logEvents) this.timeline.add(event);
    const events = this.timeline.events();
    const acks = this.timeline.acks();
    return {
      startMs: this.timeline.startMs,
      endMs: Date.now(),
      nodes: this.nodeIds,
      events,
      acks,
      failovers: failovers(events, acks),
      elections: [...this.observer.elections(), ...electionsFromEvents(logEvents)],
      stats: this.workload?.stats(),
    };
  }

  describeNodes(): string {
    return this.nodeIds
      .map((id) => {
        const view = this.observer.view(id);
        return view ? `node ${id}: ${view.role} term ${view.term}` : `node ${id}: no answer`;
      })
      .join('; ');
  }

  private async startWorkload(): Promise<void> {
    const addressToNode = new Map(this.options.description.nodes.map((n) => [n.clientAddress, n.id]));
    const workload = new Workload({
      transport: this.transport,
      candidates: () => this.candidates(),
      nodeOf: (address) => addressToNode.get(address),
      timeline: this.timeline,
      workers: this.options.workers,
      runId: this.runId,
    });
    await workload.register();
    await workload.loadShows(
      this.options.showIds ??
        (await findDemoShows(this.options.description.catalogAddress, this.options.shows)),
    );
    workload.start();
    this.workload = workload;
    this.progress = setInterval(() => this.log(`workload: ${formatStats(workload.stats())}`), 3000);
    this.progress.unref();
  }

  private async recordFailure(
    operation: Promise<StackNodeInfo>,
    node: number,
    fault: FaultKind,
  ): Promise<void> {
    try {
      await operation;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.timeline.add({
        wallMs: Date.now(),
        node,
        kind: 'note',
        text: `control (${fault}) failed: ${message}`,
      });
      throw error;
    }
  }
}

export function formatCounts(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}

export function formatStats(stats: WorkloadStats): string {
  return (
    `${stats.acknowledged} bookings acknowledged (${stats.cancelled} then cancelled); ` +
    `failed attempts: ${formatCounts(stats.attemptErrors)}; failed operations: ${formatCounts(stats.failures)}`
  );
}
