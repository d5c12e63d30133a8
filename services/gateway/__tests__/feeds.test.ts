import { Metadata, status as Code } from '@grpc/grpc-js';
import pino from 'pino';
import { ClusterFeed, changedFields } from '../cluster-feed';
import { ShowFeeds, diffAvailability } from '../show-feed';
import type { EventSink } from '../sse';
import type { AvailabilityView, NodeView, SeatStateWord } from '../views';
import { eventually } from './harness';

/*
 * The feeds' rules with fake event sinks and scripted upstream answers (polls every millisecond;
 * every check waits for an outcome, none for an amount of time).
 */

const logger = pino({ level: 'silent' });
const stamp = (): { at: string; lamport: number } => ({ at: '2030-01-01T00:00:00.000Z', lamport: 7 });

class FakeSink implements EventSink {
  readonly events: { event: string; data: any }[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  closed = false;
  private listeners: (() => void)[] = [];
  send(event: string, data: unknown): void {
    if (!this.closed) this.events.push({ event, data });
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.listeners.splice(0)) listener();
  }
  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.listeners.push(listener);
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON under test
  named(event: string): any[] {
    return this.events.filter((e) => e.event === event).map((e) => e.data);
  }
}

/** A ten-seat map whose first seats are in `states` (the rest free). */
function map(given: SeatStateWord[], held = 0): AvailabilityView {
  const states = [...given, ...Array<SeatStateWord>(10 - given.length).fill('free')];
  return {
    showId: 's1',
    currency: 'EUR',
    seats: states.map((state, i) => ({
      seatId: `A-${i + 1}`,
      label: `A${i + 1}`,
      priceTier: 't',
      amountCents: 100,
      state,
    })),
    pools: [
      {
        areaId: 'PIT',
        name: 'Pit',
        priceTier: 'ga',
        amountCents: 50,
        capacity: 10,
        held,
        sold: 0,
        remaining: 10 - held,
      },
    ],
  };
}

function grpcFailure(code: Code, details: string): Error {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

describe('seat-map diffs', () => {
  it('lists the seats whose state changed and the pools whose counts changed', () => {
    expect(diffAvailability(map(['free', 'free']), map(['free', 'held'], 2))).toEqual({
      seats: [{ seatId: 'A-2', state: 'held' }],
      pools: [{ areaId: 'PIT', capacity: 10, held: 2, sold: 0, remaining: 8 }],
    });
    expect(diffAvailability(map(['sold']), map(['sold']))).toEqual({ seats: [], pools: [] });
  });

  it('a different set of seats is "reshaped": only a full map will do', () => {
    const eleven = map([]);
    eleven.seats.push({ seatId: 'B-1', label: 'B1', priceTier: 't', amountCents: 100, state: 'free' });
    expect(diffAvailability(map([]), eleven)).toBe('reshaped');
  });
});

describe('a show feed', () => {
  let feeds: ShowFeeds;
  afterEach(() => feeds?.stop());

  it('pushes each subscriber the changes since the map it has, and stops polling when the last one leaves', async () => {
    let current = map(['free', 'free', 'free']);
    let polls = 0;
    feeds = new ShowFeeds({
      read: async () => {
        polls += 1;
        return current;
      },
      nodes: 1,
      stamp,
      logger,
      intervalMs: 1,
    });
    const a = new FakeSink();
    feeds.subscribe('s1', 'token-a', a, map(['free', 'free', 'free']));
    expect(feeds.pollers()).toEqual(['s1']);
    current = map(['held', 'free', 'free']);
    await eventually(() => expect(a.named('seats')).toHaveLength(1));
    expect(a.named('seats')[0]).toEqual({
      showId: 's1',
      seats: [{ seatId: 'A-1', state: 'held' }],
      pools: [],
      ...stamp(),
    });

    // A late subscriber whose own snapshot is older than the feed's map gets what it lacks.
    const b = new FakeSink();
    feeds.subscribe('s1', 'token-b', b, map(['free', 'free', 'sold']));
    await eventually(() => expect(b.named('seats')).toHaveLength(1));
    expect(b.named('seats')[0].seats).toEqual([
      { seatId: 'A-1', state: 'held' },
      { seatId: 'A-3', state: 'free' },
    ]);
    expect(a.named('seats')).toHaveLength(1); // nothing new for a
    expect(feeds.subscriberCount()).toBe(2);

    a.close();
    b.close();
    expect(feeds.pollers()).toEqual([]);
    const after = polls;
    current = map(['sold', 'sold', 'sold']);
    // One more poll may have been in flight; none is scheduled after it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(polls - after).toBeLessThanOrEqual(1);
    expect([...a.events, ...b.events].filter((e) => e.event === 'snapshot')).toEqual([]);
  });

  it('sends the full map instead of a diff when most seats changed', async () => {
    feeds = new ShowFeeds({
      read: async () => map(Array<SeatStateWord>(10).fill('sold')),
      nodes: 1,
      stamp,
      logger,
      intervalMs: 1,
    });
    const sink = new FakeSink();
    feeds.subscribe('s1', 't', sink, map([]));
    await eventually(() => expect(sink.named('snapshot')).toHaveLength(1));
    expect(sink.named('snapshot')[0]).toMatchObject({ showId: 's1', lamport: 7 });
    expect(sink.named('snapshot')[0].seats.every((seat: { state: string }) => seat.state === 'sold')).toBe(
      true,
    );
    expect(sink.named('seats')).toEqual([]);
  });

  it('a subscriber whose token is refused alone gets an error and is disconnected', async () => {
    const tokens: string[] = [];
    feeds = new ShowFeeds({
      read: async (_show, token) => {
        tokens.push(token);
        if (token === 'expired')
          throw grpcFailure(Code.UNAUTHENTICATED, 'authorization: token expired; log in again');
        return map(['free']);
      },
      nodes: 1,
      stamp,
      logger,
      intervalMs: 1,
    });
    const good = new FakeSink();
    const stale = new FakeSink();
    feeds.subscribe('s1', 'good', good, map(['free']));
    feeds.subscribe('s1', 'expired', stale, map(['free']));
    await eventually(() => expect(stale.closed).toBe(true));
    expect(stale.named('error')).toEqual([
      {
        error: { code: 'UNAUTHENTICATED', message: 'authorization: token expired; log in again' },
        ...stamp(),
      },
    ]);
    expect(good.closed).toBe(false);
    // Polling goes on with the remaining subscriber's token.
    await eventually(() => expect(tokens[tokens.length - 1]).toBe('good'));
    expect(feeds.pollers()).toEqual(['s1']);
  });

  it('says once that the booking group is not answering, and carries on', async () => {
    let failing = true;
    feeds = new ShowFeeds({
      read: async () => {
        if (failing) throw grpcFailure(Code.UNAVAILABLE, 'no master known yet (election in progress)');
        return map(['held']);
      },
      nodes: 1,
      stamp,
      logger,
      intervalMs: 1,
    });
    const sink = new FakeSink();
    feeds.subscribe('s1', 't', sink, map(['free']));
    await eventually(() => expect(sink.named('upstream-error')).toHaveLength(1));
    failing = false;
    await eventually(() => expect(sink.named('seats')).toHaveLength(1));
    expect(sink.named('upstream-error')).toHaveLength(1);
    expect(sink.closed).toBe(false);
  });

  it('tells a warned subscriber when the group answers again, even when no seat changed', async () => {
    let failing = true;
    feeds = new ShowFeeds({
      read: async () => {
        if (failing) throw grpcFailure(Code.UNAVAILABLE, 'no master known yet (election in progress)');
        return map(['free']);
      },
      nodes: 1,
      stamp,
      logger,
      intervalMs: 1,
    });
    const warned = new FakeSink();
    feeds.subscribe('s1', 't', warned, map(['free']));
    await eventually(() => expect(warned.named('upstream-error')).toHaveLength(1));
    failing = false;
    await eventually(() => expect(warned.named('upstream-ok')).toHaveLength(1));
    // Nothing changed, so no seat event; and "ok" is said once per recovery, not on every poll.
    const polls = warned.events.length;
    await eventually(() => expect(feeds.pollers()).toEqual(['s1']));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(warned.named('upstream-ok')).toHaveLength(1);
    expect(warned.named('seats')).toHaveLength(0);
    expect(warned.events.length).toBe(polls);
  });

  it('reads from one node while it answers, and moves to the next when it does not', async () => {
    const nodesRead: number[] = [];
    feeds = new ShowFeeds({
      read: async (_show, _token, node) => {
        nodesRead.push(node);
        if (nodesRead.length === 3) throw grpcFailure(Code.UNAVAILABLE, 'connect ECONNREFUSED');
        return map([]);
      },
      nodes: 3,
      stamp,
      logger,
      intervalMs: 1,
    });
    feeds.subscribe('s1', 't', new FakeSink(), map([]));
    await eventually(() => expect(nodesRead.length).toBeGreaterThanOrEqual(5));
    const [first] = nodesRead;
    expect(nodesRead.slice(0, 5)).toEqual([first, first, first, (first! + 1) % 3, (first! + 1) % 3]);
  });

  it('ends every stream when the show is gone', async () => {
    feeds = new ShowFeeds({
      read: async () => {
        throw grpcFailure(Code.NOT_FOUND, 'show_id: show "s1" not found');
      },
      nodes: 1,
      stamp,
      logger,
      intervalMs: 1,
    });
    const a = new FakeSink();
    const b = new FakeSink();
    feeds.subscribe('s1', 'a', a, map(['free']));
    feeds.subscribe('s1', 'b', b, map(['free']));
    await eventually(() => expect([a.closed, b.closed]).toEqual([true, true]));
    expect(a.named('error')[0].error.code).toBe('NOT_FOUND');
    expect(feeds.pollers()).toEqual([]);
  });
});

function node(nodeId: number, role: string, term: number, extra: Partial<NodeView> = {}): NodeView {
  return {
    nodeId,
    address: `n${nodeId}:1`,
    reachable: true,
    role,
    term,
    masterId: role === 'master' ? nodeId : 3,
    lamport: 100,
    canServeWrites: role === 'master',
    commitIndex: 5,
    appliedIndex: 5,
    lagEntries: null,
    slaves: [],
    etcdLeaseHolder: null,
    etcdLeaseToken: null,
    ...extra,
  } as NodeView;
}

describe('the cluster feed', () => {
  it('names the fields an operator cares about, not the Lamport clock or ack ages', () => {
    const before = node(3, 'master', 4, {
      slaves: [{ nodeId: 1, matchIndex: 5, lagEntries: 0, lastAckMs: 10 }],
    });
    expect(
      changedFields(before, {
        ...before,
        lamport: 999,
        slaves: [{ nodeId: 1, matchIndex: 5, lagEntries: 0, lastAckMs: 80 }],
      } as NodeView),
    ).toEqual([]);
    expect(changedFields(before, node(3, 'slave', 5, { masterId: 1 }))).toEqual([
      'canServeWrites',
      'masterId',
      'role',
      'slaves',
      'term',
    ]);
    expect(
      changedFields(before, { nodeId: 3, address: 'n3:1', reachable: false, error: 'UNAVAILABLE: down' }),
    ).toContain('reachable');
  });

  it('pushes node changes and master changes while someone watches, and stops polling after', async () => {
    let views: Record<number, NodeView> = { 1: node(1, 'slave', 4), 3: node(3, 'master', 4) };
    let polls = 0;
    const feed = new ClusterFeed({
      nodeIds: [1, 3],
      status: async (id) => {
        polls += 1;
        return views[id]!;
      },
      stamp,
      logger,
      intervalMs: 1,
    });
    const sink = new FakeSink();
    feed.subscribe(sink, Object.values(views));
    expect(feed.running).toBe(true);
    views = {
      1: node(1, 'master', 5, { masterId: 1 }),
      3: { nodeId: 3, address: 'n3:1', reachable: false, error: 'UNAVAILABLE: connection refused' },
    };
    await eventually(() => expect(sink.named('master').map((m) => m.to)).toEqual([1]));
    expect(sink.named('master')[0]).toEqual({ from: 3, to: 1, term: 5, ...stamp() });
    await eventually(() =>
      expect(
        sink
          .named('node')
          .map((n) => n.node.nodeId)
          .sort(),
      ).toEqual([1, 3]),
    );
    expect(sink.named('node').find((n) => n.node.nodeId === 1).changed).toEqual([
      'canServeWrites',
      'masterId',
      'role',
      'term',
    ]);
    sink.close();
    expect(feed.running).toBe(false);
    const after = polls;
    await new Promise((resolve) => setImmediate(resolve));
    expect(polls - after).toBeLessThanOrEqual(2);
  });
});
