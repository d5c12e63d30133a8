import pino from 'pino';
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
  campaign(nodeId: number, term: number): Promise<CampaignResult> {
    this.calls.push(`campaign ${nodeId} ${term}`);
    if (this.keyHolder !== undefined && this.keyHolder.nodeId !== nodeId)
      return Promise.resolve({ acquired: false, holder: this.keyHolder });
    this.revision += 1;
    this.holding = this.keyHolder = { nodeId, term, revision: this.revision };
    return Promise.resolve({ acquired: true, holder: this.holding });
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
    expect(gate.allowsWrites()).toBe(false);
    expect(await gate.evaluate()).toBe('campaign');
    expect(lease.calls).toEqual(['campaign 2 4']);
    expect(gate.allowsWrites()).toBe(true);
    expect(gate.holderId()).toBe(2);
  });

  it('stands by while another node holds the lease, even as bully master with quorum', async () => {
    const lease = new ScriptedLease();
    lease.keyHolder = { nodeId: 3, term: 3, revision: 7 };
    const gate = gateWith(lease, { quorum: true, term: 4 });
    expect(await gate.evaluate()).toBe('stand-by');
    expect(lease.calls).toEqual([]);
    expect(gate.allowsWrites()).toBe(false);
    expect(gate.holderId()).toBe(3);
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
