import type { ServiceDefinition } from '@grpc/grpc-js';
import { AccountServiceService, BookingServiceService } from '../../proto/gen/marquee/booking/v1/booking';
import type { AccountServiceServer, BookingServiceServer } from '../../proto/gen/marquee/booking/v1/booking';
import { adaptService, startGrpcServer } from '../common/grpc-server';
import { streamChangesMethod } from './change-stream';
import type { Logger } from '../common/logger';
import { migrate, openDatabase } from '../common/mysql';
import type { Pool } from '../common/mysql';
import { Accounts } from './accounts';
import type { BookingConfig } from './config';
import { accountHandlers, bookingHandlers } from './handlers';
import { Inventory } from './inventory';
import { SimulatedCardProcessor } from './payments';
import type { PaymentProcessor } from './payments';
import { BOOKING_SCHEMA } from './schema';
import { GrpcShowSource } from './show-source';
import type { ShowSource } from './show-source';
import type { BookingReplication } from './replication';
import { startBookingCluster } from './cluster';
import type { BookingCluster } from './cluster';
import type { NodeId } from '../replication/types';
import { MysqlBookingStore } from './store';
import { WriteBatcher } from './write/batcher';
import { LOCAL_JOURNAL } from './write/journal';
import { Sweeper } from './sweeper';
import { LamportClock } from '../common/lamport';
import { grpcClientOptions } from '../common/grpc-client';
import { FORWARDED_BY_HEADER, Forwarder } from './forwarding';
import { Metrics, startMetricsServer } from '../common/metrics';
import type { MetricsServer } from '../common/metrics';

export interface BookingServerOptions {
  config: Readonly<BookingConfig>;
  logger: Logger;
  /** A pool to use instead of opening config.database (the caller keeps ownership). */
  pool?: Pool;
  /** Where shows come from; the catalog at config.catalogAddr unless given. */
  showSource?: ShowSource;
  /** Milliseconds since the epoch; tests move it to expire holds without sleeping. */
  clock?: () => number;
  payments?: PaymentProcessor;
  /** The process's Lamport clock, stamped on every call in and out (a fresh one unless given). */
  lamport?: LamportClock;
  /**
   * Makes every write replicated (see replication.ts); absent, the node is a single-node store.
   * The caller owns it (a ReplicationNode over the same database, driven by the election).
   */
  replication?: BookingReplication;
  /** Cluster mode (config.cluster set, no `replication` given): see cluster.ts. */
  cluster?: {
    /**
     * node id → booking API address: where a slave forwards calls for the master (and names it when
     * it cannot). Wins over config.cluster.clientAddresses (MARQUEE_BOOKING_ADDRS).
     */
    clientAddresses?: ReadonlyMap<NodeId, string>;
    /** The election broke an invariant: the process should exit (main.ts does). */
    onFatal?: (error: Error) => void;
  };
}

export interface BookingServer {
  port: number;
  /** The bound /metrics port when config.metrics asked for the endpoint. */
  metricsPort: number | undefined;
  metrics: Metrics;
  /** Present in cluster mode. */
  cluster?: BookingCluster;
  /** Calls this node forwarded to the master (always 0 outside cluster mode). */
  forwardedCalls(): number;
  stop(): Promise<void>;
}

/** Opens (or takes) the database, migrates, ensures the admin, starts the sweeper and the gRPC server. */
export async function startBookingServer(options: BookingServerOptions): Promise<BookingServer> {
  const { config, logger } = options;
  const clock = options.clock ?? Date.now;
  // Our own pool sends multi-statement batches (one round trip per step of a transaction).
  const pool =
    options.pool ??
    (await openDatabase(config.mysqlUrl, config.database, config.mysqlConnections, {
      multipleStatements: true,
    }));
  const ownsPool = options.pool === undefined;
  const lamport = options.lamport ?? new LamportClock();
  const showSource =
    options.showSource ?? new GrpcShowSource(config.catalogAddr, grpcClientOptions(lamport, logger));
  const ownsSource = options.showSource === undefined;
  let sweeper: Sweeper | undefined;
  let cluster: BookingCluster | undefined;
  let forwarder: Forwarder | undefined;
  let metricsServer: MetricsServer | undefined;
  const metrics = new Metrics({ service: 'booking', nodeId: config.nodeId });
  try {
    await migrate(pool, BOOKING_SCHEMA);
    if (config.cluster && !options.replication) {
      const clientAddresses = options.cluster?.clientAddresses ?? config.cluster.clientAddresses;
      cluster = await startBookingCluster({
        nodeId: config.nodeId,
        config: config.cluster,
        pool,
        logger,
        lamport,
        ...(clientAddresses ? { clientAddresses } : {}),
        ...(options.cluster?.onFatal ? { onFatal: options.cluster.onFatal } : {}),
      });
      forwarder = new Forwarder({
        nodeId: config.nodeId,
        cluster,
        secret: config.cluster.secret,
        lamport,
        logger: logger.child({ component: 'forwarding' }),
      });
    }
    const replication = options.replication ?? cluster?.replication;
    // The node's one writer: every booking write (accounts, shows, holds, bookings) goes through it.
    const writer = new WriteBatcher({
      pool,
      journal: replication?.journal ?? LOCAL_JOURNAL,
      clock,
      logger: logger.child({ component: 'batcher' }),
    });
    const accounts = new Accounts(pool, config, clock, logger.child({ component: 'accounts' }), writer);
    await accounts.ensureAdmin(config.adminEmail, config.adminPassword);
    const ctx = {
      pool,
      clock,
      holdTtlSeconds: config.holdTtlSeconds,
      payments: options.payments ?? new SimulatedCardProcessor(clock),
      logger: logger.child({ component: 'store' }),
    };
    const inventory = new Inventory(
      pool,
      showSource,
      clock,
      logger.child({ component: 'inventory' }),
      writer,
    );
    const store = new MysqlBookingStore(ctx, inventory, config.idempotencyTtlHours, writer);
    sweeper = new Sweeper(store, config.sweepIntervalMs, clock, logger.child({ component: 'sweeper' }));
    sweeper.start();
    const deps = { accounts, store, tokenSecret: config.tokenSecret, clock };
    // In cluster mode, calls this node cannot serve go to the master (forwarding.ts).
    const accountImpl = accountHandlers(deps);
    const bookingImpl = bookingHandlers(deps);
    const account = adaptService<AccountServiceServer>(
      AccountServiceService as unknown as ServiceDefinition,
      forwarder ? forwarder.wrap('AccountService', accountImpl) : accountImpl,
      logger,
    );
    const booking = adaptService<BookingServiceServer>(
      BookingServiceService as unknown as ServiceDefinition,
      forwarder ? forwarder.wrap('BookingService', bookingImpl) : bookingImpl,
      logger,
    );
    // Served by this node itself, never forwarded: any node's committed log is the group's.
    const changes = streamChangesMethod({
      log: cluster?.node.log,
      commitIndex: () => cluster?.node.logView().commitIndex() ?? 0,
      pool,
      tokenSecret: config.tokenSecret,
      logger: logger.child({ component: 'change-stream' }),
      now: clock,
    });
    const server = await startGrpcServer({
      host: config.host,
      port: config.port,
      logger,
      clock: lamport,
      metrics,
      ...(config.crashBeforeAnswer
        ? { crashBeforeAnswer: { ...config.crashBeforeAnswer, unlessHeader: FORWARDED_BY_HEADER } }
        : {}),
      services: [
        { name: 'marquee.booking.v1.AccountService', ...account },
        { name: 'marquee.booking.v1.BookingService', ...booking },
        {
          name: 'marquee.booking.v1.BookingChangeService',
          definition: { streamChanges: changes.definition } as unknown as ServiceDefinition,
          implementation: { streamChanges: changes.handler },
        },
      ],
    });
    registerBookingMetrics(metrics, { sweeper, writer, cluster, forwarder });
    try {
      if (config.metrics)
        metricsServer = await startMetricsServer({ endpoint: config.metrics, metrics, logger });
    } catch (error) {
      changes.stop();
      await server.stop();
      throw error;
    }
    const running = sweeper;
    const runningMetrics = metricsServer;
    let stopped: Promise<void> | undefined;
    const stop = async (): Promise<void> => {
      await running.stop();
      changes.stop(); // open change streams would otherwise hold the server until its grace ends
      await server.stop(); // lets calls in flight finish (bounded), then closes
      forwarder?.stop();
      await cluster?.stop();
      if (ownsSource) showSource.close();
      if (ownsPool) await pool.end();
      await runningMetrics?.stop();
      logger.info('booking server stopped');
    };
    // Idempotent: a signal handler and a test teardown may both ask.
    return {
      port: server.port,
      metricsPort: metricsServer?.port,
      metrics,
      ...(cluster ? { cluster } : {}),
      forwardedCalls: () => forwarder?.forwarded ?? 0,
      stop: () => (stopped ??= stop()),
    };
  } catch (error) {
    await sweeper?.stop();
    forwarder?.stop();
    await cluster?.stop();
    if (ownsSource) showSource.close();
    if (ownsPool) await pool.end();
    throw error;
  }
}

const ROLES = ['slave', 'candidate', 'master'] as const;

/**
 * The node's own figures, read from the objects that keep them at scrape time: the election's and
 * replication's status, the sweeper's and the forwarder's counts. Lag per slave is the master's view
 * (entries the slave's log is behind the master's), so only the master reports it.
 */
function registerBookingMetrics(
  metrics: Metrics,
  parts: {
    sweeper: Sweeper;
    writer: WriteBatcher;
    cluster: BookingCluster | undefined;
    forwarder: Forwarder | undefined;
  },
): void {
  const { sweeper, writer, cluster, forwarder } = parts;
  metrics.counterOf(
    'marquee_booking_write_batches_total',
    'Write batches this node committed (one transaction and one log append each)',
    () => writer.stats.batches,
  );
  metrics.counterOf(
    'marquee_booking_write_commands_total',
    'Booking writes decided in those batches (commands per batch = this / batches)',
    () => writer.stats.commands,
  );
  metrics.counterOf(
    'marquee_booking_hold_expiries_total',
    'Lapsed holds the sweeper expired (their places back on sale)',
    () => sweeper.expired,
  );
  metrics.counterOf(
    'marquee_booking_forwarded_calls_total',
    'Calls this node could not serve and forwarded to the master',
    () => forwarder?.forwarded ?? 0,
  );
  if (!cluster) return;
  metrics.counterOf(
    'marquee_elections_started_total',
    'Elections this node started (became a candidate)',
    () => cluster.elections().started,
  );
  metrics.counterOf(
    'marquee_elections_won_total',
    'Elections this node won (became master)',
    () => cluster.elections().won,
  );
  metrics.gaugeOf(
    'marquee_election_term',
    "The election's current term",
    () => cluster.status().election.term,
  );
  metrics.gaugesOf(
    'marquee_election_role',
    'The role of this node: 1 for the one it has (slave, candidate or master), 0 for the others',
    ['role'],
    () => {
      const { role } = cluster.status().election;
      return ROLES.map((r) => [{ role: r }, r === role ? 1 : 0] as const);
    },
  );
  metrics.gaugeOf('marquee_booking_can_serve_writes', '1 when a write here would be accepted now', () =>
    cluster.canServeWrites() ? 1 : 0,
  );
  metrics.gaugeOf(
    'marquee_replication_commit_index',
    'Highest log index known committed',
    () => cluster.status().replication.commitIndex,
  );
  metrics.gaugeOf(
    'marquee_replication_applied_index',
    "Highest log index applied to this node's booking state",
    () => cluster.status().replication.appliedIndex,
  );
  metrics.gaugeOf(
    'marquee_replication_last_index',
    "Index of the last entry in this node's log",
    () => cluster.status().replication.lastIndex,
  );
  metrics.gaugesOf(
    'marquee_replication_slave_lag_entries',
    "Entries a slave's log is behind the master's (reported by the master, per slave)",
    ['slave'],
    () => cluster.status().replication.slaves.map((s) => [{ slave: s.nodeId }, s.lagEntries] as const),
  );
  metrics.gaugesOf(
    'marquee_replication_slave_last_ack_age_seconds',
    'Seconds since a slave last answered the master (reported by the master, per slave)',
    ['slave'],
    () =>
      cluster
        .status()
        .replication.slaves.flatMap((s) =>
          s.lastAckAgeMs === undefined ? [] : [[{ slave: s.nodeId }, s.lastAckAgeMs / 1000] as const],
        ),
  );
}
