import type { Logger } from 'pino';
import { startElectionNode } from '../../election/cluster-node';
import type { ElectionNode } from '../../election/cluster-node';
import type { ElectionStatus, RoleChangeEvent } from '../../election/runner';
import { UnavailableError } from '../common/errors';
import type { LamportClock } from '../common/lamport';
import type { Pool } from '../common/mysql';
import { ReplicationNode } from '../replication/node';
import { MAX_PEER_MESSAGE_BYTES } from '../replication/transport';
import type { ReplicationStatus } from '../replication/node';
import type { NodeId } from '../replication/types';
import type { BookingClusterConfig, EtcdLeaseConfig } from './config';
import { replicationOf } from './replication';
import type { BookingReplication } from './replication';
import type { Journal } from './write/journal';
import { BookingStateMachine } from './state-machine';
import { EtcdLease } from '../../election/etcd-lease';
import { EtcdWriteGate } from './etcd-gate';

/*
 * Cluster mode of one booking node (opt-in: MARQUEE_PEERS). One peer gRPC server carries the
 * election (ElectionService, ClusterService) and the replication endpoint; the election decides
 * roles and this file makes the ReplicationNode obey them:
 *
 *  - master of term T → replication.becomeMaster(T), after the catch-up the election asked for:
 *    when a member of the majority that elected us has a later log, its log is copied into ours
 *    first (ReplicationNode.catchUpFrom) and only then do we take over and serve.
 *  - slave or candidate → replication.stepDown().
 *  - The election reads the replication log's position (ReplicationNode.logView) for its votes,
 *    and the replication follower refuses entries from terms older than the election's (fenceTerm):
 *    a node that voted for term T no longer acknowledges an older master.
 *  - Writes need both: the ReplicationNode serving as master and the election's lease
 *    (runner.canServeWrites()). Elsewhere they fail with UNAVAILABLE naming the master (and its
 *    client address when the caller gave one); forwarding.ts sends them on to the master instead.
 *
 * A newer term that replication meets (onDeposed) is handed to the election (runner.observeTerm),
 * so a deposed master steps down at once rather than at its next heartbeat exchange.
 */

export interface BookingClusterOptions {
  readonly nodeId: NodeId;
  readonly config: Readonly<BookingClusterConfig>;
  /** This node's booking database (the caller owns it; BOOKING_SCHEMA already migrated). */
  readonly pool: Pool;
  readonly logger: Logger;
  readonly lamport: LamportClock;
  /** node id → the client (booking API) address, to name the master in a slave's refusal. Optional. */
  readonly clientAddresses?: ReadonlyMap<NodeId, string>;
  /** Broken election invariant: the node must stop serving (main exits); logged when absent. */
  readonly onFatal?: (error: Error) => void;
}

export interface BookingClusterStatus {
  readonly election: ElectionStatus;
  readonly replication: ReplicationStatus;
}

export interface BookingCluster {
  /** What the booking store writes through (startBookingServer's `replication`). */
  readonly replication: BookingReplication;
  readonly node: ReplicationNode;
  readonly election: ElectionNode;
  /** The bound peer port. */
  readonly peerPort: number;
  /** Whether a write here would be accepted right now. */
  canServeWrites(): boolean;
  /**
   * The master's booking API address when another node is the known master and its address was
   * given (clientAddresses); undefined when this node is master, or no master is known. For forwarding.
   */
  masterClientAddress(): string | undefined;
  status(): BookingClusterStatus;
  /**
   * Elections this node ran since it started (each time it became a candidate) and won (each time
   * it became master), for the metrics.
   */
  elections(): { readonly started: number; readonly won: number };
  /** Election first (no more role changes), then pending role work, then replication. */
  stop(): Promise<void>;
}

export async function startBookingCluster(options: BookingClusterOptions): Promise<BookingCluster> {
  const { nodeId, config, lamport } = options;
  const logger = options.logger.child({ component: 'cluster' });
  // The election starts after the node (its server carries the node's endpoint): until then, no fence.
  let electionTerm = (): number => 0;
  let etcdLease = (): { holder: number; token: number } => ({ holder: 0, token: 0 });
  let writable = (): boolean => false;
  let observeTerm = (term: number): void =>
    logger.warn({ term }, 'replication saw a newer term before the election started');
  const node = new ReplicationNode({
    nodeId,
    pool: options.pool,
    machine: new BookingStateMachine(),
    peers: config.peers,
    secret: config.secret,
    clock: lamport,
    logger: options.logger.child({ component: 'replication' }),
    policy: config.ackPolicy,
    fenceTerm: () => electionTerm(),
    // A slave refused our entries with a newer term, or a newer master's entries arrived: the
    // election adopts the term at once (a master steps down) instead of waiting for heartbeat acks.
    onDeposed: (term) => observeTerm(term),
  });
  await node.start();
  let election: ElectionNode;
  try {
    election = await startElectionNode({
      id: nodeId,
      peers: config.peers,
      host: config.peerHost,
      port: config.peerPort,
      secret: config.secret,
      tickMs: config.electionTickMs,
      timings: {
        failureTicks: Math.ceil(config.electionSilenceMs / config.electionTickMs),
        // A slave's log view trails its master's announced commit index by a batch or two under load;
        // a thousand entries are one catch-up fetch. Only a node further behind stands aside.
        catchUpSlackEntries: 1000,
      },
      dataDir: config.stateDir,
      logger: options.logger,
      clock: lamport,
      logView: node.logView(),
      maxReceiveMessageBytes: MAX_PEER_MESSAGE_BYTES,
      replicationStatus: () => node.status(),
      etcdLease: () => etcdLease(),
      // What Status says is what a write would meet here (npm start's "up" waits for it).
      canServeWrites: () => writable(),
      services: [node.service()],
    });
  } catch (error) {
    await node.stop();
    throw error;
  }
  const { runner } = election;
  electionTerm = () => runner.status().term;
  observeTerm = (term) => runner.observeTerm(term);
  const bullyCanServe = (): boolean => node.isMaster && runner.canServeWrites();
  const gate =
    config.etcd && startEtcdGate(config.etcd, nodeId, bullyCanServe, () => runner.status().term, logger);
  etcdLease = () => {
    const holder = gate?.holder();
    return { holder: holder?.nodeId ?? 0, token: holder?.revision ?? 0 };
  };

  // Role changes are applied one at a time, in the order the election made them.
  let stopping = false;
  let roleWork: Promise<void> = Promise.resolve();
  const applyRole = async (event: RoleChangeEvent): Promise<void> => {
    if (stopping) return;
    if (event.role === 'master') {
      // The catch-up handler below takes over once it has copied the newer log.
      if (event.catchUp !== undefined) return;
      try {
        await node.becomeMaster(event.term);
        // Take the lease key now (a deposed term's key at once), not at the next poll.
        gate?.kick();
      } catch (error) {
        logger.error({ err: error, term: event.term }, 'could not take over replication as master');
      }
    } else {
      await node.stepDown(`became ${event.role} in term ${event.term}`);
    }
  };
  const elections = { started: 0, won: 0 };
  let lastRole: RoleChangeEvent['role'] = 'slave';
  const unsubscribeRole = runner.onRoleChange((event) => {
    // A master always campaigned first; should one announcement have covered both, count both.
    if (event.role !== lastRole && event.role !== 'slave' && lastRole !== 'candidate') elections.started += 1;
    if (event.role === 'master' && lastRole !== 'master') elections.won += 1;
    lastRole = event.role;
    roleWork = roleWork
      .then(() => applyRole(event))
      .catch((error: unknown) => logger.error({ err: error }, 'applying a role change failed'));
  });
  runner.onCatchUpNeeded((request, signal) => {
    // Read now, synchronously: the role and term this request was made for.
    const { role, term } = runner.status();
    const catchUp = async (): Promise<number> => {
      if (role !== 'master') return node.waitForCommit(request.upToIndex, signal);
      const reached = await node.catchUpFrom(request.fromNode, term, signal);
      if (signal.aborted || stopping) throw new UnavailableError(`term ${term} ended during catch-up`);
      await node.becomeMaster(term);
      gate?.kick();
      return reached;
    };
    const done = roleWork.then(catchUp);
    roleWork = done.then(
      () => undefined,
      (error: unknown) => {
        if (!signal.aborted) logger.error({ err: error, term }, 'catch-up before serving failed');
      },
    );
    return done;
  });
  const unsubscribeFatal = runner.onFatal((error) => {
    logger.fatal({ err: error }, 'election stopped: this node must not keep serving');
    roleWork = roleWork.then(() => node.stepDown('the election failed'));
    options.onFatal?.(error);
  });

  const canServeWrites = (): boolean => bullyCanServe() && (gate?.allowsWrites() ?? true);
  writable = canServeWrites;
  const notMaster = (): UnavailableError => {
    const { masterId } = runner.status();
    if (masterId === undefined)
      return new UnavailableError(
        `node ${nodeId} is not the master and no master is known yet (election in progress); retry shortly`,
      );
    if (masterId === nodeId)
      return new UnavailableError(`node ${nodeId} is not the master yet (taking over); retry shortly`, {
        masterId: String(masterId),
      });
    const address = options.clientAddresses?.get(masterId);
    return new UnavailableError(
      `node ${nodeId} is not the master; the master is node ${masterId}` +
        (address === undefined ? '' : ` at ${address}`) +
        ' (writes are not forwarded: retry there)',
      { masterId: String(masterId), ...(address === undefined ? {} : { masterAddress: address }) },
    );
  };
  const base = replicationOf(node, () => lamport.tick());
  // Writes wait for the election's go (the etcd gate, a takeover in progress), also under the lock.
  const assertWritable = (): void => {
    if (!canServeWrites()) throw notMaster();
  };
  const journal: Journal = {
    ...base.journal,
    isMaster: canServeWrites,
    assertWritable,
    position: (results) => {
      assertWritable();
      return base.journal.position(results);
    },
  };
  const replication: BookingReplication = { ...base, journal };

  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    stopping = true;
    unsubscribeRole();
    unsubscribeFatal();
    await election.stop(500);
    await gate?.stop();
    await roleWork;
    await node.stop();
    logger.info('cluster mode stopped');
  };
  logger.info(
    {
      peerPort: election.port,
      peers: Object.fromEntries(config.peers),
      ackPolicy: config.ackPolicy,
      etcd: config.etcd?.endpoints ?? 'not configured',
    },
    'cluster mode: election and replication started',
  );
  return {
    replication,
    node,
    election,
    peerPort: election.port,
    canServeWrites,
    masterClientAddress: () => {
      const { masterId } = runner.status();
      return masterId === undefined || masterId === nodeId
        ? undefined
        : options.clientAddresses?.get(masterId);
    },
    status: () => ({ election: runner.status(), replication: node.status() }),
    elections: () => ({ ...elections }),
    stop: () => (stopped ??= stop()),
  };
}

/** The etcd fallback lease as a write gate (etcd-gate.ts), polled at a third of the TTL. */
function startEtcdGate(
  etcd: Readonly<EtcdLeaseConfig>,
  nodeId: NodeId,
  hasQuorum: () => boolean,
  term: () => number,
  logger: Logger,
): EtcdWriteGate {
  const leaseLogger = logger.child({ component: 'etcd-lease' });
  const lease = new EtcdLease({
    endpoints: etcd.endpoints,
    group: etcd.group,
    ttlSeconds: etcd.ttlSeconds,
    logger: leaseLogger,
  });
  lease.on('lost', (loss) =>
    leaseLogger.warn({ reason: loss.reason, revision: loss.revision }, loss.message),
  );
  const gate = new EtcdWriteGate({
    lease,
    nodeId,
    bully: { hasQuorum, term },
    logger: leaseLogger,
    pollMs: Math.max(50, Math.floor((etcd.ttlSeconds * 1000) / 6)),
  });
  gate.start();
  return gate;
}
