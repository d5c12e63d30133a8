/*
 * The chaos timeline: what the chaos script did and saw, in wall time with Lamport stamps where a
 * node gave one. Pure: events go in, figures and text lines come out. The recorder (`Timeline`) only
 * collects; every derived fact (when a failure was detected, when the new master was elected, when
 * it acknowledged its first write) is computed from the events by `failovers`.
 */

export type FaultKind = 'kill' | 'pause' | 'partition';
export type RoleName = 'master' | 'slave' | 'candidate';

export type EventKind =
  /** A fault was injected on `node`; `term` is the master's term at that moment, when known. */
  | 'inject'
  /** A fault was undone on `node` (`fault` says which: resume, heal, restart). */
  | 'heal'
  /** The observer stopped getting Status answers from `node`. */
  | 'unreachable'
  | 'reachable'
  /** The observer saw `node`'s role, term or master change (ClusterService.Status). */
  | 'role'
  /** A role line from the node's own log (election event, stamped by the node). */
  | 'election'
  /** `node` reported itself master, serving writes, in a term not seen before. */
  | 'master'
  /** Derived by failovers(): the first role change after an injection. */
  | 'detected'
  /** Derived by failovers(): the first write the new master acknowledged. */
  | 'first-write'
  | 'write-error'
  | 'note';

export interface TimelineEvent {
  wallMs: number;
  lamport?: number;
  node?: number;
  kind: EventKind;
  text: string;
  fault?: FaultKind;
  role?: RoleName;
  term?: number;
  masterId?: number;
}

/** A write the workload saw acknowledged, by the node it was sent to. */
export interface Ack {
  wallMs: number;
  node: number;
  lamport?: number;
}

/** Collects events and acknowledged writes; everything else is derived from them. */
export class Timeline {
  private readonly list: TimelineEvent[] = [];
  private readonly ackList: Ack[] = [];
  private readonly lastAck = new Map<number, number>();

  constructor(readonly startMs: number) {}

  add(event: TimelineEvent): TimelineEvent {
    this.list.push(event);
    return event;
  }

  ack(ack: Ack): void {
    this.ackList.push(ack);
    this.lastAck.set(ack.node, Math.max(ack.wallMs, this.lastAck.get(ack.node) ?? -Infinity));
  }

  /** When `node` last acknowledged a write (undefined: never). */
  lastAckMs(node: number): number | undefined {
    return this.lastAck.get(node);
  }

  /** The events in wall-time order (ties: Lamport order, then insertion order). */
  events(): TimelineEvent[] {
    return sortEvents(this.list);
  }

  acks(): Ack[] {
    return [...this.ackList].sort((a, b) => a.wallMs - b.wallMs);
  }
}

export function sortEvents(events: readonly TimelineEvent[]): TimelineEvent[] {
  return events
    .map((event, index) => ({ event, index }))
    .sort(
      (a, b) =>
        a.event.wallMs - b.event.wallMs ||
        (a.event.lamport ?? 0) - (b.event.lamport ?? 0) ||
        a.index - b.index,
    )
    .map((x) => x.event);
}

/** One injected fault and how the group got over it. Times are wall-clock ms. */
export interface Failover {
  fault: FaultKind;
  node: number;
  injectedMs: number;
  /** The master's term when the fault was injected (undefined: unknown). */
  termBefore?: number;
  /** The first role change anywhere after the injection. */
  detected?: TimelineEvent;
  /** The first master elected in a later term (or, term unknown, another node as master). */
  master?: TimelineEvent;
  /** The first write that master acknowledged after the failure was detected, while still master. */
  firstWrite?: Ack;
  healedMs?: number;
}

/**
 * One Failover per 'inject' event, each looking only at what happened before the next injection.
 * The new master's first write must come after the detection: a write acknowledged earlier was
 * served under the old term (only possible when the same node is elected again).
 */
export function failovers(events: readonly TimelineEvent[], acks: readonly Ack[]): Failover[] {
  const sorted = sortEvents(events);
  const sortedAcks = [...acks].sort((a, b) => a.wallMs - b.wallMs);
  const result: Failover[] = [];
  sorted.forEach((inject, index) => {
    if (inject.kind !== 'inject' || inject.fault === undefined || inject.node === undefined) return;
    const rest = sorted.slice(index + 1);
    const next = rest.findIndex((e) => e.kind === 'inject');
    const window = next < 0 ? rest : rest.slice(0, next);
    const endMs = next < 0 ? Infinity : rest[next]!.wallMs;
    const detected = window.find((e) => e.kind === 'role' || e.kind === 'election');
    const master = window.find(
      (e) =>
        e.kind === 'master' &&
        (inject.term !== undefined ? (e.term ?? 0) > inject.term : e.node !== inject.node),
    );
    const from = Math.min(detected?.wallMs ?? Infinity, master?.wallMs ?? Infinity);
    // Its tenure ends when it reports another role or a later term (with write forwarding, a node
    // that is no longer master still acknowledges writes: those are not the new master's).
    const tenureEnd = master
      ? (rest.find(
          (e) =>
            e.wallMs > master.wallMs &&
            e.node === master.node &&
            (e.kind === 'role' || e.kind === 'election') &&
            (e.role !== 'master' || (e.term ?? 0) > (master.term ?? 0)),
        )?.wallMs ?? Infinity)
      : Infinity;
    const until = Math.min(endMs, tenureEnd);
    const firstWrite = master
      ? sortedAcks.find((a) => a.node === master.node && a.wallMs >= from && a.wallMs < until)
      : undefined;
    const healed = window.find((e) => e.kind === 'heal' && e.node === inject.node);
    result.push({
      fault: inject.fault,
      node: inject.node,
      injectedMs: inject.wallMs,
      termBefore: inject.term,
      detected,
      master,
      firstWrite,
      healedMs: healed?.wallMs,
    });
  });
  return result;
}

export interface FailoverFigures {
  toDetectedMs?: number;
  toMasterMs?: number;
  toFirstWriteMs?: number;
}

export function figures(failover: Failover): FailoverFigures {
  const since = (ms: number | undefined): number | undefined =>
    ms === undefined ? undefined : Math.round(ms - failover.injectedMs);
  return {
    toDetectedMs: since(failover.detected?.wallMs),
    toMasterMs: since(failover.master?.wallMs),
    toFirstWriteMs: since(failover.firstWrite?.wallMs),
  };
}

/** One line per failover: `kill node 3 (term 4): detected +410 ms, new master node 2 +620 ms, first write +655 ms`. */
export function describeFailover(failover: Failover): string {
  const f = figures(failover);
  const term = failover.termBefore === undefined ? '' : ` (term ${failover.termBefore})`;
  const parts = [
    f.toDetectedMs === undefined ? 'no role change seen' : `detected +${f.toDetectedMs} ms`,
    failover.master === undefined
      ? 'no new master seen'
      : `new master node ${failover.master.node} in term ${failover.master.term ?? '?'} +${f.toMasterMs} ms`,
    f.toFirstWriteMs === undefined ? 'no write acknowledged by it' : `first write +${f.toFirstWriteMs} ms`,
  ];
  return `${failover.fault} node ${failover.node}${term}: ${parts.join(', ')}`;
}

/** The 'detected' and 'first-write' events failovers() derived, to merge into the printed timeline. */
export function derivedEvents(list: readonly Failover[]): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const f of list) {
    const fig = figures(f);
    if (f.detected)
      events.push({
        wallMs: f.detected.wallMs,
        lamport: f.detected.lamport,
        node: f.detected.node,
        kind: 'detected',
        text: `${f.fault} of node ${f.node} detected (+${fig.toDetectedMs} ms)`,
      });
    if (f.firstWrite)
      events.push({
        wallMs: f.firstWrite.wallMs,
        lamport: f.firstWrite.lamport,
        node: f.firstWrite.node,
        kind: 'first-write',
        text: `first write acknowledged by the new master (+${fig.toFirstWriteMs} ms after the ${f.fault})`,
      });
  }
  return events;
}

/** `+123 ms  L=4567  node 3  master elected in term 5` */
export function formatEvent(event: TimelineEvent, startMs: number): string {
  const offset = `+${Math.round(event.wallMs - startMs)} ms`.padStart(10);
  const lamport = `L=${event.lamport ?? '-'}`.padEnd(9);
  const node = event.node === undefined ? '      ' : `node ${event.node}`;
  return `${offset}  ${lamport}  ${node}  ${event.text}`;
}

/** The whole timeline as text: events and derived events, then one line per failover. */
export function formatTimeline(
  recorded: readonly TimelineEvent[],
  acks: readonly Ack[],
  startMs: number,
): string[] {
  const list = failovers(recorded, acks);
  const events = sortEvents([...recorded, ...derivedEvents(list)]);
  return [
    ...events.map((e) => formatEvent(e, startMs)),
    ...list.map((f) => `failover: ${describeFailover(f)}`),
  ];
}

export type LaneState = RoleName | 'unknown' | 'unreachable' | 'down' | 'paused';

/** A stretch of time during which a node's lane shows one state. */
export interface Band {
  node: number;
  fromMs: number;
  toMs: number;
  state: LaneState;
  partitioned: boolean;
}

/**
 * Each node's state over [startMs, endMs]: killed → down, paused → paused, otherwise the role the
 * observer last saw (unreachable while it gets no answer); `partitioned` overlays any of these.
 */
export function laneBands(
  events: readonly TimelineEvent[],
  nodes: readonly number[],
  startMs: number,
  endMs: number,
): Band[] {
  const bands: Band[] = [];
  for (const node of nodes) {
    let process: 'running' | 'down' | 'paused' = 'running';
    let partitioned = false;
    let seen: LaneState = 'unknown';
    let open: Omit<Band, 'toMs'> | undefined;
    const state = (): LaneState => (process === 'running' ? seen : process);
    const moveTo = (ms: number): void => {
      const at = Math.min(Math.max(ms, startMs), endMs);
      const now = state();
      if (open && open.state === now && open.partitioned === partitioned) return;
      if (open && at > open.fromMs) bands.push({ ...open, toMs: at });
      open = { node, fromMs: at, state: now, partitioned };
    };
    moveTo(startMs);
    for (const e of sortEvents(events)) {
      if (e.node !== node) continue;
      if (e.kind === 'inject') {
        if (e.fault === 'kill') process = 'down';
        else if (e.fault === 'pause') process = 'paused';
        else partitioned = true;
      } else if (e.kind === 'heal') {
        if (e.fault === 'partition') partitioned = false;
        else {
          process = 'running';
          if (e.fault === 'kill') seen = 'unreachable'; // booting: no answer yet
        }
      } else if (e.kind === 'unreachable') seen = 'unreachable';
      else if (e.kind === 'role' && e.role !== undefined) seen = e.role;
      else continue;
      moveTo(e.wallMs);
    }
    if (open && endMs > open.fromMs) bands.push({ ...open, toMs: endMs });
  }
  return bands;
}

/** Median of a list (undefined when empty). */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}
