import type { ElectionConfig } from './config';
import { leaseTicks, majority, validateConfig } from './config';
import { ElectionInvariantError, IllegalTransitionError } from './errors';
import { comparePositions } from './log-position';
import type {
  CatchUpRequest,
  CoordinatorAckMessage,
  CoordinatorMessage,
  HeartbeatMessage,
  LogPosition,
  LogView,
  Message,
  NodeId,
  NodeState,
  PersistentState,
  Ready,
  Role,
  RoleChange,
  Term,
} from './types';

/**
 * The bully election (Garcia-Molina 1982) as a pure state machine, with terms, quorum leases and
 * catch-up gates so that at most one master serves writes at a time. See README.md for the rules
 * and the Ready contract. No clocks, timers, I/O or Math.random: the shell calls tick() every tick,
 * step() for every message, and drains ready().
 */

/** A message as handlers write it: send() stamps `from` and, unless given, `term`. */
type Outgoing = DistributiveOmit<Message, 'from' | 'term'> & { term?: Term };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface SlaveState {
  readonly role: 'slave';
  /** Extra ticks on top of failureTicks before suspecting, drawn once per slave tenure. */
  readonly jitter: number;
  /** Set when the live master has a lower id: catch up to it, then take over. */
  takeover: CatchUpRequest | undefined;
  /** When the silent master was last handed to the shell to probe (Ready.probes). */
  probedAt: number | undefined;
}

/** An earlier master may be serving on some node's acks until `until` (our tick); holder if known. */
interface PriorLease {
  readonly until: number;
  readonly holder: NodeId | undefined;
}

interface Proposal {
  readonly term: Term;
  /** true while only probing (pre-vote); false once the real COORDINATOR is out. */
  probe: boolean;
  /** The tick the real COORDINATOR first went out: an acceptance proves contact no earlier. */
  sentAt: number;
  /** Leases earlier masters may hold on our own acks. */
  ownPriorLease: PriorLease;
  /** Who accepted (the probe, then the proposal), with where their logs end and the leases they granted. */
  acks: Map<NodeId, { position: LogPosition; priorLease: PriorLease }>;
  /** Someone in our own term said no (typically: it still follows a live master). */
  refused: boolean;
  /** The probe was already asked again early once, after a lower id refused it (onCoordinatorAck). */
  hurried: boolean;
}

interface CandidateState {
  readonly role: 'candidate';
  /**
   * electing: ELECTION sent to higher ids; awaiting: a higher id ANSWERed, wait for its COORDINATOR;
   * proposing: COORDINATOR probes, then the COORDINATOR itself, sent to everyone.
   */
  phase: 'electing' | 'awaiting' | 'proposing';
  deadline: number;
  /** The live, lower-id master this candidacy deposes (set only after catching up to it). */
  readonly takeoverFrom: NodeId | undefined;
  /**
   * The master whose heartbeats stopped, when that is why we campaign: it still gets an ELECTION
   * (it answers if it is alive after all) but no ANSWER is waited for from it (see startElection).
   * Cleared once it does answer: from then on it is waited for like any higher id.
   */
  suspected: NodeId | undefined;
  proposal: Proposal | undefined;
}

interface MasterState {
  readonly role: 'master';
  readonly electedAt: number;
  /** Per peer: send tick (master's clock) of the latest heartbeat it acknowledged in this term. */
  readonly leaseFrom: Map<NodeId, number>;
  /** The proposal that won: late acceptances still arrive (one may void a prior lease). */
  readonly proposal: Proposal;
  /** Earlier masters may be serving on leases granted by our voters until this tick. */
  servingNotBefore: number;
  catchUp: { readonly request: CatchUpRequest; readonly deadline: number } | undefined;
  nextHeartbeatAt: number;
}

type RoleState = SlaveState | CandidateState | MasterState;

/** The role's step and tick handlers, swapped as a unit on every transition (raft's stepFunc/tickFunc). */
interface RoleHandler {
  readonly state: RoleState;
  step(message: Message): void;
  tick(): void;
}

/** Last lease-granting reply this node sent: an ack to a heartbeat or to a COORDINATOR. */
interface Grant {
  readonly at: number;
  /** undefined: unknown, i.e. whatever this node granted before it (re)started. */
  readonly to: NodeId | undefined;
  readonly term: Term | undefined;
}

const LEGAL_TRANSITIONS: Readonly<Record<Role, readonly Role[]>> = {
  slave: ['candidate'],
  candidate: ['slave', 'master'],
  // A master never campaigns again in place: it steps down first, and a new campaign means a new term.
  master: ['slave'],
};

export class BullyNode {
  readonly id: NodeId;
  private readonly config: ElectionConfig;
  private readonly log: LogView;
  private readonly random: () => number;
  private readonly higherIds: readonly NodeId[];
  private readonly otherIds: readonly NodeId[];

  /** Local tick counter: only durations measured on it mean anything. */
  private now = 0;
  private term: Term;
  private votedFor: NodeId | undefined;
  /** Confirmed master of `term` (it heartbeated us), or ourselves when master. */
  private masterId: NodeId | undefined;
  /** Last heartbeat from the master, vote granted, or entry into the slave role. */
  private lastContact = 0;
  /** The highest commit index heard of: from heartbeats, and from votes (CoordinatorAck.commitIndex). */
  private knownCommitIndex = 0;
  /**
   * The newest last-log term a voter refused us with, above our own: its log is more up-to-date than
   * ours in the vote's order, so we stand aside (isBehind). 0 when none. Forgotten when a master
   * heartbeats us (the takeover path then decides when we are caught up) and at our next silence
   * timeout (that voter may be gone since, and asking again costs only a probe).
   */
  private newerLogTerm: Term = 0;
  private lastGrant: Grant;
  private grantBeforeLast: Grant | undefined;

  private role: RoleHandler;
  private outbox: Message[] = [];
  private pendingCatchUp: CatchUpRequest | undefined;
  private probes: NodeId[] = [];
  /**
   * Peers the shell found dead (peerDown): strong evidence, unlike silence. Forgotten as soon as
   * anything arrives from the peer (a restarted process is alive again).
   */
  private readonly downPeers = new Set<NodeId>();
  private persisted: PersistentState;
  private announced: RoleChange | undefined;

  /**
   * @param persisted what the last incarnation persisted ({ term: 0 } on first boot)
   * @param log the replication layer's view of the local log
   * @param random uniform in [0, 1), for election jitter; defaults to no jitter
   */
  constructor(
    config: ElectionConfig,
    persisted: PersistentState,
    log: LogView,
    random: () => number = () => 0,
  ) {
    validateConfig(config);
    if (!Number.isInteger(persisted.term) || persisted.term < 0) {
      throw new RangeError(
        `node ${config.id}: persisted term must be a non-negative integer (got ${persisted.term})`,
      );
    }
    this.id = config.id;
    this.config = config;
    this.log = log;
    this.random = random;
    this.higherIds = config.peers.filter((p) => p > config.id);
    this.otherIds = config.peers.filter((p) => p !== config.id);
    this.term = persisted.term;
    this.votedFor = persisted.votedFor;
    this.persisted = { term: persisted.term, votedFor: persisted.votedFor };
    // We may have acked a master just before a crash, and that master may still be serving on it:
    // until failureTicks have passed, tell any new coordinator to wait that lease out.
    this.lastGrant = { at: 0, to: undefined, term: undefined };
    this.role = this.slaveRole();
  }

  // ---- driving the machine ------------------------------------------------------------------------

  tick(): void {
    this.now += 1;
    this.role.tick();
  }

  step(message: Message): void {
    // A misrouted message must not move the state machine; the transport is at fault, not the peer.
    if (message.to !== this.id || message.from === this.id || !this.config.peers.includes(message.from))
      return;
    this.downPeers.delete(message.from);
    if (message.type === 'coordinator') return this.onCoordinator(message);
    if (message.type === 'coordinatorAck') return this.onCoordinatorAck(message);
    if (message.term > this.term) {
      this.adoptTerm(message.term);
    } else if (message.term < this.term && message.type !== 'election' && message.type !== 'answer') {
      // A stale master learns our term from the reply and steps down; other stale replies are noise.
      // (ELECTION and ANSWER still count: whatever its term, a higher id is alive.)
      if (message.type === 'heartbeat')
        this.send({ type: 'heartbeatAck', to: message.from, round: message.round });
      return;
    }
    this.role.step(message);
  }

  /**
   * A newer term learnt outside the election: the replication layer met a node that has seen it (a
   * slave refused our entries, or a newer master's entries arrived). Adopted as a message carrying it
   * would be: a master or candidate steps down, and the next Ready persists it. Lower terms are ignored.
   */
  observeTerm(term: Term): void {
    if (!Number.isSafeInteger(term) || term <= this.term) return;
    this.adoptTerm(term);
  }

  /**
   * The shell has strong evidence that `id`'s process is gone: a connection to its peer port was
   * refused (nothing listens there), answering a probe from Ready.probes. A slave of that master
   * suspects it at once instead of after the silence timeout, and the dead master no longer counts
   * as live for leader stickiness or for lease hand-over (a process that is gone serves nothing).
   * Silence, a timeout or an unreachable host are NOT such evidence: a busy, paused or cut-off
   * master may still be serving, and only the silence timeout and its lease cover those.
   */
  peerDown(id: NodeId): void {
    if (id === this.id || !this.config.peers.includes(id)) return;
    this.downPeers.add(id);
    const st = this.role.state;
    if (st.role === 'slave' && this.masterId === id && !this.isBehind()) this.becomeCandidate(undefined, id);
  }

  /**
   * Replication reports that the local log now reaches `index` (fetched from the node named in the
   * last needsCatchUp). Opens the serving gate of a new master, or lets a higher-id slave take over.
   */
  catchUpDone(index: number): void {
    const st = this.role.state;
    if (st.role === 'master' && st.catchUp !== undefined && index >= st.catchUp.request.upToIndex) {
      if (this.pendingCatchUp === st.catchUp.request) this.pendingCatchUp = undefined;
      st.catchUp = undefined;
    } else if (
      st.role === 'slave' &&
      st.takeover !== undefined &&
      index >= st.takeover.upToIndex &&
      this.masterId === st.takeover.fromNode
    ) {
      this.becomeCandidate(st.takeover.fromNode);
    }
  }

  hasReady(): boolean {
    return (
      this.outbox.length > 0 ||
      this.probes.length > 0 ||
      this.pendingCatchUp !== undefined ||
      !this.isPersisted() ||
      !sameRoleChange(this.announced, this.currentRoleChange())
    );
  }

  /**
   * Everything the shell must act on, in order: persist, then role change and catch-up, then send.
   * Calling ready() again before advance() returns the same work plus anything new.
   */
  ready(): Ready {
    const roleChange = this.currentRoleChange();
    return {
      messages: this.outbox.slice(),
      ...(this.isPersisted() ? {} : { persist: { term: this.term, votedFor: this.votedFor } }),
      ...(sameRoleChange(this.announced, roleChange) ? {} : { roleChange }),
      ...(this.pendingCatchUp === undefined ? {} : { needsCatchUp: this.pendingCatchUp }),
      ...(this.probes.length === 0 ? {} : { probes: this.probes.slice() }),
    };
  }

  /** The shell has done everything in `ready` (persisted it durably, and sent its messages). */
  advance(ready: Ready): void {
    this.outbox.splice(0, ready.messages.length);
    this.probes.splice(0, ready.probes?.length ?? 0);
    if (ready.persist !== undefined) this.persisted = ready.persist;
    if (ready.roleChange !== undefined) this.announced = ready.roleChange;
    if (ready.needsCatchUp !== undefined && ready.needsCatchUp === this.pendingCatchUp)
      this.pendingCatchUp = undefined;
  }

  state(): NodeState {
    const rc = this.currentRoleChange();
    return {
      id: this.id,
      role: rc.role,
      term: rc.term,
      masterId: rc.masterId,
      canServeWrites: this.canServeWrites(),
    };
  }

  /**
   * True only for a master whose term is persisted, that a majority accepted, that has caught up,
   * whose predecessors' leases have run out, and that heard from a majority within its lease.
   */
  canServeWrites(): boolean {
    const st = this.role.state;
    return (
      st.role === 'master' &&
      st.catchUp === undefined &&
      this.now >= st.servingNotBefore &&
      this.holdsLease(st) &&
      this.isPersisted()
    );
  }

  // ---- transitions --------------------------------------------------------------------------------

  private transition(to: Role): void {
    const from = this.role.state.role;
    if (!LEGAL_TRANSITIONS[from].includes(to)) throw new IllegalTransitionError(this.id, from, to);
    // Any catch-up requested for the old role is moot; the roleChange tells the shell to drop it.
    this.pendingCatchUp = undefined;
  }

  private becomeSlave(): void {
    this.transition('slave');
    // Whoever we followed or were is no longer confirmed; the next heartbeat says who the master is.
    this.masterId = undefined;
    this.role = this.slaveRole();
  }

  private becomeCandidate(takeoverFrom: NodeId | undefined, suspected?: NodeId): void {
    this.transition('candidate');
    const st: CandidateState = {
      role: 'candidate',
      phase: 'electing',
      deadline: this.now,
      takeoverFrom,
      suspected,
      proposal: undefined,
    };
    this.masterId = undefined;
    this.role = { state: st, step: (m) => this.stepCandidate(st, m), tick: () => this.tickCandidate(st) };
    this.startElection(st);
  }

  private becomeMaster(proposal: Proposal): void {
    this.transition('master');
    if (proposal.term <= this.term) {
      throw new ElectionInvariantError(
        this.id,
        `won term ${proposal.term} while already in term ${this.term}`,
      );
    }
    this.term = proposal.term;
    this.votedFor = this.id;
    this.masterId = this.id;

    // Every write acknowledged so far is on a majority, so some member of ours has it: fetch from
    // the most up-to-date one before serving.
    let best: { node: NodeId; position: LogPosition } = { node: this.id, position: this.log.position() };
    for (const [node, ack] of proposal.acks)
      if (comparePositions(ack.position, best.position) > 0) best = { node, position: ack.position };
    const servingNotBefore = this.servingNotBefore(proposal);
    const request: CatchUpRequest | undefined =
      best.node === this.id ? undefined : { fromNode: best.node, upToIndex: best.position.lastIndex };
    const st: MasterState = {
      role: 'master',
      electedAt: this.now,
      // Each acceptance of the COORDINATOR is a lease grant made after `sentAt` (the voter restarted
      // its failure timer and reports our lease to any other proposer): as good as a heartbeat ack.
      leaseFrom: new Map([...proposal.acks.keys()].map((id) => [id, proposal.sentAt])),
      proposal,
      servingNotBefore,
      catchUp:
        request === undefined ? undefined : { request, deadline: this.now + this.config.catchUpTimeoutTicks },
      nextHeartbeatAt: this.now,
    };
    this.role = { state: st, step: (m) => this.stepMaster(st, m), tick: () => this.tickMaster(st) };
    this.pendingCatchUp = request;
    this.broadcastHeartbeat(st);
  }

  private slaveRole(): RoleHandler {
    const st: SlaveState = {
      role: 'slave',
      jitter: Math.floor(this.random() * (this.config.electionJitterTicks + 1)),
      takeover: undefined,
      probedAt: undefined,
    };
    this.lastContact = this.now;
    return { state: st, step: (m) => this.stepSlave(st, m), tick: () => this.tickSlave(st) };
  }

  /** A higher term exists: whatever we were doing in ours is over. */
  private adoptTerm(term: Term): void {
    this.term = term;
    this.votedFor = undefined;
    this.masterId = undefined;
    const st = this.role.state;
    if (st.role === 'slave') {
      st.takeover = undefined;
      this.pendingCatchUp = undefined;
    } else {
      this.becomeSlave();
    }
  }

  // ---- slave ----------------------------------------------------------------------------------------

  private tickSlave(st: SlaveState): void {
    const silence = this.now - this.lastContact;
    if (silence >= this.config.failureTicks + st.jitter) {
      // A voter that found our log behind may have died since (we might now be the most up-to-date):
      // forget its word and ask again; if we are still behind, the probe is refused and changes no term.
      this.newerLogTerm = 0;
      // A log that lacks committed entries cannot serve soon: leave the election to those that can.
      if (!this.isBehind()) return this.becomeCandidate(undefined, this.masterId);
    }
    // Heartbeats are late: ask the shell whether the master's process is still there at all.
    const { probeAfterTicks } = this.config;
    if (
      this.masterId !== undefined &&
      silence >= probeAfterTicks &&
      (st.probedAt === undefined || this.now - st.probedAt >= probeAfterTicks)
    ) {
      st.probedAt = this.now;
      this.probes.push(this.masterId);
    }
  }

  private stepSlave(st: SlaveState, m: Message): void {
    switch (m.type) {
      case 'election':
        if (m.from > this.id || this.isBehind()) return;
        this.send({ type: 'answer', to: m.from });
        // Classic bully starts its own election here; we do so only if we too have lost the master,
        // so a node that is merely cut off from a healthy master cannot churn the group.
        if (this.now - this.lastContact >= this.config.failureTicks || this.masterIsDown())
          this.becomeCandidate(undefined, this.masterId);
        return;
      case 'heartbeat':
        return this.followHeartbeat(st, m);
      default:
        return;
    }
  }

  private followHeartbeat(st: SlaveState, m: HeartbeatMessage): void {
    if (this.masterId !== undefined && this.masterId !== m.from) {
      throw new ElectionInvariantError(
        this.id,
        `two masters in term ${this.term}: ${this.masterId} and ${m.from}`,
      );
    }
    this.masterId = m.from;
    this.lastContact = this.now;
    st.probedAt = undefined;
    this.knownCommitIndex = Math.max(this.knownCommitIndex, m.commitIndex);
    this.newerLogTerm = 0; // a live master: the takeover path below gates our candidacy now
    this.grant(m.from, m.term);
    this.send({ type: 'heartbeatAck', to: m.from, round: m.round });
    if (m.from < this.id && st.takeover === undefined) {
      // A returning higher id: follow first, take over only once caught up (catchUpDone).
      st.takeover = { fromNode: m.from, upToIndex: m.commitIndex };
      this.pendingCatchUp = st.takeover;
    }
  }

  // ---- candidate ------------------------------------------------------------------------------------

  private startElection(st: CandidateState): void {
    st.proposal = undefined;
    for (const to of this.higherIds) this.send({ type: 'election', to });
    // The master we stopped hearing from is the usual (in a 3-node group the only) higher id: waiting
    // answerTimeoutTicks for it would add that much to every failover. Probe at once instead; if it
    // is alive after all, its ANSWER still takes the election over (stepCandidate), and a majority
    // that still hears it refuses our proposal (mayAccept: a lower id never deposes a live master).
    if (this.higherIds.every((id) => id === st.suspected)) return this.propose(st);
    st.phase = 'electing';
    st.deadline = this.now + this.config.answerTimeoutTicks;
  }

  /**
   * No higher id answered: probe a majority first, then propose for real. The term is adopted (and
   * persisted) only when the proposal wins, and nobody else adopts it before a majority said it
   * would: a candidate cut off from the majority keeps asking without changing any node's term.
   */
  private propose(st: CandidateState): void {
    const proposal: Proposal = {
      term: this.term + 1,
      probe: true,
      sentAt: this.now,
      ownPriorLease: { until: 0, holder: undefined },
      acks: new Map(),
      refused: false,
      hurried: false,
    };
    st.phase = 'proposing';
    st.proposal = proposal;
    st.deadline = this.now + this.config.coordinatorTimeoutTicks;
    if (majority(this.config) === 1) return this.proposeForReal(st, proposal);
    this.sendCoordinator(proposal, this.otherIds);
  }

  private proposeForReal(st: CandidateState, proposal: Proposal): void {
    proposal.probe = false;
    proposal.acks = new Map();
    proposal.sentAt = this.now;
    const own = this.priorLease(this.id, proposal.term);
    proposal.ownPriorLease = { until: this.now + own.ticks, holder: own.holder };
    st.deadline = this.now + this.config.coordinatorTimeoutTicks;
    if (majority(this.config) === 1) return this.becomeMaster(proposal);
    this.sendCoordinator(proposal, this.otherIds);
  }

  private sendCoordinator(proposal: Proposal, to: readonly NodeId[]): void {
    const { lastTerm, lastIndex } = this.log.position();
    for (const peer of to) {
      this.send({
        type: 'coordinator',
        to: peer,
        term: proposal.term,
        probe: proposal.probe,
        lastTerm,
        lastIndex,
      });
    }
  }

  private tickCandidate(st: CandidateState): void {
    const won = st.proposal;
    if (
      st.phase === 'proposing' &&
      won !== undefined &&
      !won.probe &&
      1 + won.acks.size >= majority(this.config) &&
      !this.awaitingOldMaster(st, won)
    )
      return this.becomeMaster(won);
    if (this.now < st.deadline) return;
    switch (st.phase) {
      case 'electing':
        return this.propose(st);
      case 'awaiting':
        // The higher node that answered never announced itself: start over.
        return this.startElection(st);
      case 'proposing': {
        const proposal = st.proposal;
        if (proposal === undefined) return this.startElection(st);
        if (st.takeoverFrom !== undefined && proposal.refused) {
          // Peers still follow the master and think our log is behind: follow it again and catch up.
          return this.becomeSlave();
        }
        // Silence is not refusal: ask again, in the same term, those who have not said yes.
        proposal.refused = false;
        st.deadline = this.now + this.config.coordinatorTimeoutTicks;
        return this.sendCoordinator(
          proposal,
          this.otherIds.filter((p) => !proposal.acks.has(p)),
        );
      }
    }
  }

  private stepCandidate(st: CandidateState, m: Message): void {
    switch (m.type) {
      case 'election':
        if (m.from < this.id && !this.isBehind()) this.send({ type: 'answer', to: m.from });
        return;
      case 'answer':
        if (m.from === st.suspected) st.suspected = undefined;
        if (m.from > this.id && st.phase !== 'awaiting') {
          // A higher id is alive: it takes the election over, even from a proposal of ours.
          st.phase = 'awaiting';
          st.proposal = undefined;
          st.deadline = this.now + this.config.coordinatorTimeoutTicks;
        }
        return;
      case 'heartbeat':
        // The master we are deposing is not acked, so its lease runs out while we campaign.
        if (m.from === st.takeoverFrom) return;
        // Someone won our current term: follow it (and, if it is lower, catch up and take over later).
        this.becomeSlave();
        return this.role.step(m);
      default:
        return;
    }
  }

  // ---- master ---------------------------------------------------------------------------------------

  private tickMaster(st: MasterState): void {
    // Without a majority's acks it stops serving when its lease lapses (canServeWrites), and steps
    // down after failureTicks — by then the slaves suspect it anyway. A few lost heartbeats only
    // pause serving. A new master gets failureTicks to collect its first acks.
    if (
      !this.heardFromMajority(st, this.config.failureTicks) &&
      this.now - st.electedAt >= this.config.failureTicks
    ) {
      return this.becomeSlave();
    }
    // Stuck catching up (source gone): let the group elect again; replication keeps what it fetched.
    if (st.catchUp !== undefined && this.now >= st.catchUp.deadline) return this.becomeSlave();
    if (this.now >= st.nextHeartbeatAt) this.broadcastHeartbeat(st);
  }

  private stepMaster(st: MasterState, m: Message): void {
    switch (m.type) {
      case 'election':
        if (m.from > this.id) return;
        // We are alive and above: answer, and tell the asker who the master is.
        this.send({ type: 'answer', to: m.from });
        this.sendHeartbeat(m.from);
        return;
      case 'heartbeat':
        throw new ElectionInvariantError(
          this.id,
          `two masters in term ${this.term}: ${this.id} and ${m.from}`,
        );
      case 'heartbeatAck':
        st.leaseFrom.set(m.from, Math.max(st.leaseFrom.get(m.from) ?? -Infinity, m.round));
        return;
      default:
        return;
    }
  }

  private broadcastHeartbeat(st: MasterState): void {
    for (const to of this.otherIds) this.sendHeartbeat(to);
    st.nextHeartbeatAt = this.now + this.config.heartbeatTicks;
  }

  private sendHeartbeat(to: NodeId): void {
    this.send({ type: 'heartbeat', to, commitIndex: this.log.commitIndex(), round: this.now });
  }

  private holdsLease(st: MasterState): boolean {
    return this.heardFromMajority(st, leaseTicks(this.config));
  }

  /** Did a majority (ourselves included) ack a heartbeat we sent less than `ticks` ago? */
  private heardFromMajority(st: MasterState, ticks: number): boolean {
    let heard = 1;
    for (const sentAt of st.leaseFrom.values()) if (this.now - sentAt < ticks) heard += 1;
    return heard >= majority(this.config);
  }

  // ---- COORDINATOR: the vote -------------------------------------------------------------------------

  private onCoordinator(m: CoordinatorMessage): void {
    const reply = {
      type: 'coordinatorAck',
      to: m.from,
      probe: m.probe,
      ...this.log.position(),
      commitIndex: this.commitKnown(),
    } as const;
    if (!this.mayAccept(m)) {
      // Our own term, not the proposed one: refusing must not move us into a term nobody won.
      return this.send({ ...reply, accepted: false, priorLeaseTicks: 0 });
    }
    // A probe changes nothing here; the yes carries the proposed term so the proposer can match it.
    if (m.probe) return this.send({ ...reply, term: m.term, accepted: true, priorLeaseTicks: 0 });
    const prior = this.priorLease(m.from, m.term);
    this.term = m.term;
    this.votedFor = m.from;
    this.masterId = undefined; // confirmed by its first heartbeat, once it has won
    if (this.role.state.role === 'slave') {
      this.role.state.takeover = undefined;
      this.pendingCatchUp = undefined;
      this.lastContact = this.now;
    } else {
      this.becomeSlave();
    }
    this.grant(m.from, m.term);
    this.send({
      ...reply,
      accepted: true,
      priorLeaseTicks: prior.ticks,
      ...(prior.holder === undefined ? {} : { priorLeaseHolder: prior.holder }),
    });
  }

  private mayAccept(m: CoordinatorMessage): boolean {
    const st = this.role.state;
    if (m.term < this.term) return false;
    if (m.term === this.term) {
      // One vote per term. The one we voted for may ask again (a duplicate or a re-send).
      if (this.votedFor !== undefined) return this.votedFor === m.from;
      if (this.masterId !== undefined) return false;
    }
    if (st.role === 'candidate' && st.proposal !== undefined) {
      // Two proposals for the same term cross: the higher id wins, so they cannot both give way.
      if (m.term < st.proposal.term || (m.term === st.proposal.term && m.from < this.id)) return false;
    }
    // A proposer behind what we know is committed could serve only after a long catch-up (restarted
    // from an old disk, rebuilding from a snapshot): refuse it, with or without a live master. Refusing
    // more is always safe, and some member of every majority holds every committed entry, so an
    // up-to-date node can still win. This also makes a returning higher id take over only once caught up.
    if (!this.isCaughtUp(m)) return false;
    // Leader stickiness: a lower id never deposes a live master (it is the one cut off).
    const live = this.liveMaster();
    return live === undefined || live === m.from || m.from > live;
  }

  private onCoordinatorAck(m: CoordinatorAckMessage): void {
    const st = this.role.state;
    const proposal = st.role === 'candidate' ? st.proposal : undefined;
    // Committed is committed, whoever says so; votes and isBehind use it.
    this.knownCommitIndex = Math.max(this.knownCommitIndex, m.commitIndex);
    if (m.accepted && st.role === 'master' && !m.probe && m.term === st.proposal.term) {
      // A voter past the majority we won with. If it is the master we took over from, it has now
      // stepped down: its lease need not be waited out any more (the planned hand-over).
      this.recordAck(st.proposal, m);
      st.servingNotBefore = this.servingNotBefore(st.proposal);
      st.leaseFrom.set(m.from, Math.max(st.leaseFrom.get(m.from) ?? -Infinity, st.proposal.sentAt));
      return;
    }
    if (m.accepted) {
      // Count a yes only for what we are asking now; a late yes to something we moved past is noise.
      if (
        st.role !== 'candidate' ||
        proposal === undefined ||
        m.term !== proposal.term ||
        m.probe !== proposal.probe
      )
        return;
      this.recordAck(proposal, m);
      if (1 + proposal.acks.size < majority(this.config)) return;
      if (proposal.probe) return this.proposeForReal(st, proposal);
      // The tick completes it once the old master answered or its grace ran out.
      if (this.awaitingOldMaster(st, proposal)) return;
      return this.becomeMaster(proposal);
    }
    // A voter whose log ends in a newer term refuses us (mayAccept): its log is more up-to-date.
    if (m.lastTerm > this.log.position().lastTerm)
      this.newerLogTerm = Math.max(this.newerLogTerm, m.lastTerm);
    if (m.term > this.term) return this.adoptTerm(m.term);
    if (st.role === 'candidate' && this.isBehind()) {
      // Refused for being behind. Stand aside: a slave that neither answers ELECTIONs nor campaigns
      // until it has caught up, so the up-to-date lower ids do not wait for a COORDINATOR that voters
      // refuse. One such refusal is enough: a better candidate exists, and waiting for a majority of
      // refusals would wait forever with the other nodes down. Once it follows the new master, the
      // returning-higher-id path (catch up, then campaign) brings it back.
      return this.becomeSlave();
    }
    if (proposal !== undefined && m.term === this.term) {
      proposal.refused = true;
      // A lower id that still heard the master a moment ago refuses a probe until its own failure
      // timeout runs out, a tick or two after ours: ask again a heartbeat later, once, rather than a
      // whole coordinator timeout later (that wait made a failover's slowest rounds). Only once and
      // only for lower ids, so candidates refusing each other keep the usual pace and the higher
      // ones still win.
      if (
        st.role === 'candidate' &&
        st.takeoverFrom === undefined &&
        proposal.probe &&
        !proposal.hurried &&
        m.from < this.id
      ) {
        proposal.hurried = true;
        st.deadline = Math.min(st.deadline, this.now + this.config.heartbeatTicks);
      }
    }
  }

  /**
   * A takeover that has its majority still waits up to a round trip (2 heartbeat intervals) for the
   * master it takes over from: that master's acceptance carries its log position, and its newest
   * entries (written but not yet on a majority when it stepped down) are then copied by the
   * catch-up instead of dropped, so the old master needs no snapshot to undo them. Waiting longer
   * is always safe; past the grace the majority decides, as for any proposal.
   */
  private awaitingOldMaster(st: CandidateState, proposal: Proposal): boolean {
    return (
      st.takeoverFrom !== undefined &&
      !proposal.acks.has(st.takeoverFrom) &&
      this.now < proposal.sentAt + 2 * this.config.heartbeatTicks
    );
  }

  private recordAck(proposal: Proposal, m: CoordinatorAckMessage): void {
    const prior = proposal.acks.get(m.from)?.priorLease;
    const until = this.now + m.priorLeaseTicks;
    proposal.acks.set(m.from, {
      position: { lastTerm: m.lastTerm, lastIndex: m.lastIndex },
      // A re-sent ack: keep the longer wait, and the holder only if both name the same one.
      priorLease:
        prior === undefined
          ? { until, holder: m.priorLeaseHolder }
          : {
              until: Math.max(prior.until, until),
              holder: prior.holder === m.priorLeaseHolder ? prior.holder : undefined,
            },
    });
  }

  private liveMaster(): NodeId | undefined {
    const st = this.role.state;
    switch (st.role) {
      case 'master':
        return this.id;
      case 'candidate':
        return st.takeoverFrom;
      case 'slave':
        if (this.masterIsDown()) return undefined;
        return this.now - this.lastContact < this.config.failureTicks ? this.masterId : undefined;
    }
  }

  private masterIsDown(): boolean {
    return this.masterId !== undefined && this.downPeers.has(this.masterId);
  }

  /** The vote's catch-up check: last term first (as Raft), then the index against what we know is committed. */
  private isCaughtUp(proposer: LogPosition): boolean {
    const mine = this.log.position();
    if (proposer.lastTerm !== mine.lastTerm) return proposer.lastTerm > mine.lastTerm;
    return proposer.lastIndex + this.config.catchUpSlackEntries >= this.commitKnown();
  }

  private commitKnown(): number {
    return Math.max(this.knownCommitIndex, this.log.commitIndex());
  }

  /**
   * Would a voter refuse us for our log, as far as we know? It lacks entries we know are committed
   * (from heartbeats or votes), or a voter refused us with a log of a newer term. Then we could not
   * serve soon even if elected: we stand aside (no ANSWER, no campaign) and let an up-to-date node win.
   */
  private isBehind(): boolean {
    const mine = this.log.position();
    return (
      mine.lastIndex + this.config.catchUpSlackEntries < this.commitKnown() ||
      mine.lastTerm < this.newerLogTerm
    );
  }

  // ---- leases ----------------------------------------------------------------------------------------

  private grant(to: NodeId, term: Term): void {
    if (this.lastGrant.to !== to || this.lastGrant.term !== term) this.grantBeforeLast = this.lastGrant;
    this.lastGrant = { at: this.now, to, term };
  }

  /**
   * How long a master other than (to, term) may still be serving on an ack of ours, and who: a master
   * serves at most leaseTicks after sending what we acked, and we acked no earlier than it was sent.
   * failureTicks (> leaseTicks) leaves a margin for tick phase between machines.
   */
  private priorLease(to: NodeId, term: Term): { ticks: number; holder: NodeId | undefined } {
    const last =
      this.lastGrant.to === to && this.lastGrant.term === term ? this.grantBeforeLast : this.lastGrant;
    // A master whose process is gone serves on no lease (peerDown); an unknown one may (restart).
    if (last === undefined || (last.to !== undefined && this.downPeers.has(last.to)))
      return { ticks: 0, holder: undefined };
    return { ticks: Math.max(0, this.config.failureTicks - (this.now - last.at)), holder: last.to };
  }

  /**
   * The first tick a winning proposal may serve at: after every prior lease its majority reported,
   * except leases held by a node that accepted the proposal itself (it persisted the new term and
   * stepped down before acking, so it serves no more: a planned hand-over waits no lease) or by us.
   */
  private servingNotBefore(proposal: Proposal): number {
    const over = (lease: PriorLease): boolean =>
      lease.holder !== undefined && (lease.holder === this.id || proposal.acks.has(lease.holder));
    let notBefore = over(proposal.ownPriorLease) ? 0 : proposal.ownPriorLease.until;
    for (const ack of proposal.acks.values())
      if (!over(ack.priorLease)) notBefore = Math.max(notBefore, ack.priorLease.until);
    return notBefore;
  }

  // ---- plumbing --------------------------------------------------------------------------------------

  /** The one place messages are stamped (raft's send()): sender and current term, unless given. */
  private send(message: Outgoing): void {
    // The spread keeps the variant's own fields; TS cannot prove a spread union is still a union member.
    this.outbox.push({ term: this.term, ...message, from: this.id } as Message);
  }

  private isPersisted(): boolean {
    return this.persisted.term === this.term && this.persisted.votedFor === this.votedFor;
  }

  private currentRoleChange(): RoleChange {
    const st = this.role.state;
    const masterId = st.role === 'master' ? this.id : st.role === 'slave' ? this.masterId : undefined;
    return { role: st.role, term: this.term, masterId };
  }
}

function sameRoleChange(a: RoleChange | undefined, b: RoleChange): boolean {
  return a !== undefined && a.role === b.role && a.term === b.term && a.masterId === b.masterId;
}
