import { BullyNode } from './bully';
import type { ElectionConfig } from './config';
import { majority, makeConfig } from './config';
import { randomInt, seededRandom } from '../services/common/prng';
import type {
  CatchUpRequest,
  LogPosition,
  LogView,
  Message,
  NodeId,
  NodeState,
  PersistentState,
  Role,
  Term,
} from './types';

/**
 * An in-memory group of BullyNodes for tests: explicit ticks, a message queue with faults (drop,
 * delay, duplicate, cuts, pauses, crashes), and a toy replication log so tests can check that no
 * acknowledged write is lost. Deterministic for a given seed. It plays the shell's part of the
 * Ready contract: persist, then act on role changes and catch-up, then send.
 */

export interface FakeNetworkOptions {
  /** Node ids (default 1, 2, 3). */
  readonly ids?: readonly NodeId[];
  readonly timings?: Partial<Omit<ElectionConfig, 'id' | 'peers'>>;
  /** Seeds the fault injection and each node's election jitter. */
  readonly seed?: number;
  /** auto (default): fulfil needsCatchUp on the next tick when the source is reachable. */
  readonly catchUp?: 'auto' | 'manual';
  /** Every serving master appends one entry per tick and replicates it (default false). */
  readonly writes?: boolean;
  /**
   * answer (default): a probe of a crashed node, over a link that is not cut, reports it down on the
   * next tick, as a refused connection does; a paused or cut-off node gives no evidence. ignore:
   * probes go unanswered (silence alone must do).
   */
  readonly probes?: 'answer' | 'ignore';
}

/** A toy replication log: entry i (1-based) is the term it was written in. */
export class FakeLog implements LogView {
  entries: Term[] = [];
  commit = 0;

  position(): LogPosition {
    return { lastTerm: this.entries[this.entries.length - 1] ?? 0, lastIndex: this.entries.length };
  }

  commitIndex(): number {
    return this.commit;
  }

  /** What a master's replication (or a catch-up fetch) does: make this log equal to the source. */
  copyFrom(source: FakeLog): void {
    this.entries = source.entries.slice();
    this.commit = Math.max(Math.min(this.commit, this.entries.length), source.commit);
  }
}

interface Slot {
  readonly id: NodeId;
  readonly config: ElectionConfig;
  readonly random: () => number;
  readonly log: FakeLog;
  /** undefined while crashed. */
  node: BullyNode | undefined;
  /** The durable part, as the shell persisted it. */
  disk: PersistentState;
  paused: boolean;
  /** Messages that arrived while paused; a stopped process's socket buffers keep them. */
  buffered: Message[];
  /** Terms this node spent (partly) paused in. */
  readonly pausedInTerms: Set<Term>;
}

interface InFlight {
  readonly message: Message;
  readonly deliverAt: number;
  readonly seq: number;
}

interface PendingCatchUp {
  readonly id: NodeId;
  readonly request: CatchUpRequest;
  readonly term: Term;
  readonly role: Role;
}

export interface RoleEvent {
  readonly time: number;
  readonly id: NodeId;
  readonly role: Role;
  readonly term: Term;
  readonly masterId: NodeId | undefined;
}

/** Runs after every instant: each node's tick and each message delivery. */
export type Observer = (net: FakeNetwork) => void;

export class FakeNetwork {
  readonly ids: readonly NodeId[];
  /** Global tick count. */
  time = 0;
  /** Every role change any node reported, in order. */
  readonly roleEvents: RoleEvent[] = [];
  /** Every catch-up any node asked for (needsCatchUp), in order, whatever the catch-up mode. */
  readonly catchUpRequests: { readonly id: NodeId; readonly role: Role; readonly request: CatchUpRequest }[] =
    [];
  /** Index → term of every write acknowledged by a majority. */
  readonly acknowledged = new Map<number, Term>();

  private readonly slots = new Map<NodeId, Slot>();
  private readonly random: () => number;
  private readonly autoCatchUp: boolean;
  private readonly writes: boolean;
  private inflight: InFlight[] = [];
  private seq = 0;
  private readonly cuts = new Set<string>();
  private readonly stalled = new Set<NodeId>();
  private readonly dropRules = new Set<(m: Message) => boolean>();
  private readonly delayRules = new Map<(m: Message) => boolean, number>();
  private dropRate = 0;
  private duplicateRate = 0;
  private delay = { min: 0, max: 0 };
  private pendingCatchUps: PendingCatchUp[] = [];
  private readonly answerProbes: boolean;
  private pendingProbes: { readonly from: NodeId; readonly target: NodeId }[] = [];
  private readonly observers: Observer[] = [];

  constructor(options: FakeNetworkOptions = {}) {
    this.ids = options.ids ?? [1, 2, 3];
    const seed = options.seed ?? 1;
    this.random = seededRandom(seed);
    this.autoCatchUp = (options.catchUp ?? 'auto') === 'auto';
    this.writes = options.writes ?? false;
    this.answerProbes = (options.probes ?? 'answer') === 'answer';
    for (const id of this.ids) {
      const config = makeConfig({ ...options.timings, id, peers: this.ids });
      const slot: Slot = {
        id,
        config,
        random: seededRandom(seed * 7919 + id),
        log: new FakeLog(),
        node: undefined,
        disk: { term: 0 },
        paused: false,
        buffered: [],
        pausedInTerms: new Set(),
      };
      this.slots.set(id, slot);
      this.boot(slot);
    }
  }

  // ---- time --------------------------------------------------------------------------------------

  /** Advances every running node by one tick, then delivers what is due, replicates and catches up. */
  tick(ticks = 1): void {
    for (let i = 0; i < ticks; i++) {
      this.time += 1;
      for (const slot of this.slots.values()) {
        if (slot.node === undefined || slot.paused) continue;
        slot.node.tick();
        this.flush(slot);
        this.notify();
      }
      this.deliverUntilQuiet();
      this.answerPendingProbes();
      this.runCatchUps();
      this.replicate();
    }
  }

  /** Delivers every due message, and those they cause, until nothing is due. */
  deliverUntilQuiet(): void {
    for (let rounds = 0; ; rounds++) {
      if (rounds > 10_000) throw new Error('fake network: messages keep causing messages within one tick');
      const due = this.inflight.filter((f) => f.deliverAt <= this.time).sort((a, b) => a.seq - b.seq);
      if (due.length === 0) return;
      this.inflight = this.inflight.filter((f) => f.deliverAt > this.time);
      for (const f of due) this.deliver(f.message);
    }
  }

  /** Ticks until `done` holds (checked before each tick); returns the ticks it took, or throws. */
  runUntil(done: (net: FakeNetwork) => boolean, maxTicks: number): number {
    for (let t = 0; t <= maxTicks; t++) {
      if (done(this)) return t;
      if (t < maxTicks) this.tick();
    }
    throw new Error(`fake network: condition not reached within ${maxTicks} ticks; ${this.describe()}`);
  }

  onInstant(observer: Observer): void {
    this.observers.push(observer);
  }

  // ---- faults ------------------------------------------------------------------------------------

  setDropRate(rate: number): void {
    this.dropRate = rate;
  }

  setDuplicateRate(rate: number): void {
    this.duplicateRate = rate;
  }

  /** Each message takes a random min..max extra ticks (0 = delivered in the tick it was sent). */
  setDelay(min: number, max = min): void {
    this.delay = { min, max };
  }

  /** Drops every message matching `rule` until the returned function is called. */
  dropWhere(rule: (m: Message) => boolean): () => void {
    this.dropRules.add(rule);
    return () => this.dropRules.delete(rule);
  }

  /** Delays every message matching `rule` by `ticks` more, until the returned function is called. */
  delayWhere(rule: (m: Message) => boolean, ticks: number): () => void {
    this.delayRules.set(rule, ticks);
    return () => this.delayRules.delete(rule);
  }

  /** Cuts the link both ways; messages already in flight on it are lost too. */
  cut(a: NodeId, b: NodeId): void {
    this.cutOneWay(a, b);
    this.cutOneWay(b, a);
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cuts.add(`${from}>${to}`);
  }

  isolate(id: NodeId): void {
    for (const other of this.ids) if (other !== id) this.cut(id, other);
  }

  /** Restores every link (pauses, crashes and loss rates are left as they are). */
  heal(): void {
    this.cuts.clear();
  }

  /** A paused node gets no ticks and handles no messages; they queue until resume (like SIGSTOP). */
  pause(id: NodeId): void {
    const slot = this.slot(id);
    slot.paused = true;
    if (slot.node !== undefined) slot.pausedInTerms.add(slot.node.state().term);
  }

  resume(id: NodeId): void {
    const slot = this.slot(id);
    slot.paused = false;
    for (const message of slot.buffered) this.enqueue(message, 0);
    slot.buffered = [];
  }

  /** Loses all volatile state; the persisted term/vote and the log survive. */
  crash(id: NodeId): void {
    const slot = this.slot(id);
    slot.node = undefined;
    slot.buffered = [];
    slot.paused = false;
  }

  restart(id: NodeId): void {
    const slot = this.slot(id);
    if (slot.node !== undefined) throw new Error(`node ${id} is running`);
    this.boot(slot);
  }

  // ---- the replication side, for tests that drive it by hand -----------------------------------------

  log(id: NodeId): FakeLog {
    return this.slot(id).log;
  }

  /**
   * Replication to `id` makes no progress (it is rebuilding from a snapshot that takes minutes): its
   * log is neither replicated to nor caught up, until the returned function is called.
   */
  stall(id: NodeId): () => void {
    this.slot(id);
    this.stalled.add(id);
    return () => this.stalled.delete(id);
  }

  /** What a replication layer does when catch-up finishes (for catchUp: 'manual'). */
  catchUpDone(id: NodeId, index: number): void {
    const slot = this.slot(id);
    this.running(slot).catchUpDone(index);
    this.flush(slot);
    this.notify();
  }

  // ---- observation -------------------------------------------------------------------------------

  node(id: NodeId): BullyNode {
    return this.running(this.slot(id));
  }

  /** undefined while crashed. */
  state(id: NodeId): NodeState | undefined {
    return this.slot(id).node?.state();
  }

  isPaused(id: NodeId): boolean {
    return this.slot(id).paused;
  }

  isCrashed(id: NodeId): boolean {
    return this.slot(id).node === undefined;
  }

  /** The term a node is in: its live term, or its persisted term while crashed. */
  termOf(id: NodeId): Term {
    const slot = this.slot(id);
    return slot.node?.state().term ?? slot.disk.term;
  }

  persisted(id: NodeId): PersistentState {
    return this.slot(id).disk;
  }

  pausedInTerms(id: NodeId): ReadonlySet<Term> {
    return this.slot(id).pausedInTerms;
  }

  /** Nodes reporting canServeWrites right now. */
  serving(): NodeId[] {
    return this.ids.filter((id) => this.slot(id).node?.canServeWrites() === true);
  }

  majority(): number {
    return majority(this.slot(this.ids[0] ?? 0).config);
  }

  /**
   * The master a group of nodes agrees on: exactly one of them serves writes and every other one is
   * its slave in its term. The group defaults to every running node (not crashed, not paused).
   */
  agreedMaster(
    among: readonly NodeId[] = this.ids.filter((id) => !this.isCrashed(id) && !this.isPaused(id)),
  ): NodeId | undefined {
    const serving = among.filter((id) => this.slot(id).node?.canServeWrites() === true);
    const master = serving[0];
    if (serving.length !== 1 || master === undefined) return undefined;
    const term = this.termOf(master);
    for (const id of among) {
      const s = this.state(id);
      if (id === master) continue;
      if (s === undefined || s.role !== 'slave' || s.masterId !== master || s.term !== term) return undefined;
    }
    return master;
  }

  describe(): string {
    const nodes = this.ids.map((id) => {
      const slot = this.slot(id);
      const s = slot.node?.state();
      if (s === undefined) return `${id}:crashed(t${slot.disk.term})`;
      const flags = `${s.canServeWrites ? '*' : ''}${slot.paused ? ' paused' : ''}`;
      return `${id}:${s.role}(t${s.term}${s.masterId === undefined ? '' : ` m${s.masterId}`})${flags}`;
    });
    return `time ${this.time}: ${nodes.join(' ')}`;
  }

  // ---- internals ---------------------------------------------------------------------------------

  private boot(slot: Slot): void {
    slot.node = new BullyNode(slot.config, slot.disk, slot.log, slot.random);
    this.flush(slot);
  }

  private slot(id: NodeId): Slot {
    const slot = this.slots.get(id);
    if (slot === undefined) throw new Error(`no node ${id}`);
    return slot;
  }

  private running(slot: Slot): BullyNode {
    if (slot.node === undefined) throw new Error(`node ${slot.id} is crashed`);
    return slot.node;
  }

  /** The shell's half of the Ready contract. */
  private flush(slot: Slot): void {
    const node = slot.node;
    if (node === undefined || !node.hasReady()) return;
    const ready = node.ready();
    if (ready.persist !== undefined) {
      if (ready.persist.term < slot.disk.term) {
        throw new Error(
          `node ${slot.id}: persisted term went backwards ${slot.disk.term} → ${ready.persist.term}`,
        );
      }
      slot.disk = ready.persist;
    }
    if (ready.roleChange !== undefined) {
      this.roleEvents.push({ time: this.time, id: slot.id, ...ready.roleChange });
      if (slot.paused) slot.pausedInTerms.add(ready.roleChange.term);
    }
    if (ready.needsCatchUp !== undefined)
      this.catchUpRequests.push({ id: slot.id, role: node.state().role, request: ready.needsCatchUp });
    if (ready.needsCatchUp !== undefined && this.autoCatchUp) {
      const s = node.state();
      this.pendingCatchUps.push({ id: slot.id, request: ready.needsCatchUp, term: s.term, role: s.role });
    }
    for (const message of ready.messages) this.send(message);
    if (this.answerProbes)
      for (const target of ready.probes ?? []) this.pendingProbes.push({ from: slot.id, target });
    node.advance(ready);
  }

  /** A connection to a crashed node's port is refused; to a paused one it succeeds; a cut one times out. */
  private answerPendingProbes(): void {
    const probes = this.pendingProbes;
    this.pendingProbes = [];
    for (const { from, target } of probes) {
      const prober = this.slot(from);
      if (prober.node === undefined || prober.paused) continue;
      if (this.slot(target).node !== undefined || this.isCut(from, target) || this.isCut(target, from))
        continue;
      prober.node.peerDown(target);
      this.flush(prober);
      this.notify();
    }
    this.deliverUntilQuiet();
  }

  private send(message: Message): void {
    if (this.isCut(message.from, message.to)) return;
    for (const rule of this.dropRules) if (rule(message)) return;
    if (this.dropRate > 0 && this.random() < this.dropRate) return;
    let extra = 0;
    for (const [rule, ticks] of this.delayRules) if (rule(message)) extra += ticks;
    this.enqueue(message, extra + randomInt(this.random, this.delay.min, this.delay.max));
    if (this.duplicateRate > 0 && this.random() < this.duplicateRate) {
      this.enqueue(message, extra + randomInt(this.random, this.delay.min, this.delay.max + 2));
    }
  }

  private enqueue(message: Message, delay: number): void {
    this.inflight.push({ message, deliverAt: this.time + delay, seq: this.seq++ });
  }

  private deliver(message: Message): void {
    const slot = this.slot(message.to);
    if (slot.node === undefined || this.isCut(message.from, message.to)) return;
    if (slot.paused) {
      slot.buffered.push(message);
      return;
    }
    slot.node.step(message);
    this.flush(slot);
    this.notify();
  }

  private isCut(from: NodeId, to: NodeId): boolean {
    return this.cuts.has(`${from}>${to}`);
  }

  private reachable(a: Slot, b: Slot): boolean {
    return (
      a.node !== undefined &&
      b.node !== undefined &&
      !a.paused &&
      !b.paused &&
      !this.isCut(a.id, b.id) &&
      !this.isCut(b.id, a.id)
    );
  }

  private notify(): void {
    for (const observer of this.observers) observer(this);
  }

  /** Fulfils catch-up requests that are still current, once their source is reachable. */
  private runCatchUps(): void {
    const still: PendingCatchUp[] = [];
    for (const p of this.pendingCatchUps) {
      const slot = this.slot(p.id);
      const s = slot.node?.state();
      if (s === undefined || s.term !== p.term || s.role !== p.role) continue; // moot: the node moved on
      const source = this.slot(p.request.fromNode);
      // A slave catches up through its master's replication stream, which a master opens only once it
      // has caught up itself (it serves); a new master fetches from a peer's log as it is.
      const sourceReady = p.role === 'master' || source.node?.canServeWrites() === true;
      if (!this.reachable(slot, source) || !sourceReady || this.stalled.has(p.id)) {
        still.push(p);
        continue;
      }
      slot.log.copyFrom(source.log);
      this.catchUpDone(p.id, slot.log.entries.length);
    }
    this.pendingCatchUps = still;
  }

  /**
   * Toy replication with the fencing rule of DESIGN.md: a node takes a master's log only if the
   * master's term is at least its own. A write is acknowledged once a majority holds it, and only
   * through an entry of the master's own term (Raft §5.4.2).
   */
  private replicate(): void {
    for (const id of this.serving()) {
      const master = this.slot(id);
      const term = this.termOf(id);
      if (this.writes) master.log.entries.push(term);
      let holders = 1;
      for (const other of this.slots.values()) {
        if (other === master || !this.reachable(master, other) || this.stalled.has(other.id)) continue;
        if (this.termOf(other.id) > term) continue;
        other.log.copyFrom(master.log);
        holders += 1;
      }
      const entries = master.log.entries;
      if (holders >= this.majority() && entries[entries.length - 1] === term) {
        master.log.commit = entries.length;
        entries.forEach((t, i) => {
          const acked = this.acknowledged.get(i + 1);
          if (acked !== undefined && acked !== t) {
            throw new Error(
              `acknowledged write ${i + 1} (term ${acked}) was replaced by term ${t} on master ${id}`,
            );
          }
          this.acknowledged.set(i + 1, t);
        });
      }
    }
  }
}
