import {
  Timeline,
  derivedEvents,
  describeFailover,
  failovers,
  figures,
  formatEvent,
  formatTimeline,
  laneBands,
  median,
} from '../timeline';
import type { Ack, TimelineEvent } from '../timeline';

const T0 = 1_700_000_000_000;
const at = (ms: number): number => T0 + ms;

/** Node 3 is master in term 4; it is killed at +1000; node 2 wins term 5 at +1600 and writes at +1650. */
function killScenario(): { events: TimelineEvent[]; acks: Ack[] } {
  const events: TimelineEvent[] = [
    { wallMs: at(0), node: 3, kind: 'role', role: 'master', term: 4, text: 'master in term 4' },
    { wallMs: at(0), node: 2, kind: 'role', role: 'slave', term: 4, masterId: 3, text: 'slave' },
    { wallMs: at(0), node: 1, kind: 'role', role: 'slave', term: 4, masterId: 3, text: 'slave' },
    { wallMs: at(1000), node: 3, kind: 'inject', fault: 'kill', term: 4, text: 'SIGKILL' },
    { wallMs: at(1040), node: 3, kind: 'unreachable', text: 'stopped answering Status' },
    { wallMs: at(1450), lamport: 900, node: 2, kind: 'election', role: 'candidate', term: 5, text: 'log' },
    { wallMs: at(1500), lamport: 910, node: 2, kind: 'role', role: 'candidate', term: 5, text: 'candidate' },
    {
      wallMs: at(1600),
      lamport: 950,
      node: 2,
      kind: 'role',
      role: 'master',
      term: 5,
      text: 'master in term 5',
    },
    { wallMs: at(1600), lamport: 950, node: 2, kind: 'master', term: 5, text: 'master elected in term 5' },
    { wallMs: at(1620), node: 1, kind: 'role', role: 'slave', term: 5, masterId: 2, text: 'slave' },
    { wallMs: at(3000), node: 3, kind: 'heal', fault: 'kill', text: 'restarted' },
  ];
  const acks: Ack[] = [
    { wallMs: at(900), node: 3, lamport: 800 },
    { wallMs: at(1010), node: 3 }, // answered by the old master just before it died
    { wallMs: at(1650), node: 2, lamport: 960 },
    { wallMs: at(1700), node: 2, lamport: 970 },
  ];
  return { events, acks };
}

describe('failovers (derived from the events)', () => {
  it('measures detection, the new master and its first acknowledged write from the injection', () => {
    const { events, acks } = killScenario();
    const [f, ...more] = failovers(events, acks);
    expect(more).toEqual([]);
    expect(f).toMatchObject({ fault: 'kill', node: 3, termBefore: 4, healedMs: at(3000) });
    expect(f!.master).toMatchObject({ node: 2, term: 5 });
    expect(f!.firstWrite).toEqual({ wallMs: at(1650), node: 2, lamport: 960 });
    expect(figures(f!)).toEqual({ toDetectedMs: 450, toMasterMs: 600, toFirstWriteMs: 650 });
    expect(describeFailover(f!)).toBe(
      'kill node 3 (term 4): detected +450 ms, new master node 2 in term 5 +600 ms, first write +650 ms',
    );
  });

  it('does not count a write the re-elected node acknowledged before anyone noticed the fault', () => {
    const events: TimelineEvent[] = [
      { wallMs: at(0), node: 3, kind: 'inject', fault: 'pause', term: 4, text: 'SIGSTOP' },
      { wallMs: at(900), node: 3, kind: 'role', role: 'candidate', term: 5, text: 'candidate' },
      { wallMs: at(1000), node: 3, kind: 'master', term: 5, text: 'master elected in term 5' },
    ];
    const acks: Ack[] = [
      { wallMs: at(5), node: 3 },
      { wallMs: at(1200), node: 3 },
    ];
    expect(failovers(events, acks)[0]!.firstWrite?.wallMs).toBe(at(1200));
  });

  it("writes a node acknowledged after its tenure (forwarded to a newer master) are not the new master's", () => {
    const events: TimelineEvent[] = [
      { wallMs: at(0), node: 3, kind: 'inject', fault: 'pause', term: 3, text: 'SIGSTOP' },
      { wallMs: at(400), node: 2, kind: 'election', role: 'candidate', term: 3, text: 'log' },
      { wallMs: at(600), node: 2, kind: 'master', term: 4, text: 'master elected in term 4' },
      { wallMs: at(1500), node: 3, kind: 'heal', fault: 'pause', text: 'SIGCONT' },
      { wallMs: at(1650), node: 2, kind: 'election', role: 'slave', term: 5, masterId: 3, text: 'log' },
      { wallMs: at(1700), node: 2, kind: 'role', role: 'slave', term: 5, masterId: 3, text: 'slave' },
    ];
    const [f] = failovers(events, [{ wallMs: at(2000), node: 2 }]);
    expect(f!.master?.node).toBe(2);
    expect(f!.firstWrite).toBeUndefined();
    expect(failovers(events, [{ wallMs: at(1600), node: 2 }])[0]!.firstWrite?.wallMs).toBe(at(1600));
  });

  it('a master of the same term, or writes after the next injection, belong to no failover', () => {
    const events: TimelineEvent[] = [
      { wallMs: at(0), node: 3, kind: 'inject', fault: 'partition', term: 4, text: 'cut' },
      { wallMs: at(100), node: 3, kind: 'master', term: 4, text: 'still master in term 4' },
      { wallMs: at(500), node: 1, kind: 'inject', fault: 'kill', text: 'SIGKILL' },
      { wallMs: at(900), node: 2, kind: 'master', term: 5, text: 'master' },
    ];
    const [partition, kill] = failovers(events, [{ wallMs: at(1000), node: 2 }]);
    expect(partition!.master).toBeUndefined();
    expect(partition!.firstWrite).toBeUndefined();
    expect(describeFailover(partition!)).toBe(
      'partition node 3 (term 4): no role change seen, no new master seen, no write acknowledged by it',
    );
    // Term unknown at injection: any other node as master counts.
    expect(kill!.master?.node).toBe(2);
    expect(kill!.firstWrite?.wallMs).toBe(at(1000));
  });

  it('derives a detected and a first-write event per failover for the printed timeline', () => {
    const { events, acks } = killScenario();
    const derived = derivedEvents(failovers(events, acks));
    expect(derived.map((e) => [e.kind, e.wallMs - T0, e.node])).toEqual([
      ['detected', 1450, 2],
      ['first-write', 1650, 2],
    ]);
  });
});

describe('text timeline', () => {
  it('prints offset, Lamport stamp, node and text in columns', () => {
    const line = formatEvent(
      { wallMs: at(123), lamport: 4567, node: 3, kind: 'master', text: 'master elected in term 5' },
      T0,
    );
    expect(line).toBe('   +123 ms  L=4567     node 3  master elected in term 5');
    expect(formatEvent({ wallMs: at(5), kind: 'note', text: 'x' }, T0)).toBe(
      `     +5 ms  L=-${' '.repeat(16)}x`,
    );
  });

  it('merges derived events and ends with one line per failover', () => {
    const { events, acks } = killScenario();
    const timeline = new Timeline(T0);
    for (const e of [...events].reverse()) timeline.add(e);
    for (const a of acks) timeline.ack(a);
    expect(timeline.lastAckMs(2)).toBe(at(1700));
    const lines = formatTimeline(timeline.events(), timeline.acks(), T0);
    expect(lines.filter((l) => l.includes('first write acknowledged by the new master'))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(/^failover: kill node 3 \(term 4\): .*first write \+650 ms$/);
    // Wall-time order even though the events were added backwards.
    const offsets = lines.slice(0, -1).map((l) => Number(/\+(\d+) ms/.exec(l)![1]));
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  });
});

describe('lane bands', () => {
  it('shows down while killed, unreachable while booting, then the observed role; partitions overlay', () => {
    const { events } = killScenario();
    events.push(
      { wallMs: at(3800), node: 3, kind: 'role', role: 'slave', term: 5, masterId: 2, text: 'slave' },
      { wallMs: at(4000), node: 1, kind: 'inject', fault: 'partition', text: 'cut' },
      { wallMs: at(4500), node: 1, kind: 'heal', fault: 'partition', text: 'healed' },
    );
    const bands = laneBands(events, [1, 2, 3], at(0), at(5000));
    const of = (node: number) =>
      bands.filter((b) => b.node === node).map((b) => [b.fromMs - T0, b.toMs - T0, b.state, b.partitioned]);
    expect(of(3)).toEqual([
      [0, 1000, 'master', false],
      [1000, 3000, 'down', false],
      [3000, 3800, 'unreachable', false],
      [3800, 5000, 'slave', false],
    ]);
    expect(of(2)).toEqual([
      [0, 1500, 'slave', false],
      [1500, 1600, 'candidate', false],
      [1600, 5000, 'master', false],
    ]);
    expect(of(1)).toEqual([
      [0, 4000, 'slave', false],
      [4000, 4500, 'slave', true],
      [4500, 5000, 'slave', false],
    ]);
  });

  it('paused until resumed; a node never observed is unknown', () => {
    const events: TimelineEvent[] = [
      { wallMs: at(100), node: 1, kind: 'inject', fault: 'pause', text: 'SIGSTOP' },
      { wallMs: at(300), node: 1, kind: 'heal', fault: 'pause', text: 'SIGCONT' },
    ];
    const bands = laneBands(events, [1], at(0), at(400));
    expect(bands.map((b) => [b.fromMs - T0, b.toMs - T0, b.state])).toEqual([
      [0, 100, 'unknown'],
      [100, 300, 'paused'],
      [300, 400, 'unknown'],
    ]);
  });
});

it('median', () => {
  expect(median([])).toBeUndefined();
  expect(median([5, 1, 3])).toBe(3);
  expect(median([4, 1, 3, 2])).toBe(3);
});
