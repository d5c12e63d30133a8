import type { Logger } from 'pino';
import { decideWithLease } from '../../election/etcd-lease';
import type { CampaignResult, LeaseDecision, LeaseHolder } from '../../election/etcd-lease';

/*
 * The etcd fallback lease as a second gate on writes (election/README.md, "etcd fallback lease").
 * The bully election decides who is master; with etcd configured and reachable, that master must
 * also hold the lease key before it serves, and a node that sees a newer term gives the lease up.
 * A new master takes the key from a deposed term at once (mayTakeOver), so the lease costs a
 * failover a few etcd round trips, not the old holder's TTL.
 *
 * The booking node uses the stricter rule, "quorum-and-lease": serving needs bully quorum AND the
 * lease while etcd is reachable, bully quorum alone while it is not. The other rule ("lease-decides":
 * a holder keeps serving without bully quorum) is not used here because the replication role
 * follows the bully role and a write needs a majority of replicas anyway: a holder without quorum
 * could not get a booking acknowledged, and under the async policy it would acknowledge bookings
 * that only it has. docs/ARCHITECTURE.md records the choice.
 */

/** What the gate needs of EtcdLease (a fake in unit tests). */
export interface LeaseClient {
  held(): LeaseHolder | undefined;
  etcdReachable(): boolean;
  holder(): Promise<LeaseHolder | undefined>;
  campaign(nodeId: number, term: number): Promise<CampaignResult>;
  resign(): Promise<void>;
  close(): void;
}

/** What the gate needs of the election + replication (the bully side of the decision). */
export interface BullySide {
  /** Elected by a majority, caught up, lease of heartbeats current, replication serving. */
  hasQuorum(): boolean;
  term(): number;
}

export interface EtcdWriteGateOptions {
  readonly lease: LeaseClient;
  readonly nodeId: number;
  readonly bully: BullySide;
  readonly logger: Logger;
  /** How often the decision is re-evaluated; a fraction of the lease TTL. */
  readonly pollMs: number;
}

export class EtcdWriteGate {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastDecision: LeaseDecision | undefined;
  private lastHolder: LeaseHolder | undefined;
  /**
   * Whether the lease gates writes. Off from the moment an evaluation finds etcd unreachable until
   * the gate has acted on a decision made with etcd reachable again: when etcd comes back, the
   * master first takes the key back (its own key in its own term: at once), and only then does the
   * lease count. Without this, the first successful read after an outage would make etcd
   * "reachable" while nobody held the key, and writes would be refused until the next campaign.
   */
  private engaged = true;
  private stopped = false;

  constructor(private readonly options: EtcdWriteGateOptions) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.options.pollMs).unref();
    this.kick();
  }

  /**
   * Checked synchronously on every write: etcd unreachable (or just back) → the bully side decides
   * alone (etcd being down never blocks writes); otherwise only while this node holds the lease for
   * the current term. A refusal starts an evaluation at once, so a new master takes the key on its
   * first write instead of at the next poll.
   */
  allowsWrites(): boolean {
    const { lease, bully } = this.options;
    if (!this.engaged || !lease.etcdReachable()) return true;
    const held = lease.held();
    if (held !== undefined && held.term === bully.term()) return true;
    this.kick();
    return false;
  }

  /** The holder as last seen (undefined when none or unknown), for ClusterService.Status. */
  holder(): LeaseHolder | undefined {
    return this.options.lease.held() ?? this.lastHolder;
  }

  /** One evaluation now (tests; also what the timer runs). Never rejects. */
  async evaluate(): Promise<LeaseDecision> {
    const { lease, bully, nodeId, logger } = this.options;
    const held = lease.held();
    let holder: LeaseHolder | undefined;
    if (held === undefined) {
      try {
        holder = await lease.holder();
      } catch (error) {
        // etcd is unreachable from here: etcdReachable() now says so, and the bully side decides.
        logger.debug({ err: error }, 'etcd lease: cannot read the holder');
      }
      this.lastHolder = holder;
    }
    const reachable = lease.etcdReachable();
    if (!reachable) this.engaged = false;
    const term = bully.term();
    const decision = decideWithLease({
      etcdConfigured: true,
      etcdReachable: reachable,
      bullyHasQuorum: bully.hasQuorum(),
      newerTermSeen: held !== undefined && term > held.term,
      leaseHeldBySelf: held !== undefined,
      leaseHolder: holder,
      nodeId,
      term,
      rule: 'quorum-and-lease',
    });
    if (decision !== this.lastDecision)
      logger.info({ decision, term, holder: held?.nodeId ?? holder?.nodeId ?? 0 }, `etcd lease: ${decision}`);
    this.lastDecision = decision;
    try {
      if (decision === 'campaign') {
        const result = await lease.campaign(nodeId, term);
        this.lastHolder = result.holder;
        logger.info(
          { acquired: result.acquired, holder: result.holder.nodeId, revision: result.holder.revision },
          result.acquired ? 'etcd lease acquired' : 'etcd lease held by another node',
        );
      } else if (decision === 'stand-by' && held !== undefined) {
        await lease.resign();
        logger.info({ term: held.term }, 'etcd lease resigned');
      }
      if (reachable) this.engaged = true;
    } catch (error) {
      logger.warn({ err: error, decision }, 'etcd lease: acting on the decision failed; retrying next poll');
    }
    return decision;
  }

  /** Evaluates now unless an evaluation is already running (then that one answers). */
  kick(): void {
    if (this.stopped || this.running !== undefined) return;
    this.running = this.evaluate().then(
      () => {
        this.running = undefined;
      },
      () => {
        this.running = undefined;
      },
    );
  }

  /** Stops polling, gives the lease up if held (best effort), closes the client. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    if (this.options.lease.held() !== undefined)
      await this.options.lease
        .resign()
        .catch((error: unknown) =>
          this.options.logger.warn({ err: error }, 'etcd lease: resign on stop failed (it expires)'),
        );
    this.options.lease.close();
  }
}
