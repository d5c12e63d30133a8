import { status as Code } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { isGrpcError } from '../common/errors';
import { codeName } from './http-errors';
import type { EventSink } from './sse';
import type { AvailabilityView, SeatStateWord } from './views';

/*
 * Live seat maps (GET /api/shows/:showId/events). One poller per show with at least one subscriber,
 * shared by all of them: every `intervalMs` it reads the show's availability and pushes each
 * subscriber what changed since the map that subscriber last got. When the last subscriber of a show
 * leaves, its poller stops. Nothing else is kept: a second gateway instance runs its own pollers.
 *
 * GetAvailability needs a signed-in caller, so the poller uses the token of its newest subscriber;
 * when the booking service refuses that token (expired), that subscriber alone gets an `error` event
 * and is disconnected, and the next poll uses the next newest.
 *
 * Events: `snapshot` (the whole map), `seats` (what changed), `upstream-error` once per run of failed
 * polls (an election, a node down), `upstream-ok` when polls succeed again, `error` before the
 * stream is closed for good (token refused, show gone).
 */

export interface SeatChange {
  seatId: string;
  state: SeatStateWord;
}

export interface PoolChange {
  areaId: string;
  capacity: number;
  held: number;
  sold: number;
  remaining: number;
}

export interface AvailabilityDiff {
  seats: SeatChange[];
  pools: PoolChange[];
}

/**
 * What changed from `before` to `after`, or 'reshaped' when the seats or pools themselves differ
 * (a different hall plan): then only a full map makes sense.
 */
export function diffAvailability(
  before: AvailabilityView,
  after: AvailabilityView,
): AvailabilityDiff | 'reshaped' {
  if (before.seats.length !== after.seats.length || before.pools.length !== after.pools.length)
    return 'reshaped';
  const seats: SeatChange[] = [];
  for (let i = 0; i < after.seats.length; i++) {
    const a = before.seats[i]!;
    const b = after.seats[i]!;
    if (a.seatId !== b.seatId || a.amountCents !== b.amountCents || a.label !== b.label) return 'reshaped';
    if (a.state !== b.state) seats.push({ seatId: b.seatId, state: b.state });
  }
  const pools: PoolChange[] = [];
  for (let i = 0; i < after.pools.length; i++) {
    const a = before.pools[i]!;
    const b = after.pools[i]!;
    if (a.areaId !== b.areaId || a.amountCents !== b.amountCents) return 'reshaped';
    if (a.capacity !== b.capacity || a.held !== b.held || a.sold !== b.sold || a.remaining !== b.remaining)
      pools.push({
        areaId: b.areaId,
        capacity: b.capacity,
        held: b.held,
        sold: b.sold,
        remaining: b.remaining,
      });
  }
  return { seats, pools };
}

function isEmpty(diff: AvailabilityDiff): boolean {
  return diff.seats.length === 0 && diff.pools.length === 0;
}

export interface ShowFeedDeps {
  /** Reads a show's availability on booking node number `node`, with the caller's token (one attempt). */
  read: (showId: string, token: string, node: number) => Promise<AvailabilityView>;
  /** How many booking nodes there are to read from. */
  nodes: number;
  /** Stamps events: wall time and the gateway's Lamport clock. */
  stamp: () => { at: string; lamport: number };
  logger: Logger;
  intervalMs: number;
}

interface Subscriber {
  readonly token: string;
  readonly stream: EventSink;
  /** The map this subscriber has (its snapshot, then the feed's map it was last brought up to). */
  base: AvailabilityView;
  /** Told about the current run of upstream failures already. */
  warned: boolean;
}

class ShowFeed {
  /** Newest last. */
  private readonly subscribers: Subscriber[] = [];
  private latest: AvailabilityView | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /**
   * The node this feed reads from. It stays there while the node answers: availability is read
   * locally on each node and a slave may be a heartbeat behind the master, so hopping between
   * nodes could show a seat held, then free, then held again. Shows are spread over the nodes.
   */
  private node: number;

  constructor(
    readonly showId: string,
    private readonly deps: ShowFeedDeps,
    private readonly onEmpty: () => void,
  ) {
    let hash = 0;
    for (const char of showId) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
    this.node = hash % Math.max(1, deps.nodes);
  }

  get size(): number {
    return this.subscribers.length;
  }

  add(subscriber: Subscriber): void {
    this.subscribers.push(subscriber);
    subscriber.stream.onClose(() => this.remove(subscriber));
    if (this.timer === undefined && !this.stopped) this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private remove(subscriber: Subscriber): void {
    const index = this.subscribers.indexOf(subscriber);
    if (index >= 0) this.subscribers.splice(index, 1);
    if (this.subscribers.length === 0) {
      this.stop();
      this.onEmpty();
    }
  }

  private schedule(): void {
    this.timer = setTimeout(() => void this.tick(), this.deps.intervalMs);
  }

  /** One poll; the next is scheduled only after this one ends, so polls never overlap. */
  private async tick(): Promise<void> {
    const subscriber = this.subscribers[this.subscribers.length - 1];
    if (subscriber === undefined || this.stopped) return;
    try {
      const view = await this.deps.read(this.showId, subscriber.token, this.node);
      if (!this.stopped) this.publish(view);
    } catch (error) {
      if (!this.stopped) this.failed(subscriber, error);
    } finally {
      if (!this.stopped && this.subscribers.length > 0) this.schedule();
    }
  }

  private publish(view: AvailabilityView): void {
    // An unchanged map keeps the same object, so subscribers already on it are skipped by identity.
    const previous = this.latest;
    const change = previous === undefined ? 'reshaped' : diffAvailability(previous, view);
    if (change === 'reshaped' || !isEmpty(change)) this.latest = view;
    const latest = this.latest ?? view;
    const diffs = new Map<AvailabilityView, AvailabilityDiff | 'reshaped'>();
    for (const subscriber of [...this.subscribers]) {
      if (subscriber.warned) {
        // It was told the group is not answering: tell it that is over, even when no seat changed
        // meanwhile (otherwise it would hear nothing and stay "paused").
        subscriber.warned = false;
        subscriber.stream.send('upstream-ok', { showId: this.showId, ...this.deps.stamp() });
      }
      if (subscriber.base === latest) continue;
      let diff = diffs.get(subscriber.base);
      if (diff === undefined) {
        diff = diffAvailability(subscriber.base, latest);
        diffs.set(subscriber.base, diff);
      }
      subscriber.base = latest;
      if (diff === 'reshaped' || diff.seats.length > latest.seats.length / 2)
        subscriber.stream.send('snapshot', { ...latest, ...this.deps.stamp() });
      else if (!isEmpty(diff))
        subscriber.stream.send('seats', { showId: this.showId, ...diff, ...this.deps.stamp() });
    }
  }

  private failed(subscriber: Subscriber, error: unknown): void {
    const code = isGrpcError(error) ? error.code : Code.INTERNAL;
    const message = isGrpcError(error) ? error.details : 'internal error';
    const body = { error: { code: codeName(code), message }, ...this.deps.stamp() };
    if (code === Code.UNAUTHENTICATED || code === Code.PERMISSION_DENIED) {
      // This subscriber's token no longer works: it alone is told and disconnected.
      subscriber.stream.send('error', body);
      subscriber.stream.close();
      return;
    }
    if (code === Code.NOT_FOUND || code === Code.INVALID_ARGUMENT) {
      // The show is gone: nobody will see it change again.
      for (const s of [...this.subscribers]) {
        s.stream.send('error', body);
        s.stream.close();
      }
      return;
    }
    this.deps.logger.debug(
      { showId: this.showId, node: this.node, err: message },
      'availability poll failed',
    );
    // That node is down or electing: read from the next one.
    this.node = (this.node + 1) % Math.max(1, this.deps.nodes);
    // Transient (an election, a node down): say so once per run of failures, keep polling.
    for (const s of this.subscribers) {
      if (s.warned) continue;
      s.warned = true;
      s.stream.send('upstream-error', body);
    }
  }
}

/** The pollers of all shows that have subscribers. */
export class ShowFeeds {
  private readonly feeds = new Map<string, ShowFeed>();

  constructor(private readonly deps: ShowFeedDeps) {}

  /**
   * Adds a subscriber who already received `snapshot` (read with its own token, which proves the
   * token and the show id good). It is unsubscribed when its stream closes.
   */
  subscribe(showId: string, token: string, stream: EventSink, snapshot: AvailabilityView): void {
    if (stream.closed) return;
    let feed = this.feeds.get(showId);
    if (feed === undefined) {
      const created: ShowFeed = new ShowFeed(showId, this.deps, () => {
        if (this.feeds.get(showId) === created) this.feeds.delete(showId);
      });
      feed = created;
      this.feeds.set(showId, feed);
    }
    feed.add({ token, stream, base: snapshot, warned: false });
  }

  /** Shows with a running poller (for tests and /api/health). */
  pollers(): string[] {
    return [...this.feeds.keys()];
  }

  subscriberCount(): number {
    let count = 0;
    for (const feed of this.feeds.values()) count += feed.size;
    return count;
  }

  stop(): void {
    for (const feed of this.feeds.values()) feed.stop();
    this.feeds.clear();
  }
}
