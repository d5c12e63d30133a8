import type { Logger } from 'pino';
import type { EventSink } from './sse';
import { currentMaster, withLag } from './views';
import type { NodeView } from './views';

/*
 * Live cluster view (GET /api/cluster/events). While at least one operator watches, every booking
 * node's ClusterService.Status is polled every `intervalMs`, each node on its own loop (a paused
 * node's slow answer does not hold up the others). Subscribers get:
 *  - `node`   when a node's role, term, master, write ability, indexes, lag, etcd holder or
 *             reachability changed since what that subscriber last saw (the node's full view, and
 *             the names of the fields that changed);
 *  - `master` when the group's master changes (null while an election runs), for the timeline.
 * Every event carries the wall time and the gateway's Lamport clock.
 */

/** The fields of a node view that matter to an operator (Lamport and ack ages change on every poll). */
function meaningful(node: NodeView): Record<string, unknown> {
  if (!node.reachable) return { reachable: false, error: node.error };
  const { lamport: _lamport, address: _address, slaves, ...rest } = node;
  return { ...rest, slaves: slaves.map(({ lastAckMs: _age, ...lag }) => lag) };
}

/** Names of the meaningful fields that differ (empty: nothing an operator would notice). */
export function changedFields(before: NodeView | undefined, after: NodeView): string[] {
  if (before === undefined) return ['reachable'];
  const a = meaningful(before);
  const b = meaningful(after);
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key])).sort();
}

export interface ClusterFeedDeps {
  nodeIds: readonly number[];
  status: (nodeId: number) => Promise<NodeView>;
  stamp: () => { at: string; lamport: number };
  logger: Logger;
  intervalMs: number;
}

interface Subscriber {
  readonly stream: EventSink;
  readonly known: Map<number, NodeView>;
}

export class ClusterFeed {
  private readonly subscribers = new Set<Subscriber>();
  private readonly views = new Map<number, NodeView>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  /** Bumped on every start and stop, so a poll that returns after a stop is ignored. */
  private generation = 0;
  private master: number | null | undefined;

  constructor(private readonly deps: ClusterFeedDeps) {}

  get running(): boolean {
    return this.timers.size > 0;
  }

  get size(): number {
    return this.subscribers.size;
  }

  /** Adds a subscriber who already received `snapshot` (the nodes as it knows them). */
  subscribe(stream: EventSink, snapshot: readonly NodeView[]): void {
    if (stream.closed) return;
    const subscriber: Subscriber = { stream, known: new Map(snapshot.map((n) => [n.nodeId, n])) };
    this.subscribers.add(subscriber);
    stream.onClose(() => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0) this.stop();
    });
    if (!this.running) this.start(snapshot);
  }

  stop(): void {
    this.generation += 1;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.views.clear();
    this.master = undefined;
  }

  private start(snapshot: readonly NodeView[]): void {
    this.generation += 1;
    for (const node of snapshot) this.views.set(node.nodeId, node);
    this.master = currentMaster(snapshot)?.nodeId ?? null;
    for (const id of this.deps.nodeIds) this.schedule(id, this.generation);
  }

  private schedule(nodeId: number, generation: number): void {
    const timer = setTimeout(() => void this.poll(nodeId, generation), this.deps.intervalMs);
    this.timers.set(nodeId, timer);
  }

  private async poll(nodeId: number, generation: number): Promise<void> {
    // status() answers an unreachable node as a view too; the catch only keeps the loop alive.
    const view = await this.deps.status(nodeId).catch((error: unknown): NodeView => ({
      nodeId,
      address: '',
      reachable: false,
      error: error instanceof Error ? error.message : String(error),
    }));
    if (generation !== this.generation) return;
    this.views.set(nodeId, view);
    this.publish();
    this.schedule(nodeId, generation);
  }

  private publish(): void {
    const nodes = withLag([...this.views.values()]);
    const master = currentMaster(nodes);
    const masterId = master?.nodeId ?? null;
    if (masterId !== this.master) {
      const event = {
        from: this.master ?? null,
        to: masterId,
        term: master?.term ?? null,
        ...this.deps.stamp(),
      };
      this.deps.logger.info(
        event,
        masterId === null ? 'booking group has no master' : 'booking group master',
      );
      this.master = masterId;
      for (const s of this.subscribers) s.stream.send('master', event);
    }
    for (const node of nodes) {
      for (const subscriber of this.subscribers) {
        const changed = changedFields(subscriber.known.get(node.nodeId), node);
        subscriber.known.set(node.nodeId, node);
        if (changed.length > 0) subscriber.stream.send('node', { node, changed, ...this.deps.stamp() });
      }
    }
  }
}
