import { FakeNetwork } from '../fake-network';
import type { FakeNetworkOptions } from '../fake-network';
import type { Message, NodeId } from '../types';
import { SafetyMonitor } from './safety-monitor';

// Whole-group behaviour on the fake network, with the safety monitor checking every instant.

function group(options: FakeNetworkOptions = {}): FakeNetwork {
  const net = new FakeNetwork({ writes: true, ...options });
  new SafetyMonitor(net);
  return net;
}

function elect(net: FakeNetwork, maxTicks = 100): NodeId {
  net.runUntil((n) => n.agreedMaster() !== undefined, maxTicks);
  const master = net.agreedMaster();
  if (master === undefined) throw new Error('no master');
  return master;
}

/** Records every message sent (a drop rule that never drops). */
function spy(net: FakeNetwork): Message[] {
  const sent: Message[] = [];
  net.dropWhere((m) => {
    sent.push(m);
    return false;
  });
  return sent;
}

const five = [1, 2, 3, 4, 5];

describe('bully election', () => {
  it('the highest live id wins', () => {
    const net = group({ ids: five });
    expect(elect(net)).toBe(5);
    net.crash(5);
    expect(elect(net)).toBe(4);
    net.crash(4);
    expect(elect(net)).toBe(3);
    // With two of five left there is no majority: nobody may serve.
    net.crash(3);
    net.tick(100);
    expect(net.serving()).toEqual([]);
  });

  it('lower ids answer and stand down: only the highest live node proposes itself', () => {
    const net = group({ ids: five });
    elect(net);
    const sent = spy(net);
    net.crash(5);
    expect(elect(net)).toBe(4);
    const proposers = new Set(sent.filter((m) => m.type === 'coordinator').map((m) => m.from));
    expect(proposers).toEqual(new Set([4]));
    const answers = sent.filter((m) => m.type === 'answer');
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((m) => m.from > m.to)).toBe(true);
  });

  describe('a master that misses heartbeats is replaced', () => {
    it('a few lost heartbeats (less than failureTicks) change nothing', () => {
      const net = group();
      expect(elect(net)).toBe(3);
      const term = net.termOf(3);
      const restore = net.dropWhere((m) => m.type === 'heartbeat');
      net.tick(5); // failureTicks is 8
      restore();
      net.tick(50);
      expect(net.agreedMaster()).toBe(3);
      expect(net.termOf(1)).toBe(term);
    });

    it('a crashed master is replaced within failure + jitter + answer timeout (+ a round trip)', () => {
      // Silence alone (no refused connection to go on, as when the master's host is gone).
      const net = group({ probes: 'ignore' });
      elect(net);
      net.crash(3);
      const ticks = net.runUntil((n) => n.agreedMaster() === 2, 100);
      // ≤1 (heartbeat phase) + 8 (failureTicks) + ≤2 (jitter) + 4 (2 waits for an ANSWER from the
      // dead 3) + probe and vote round trips (same tick here): ≤ 15 ticks, 750 ms at 50 ms a tick.
      expect(ticks).toBeLessThanOrEqual(15);
    });

    it('a cut-off master stops serving before the majority elects another', () => {
      const net = group();
      elect(net);
      net.isolate(3);
      const ticks = net.runUntil((n) => n.agreedMaster([1, 2]) === 2, 100);
      expect(ticks).toBeLessThanOrEqual(15);
      expect(net.state(3)).toMatchObject({ role: 'slave', canServeWrites: false });
    });
  });

  describe('strong evidence (a refused connection) against silence', () => {
    it("a killed master's slaves suspect it as soon as its port refuses: long before the silence timeout", () => {
      const timings = { failureTicks: 30 };
      const withProbes = group({ timings });
      elect(withProbes);
      withProbes.crash(3);
      const fast = withProbes.runUntil((n) => n.agreedMaster() === 2, 100);
      // Probe after 3 silent ticks, answered a tick later, then one proposal round: nowhere near 30.
      expect(fast).toBeLessThan(10);

      const silenceOnly = group({ timings, probes: 'ignore' });
      elect(silenceOnly);
      silenceOnly.crash(3);
      const slow = silenceOnly.runUntil((n) => n.agreedMaster() === 2, 100);
      expect(slow).toBeGreaterThanOrEqual(timings.failureTicks);
    });

    it('a paused master gives no evidence: nobody campaigns before the silence timeout', () => {
      const net = group({ timings: { failureTicks: 30 } });
      elect(net);
      const term = net.termOf(3);
      net.pause(3);
      net.tick(25);
      expect(net.termOf(1)).toBe(term);
      expect(net.termOf(2)).toBe(term);
      expect(net.state(1)?.role).toBe('slave');
      expect(net.state(2)?.role).toBe('slave');
      net.resume(3);
      net.tick(50);
      expect(net.agreedMaster()).toBe(3);
      expect(net.termOf(3)).toBe(term);
    });

    it('a cut-off master gives no evidence either: the majority waits for the silence timeout', () => {
      const net = group({ timings: { failureTicks: 30 } });
      elect(net);
      net.isolate(3);
      const ticks = net.runUntil((n) => n.agreedMaster([1, 2]) === 2, 200);
      expect(ticks).toBeGreaterThanOrEqual(30);
    });

    it('the new master does not wait out the lease of a master its voters found dead', () => {
      const timings = { failureTicks: 30 };
      const net = group({ timings });
      elect(net);
      net.crash(3);
      net.runUntil((n) => n.state(2)?.role === 'master', 100);
      const ticks = net.runUntil((n) => n.serving().includes(2), 100);
      // Only the first heartbeat round trip; the dead master's lease (up to 30 ticks) is not waited out.
      expect(ticks).toBeLessThan(5);
    });

    it('a node reported down counts as alive again as soon as anything arrives from it', () => {
      const net = group({ timings: { failureTicks: 30 } });
      elect(net);
      net.crash(3);
      expect(elect(net)).toBe(2);
      net.restart(3);
      // The restarted highest id follows 2, catches up and takes over, as any returning node does.
      expect(elect(net, 200)).toBe(3);
      // And a second kill is again detected by evidence, not by silence.
      net.crash(3);
      expect(net.runUntil((n) => n.agreedMaster() === 2, 100)).toBeLessThan(10);
    });
  });

  describe('a paused master that wakes up is fenced', () => {
    it('its term is stale: it steps down on first contact, and nothing it writes is acknowledged', () => {
      const net = group();
      elect(net);
      const oldTerm = net.termOf(3);
      const ackedBefore = new Map(net.acknowledged);
      net.pause(3);
      expect(elect(net)).toBe(2);
      net.tick(20);

      const resumedAt = net.roleEvents.length;
      net.resume(3);
      net.tick(1); // its buffered messages arrive: heartbeats of a newer term
      const [first] = net.roleEvents.slice(resumedAt).filter((e) => e.id === 3);
      expect(first).toMatchObject({ role: 'slave', masterId: 2 });
      expect(first?.term).toBeGreaterThan(oldTerm);
      expect(net.state(3)?.canServeWrites).toBe(false);
      // (Being the highest id it then catches up and takes over, in a newer term still.)
      expect(elect(net)).toBe(3);
      expect(net.termOf(3)).toBeGreaterThan(first?.term ?? 0);
      const staleAcks = [...net.acknowledged].filter(
        ([index, term]) => term === oldTerm && !ackedBefore.has(index),
      );
      expect(staleAcks).toEqual([]);
    });

    it('paused and cut off, it may think it still serves, but no write of its term is acknowledged', () => {
      const net = group();
      elect(net);
      const oldTerm = net.termOf(3);
      const ackedBefore = new Map(net.acknowledged);
      net.isolate(3);
      net.pause(3);
      expect(elect(net)).toBe(2);
      net.tick(20);

      net.resume(3);
      net.tick(1);
      // Its tick counter stopped while paused, so its lease looks fresh: the clock-pause hazard.
      expect(net.state(3)).toMatchObject({ role: 'master', term: oldTerm });
      net.runUntil((n) => n.state(3)?.role === 'slave', 10); // lease runs out on its own clock
      net.heal();
      net.runUntil((n) => n.agreedMaster() === 3, 100); // and later takes over, caught up
      const staleAcks = [...net.acknowledged].filter(
        ([index, term]) => term === oldTerm && !ackedBefore.has(index),
      );
      expect(staleAcks).toEqual([]);
    });
  });

  it('a returning higher id catches up before taking over', () => {
    const net = group({ catchUp: 'manual' });
    elect(net);
    net.crash(3);
    expect(elect(net)).toBe(2);
    net.tick(10); // master 2 commits more writes that 3 lacks
    const termOf2 = net.termOf(2);

    net.restart(3);
    net.runUntil((n) => n.state(3)?.masterId === 2, 10);
    // 3 follows and asks to catch up; until replication says it has, it must not depose 2.
    for (let i = 0; i < 100; i++) {
      net.tick();
      expect(net.serving()).toEqual([2]);
      expect(net.termOf(3)).toBe(termOf2);
    }
    net.catchUpDone(3, net.log(2).commit);
    net.runUntil((n) => n.agreedMaster() === 3, 50);
    expect(net.log(3).entries.slice(0, net.log(2).commit)).toEqual(
      net.log(2).entries.slice(0, net.log(2).commit),
    );
  });

  describe('a catching-up node never disturbs the group', () => {
    /** Terms any node moved into, in order of first appearance. */
    function termsSeen(net: FakeNetwork): number[] {
      return [...new Set(net.roleEvents.map((e) => e.term))];
    }

    it('a lagging highest id cannot win while it is behind: the up-to-date lower id is elected, then the highest id catches up and takes over', () => {
      const net = group({ catchUp: 'manual' });
      expect(elect(net)).toBe(3);
      net.crash(3);
      expect(elect(net)).toBe(2);
      net.tick(10); // 1 and 2 commit writes of 2's term
      net.crash(2);
      // 3 comes back from an old backup: a short log of an older term, far behind what 1 knows is committed.
      net.log(3).entries = net.log(3).entries.slice(0, 1);
      net.log(3).commit = 1;
      net.restart(3);
      const termBefore = net.termOf(1);
      const from = net.roleEvents.length;

      // 1 and 3 are a majority: 1 must win, although 3 has the higher id and asks for its vote.
      const ticks = net.runUntil((n) => n.agreedMaster([1, 3]) === 1, 40);
      // 3 answered 1's first ELECTION before it knew it was behind: one coordinator timeout, then an
      // answer timeout it stays silent through (15 ticks on this network).
      expect(ticks).toBeLessThanOrEqual(20);
      expect(net.roleEvents.slice(from).filter((e) => e.id === 3 && e.role === 'master')).toEqual([]);
      expect(net.termOf(1)).toBe(termBefore + 1);

      // 3 follows 1 and asks to catch up; until replication says it has, it does not take over.
      for (let i = 0; i < 100; i++) {
        net.tick();
        expect(net.serving()).toEqual([1]);
      }
      expect(net.termOf(3)).toBe(termBefore + 1);
      net.catchUpDone(3, net.log(1).commit);
      net.runUntil((n) => n.agreedMaster([1, 3]) === 3, 20);
    });

    it('a lagging node never changes the term while it catches up', () => {
      // 3 (the highest id) rejoins under master 2 and rebuilds from a snapshot that takes minutes;
      // then 2 dies. Before the rule: 3 won, could not catch up, stepped down after
      // catchUpTimeoutTicks, won again... with a new term and a write stall every round.
      const net = group();
      expect(elect(net)).toBe(3);
      net.crash(3);
      expect(elect(net)).toBe(2);
      net.tick(10);
      const resume = net.stall(3);
      net.restart(3);
      net.runUntil((n) => n.state(3)?.masterId === 2, 10);
      net.tick(20);
      const sent = spy(net);
      const termsBefore = termsSeen(net).length;

      net.crash(2);
      const failover = net.runUntil((n) => n.agreedMaster([1, 3]) === 1, 100);
      // The one term change is the failover itself; 3 never proposed a term for real.
      expect(termsSeen(net).length).toBe(termsBefore + 1);
      const term = net.termOf(1);
      for (let i = 0; i < 400; i++) {
        net.tick(); // twice catchUpTimeoutTicks: 3 is still rebuilding
        expect(net.serving()).toEqual([1]);
        expect(net.termOf(3)).toBe(term);
      }
      expect(sent.filter((m) => m.from === 3 && m.type === 'coordinator' && !m.probe)).toEqual([]);
      // And it did not keep 1 waiting: 2's refused port, then an answer timeout 3 stays silent through
      // (7 ticks on this network), as fast as a failover with nobody behind.
      expect(failover).toBeLessThan(10);

      resume(); // the snapshot is in: 3 catches up as 1's slave, then takes over
      net.runUntil((n) => n.agreedMaster([1, 3]) === 3, 50);
      expect(net.termOf(3)).toBe(term + 1);
    });

    it('the highest id that is not behind wins, not a lower one; the laggard takes over once caught up', () => {
      const net = group({ ids: five });
      expect(elect(net)).toBe(5);
      net.crash(5);
      expect(elect(net)).toBe(4);
      net.tick(10);
      const resume = net.stall(5);
      net.restart(5);
      net.runUntil((n) => n.state(5)?.masterId === 4, 10);
      const sent = spy(net);

      net.crash(4);
      // 3 asks 4 (the master it lost) and 5 (silent while behind), waits for neither, and wins.
      expect(elect(net)).toBe(3);
      const proposers = new Set(sent.filter((m) => m.type === 'coordinator').map((m) => m.from));
      expect(proposers).toEqual(new Set([3]));
      resume();
      net.runUntil((n) => n.agreedMaster() === 5, 50);
    });
  });

  it('a slave a few entries short of the commit index (within catchUpSlackEntries) still campaigns and wins first', () => {
    const winnerAfterKill = (catchUpSlackEntries: number): NodeId => {
      const net = group({ timings: { catchUpSlackEntries } });
      elect(net);
      net.tick(10); // the master commits a few entries on every node
      net.crash(3);
      // Node 2 missed the last two committed entries (its view lags the announced commit index).
      const log2 = net.log(2);
      log2.entries = log2.entries.slice(0, log2.commit - 2);
      const from = net.roleEvents.length;
      const firstMaster = () => net.roleEvents.slice(from).find((e) => e.role === 'master');
      net.runUntil(() => firstMaster() !== undefined, 100);
      return firstMaster()!.id;
    };
    expect(winnerAfterKill(5)).toBe(2);
    expect(winnerAfterKill(0)).toBe(1);
  });

  describe('a planned hand-over to a returning higher id', () => {
    function returned(timings = { failureTicks: 30 }): FakeNetwork {
      const net = group({ timings, catchUp: 'manual' });
      elect(net);
      net.crash(3);
      expect(elect(net)).toBe(2);
      net.tick(10);
      net.restart(3);
      net.runUntil((n) => n.state(3)?.masterId === 2, 10);
      net.tick(40); // long past the first heartbeats: 1's acks give 2 a full lease
      net.catchUpDone(3, net.log(2).commit);
      return net;
    }

    /** Ticks from the last instant 2 served to the first instant 3 serves (the monitor: never both). */
    function writeGap(net: FakeNetwork): number {
      let lastServedBy2 = net.time;
      const served = net.runUntil((n) => {
        if (n.serving().includes(2)) lastServedBy2 = n.time;
        return n.serving().includes(3);
      }, 200);
      expect(served).toBeGreaterThan(0);
      return net.time - lastServedBy2;
    }

    it('the old master accepts, steps down and is not waited for: a gap of a round trip, not a lease', () => {
      const net = returned();
      // 30 ticks of silence timeout, and so up to ~30 ticks of lease on 1's acks to 2.
      expect(writeGap(net)).toBeLessThanOrEqual(3);
    });

    it("the new master copies the old master's newest entries: it waits a round trip for its acceptance", () => {
      const net = returned();
      // 2 wrote an entry that is on no other node yet; its acceptance arrives a tick after 1's.
      net.log(2).entries.push(net.termOf(2));
      net.delayWhere((m) => m.type === 'coordinatorAck' && m.from === 2, 1);
      net.runUntil((n) => n.state(3)?.role === 'master', 50);
      const request = net.catchUpRequests.filter((r) => r.id === 3 && r.role === 'master').at(-1);
      expect(request?.request).toEqual({ fromNode: 2, upToIndex: net.log(2).entries.length });
    });

    it('if the old master cannot accept, its lease on the other voters is waited out', () => {
      const net = returned();
      net.dropWhere((m) => m.type === 'coordinatorAck' && m.from === 2);
      expect(writeGap(net)).toBeGreaterThanOrEqual(20);
    });
  });

  it('message loss and duplication: once the network heals, exactly one master serves', () => {
    for (let seed = 1; seed <= 25; seed++) {
      const net = group({ ids: five, seed });
      net.setDropRate(0.3);
      net.setDuplicateRate(0.2);
      net.setDelay(0, 2);
      net.tick(300);
      net.setDropRate(0);
      net.setDuplicateRate(0);
      net.setDelay(0);
      expect(elect(net, 150)).toBe(5);
    }
  });

  it('a minority partition cannot elect a serving master', () => {
    const net = group({ ids: five });
    expect(elect(net)).toBe(5);
    const term = net.termOf(5);
    for (const a of [4, 5]) for (const b of [1, 2, 3]) net.cut(a, b);

    net.runUntil((n) => n.agreedMaster() === undefined && n.serving().join() === '3', 50);
    net.tick(200);
    for (const id of [4, 5]) {
      expect(net.state(id)?.canServeWrites).toBe(false);
      // Re-proposing without a majority does not inflate the term (which would disrupt the majority on heal).
      expect(net.termOf(id)).toBe(term);
    }
    expect(net.serving()).toEqual([3]);

    net.heal();
    expect(elect(net)).toBe(5);
  });

  it('terms never go backwards across restart', () => {
    const net = group({ ids: five, seed: 7 });
    elect(net);
    let highest = new Map(five.map((id) => [id, net.persisted(id).term]));
    for (let round = 0; round < 30; round++) {
      const victim = five[round % 5] ?? 1;
      net.crash(victim);
      net.tick(round % 7);
      net.restart(victim);
      expect(net.termOf(victim)).toBe(highest.get(victim));
      net.tick(15);
      for (const id of five) expect(net.persisted(id).term).toBeGreaterThanOrEqual(highest.get(id) ?? 0);
      highest = new Map(five.map((id) => [id, net.persisted(id).term]));
    }
    expect(elect(net)).toBe(5);
  });
});
