import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { LamportClock } from '../services/common/lamport';
import { BullyNode } from './bully';
import type { ElectionConfig } from './config';
import type { TermStore } from './term-store';
import type { CatchUpRequest, LogView, Message, NodeId, Ready, Role, RoleChange, Term } from './types';

/*
 * The tick loop around the pure BullyNode: it turns wall-clock time into ticks, feeds messages in, and
 * applies every Ready exactly as election/README.md says — persist, then role change and catch-up,
 * then send, then advance — one Ready at a time. It decides nothing itself.
 */

/** Where the runner's messages go (GrpcElectionTransport in production). Must never throw. */
export interface MessageSender {
  send(message: Message): void;
}

/** What onRoleChange listeners get: the core's RoleChange plus the Lamport stamp of the event. */
export interface RoleChangeEvent extends RoleChange {
  readonly lamport: number;
  /**
   * On becoming master: the catch-up that must finish before it serves (the catch-up handler is
   * called with it right after the listeners). Undefined when its own log is the most up to date.
   */
  readonly catchUp?: CatchUpRequest;
}

/**
 * Brings the local log up to `request.upToIndex` from `request.fromNode` and resolves with the index
 * the log now reaches. `signal` aborts when a role change makes the request moot (or on stop); the
 * result of an aborted catch-up is ignored. A handler that fails should retry on its own: the core
 * only times a new master's catch-up out (catchUpTimeoutTicks), a slave waiting to take over waits.
 */
export type CatchUpHandler = (request: CatchUpRequest, signal: AbortSignal) => Promise<number>;

/** ClusterService.Status, before it is turned into protobuf. */
export interface ElectionStatus {
  readonly nodeId: NodeId;
  readonly role: Role;
  readonly term: Term;
  readonly masterId: NodeId | undefined;
  readonly canServeWrites: boolean;
  readonly lamport: number;
  readonly commitIndex: number;
}

export interface ElectionRunnerOptions {
  readonly config: ElectionConfig;
  readonly termStore: TermStore;
  readonly sender: MessageSender;
  /** The process's Lamport clock: election events are local events and tick it. */
  readonly clock: LamportClock;
  readonly logger: Logger;
  /** Milliseconds per tick; the config's timings are in ticks. Default 50 (election/README.md). */
  readonly tickMs?: number;
  /** The replication log as the election sees it; an empty log until replication lands. */
  readonly logView?: LogView;
  /** Uniform in [0, 1), for election jitter. The core never calls Math.random; the shell may. */
  readonly random?: () => number;
  /** Monotonic milliseconds (tests inject a fake); performance.now by default. */
  readonly now?: () => number;
  /**
   * Answers Ready.probes: resolves true only on strong evidence that the peer's process is gone (its
   * peer port refused a connection: election/peer-probe.ts). Without it probes go unanswered and a
   * dead master is suspected after the silence timeout only.
   */
  readonly probe?: (peer: NodeId) => Promise<boolean>;
}

export const DEFAULT_TICK_MS = 50;

/** Until replication lands every log is empty: position (0, 0), nothing committed. */
export const EMPTY_LOG: LogView = {
  position: () => ({ lastTerm: 0, lastIndex: 0 }),
  commitIndex: () => 0,
};

/*
 * The catch-up gate, until replication exists: there is nothing to fetch (every log is empty), so the
 * request is done the moment it is made. The replication layer replaces this through onCatchUpNeeded;
 * nothing else in the runner changes then.
 */
const catchUpImmediately: CatchUpHandler = (request) => Promise.resolve(request.upToIndex);

export class ElectionRunner {
  readonly id: NodeId;
  readonly tickMs: number;
  private readonly options: ElectionRunnerOptions;
  private readonly logger: Logger;
  private readonly logView: LogView;
  private readonly now: () => number;
  /**
   * A stall (GC, SIGSTOP) longer than this many ticks is delivered as this many: by then every
   * timeout the core keeps has fired (a master without acks has stepped down, a slave suspects), so
   * more ticks would only replay rounds of messages nobody is waiting for.
   */
  private readonly maxBurst: number;

  private node: BullyNode | undefined;
  private timer: NodeJS.Timeout | undefined;
  private origin = 0;
  private ticks = 0;
  private draining: Promise<boolean> | undefined;
  private state: 'new' | 'running' | 'stopped' | 'failed' = 'new';
  private catchUp: AbortController | undefined;
  private catchUpHandler: CatchUpHandler = catchUpImmediately;
  private readonly probing = new Set<NodeId>();
  private readonly roleListeners = new Set<(event: RoleChangeEvent) => void>();
  private readonly fatalListeners = new Set<(error: Error) => void>();

  constructor(options: ElectionRunnerOptions) {
    this.options = options;
    this.id = options.config.id;
    this.tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    if (!Number.isInteger(this.tickMs) || this.tickMs < 1)
      throw new RangeError(`election tickMs must be a positive integer (got ${String(options.tickMs)})`);
    this.logger = options.logger;
    this.logView = options.logView ?? EMPTY_LOG;
    this.now = options.now ?? (() => performance.now());
    const c = options.config;
    this.maxBurst = 2 * (c.failureTicks + c.electionJitterTicks + c.coordinatorTimeoutTicks);
  }

  /** Loads the persisted term and vote, builds the state machine and starts ticking. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`election runner ${this.id} was already started`);
    const persisted = await this.options.termStore.load();
    this.node = new BullyNode(
      this.options.config,
      persisted,
      this.logView,
      this.options.random ?? Math.random,
    );
    this.state = 'running';
    this.origin = this.now();
    // unref: the gRPC server is what keeps a node's process alive, not its election timer.
    this.timer = setInterval(() => this.onTimer(), this.tickMs).unref();
    this.logger.info(
      { event: 'start', term: persisted.term, votedFor: persisted.votedFor, tickMs: this.tickMs },
      'election started',
    );
  }

  /** Stops ticking and sending; resolves once a Ready in progress has settled (its persist included). */
  async stop(): Promise<void> {
    if (this.state === 'running') this.state = 'stopped';
    clearInterval(this.timer);
    this.abortCatchUp();
    await this.draining;
  }

  /** A message from a peer (the transport's server side). Ignored unless running. */
  deliver(message: Message): void {
    const node = this.running();
    if (node === undefined) return;
    if (message.type !== 'heartbeat' && message.type !== 'heartbeatAck')
      this.logger.debug(
        { event: 'receive', from: message.from, type: message.type, term: message.term },
        'election message in',
      );
    this.guard(() => {
      // Missed ticks first (README): a node whose clock lags would misjudge leases on this message.
      this.catchUpTicks(node);
      node.step(message);
    });
    this.kick();
  }

  /** A newer term learnt outside the election (replication's onDeposed); see BullyNode.observeTerm. */
  observeTerm(term: Term): void {
    const node = this.running();
    if (node === undefined) return;
    this.guard(() => {
      this.catchUpTicks(node);
      node.observeTerm(term);
    });
    this.kick();
  }

  /** Whether this node may serve writes right now. False unless running, after catching up missed ticks. */
  canServeWrites(): boolean {
    const node = this.running();
    if (node === undefined) return false;
    this.guard(() => this.catchUpTicks(node));
    this.kick();
    return this.state === 'running' && node.canServeWrites();
  }

  status(): ElectionStatus {
    const node = this.node;
    const state = node?.state();
    return {
      nodeId: this.id,
      role: state?.role ?? 'slave',
      term: state?.term ?? 0,
      masterId: state?.masterId,
      canServeWrites: this.state === 'running' && (node?.canServeWrites() ?? false),
      lamport: this.options.clock.now(),
      commitIndex: this.logView.commitIndex(),
    };
  }

  /** Calls `listener` after each role change has been made durable. Returns an unsubscribe function. */
  onRoleChange(listener: (event: RoleChangeEvent) => void): () => void {
    this.roleListeners.add(listener);
    return () => this.roleListeners.delete(listener);
  }

  /**
   * Hands the catch-up gate to the replication layer. Until something calls this, catch-up requests
   * complete immediately (there is no log yet to fetch).
   */
  onCatchUpNeeded(handler: CatchUpHandler): void {
    this.catchUpHandler = handler;
  }

  /**
   * Called when the state machine reports a broken invariant (two masters in a term) or the shell hits
   * a bug. The runner has already stopped; the process should exit rather than keep serving.
   */
  onFatal(listener: (error: Error) => void): () => void {
    this.fatalListeners.add(listener);
    return () => this.fatalListeners.delete(listener);
  }

  /** Resolves once no Ready is being applied (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.draining !== undefined) await this.draining;
  }

  // ---- the loop --------------------------------------------------------------------------------------

  private running(): BullyNode | undefined {
    return this.state === 'running' ? this.node : undefined;
  }

  private onTimer(): void {
    const node = this.running();
    if (node === undefined) return;
    this.guard(() => this.catchUpTicks(node));
    this.kick();
  }

  /** Delivers every tick that wall-clock time says is due, so interval jitter and stalls do not slow the node. */
  private catchUpTicks(node: BullyNode): void {
    const due = Math.floor((this.now() - this.origin) / this.tickMs);
    let missed = due - this.ticks;
    if (missed > this.maxBurst) {
      this.logger.warn(
        { event: 'stall', missedTicks: missed, deliveredTicks: this.maxBurst },
        'election loop stalled',
      );
      this.ticks = due - this.maxBurst;
      missed = this.maxBurst;
    }
    for (; missed > 0; missed -= 1) {
      this.ticks += 1;
      node.tick();
    }
  }

  /** Starts draining unless a drain is already running (it will pick up whatever is new). */
  private kick(): void {
    const node = this.running();
    if (node === undefined || this.draining !== undefined || !node.hasReady()) return;
    this.draining = this.drain(node).then((ok) => {
      this.draining = undefined;
      // A catch-up that finished in a microtask may have left work the drain's last check missed.
      // After a failed persist, wait for the next tick instead of retrying in a tight loop.
      if (ok) this.kick();
      return ok;
    });
  }

  /** Applies Readies until none is left. Resolves false when a persist failed (retried on the next tick). */
  private async drain(node: BullyNode): Promise<boolean> {
    while (this.state === 'running' && node.hasReady()) {
      const ready = node.ready();
      if (ready.persist !== undefined) {
        try {
          await this.options.termStore.save(ready.persist);
        } catch (error) {
          // Nothing of this Ready may happen before its persist: hold it all back and retry.
          this.logger.error(
            { event: 'persist-failed', err: error, term: ready.persist.term },
            'could not persist the election term; retrying next tick',
          );
          return false;
        }
        this.logger.debug(
          { event: 'persist', term: ready.persist.term, votedFor: ready.persist.votedFor },
          'election term persisted',
        );
        if (this.state !== 'running') return true;
      }
      if (!this.guard(() => this.apply(node, ready))) return true;
    }
    return true;
  }

  /** Steps 2-4 of the Ready contract; the persist (step 1) is already durable. */
  private apply(node: BullyNode, ready: Ready): void {
    if (ready.roleChange !== undefined)
      this.announce(ready.roleChange, ready.roleChange.role === 'master' ? ready.needsCatchUp : undefined);
    if (ready.needsCatchUp !== undefined) this.startCatchUp(node, ready.needsCatchUp);
    for (const message of ready.messages) this.send(message);
    for (const peer of ready.probes ?? []) this.startProbe(node, peer);
    node.advance(ready);
  }

  /** Asks the probe about `peer` (one at a time per peer) and reports a dead one to the core. */
  private startProbe(node: BullyNode, peer: NodeId): void {
    const probe = this.options.probe;
    if (probe === undefined || this.probing.has(peer)) return;
    this.probing.add(peer);
    probe(peer)
      .catch((error: unknown) => {
        this.logger.warn({ event: 'probe-failed', peer, err: error }, 'election: probing a peer failed');
        return false;
      })
      .then((down) => {
        this.probing.delete(peer);
        if (!down || this.running() !== node) return;
        this.logger.info(
          { event: 'peer-down', peer, lamport: this.options.clock.tick() },
          `election: node ${peer} refuses connections (its process is gone)`,
        );
        this.guard(() => {
          this.catchUpTicks(node);
          node.peerDown(peer);
        });
        this.kick();
      })
      .catch((error: unknown) =>
        this.logger.error({ err: error }, 'election: a probe result was not applied'),
      );
  }

  private send(message: Message): void {
    if (message.type !== 'heartbeat' && message.type !== 'heartbeatAck')
      this.logger.debug(
        { event: 'send', to: message.to, type: message.type, term: message.term },
        'election message out',
      );
    try {
      this.options.sender.send(message);
    } catch (error) {
      // A sender must not throw; if one does, the message is lost, which the protocol tolerates.
      this.logger.error({ err: error, to: message.to, type: message.type }, 'election sender threw');
    }
  }

  private announce(change: RoleChange, catchUp: CatchUpRequest | undefined): void {
    // A role change makes any catch-up in progress moot (README, Ready contract step 2).
    this.abortCatchUp();
    const event: RoleChangeEvent = {
      ...change,
      lamport: this.options.clock.tick(),
      ...(catchUp === undefined ? {} : { catchUp }),
    };
    this.logger.info(
      {
        event: 'role',
        role: event.role,
        term: event.term,
        masterId: event.masterId,
        lamport: event.lamport,
        ...(catchUp === undefined ? {} : { catchUpFrom: catchUp.fromNode, catchUpTo: catchUp.upToIndex }),
      },
      `election: ${event.role} in term ${event.term}`,
    );
    for (const listener of this.roleListeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error({ err: error }, 'a role-change listener threw');
      }
    }
  }

  private startCatchUp(node: BullyNode, request: CatchUpRequest): void {
    this.abortCatchUp();
    const controller = new AbortController();
    this.catchUp = controller;
    const lamport = this.options.clock.tick();
    this.logger.info(
      { event: 'catch-up', fromNode: request.fromNode, upToIndex: request.upToIndex, lamport },
      'election: catch-up needed',
    );
    let pending: Promise<number>;
    try {
      pending = this.catchUpHandler(request, controller.signal);
    } catch (error) {
      pending = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    pending.then(
      (index) => {
        if (controller.signal.aborted || this.running() === undefined) return;
        this.catchUp = undefined;
        this.logger.info(
          { event: 'caught-up', index, lamport: this.options.clock.tick() },
          'election: catch-up done',
        );
        this.guard(() => node.catchUpDone(index));
        this.kick();
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        this.logger.warn({ event: 'catch-up-failed', err: error }, 'election: catch-up failed');
      },
    );
  }

  private abortCatchUp(): void {
    this.catchUp?.abort();
    this.catchUp = undefined;
  }

  /** Runs `action`; anything it throws is fatal (an invariant broke): stop and tell the listeners. */
  private guard(action: () => void): boolean {
    try {
      action();
      return true;
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      if (this.state === 'running') {
        this.state = 'failed';
        clearInterval(this.timer);
        this.abortCatchUp();
        this.logger.fatal({ event: 'fatal', err: error }, 'election stopped: invariant broken');
        for (const listener of this.fatalListeners) listener(error);
      }
      return false;
    }
  }
}
