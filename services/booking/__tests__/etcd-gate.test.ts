import pino from 'pino';
import { mayTakeOver } from '../../../election/etcd-lease';
import type { CampaignResult, LeaseHolder } from '../../../election/etcd-lease';
import { EtcdWriteGate } from '../etcd-gate';
import type { LeaseClient } from '../etcd-gate';

/* The etcd write gate against a scripted lease: what it asks etcd for, and when writes may go on. */

class ScriptedLease implements LeaseClient {
  reachable = true;
  holding: LeaseHolder | undefined;
  keyHolder: LeaseHolder | undefined;
  readonly calls: string[] = [];
  private revision = 100;

  held(): LeaseHolder | undefined {
    return this.holding;
  }
  etcdReachable(): boolean {
    return this.reachable;
  }
  holder(): Promise<LeaseHolder | undefined> {
    if (!this.reachable) return Promise.reject(new Error('etcd down'));
    return Promise.resolve(this.keyHolder);
  }
  /** When set, campaign() waits for it: what the gate does while etcd has not answered yet. */
  campaignGate: Promise<void> | undefined;
  async campaign(nodeId: number, term: number): Promise<CampaignResult> {
    this.calls.push(`campaign ${nodeId} ${term}`);
    await this.campaignGate;
    // EtcdLease's rule: a free key, our own tenure, or a key held in a deposed term is taken.
    const stored = this.keyHolder;
    if (stored !== undefined && stored !== this.holding && !mayTakeOver(stored, nodeId, term))
      return { acquired: false, holder: stored };
    this.revision += 1;
    this.holding = this.keyHolder = { nodeId, term, revision: this.revision };
    return { acquired: true, holder: this.holding };
  }
  resign(): Promise<void> {
    this.calls.push('resign');
    this.holding = this.keyHolder = undefined;
    return Promise.resolve();
  }
  close(): void {
    this.calls.push('close');
  }
}

async function eventually(check: () => void): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      check();
      return;
    } catch (error) {
      if (attempt > 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

function gateWith(lease: ScriptedLease, bully: { quorum: boolean; term: number }) {
  return new EtcdWriteGate({
    lease,
    nodeId: 2,
    bully: { hasQuorum: () => bully.quorum, term: () => bully.term },
    logger: pino({ level: 'silent' }),
    pollMs: 1000,
  });
}

describe('etcd write gate (quorum-and-lease)', () => {
  it('a bully master with quorum takes a free lease and may then write', async () => {
    const lease = new ScriptedLease();
    const gate = gateWith(lease, { quorum: true, term: 4 });
    expect(await gate.evaluate()).toBe('campaign');
    expect(lease.calls).toEqual(['campaign 2 4']);
    expect(gate.allowsWrites()).toBe(true);
    expect(gate.holder()?.nodeId).toBe(2);
  });

  it('stands by while another node holds the lease in the same or a newer term, even with quorum', async () => {
    for (const term of [4, 5]) {
      const lease = new ScriptedLease();
      lease.keyHolder = { nodeId: 3, term, revision: 7 };
      const gate = gateWith(lease, { quorum: true, term: 4 });
      expect(await gate.evaluate()).toBe('stand-by');
      expect(lease.calls).toEqual([]);
      expect(gate.allowsWrites()).toBe(false);
      expect(gate.holder()?.nodeId).toBe(3);
    }
  });

  it('a new master takes over the key of a deposed term on its first evaluation, and may then write', async () => {
    const lease = new ScriptedLease();
    lease.keyHolder = { nodeId: 3, term: 3, revision: 7 };
    const gate = gateWith(lease, { quorum: true, term: 4 });
    expect(await gate.evaluate()).toBe('campaign');
    expect(lease.calls).toEqual(['campaign 2 4']);
    expect(gate.allowsWrites()).toBe(true);
    expect(gate.holder()).toMatchObject({ nodeId: 2, term: 4 });
    expect(gate.holder()!.revision).toBeGreaterThan(7);
  });

  it('a refused write starts an evaluation at once, without waiting for the next poll', async () => {
    const lease = new ScriptedLease();
    lease.keyHolder = { nodeId: 3, term: 3, revision: 7 };
    const gate = gateWith(lease, { quorum: true, term: 4 });
    expect(gate.allowsWrites()).toBe(false);
    await eventually(() => expect(gate.allowsWrites()).toBe(true));
    expect(lease.calls).toEqual(['campaign 2 4']);
    await gate.stop();
  });

  it('etcd back after an outage: writes go on while the master takes its own key back (no refusal, same term)', async () => {
    const lease = new ScriptedLease();
    const bully = { quorum: true, term: 4 };
    const gate = gateWith(lease, bully);
    await gate.evaluate();
    // etcd goes away; the tenure ends on the holder's clock, the key (same term) stays in etcd.
    lease.reachable = false;
    lease.holding = undefined;
    expect(await gate.evaluate()).toBe('serve');
    expect(gate.allowsWrites()).toBe(true);
    // etcd is back, and answers the campaign only later.
    lease.reachable = true;
    let answer = (): void => undefined;
    lease.campaignGate = new Promise((resolve) => (answer = resolve));
    expect(gate.allowsWrites()).toBe(true);
    const evaluation = gate.evaluate();
    await eventually(() => expect(lease.calls).toEqual(['campaign 2 4', 'campaign 2 4']));
    expect(gate.allowsWrites()).toBe(true);
    answer();
    expect(await evaluation).toBe('campaign');
    expect(gate.allowsWrites()).toBe(true);
    expect(gate.holder()).toMatchObject({ nodeId: 2, term: 4 });
    expect(bully.term).toBe(4);
  });

  it('a holder that lost bully quorum resigns and stops writing', async () => {
    const lease = new ScriptedLease();
    const bully = { quorum: true, term: 4 };
    const gate = gateWith(lease, bully);
    await gate.evaluate();
    bully.quorum = false;
    expect(await gate.evaluate()).toBe('stand-by');
    expect(lease.calls).toEqual(['campaign 2 4', 'resign']);
    expect(gate.allowsWrites()).toBe(false);
  });

  it('a holder whose term moved on may not write until it campaigned with the new term', async () => {
    const lease = new ScriptedLease();
    const bully = { quorum: true, term: 4 };
    const gate = gateWith(lease, bully);
    await gate.evaluate();
    bully.term = 6;
    expect(gate.allowsWrites()).toBe(false);
    expect(await gate.evaluate()).toBe('campaign');
    expect(gate.allowsWrites()).toBe(true);
  });

  it('with etcd unreachable the bully side decides alone: writes are not blocked by etcd', async () => {
    const lease = new ScriptedLease();
    lease.reachable = false;
    const gate = gateWith(lease, { quorum: true, term: 4 });
    expect(await gate.evaluate()).toBe('serve');
    expect(gate.allowsWrites()).toBe(true);
    expect(lease.calls).toEqual([]);
  });

  it('stop resigns a held lease and closes the client', async () => {
    const lease = new ScriptedLease();
    const gate = gateWith(lease, { quorum: true, term: 1 });
    await gate.evaluate();
    await gate.stop();
    expect(lease.calls).toEqual(['campaign 2 1', 'resign', 'close']);
  });
});
