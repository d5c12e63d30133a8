/**
 * Wire-level vocabulary of the bully election. Everything here is plain data so a transport can
 * serialise it as-is; the state machine that interprets it lives in bully.ts.
 */

/** A booking node's fixed id (1..N; in Kubernetes the StatefulSet ordinal + 1). */
export type NodeId = number;

/** Election epoch. Persisted, never goes backwards; at most one master serves per term. */
export type Term = number;

export type Role = 'slave' | 'candidate' | 'master';

/** Position of the last entry in a node's replication log: compared as (lastTerm, lastIndex). */
export interface LogPosition {
  readonly lastTerm: Term;
  readonly lastIndex: number;
}

/**
 * What the election needs to know about the local replication log. Implemented by the replication
 * layer; read synchronously on every step, so it must be cheap.
 */
export interface LogView {
  /** (term, index) of the last entry in the local log, acknowledged or not. */
  position(): LogPosition;
  /** Highest index known to be durable on a majority. */
  commitIndex(): number;
}

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term; a COORDINATOR, and an ack accepting one, carry the proposed term instead. */
  readonly term: Term;
}

/** "I suspect the master; is anyone above me alive?" Sent only to higher ids. */
export interface ElectionMessage extends Envelope {
  readonly type: 'election';
}

/** "I am alive and above you: stand down and wait for a COORDINATOR." */
export interface AnswerMessage extends Envelope {
  readonly type: 'answer';
}

/**
 * "I propose to be master in `term`." Carries the proposer's log position for the catch-up rules.
 * With `probe`, it only asks whether the receiver would accept (Raft's pre-vote) and changes nothing
 * there: a proposer that cannot reach a majority never pushes a new term into the group, so on
 * healing it cannot depose a healthy master.
 */
export interface CoordinatorMessage extends Envelope, LogPosition {
  readonly type: 'coordinator';
  readonly probe: boolean;
}

/**
 * Reply to a COORDINATOR (or to a probe, echoing `probe`). When accepted, `term` is the proposed term
 * and (not for a probe) the sender has persisted it and its vote; it tells where its log ends so the
 * new master knows what to catch up on. When refused, `term` is the sender's own term.
 * `priorLeaseTicks` is how many more ticks an earlier master may still be serving on this node's
 * acks: the new master waits them out before serving, so two masters never serve at once.
 */
export interface CoordinatorAckMessage extends Envelope, LogPosition {
  readonly type: 'coordinatorAck';
  readonly probe: boolean;
  readonly accepted: boolean;
  readonly priorLeaseTicks: number;
  /**
   * The master that `priorLeaseTicks` is for, when known. If that node itself accepts the proposal,
   * it has adopted the new term and stopped serving: its lease need not be waited out (a planned
   * hand-over to a returning higher id then costs one round trip, not a lease).
   */
  readonly priorLeaseHolder?: NodeId;
  /**
   * The highest index the sender knows is committed. With `lastTerm` it lets a refused proposer tell
   * whether it was refused for being behind (the voter's catch-up check), and so stand aside.
   */
  readonly commitIndex: number;
}

/** Master → all, every heartbeatTicks. `round` is the master's own tick at send time. */
export interface HeartbeatMessage extends Envelope {
  readonly type: 'heartbeat';
  readonly commitIndex: number;
  readonly round: number;
}

/**
 * Reply to a heartbeat. With the master's term it renews the master's lease from `round` (the send
 * time, not the receive time: the slave reset its failure timer no earlier than that). With a higher
 * term it tells a stale master to step down.
 */
export interface HeartbeatAckMessage extends Envelope {
  readonly type: 'heartbeatAck';
  readonly round: number;
}

export type Message =
  | ElectionMessage
  | AnswerMessage
  | CoordinatorMessage
  | CoordinatorAckMessage
  | HeartbeatMessage
  | HeartbeatAckMessage;

export type MessageType = Message['type'];

/** What must survive a restart. Written before any message that depends on it is sent. */
export interface PersistentState {
  readonly term: Term;
  /** The coordinator this node accepted in `term`; at most one per term. */
  readonly votedFor?: NodeId;
}

export interface RoleChange {
  readonly role: Role;
  readonly term: Term;
  /** Confirmed master of `term` (it has sent a heartbeat), or undefined while unknown. */
  readonly masterId: NodeId | undefined;
}

/**
 * Replication must bring the local log up to `upToIndex` from `fromNode` before the election moves
 * on; report completion with BullyNode.catchUpDone(index).
 * - As a new master: fetch every entry it lacks from the most up-to-date member of its majority.
 * - As a slave with a higher id than the live master: catch up before taking over.
 */
export interface CatchUpRequest {
  readonly fromNode: NodeId;
  readonly upToIndex: number;
}

/**
 * Work the shell must do, in this order: (1) durably write `persist`, (2) apply `roleChange` and
 * start `needsCatchUp`, (3) send `messages` and start `probes`, then call advance(ready).
 */
export interface Ready {
  readonly messages: readonly Message[];
  readonly roleChange?: RoleChange;
  readonly persist?: PersistentState;
  readonly needsCatchUp?: CatchUpRequest;
  /**
   * Peers whose process the shell should check for strong evidence of death (a refused connection to
   * its peer port: nothing listens there any more). The shell reports it with BullyNode.peerDown(id);
   * no answer (it connects, or times out) means no evidence, and the usual silence timeout applies.
   */
  readonly probes?: readonly NodeId[];
}

export interface NodeState {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: Term;
  readonly masterId: NodeId | undefined;
  readonly canServeWrites: boolean;
}
