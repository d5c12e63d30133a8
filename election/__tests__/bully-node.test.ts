import { BullyNode } from '../bully';
import { makeConfig } from '../config';
import { IllegalTransitionError } from '../errors';
import { FakeLog } from '../fake-network';
import type { Message, PersistentState, Ready } from '../types';

// One node driven by hand: every message it receives is written out, every reply is inspected.

function makeNode(
  id: number,
  options: { peers?: number[]; persisted?: PersistentState; log?: FakeLog } = {},
): BullyNode {
  const config = makeConfig({ id, peers: options.peers ?? [1, 2, 3] });
  return new BullyNode(config, options.persisted ?? { term: 0 }, options.log ?? new FakeLog());
}

/** Plays the shell: takes the node's Ready and acknowledges it. */
function drain(node: BullyNode): Ready {
  const ready = node.ready();
  node.advance(ready);
  return ready;
}

function tickAndCollect(node: BullyNode, ticks: number): Message[] {
  const sent: Message[] = [];
  for (let i = 0; i < ticks; i++) {
    node.tick();
    sent.push(...drain(node).messages);
  }
  return sent;
}

function logOf(terms: number[], commit = terms.length): FakeLog {
  const log = new FakeLog();
  log.entries = terms;
  log.commit = commit;
  return log;
}

const heartbeat = (from: number, to: number, term: number, commitIndex = 0): Message => ({
  type: 'heartbeat',
  from,
  to,
  term,
  commitIndex,
  round: 0,
});

const coordinator = (
  from: number,
  to: number,
  term: number,
  lastTerm = 0,
  lastIndex = 0,
  probe = false,
): Message => ({
  type: 'coordinator',
  from,
  to,
  term,
  probe,
  lastTerm,
  lastIndex,
});

describe('BullyNode', () => {
  it('starts as a slave and announces it', () => {
    const node = makeNode(2);
    expect(drain(node)).toEqual({
      messages: [],
      roleChange: { role: 'slave', term: 0, masterId: undefined },
    });
    expect(node.hasReady()).toBe(false);
  });

  describe('lower ids answer and stand down', () => {
    it('a higher id answers ELECTION from a lower id, with its term', () => {
      const node = makeNode(3, { persisted: { term: 4 } });
      drain(node);
      node.step({ type: 'election', from: 1, to: 3, term: 2 });
      expect(drain(node).messages).toContainEqual({ type: 'answer', from: 3, to: 1, term: 4 });
    });

    it('a suspecting node sends ELECTION to higher ids only, then probes, then proposes itself if none answers', () => {
      const node = makeNode(1);
      drain(node);
      const sent = tickAndCollect(node, 8); // failureTicks
      expect(sent).toEqual([
        { type: 'election', from: 1, to: 2, term: 0 },
        { type: 'election', from: 1, to: 3, term: 0 },
      ]);
      expect(node.state().role).toBe('candidate');
      const probes = tickAndCollect(node, 4); // answerTimeoutTicks
      expect(probes).toEqual([
        { type: 'coordinator', from: 1, to: 2, term: 1, probe: true, lastTerm: 0, lastIndex: 0 },
        { type: 'coordinator', from: 1, to: 3, term: 1, probe: true, lastTerm: 0, lastIndex: 0 },
      ]);
      const yes = {
        type: 'coordinatorAck',
        to: 1,
        term: 1,
        probe: true,
        accepted: true,
        lastTerm: 0,
        lastIndex: 0,
        priorLeaseTicks: 0,
        commitIndex: 0,
      } as const;
      node.step({ ...yes, from: 2 });
      expect(drain(node).messages).toEqual([
        { type: 'coordinator', from: 1, to: 2, term: 1, probe: false, lastTerm: 0, lastIndex: 0 },
        { type: 'coordinator', from: 1, to: 3, term: 1, probe: false, lastTerm: 0, lastIndex: 0 },
      ]);
      expect(node.state()).toMatchObject({ role: 'candidate', term: 0 });
      node.step({ ...yes, from: 3, probe: false });
      expect(node.state()).toMatchObject({ role: 'master', term: 1 });
    });

    it('a node that got an ANSWER never proposes itself; it waits, then asks again', () => {
      const node = makeNode(1);
      drain(node);
      tickAndCollect(node, 8);
      node.step({ type: 'answer', from: 2, to: 1, term: 0 });
      // Node 2 is alive (it answers every ELECTION) but never announces itself.
      const sent: Message[] = [];
      for (let i = 0; i < 40; i++) {
        node.tick();
        const messages = drain(node).messages;
        sent.push(...messages);
        if (messages.some((m) => m.type === 'election'))
          node.step({ type: 'answer', from: 2, to: 1, term: 0 });
      }
      expect(sent.filter((m) => m.type === 'coordinator')).toEqual([]);
      expect(sent.filter((m) => m.type === 'election').length).toBeGreaterThanOrEqual(4);
      expect(node.state()).toMatchObject({ role: 'candidate', term: 0 });
    });
  });

  describe('the Ready contract', () => {
    it('a vote comes with the persist it depends on: term and votedFor', () => {
      const node = makeNode(2);
      drain(node);
      node.step(coordinator(3, 2, 1));
      const ready = drain(node);
      expect(ready.persist).toEqual({ term: 1, votedFor: 3 });
      expect(ready.messages).toEqual([
        {
          type: 'coordinatorAck',
          from: 2,
          to: 3,
          term: 1,
          probe: false,
          accepted: true,
          lastTerm: 0,
          lastIndex: 0,
          priorLeaseTicks: 8,
          commitIndex: 0,
        },
      ]);
    });

    it('a probe (pre-vote) is answered but changes nothing: no term, no vote, no persist', () => {
      const node = makeNode(2);
      drain(node);
      node.step(coordinator(3, 2, 1, 0, 0, true));
      const ready = drain(node);
      expect(ready.persist).toBeUndefined();
      expect(ready.messages).toMatchObject([
        { type: 'coordinatorAck', to: 3, term: 1, probe: true, accepted: true },
      ]);
      expect(node.state()).toMatchObject({ role: 'slave', term: 0 });
      // Still free to vote for someone else in that term.
      node.step(coordinator(1, 2, 1));
      expect(drain(node).persist).toEqual({ term: 1, votedFor: 1 });
    });

    it('one vote per term, across a restart', () => {
      const node = makeNode(2);
      drain(node);
      node.step(coordinator(3, 2, 1));
      const persisted = drain(node).persist;
      expect(persisted).toBeDefined();

      const restarted = makeNode(2, { persisted });
      drain(restarted);
      restarted.step(coordinator(1, 2, 1));
      expect(drain(restarted).messages).toMatchObject([
        { type: 'coordinatorAck', to: 1, term: 1, accepted: false },
      ]);
      // The node it voted for may ask again (a re-sent COORDINATOR) and gets the same answer.
      restarted.step(coordinator(3, 2, 1));
      expect(drain(restarted).messages).toMatchObject([
        { type: 'coordinatorAck', to: 3, term: 1, accepted: true },
      ]);
    });

    it('a new master cannot serve writes until its term is persisted', () => {
      const node = makeNode(1, { peers: [1] });
      drain(node);
      for (let i = 0; i < 8; i++) node.tick();
      expect(node.state()).toMatchObject({ role: 'master', term: 1, canServeWrites: false });
      const ready = node.ready();
      expect(ready.persist).toEqual({ term: 1, votedFor: 1 });
      expect(ready.roleChange).toEqual({ role: 'master', term: 1, masterId: 1 });
      node.advance(ready);
      expect(node.canServeWrites()).toBe(true);
    });

    it('messages produced between ready() and advance() are kept for the next ready()', () => {
      const node = makeNode(3);
      drain(node);
      node.step({ type: 'election', from: 1, to: 3, term: 0 });
      const first = node.ready();
      node.step({ type: 'election', from: 2, to: 3, term: 0 });
      node.advance(first);
      expect(drain(node).messages).toEqual([{ type: 'answer', from: 3, to: 2, term: 0 }]);
    });
  });

  it('an illegal transition throws', () => {
    const master = makeNode(1, { peers: [1] });
    for (let i = 0; i < 8; i++) master.tick();
    expect(master.state().role).toBe('master');
    // Transitions are private; reach in to prove the guard holds even if a handler gets it wrong.
    expect(() => (master as unknown as { becomeCandidate(from?: number): void }).becomeCandidate()).toThrow(
      IllegalTransitionError,
    );
    expect(() => (makeNode(1) as unknown as { becomeSlave(): void }).becomeSlave()).toThrow(
      'illegal role transition slave → slave',
    );
  });

  describe('terms', () => {
    it('a message from a lower term is answered with the current term so the sender learns it', () => {
      const node = makeNode(2, { persisted: { term: 5 } });
      drain(node);
      node.step({ ...heartbeat(3, 2, 3), round: 17 } as Message);
      expect(drain(node).messages).toEqual([{ type: 'heartbeatAck', from: 2, to: 3, term: 5, round: 17 }]);
      expect(node.state()).toMatchObject({ term: 5, masterId: undefined });
    });

    it('a higher term makes a candidate step down to slave, and is persisted', () => {
      const node = makeNode(1);
      drain(node);
      tickAndCollect(node, 8);
      expect(node.state().role).toBe('candidate');
      node.step(heartbeat(3, 1, 7));
      const ready = drain(node);
      expect(ready.persist).toEqual({ term: 7, votedFor: undefined });
      expect(ready.roleChange).toEqual({ role: 'slave', term: 7, masterId: 3 });
    });

    it('a newer term learnt from replication makes a candidate step down, and is persisted', () => {
      const node = makeNode(1);
      drain(node);
      tickAndCollect(node, 8);
      expect(node.state().role).toBe('candidate');
      node.observeTerm(4);
      const ready = drain(node);
      expect(ready.persist).toEqual({ term: 4, votedFor: undefined });
      expect(ready.roleChange).toEqual({ role: 'slave', term: 4, masterId: undefined });
      // The same or an older term changes nothing.
      node.observeTerm(4);
      node.observeTerm(2);
      expect(node.hasReady()).toBe(false);
      expect(node.state()).toMatchObject({ role: 'slave', term: 4 });
    });

    it('a candidate that cannot reach a majority keeps probing without inflating any term', () => {
      const node = makeNode(5, { peers: [1, 2, 3, 4, 5] });
      drain(node);
      const sent = tickAndCollect(node, 200);
      const proposedTerms = new Set(sent.filter((m) => m.type === 'coordinator').map((m) => m.term));
      expect(proposedTerms).toEqual(new Set([1]));
      expect(node.state()).toMatchObject({ role: 'candidate', term: 0 });
      expect(node.ready().persist).toBeUndefined();
    });
  });

  describe('leader stickiness', () => {
    it("a live master's slave refuses a higher id whose log is behind the commit index", () => {
      const node = makeNode(1, { log: logOf([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]) });
      drain(node);
      node.step(heartbeat(2, 1, 1, 10));
      drain(node);
      node.step(coordinator(3, 1, 2, 1, 3));
      const refused = drain(node);
      expect(refused.messages).toMatchObject([{ type: 'coordinatorAck', to: 3, term: 1, accepted: false }]);
      expect(refused.persist).toBeUndefined();

      node.step(coordinator(3, 1, 2, 1, 10));
      const accepted = drain(node);
      // It acked master 2 just now, so 3 must wait out 2's possible lease before serving.
      expect(accepted.messages).toMatchObject([
        { type: 'coordinatorAck', to: 3, term: 2, accepted: true, priorLeaseTicks: 8 },
      ]);
      expect(accepted.persist).toEqual({ term: 2, votedFor: 3 });
    });

    it('a lower id never deposes a live master', () => {
      const node = makeNode(2);
      drain(node);
      node.step(heartbeat(3, 2, 1));
      drain(node);
      node.step(coordinator(1, 2, 2));
      expect(drain(node).messages).toMatchObject([
        { type: 'coordinatorAck', to: 1, term: 1, accepted: false },
      ]);
      expect(node.state()).toMatchObject({ role: 'slave', term: 1, masterId: 3 });
    });

    it('once the master has been silent for failureTicks, the same proposal is accepted', () => {
      // Four nodes: node 4 is a higher id that is not the master, so node 2, campaigning itself,
      // still waits for ANSWERs before it proposes and can give its vote meanwhile.
      const node = makeNode(2, { peers: [1, 2, 3, 4] });
      drain(node);
      node.step(heartbeat(3, 2, 1));
      drain(node);
      for (let i = 0; i < 7; i++) node.tick();
      drain(node);
      node.step(coordinator(1, 2, 2));
      expect(drain(node).messages).toMatchObject([{ accepted: false }]);
      node.tick();
      node.step(coordinator(1, 2, 2));
      const acks = drain(node).messages.filter((m) => m.type === 'coordinatorAck');
      expect(acks).toMatchObject([{ accepted: true, term: 2 }]);
    });
  });

  describe('a catching-up node stands aside', () => {
    const refusal = (lastTerm: number, commitIndex: number): Message => ({
      type: 'coordinatorAck',
      from: 1,
      to: 3,
      term: 0,
      probe: true,
      accepted: false,
      lastTerm,
      lastIndex: commitIndex,
      priorLeaseTicks: 0,
      commitIndex,
    });
    const election = (from: number, to: number, term = 0): Message => ({ type: 'election', from, to, term });

    it('a voter with no live master refuses a proposer (probe and real) whose log is behind what it knows is committed', () => {
      const node = makeNode(1, { log: logOf([1, 1, 2, 2, 2]) });
      drain(node);
      tickAndCollect(node, 30); // no master anywhere: leader stickiness plays no part
      for (const probe of [true, false]) {
        node.step(coordinator(3, 1, 1, 1, 2, probe)); // an older last term
        node.step(coordinator(3, 1, 1, 2, 4, probe)); // the same last term, short of the commit index
        const ready = drain(node);
        expect(ready.persist).toBeUndefined();
        // The refusal says where the voter's log ends and what it knows is committed.
        const refusal = {
          type: 'coordinatorAck',
          to: 3,
          term: 0,
          probe,
          accepted: false,
          lastTerm: 2,
          lastIndex: 5,
          commitIndex: 5,
        };
        expect(ready.messages).toMatchObject([refusal, refusal]);
      }
      // Caught up (or with a log of a newer term), the same proposer is accepted.
      node.step(coordinator(3, 1, 1, 2, 5));
      expect(drain(node).persist).toEqual({ term: 1, votedFor: 3 });
    });

    it.each([
      ['a voter whose log ends in a newer term', 2, 2],
      ['a voter that knows a higher commit index', 1, 5],
    ])(
      'a proposer refused by %s stands aside: it neither answers ELECTION nor campaigns until its log has caught up',
      (_who, lastTerm, commitIndex) => {
        const log = logOf([1, 1]);
        const node = makeNode(3, { log });
        drain(node);
        const probes = tickAndCollect(node, 8); // no master: 3, the highest id, probes at once
        expect(probes.filter((m) => m.type === 'coordinator')).toHaveLength(2);
        node.step(refusal(lastTerm, commitIndex));
        expect(drain(node).roleChange).toEqual({ role: 'slave', term: 0, masterId: undefined });
        node.step(election(1, 3));
        expect(drain(node).messages).toEqual([]);
        // Its own silence timeout comes and goes: it asks again only with the hint of a newer term,
        // which it forgets then (that voter may have died), never with a log short of a commit index.
        const later = tickAndCollect(node, 30).filter((m) => m.type === 'coordinator');
        expect(later.every((m) => m.type === 'coordinator' && m.probe)).toBe(true);
        if (commitIndex > log.entries.length) expect(later).toEqual([]);
        else expect(later.length).toBeGreaterThan(0);
        expect(node.state()).toMatchObject({ term: 0 });

        log.entries = [1, 1, 2, 2, 2]; // caught up
        drain(node);
        node.step(election(1, 3));
        expect(drain(node).messages).toContainEqual({ type: 'answer', from: 3, to: 1, term: 0 });
      },
    );

    it("a slave behind its master's commit index neither answers ELECTION nor campaigns when that master is lost", () => {
      // The returning higher id that did not start the election: a lower id's ELECTION used to make it
      // campaign (and win) while it was still catching up.
      const log = logOf([1, 1]);
      const node = makeNode(3, { log });
      drain(node);
      node.step(heartbeat(2, 3, 1, 5));
      expect(drain(node).needsCatchUp).toEqual({ fromNode: 2, upToIndex: 5 });
      expect(tickAndCollect(node, 30).filter((m) => m.type !== 'heartbeatAck')).toEqual([]);
      node.peerDown(2);
      node.step(election(1, 3, 1));
      expect(drain(node).messages).toEqual([]);
      expect(node.state()).toMatchObject({ role: 'slave', term: 1 });

      log.entries = [1, 1, 1, 1, 1];
      node.step(election(1, 3, 1));
      expect(drain(node).messages).toContainEqual({ type: 'answer', from: 3, to: 1, term: 1 });
      expect(node.state().role).toBe('candidate');
    });
  });

  describe('a failover does not wait for the suspected master to answer', () => {
    it('a slave whose master is the only higher id probes at once, and still sends it an ELECTION', () => {
      const node = makeNode(2);
      drain(node);
      node.step(heartbeat(3, 2, 1));
      drain(node);
      const sent = tickAndCollect(node, 8); // failureTicks of silence
      expect(sent).toEqual([
        { type: 'election', from: 2, to: 3, term: 1 },
        { type: 'coordinator', from: 2, to: 1, term: 2, probe: true, lastTerm: 0, lastIndex: 0 },
        { type: 'coordinator', from: 2, to: 3, term: 2, probe: true, lastTerm: 0, lastIndex: 0 },
      ]);
      expect(node.state()).toMatchObject({ role: 'candidate', term: 1 });
    });

    it('if the suspected master answers after all, the election is its: no proposal of ours', () => {
      const node = makeNode(2);
      drain(node);
      node.step(heartbeat(3, 2, 1));
      drain(node);
      tickAndCollect(node, 8);
      node.step({ type: 'answer', from: 3, to: 2, term: 1 });
      // Acks to the probe we already sent count for nothing now.
      node.step({
        type: 'coordinatorAck',
        from: 1,
        to: 2,
        term: 2,
        probe: true,
        accepted: true,
        lastTerm: 0,
        lastIndex: 0,
        priorLeaseTicks: 0,
        commitIndex: 0,
      });
      const after = tickAndCollect(node, 5);
      expect(after.filter((m) => m.type === 'coordinator')).toEqual([]);
      expect(node.state()).toMatchObject({ role: 'candidate', term: 1 });
      // It never announced itself: ask again, and this time wait for its ANSWER like any higher id.
      const perTick = Array.from({ length: 20 }, () => tickAndCollect(node, 1));
      const electionAt = perTick.findIndex((messages) => messages.some((m) => m.type === 'election'));
      const probeAt = perTick.findIndex((messages) => messages.some((m) => m.type === 'coordinator'));
      expect(electionAt).toBeGreaterThanOrEqual(0);
      expect(probeAt - electionAt).toBe(4); // answerTimeoutTicks
    });

    it('a probe a lower id refused (it still heard the master) is asked again a heartbeat later, once', () => {
      const node = makeNode(2);
      drain(node);
      node.step(heartbeat(3, 2, 1));
      drain(node);
      tickAndCollect(node, 8);
      const refusal = {
        type: 'coordinatorAck',
        from: 1,
        to: 2,
        term: 1,
        probe: true,
        accepted: false,
        lastTerm: 0,
        lastIndex: 0,
        priorLeaseTicks: 0,
        commitIndex: 0,
      } as const;
      node.step(refusal);
      const probesAt = (ticks: number): number[] => {
        const at: number[] = [];
        for (let t = 1; t <= ticks; t++)
          if (tickAndCollect(node, 1).some((m) => m.type === 'coordinator')) at.push(t);
        return at;
      };
      expect(probesAt(2)).toEqual([2]); // heartbeatTicks, not coordinatorTimeoutTicks
      node.step(refusal);
      expect(probesAt(8)).toEqual([8]); // the second refusal: the usual pace
    });

    it('another higher id that is not the suspected master is still waited for', () => {
      const node = makeNode(2, { peers: [1, 2, 3, 4] });
      drain(node);
      node.step(heartbeat(4, 2, 1));
      drain(node);
      const sent = tickAndCollect(node, 8);
      expect(sent).toEqual([
        { type: 'election', from: 2, to: 3, term: 1 },
        { type: 'election', from: 2, to: 4, term: 1 },
      ]);
      const probes = tickAndCollect(node, 4); // answerTimeoutTicks: node 3 did not answer
      expect(probes.map((m) => [m.type, m.to])).toEqual([
        ['coordinator', 1],
        ['coordinator', 3],
        ['coordinator', 4],
      ]);
    });
  });
});
