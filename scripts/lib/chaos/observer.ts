import * as grpc from '@grpc/grpc-js';
import { ClusterServiceClient, NodeRole } from '../../../proto/gen/marquee/cluster/v1/cluster';
import type { NodeStatus } from '../../../proto/gen/marquee/cluster/v1/cluster';
import type { ElectionEvent } from '../invariants';
import type { RoleName, Timeline, TimelineEvent } from './timeline';

/*
 * Watches every booking node through ClusterService.Status (on its peer address), each node in its
 * own loop every ~50 ms with a short deadline, so a dead or paused node (no answer) never slows the
 * others down. Changes become timeline events (`statusEvents`, pure); the latest view of each node
 * answers "who is master now".
 */

export interface NodeView {
  role: RoleName;
  term: number;
  /** 0: no master known. */
  masterId: number;
  lamport: number;
  canServeWrites: boolean;
  commitIndex: number;
  appliedIndex: number;
  /** The etcd fallback lease as the node sees it: holder node id and fencing token (0: none, or no etcd). */
  etcdLeaseHolder: number;
  etcdLeaseToken: number;
}

export function toView(status: NodeStatus): NodeView {
  const role: RoleName =
    status.role === NodeRole.NODE_ROLE_MASTER
      ? 'master'
      : status.role === NodeRole.NODE_ROLE_CANDIDATE
        ? 'candidate'
        : 'slave';
  return {
    role,
    term: status.term,
    masterId: status.masterId,
    lamport: status.lamport,
    canServeWrites: status.canServeWrites,
    commitIndex: status.commitIndex,
    appliedIndex: status.appliedIndex,
    etcdLeaseHolder: status.etcdLeaseHolder,
    etcdLeaseToken: status.etcdLeaseToken,
  };
}

export function describeView(view: NodeView): string {
  if (view.role === 'master')
    return `master in term ${view.term}${view.canServeWrites ? '' : ' (not serving yet)'}`;
  const master = view.masterId === 0 ? 'no master known' : `master node ${view.masterId}`;
  return `${view.role} in term ${view.term} (${master})`;
}

/**
 * What changed between two polls of one node (undefined: no answer). `mastersSeen` holds "term:node"
 * of every master already announced; a node serving writes as master in a new term adds a 'master'
 * event (once) and its key.
 */
export function statusEvents(
  node: number,
  previous: NodeView | undefined,
  next: NodeView | undefined,
  wallMs: number,
  mastersSeen: Set<string>,
  everAnswered: boolean,
): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  if (next === undefined) {
    if (previous !== undefined)
      events.push({ wallMs, node, kind: 'unreachable', text: 'stopped answering Status' });
    return events;
  }
  const lamport = next.lamport || undefined;
  if (previous === undefined && everAnswered)
    events.push({ wallMs, lamport, node, kind: 'reachable', text: 'answers Status again' });
  if (
    previous === undefined ||
    previous.role !== next.role ||
    previous.term !== next.term ||
    previous.masterId !== next.masterId
  )
    events.push({
      wallMs,
      lamport,
      node,
      kind: 'role',
      role: next.role,
      term: next.term,
      masterId: next.masterId || undefined,
      text: describeView(next),
    });
  // The master's view of the lease is the one that matters (slaves poll it less eagerly).
  if (
    next.role === 'master' &&
    previous !== undefined &&
    (previous.etcdLeaseHolder !== next.etcdLeaseHolder || previous.etcdLeaseToken !== next.etcdLeaseToken)
  )
    events.push({
      wallMs,
      lamport,
      node,
      kind: 'note',
      text:
        next.etcdLeaseHolder === 0
          ? 'etcd lease: no holder known'
          : `etcd lease: held by node ${next.etcdLeaseHolder}, fencing token ${next.etcdLeaseToken}`,
    });
  const key = `${next.term}:${node}`;
  if (next.role === 'master' && next.canServeWrites && !mastersSeen.has(key)) {
    mastersSeen.add(key);
    events.push({
      wallMs,
      lamport,
      node,
      kind: 'master',
      term: next.term,
      text: `master elected in term ${next.term}, serving writes`,
    });
  }
  return events;
}

export interface ObservedNode {
  id: number;
  peerAddress: string;
}

export interface ObserverOptions {
  intervalMs?: number;
  deadlineMs?: number;
}

/** Channel options for clients that must notice a restarted node quickly (grpc-js backs off up to 2 min). */
export const FAST_RECONNECT: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 500,
  'grpc.use_local_subchannel_pool': 1,
};

export class StatusObserver {
  private readonly views = new Map<number, NodeView | undefined>();
  private readonly answered = new Set<number>();
  private readonly mastersSeen = new Set<string>();
  private readonly electionPairs = new Map<string, ElectionEvent>();
  private readonly clients = new Map<number, ClusterServiceClient>();
  private readonly loops: Promise<void>[] = [];
  private readonly waiters = new Set<() => void>();
  private running = false;

  constructor(
    readonly nodes: readonly ObservedNode[],
    private readonly timeline: Timeline,
    private readonly options: ObserverOptions = {},
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const node of this.nodes) {
      this.clients.set(
        node.id,
        new ClusterServiceClient(node.peerAddress, grpc.credentials.createInsecure(), FAST_RECONNECT),
      );
      this.loops.push(this.loop(node.id));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  view(id: number): NodeView | undefined {
    return this.views.get(id);
  }

  /** The node that says it is master and serving writes (the highest term wins, should two say so). */
  master(): { id: number; term: number } | undefined {
    let best: { id: number; term: number } | undefined;
    for (const [id, view] of this.views)
      if (view?.role === 'master' && view.canServeWrites && (!best || view.term > best.term))
        best = { id, term: view.term };
    return best;
  }

  /** Every (term, master) pair any node reported, for the one-master-per-term rule. */
  elections(): ElectionEvent[] {
    return [...this.electionPairs.values()];
  }

  /** Resolves true as soon as `check()` holds after a poll, false after `timeoutMs`. */
  async waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
    if (check()) return true;
    return new Promise((resolve) => {
      const done = (result: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(result);
      };
      const wake = (): void => {
        if (check()) done(true);
      };
      const timer = setTimeout(() => done(check()), timeoutMs);
      this.waiters.add(wake);
    });
  }

  private async loop(id: number): Promise<void> {
    const interval = this.options.intervalMs ?? 50;
    while (this.running) {
      const started = Date.now();
      const next = await this.poll(id);
      if (!this.running) break;
      this.record(id, next, Date.now());
      await sleep(Math.max(0, interval - (Date.now() - started)));
    }
  }

  private record(id: number, next: NodeView | undefined, wallMs: number): void {
    const previous = this.views.get(id);
    for (const event of statusEvents(id, previous, next, wallMs, this.mastersSeen, this.answered.has(id)))
      this.timeline.add(event);
    if (next) {
      this.answered.add(id);
      if (next.role === 'master')
        this.electionPairs.set(`${next.term}:${id}`, { term: next.term, masterId: id });
    }
    this.views.set(id, next);
    for (const wake of [...this.waiters]) wake();
  }

  private poll(id: number): Promise<NodeView | undefined> {
    const client = this.clients.get(id);
    if (!client) return Promise.resolve(undefined);
    return new Promise((resolve) =>
      client.status(
        {},
        new grpc.Metadata(),
        { deadline: Date.now() + (this.options.deadlineMs ?? 250) },
        (error, response) => resolve(error ? undefined : toView(response)),
      ),
    );
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
