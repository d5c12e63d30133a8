import type { FakeNetwork } from '../fake-network';
import type { NodeId, Term } from '../types';

/**
 * Checks the election's safety properties at every instant of a FakeNetwork run (after each node's
 * tick and each message delivery), throwing on the first violation:
 *
 * 1. One master per term: no two nodes ever hold the master role in the same term (so no two ever
 *    serve writes in the same term).
 * 2. Lease exclusivity: no two nodes report canServeWrites at the same instant. Exempt: a node that
 *    was paused during its current term — its tick counter stopped, so its lease is measured wrong
 *    (the documented clock-pause hazard); property 3 covers it.
 * 3. Fencing: at no instant can two serving nodes both reach a majority. A serving node m can reach a
 *    majority iff a majority of nodes (crashed ones by persisted term) have term <= m's term — the
 *    replication layer's fencing rule rejects entries from lower terms.
 * 4. No acknowledged write is lost: when a node starts serving writes it could commit (in the sense of
 *    3), its log holds every write the fake replication acknowledged so far. (A stale master woken
 *    from a pause may serve from a stale log, but nothing it writes can be acknowledged.)
 * (Terms never going backwards on disk is checked by FakeNetwork itself on every persist.)
 */
export class SafetyMonitor {
  private readonly masterOfTerm = new Map<Term, NodeId>();
  private committing = new Set<NodeId>();
  servingInstants = 0;

  constructor(private readonly net: FakeNetwork) {
    net.onInstant(() => this.check());
  }

  check(): void {
    const net = this.net;
    const serving = net.serving();
    for (const id of net.ids) {
      const s = net.state(id);
      if (s?.role !== 'master') continue;
      const other = this.masterOfTerm.get(s.term);
      if (other !== undefined && other !== id) this.fail(`two masters in term ${s.term}: ${other} and ${id}`);
      this.masterOfTerm.set(s.term, id);
    }

    const measuredRightly = serving.filter((id) => !net.pausedInTerms(id).has(net.termOf(id)));
    if (measuredRightly.length > 1)
      this.fail(`nodes ${measuredRightly.join(' and ')} serve writes at the same instant`);

    const canReachMajority = serving.filter(
      (id) => net.ids.filter((q) => net.termOf(q) <= net.termOf(id)).length >= net.majority(),
    );
    if (canReachMajority.length > 1)
      this.fail(`nodes ${canReachMajority.join(' and ')} could both commit writes`);

    for (const id of canReachMajority) {
      if (this.committing.has(id)) continue;
      const entries = net.log(id).entries;
      for (const [index, term] of net.acknowledged) {
        if (entries[index - 1] !== term) {
          this.fail(`node ${id} serves without acknowledged write ${index} (term ${term})`);
        }
      }
    }
    this.committing = new Set(canReachMajority);
    if (serving.length > 0) this.servingInstants += 1;
  }

  private fail(what: string): never {
    throw new Error(`safety violated: ${what}; ${this.net.describe()}`);
  }
}
