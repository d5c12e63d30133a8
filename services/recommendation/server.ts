import { credentials } from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { CatalogServiceClient } from '../../proto/gen/marquee/catalog/v1/catalog';
import { RecommendationServiceService } from '../../proto/gen/marquee/recommendation/v1/recommendation';
import type { RecommendationServiceServer } from '../../proto/gen/marquee/recommendation/v1/recommendation';
import { signToken } from '../common/auth';
import { adaptService, startGrpcServer } from '../common/grpc-server';
import type { LamportClock } from '../common/lamport';
import { Metrics, startMetricsServer } from '../common/metrics';
import type { MetricsServer } from '../common/metrics';
import { migrate, openDatabase } from '../common/mysql';
import type { Pool } from '../common/mysql';
import { ShowEvents, loadCatalogContent } from './catalog-content';
import type { CatalogContent } from './catalog-content';
import { ChangeFeed } from './change-feed';
import type { ChangeFeedStatus } from './change-feed';
import type { RecommendationConfig } from './config';
import { RecommendationEngine } from './engine';
import type { EngineStatus } from './engine';
import { recommendationHandlers } from './handlers';
import { DAY_MS } from './model/model';
import { RECOMMENDATION_SCHEMA, RecommendationStore } from './store';
import { trainOnWorker } from './trainer';
import type { TrainJob, TrainResult } from './trainer';

export interface RecommendationServerOptions {
  config: RecommendationConfig;
  logger: Logger;
  lamport?: LamportClock;
  /** The test's pool (else one is opened on config.database). */
  pool?: Pool;
  /** How retrains run (default: on a worker thread). */
  train?: (job: TrainJob) => Promise<TrainResult>;
  now?: () => number;
}

export interface RunningRecommendationServer {
  port: number;
  /** The bound /metrics port when config.metrics asked for the endpoint. */
  metricsPort: number | undefined;
  metrics: Metrics;
  engine: RecommendationEngine;
  store: RecommendationStore;
  feed: () => ChangeFeedStatus;
  status: () => EngineStatus;
  /** Reads the catalog again now (tests; the service does it every catalogRefreshMs). */
  refreshCatalog(): Promise<void>;
  stop(): Promise<void>;
}

/** The service's own identity on the change stream, which needs the admin role (it names users). */
const SERVICE_PRINCIPAL = {
  userId: 'svc-recommendation',
  email: 'recommendation@marquee.local',
  role: 'admin' as const,
};
const SERVICE_TOKEN_TTL_SECONDS = 3600;

/** Reads the catalog, retrying while it is not up (the service can answer from popularity meanwhile). */
async function readCatalog(
  catalog: CatalogServiceClient,
  logger: Logger,
  stopped: () => boolean,
): Promise<CatalogContent | undefined> {
  for (let attempt = 0; !stopped(); attempt++) {
    try {
      return await loadCatalogContent(catalog);
    } catch (error) {
      if (attempt % 10 === 0)
        logger.warn(
          { err: error instanceof Error ? error.message : error },
          'catalog not readable yet; retrying',
        );
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return undefined;
}

export async function startRecommendationServer(
  options: RecommendationServerOptions,
): Promise<RunningRecommendationServer> {
  const { config } = options;
  const logger = options.logger.child({ component: 'recommendation' });
  const now = options.now ?? Date.now;
  const ownPool = options.pool === undefined;
  const pool = options.pool ?? (await openDatabase(config.mysqlUrl, config.database, 8));
  const catalog = new CatalogServiceClient(config.catalogAddr, credentials.createInsecure());
  let stopped = false;
  let feed: ChangeFeed | undefined;
  const timers: NodeJS.Timeout[] = [];
  const metrics = new Metrics({ service: 'recommendation' });
  let metricsServer: MetricsServer | undefined;
  try {
    await migrate(pool, RECOMMENDATION_SCHEMA);
    const store = new RecommendationStore(pool);
    const showEvents = new ShowEvents(catalog);
    const engine = new RecommendationEngine({
      store,
      eventOf: (showId) => showEvents.eventOf(showId),
      train:
        options.train ??
        ((job) =>
          trainOnWorker(job, (phase, done, total) =>
            logger.debug({ phase, done, total }, 'training progress'),
          )),
      logger,
      now,
      halfLifeMs: config.halfLifeDays * DAY_MS,
    });

    const content = await readCatalog(catalog, logger, () => stopped);
    if (content) showEvents.remember(content.showEvents);
    const position = await engine.load(content?.events ?? []);

    feed = new ChangeFeed({
      addresses: config.bookingAddrs,
      token: () => signToken(SERVICE_PRINCIPAL, config.tokenSecret, SERVICE_TOKEN_TTL_SECONDS, now()),
      position,
      apply: (batch) => engine.applyBatch(batch),
      logger,
    });
    feed.start();

    const refreshCatalog = async (): Promise<void> => {
      const fresh = await loadCatalogContent(catalog);
      showEvents.remember(fresh.showEvents);
      await engine.refreshCatalog(fresh.events);
    };
    const every = (ms: number, what: string, work: () => Promise<void>): void => {
      const timer = setInterval(() => {
        work().catch((error: unknown) =>
          logger.warn({ err: error instanceof Error ? error.message : error }, `${what} failed`),
        );
      }, ms);
      timer.unref();
      timers.push(timer);
    };
    every(config.catalogRefreshMs, 'catalog refresh', refreshCatalog);
    every(config.retrainIntervalMs, 'scheduled retrain', () => engine.retrain('schedule'));

    const service = adaptService<RecommendationServiceServer>(
      RecommendationServiceService as unknown as ServiceDefinition,
      recommendationHandlers({
        current: () => engine.current(),
        bookedEvents: (userId) => store.bookedEvents(userId),
        tokenSecret: config.tokenSecret,
        now,
      }),
      logger,
    );
    const server = await startGrpcServer({
      host: config.host,
      port: config.port,
      logger,
      ...(options.lamport ? { clock: options.lamport } : {}),
      metrics,
      services: [{ name: 'marquee.recommendation.v1.RecommendationService', ...service }],
    });
    const running = feed;
    registerRecommendationMetrics(metrics, engine, running);
    try {
      if (config.metrics)
        metricsServer = await startMetricsServer({ endpoint: config.metrics, metrics, logger });
    } catch (error) {
      await server.stop();
      throw error;
    }
    const runningMetrics = metricsServer;
    let stopping: Promise<void> | undefined;
    return {
      port: server.port,
      metricsPort: runningMetrics?.port,
      metrics,
      engine,
      store,
      feed: () => running.status(),
      status: () => engine.status(),
      refreshCatalog,
      stop: () =>
        (stopping ??= (async () => {
          stopped = true;
          for (const timer of timers) clearInterval(timer);
          await server.stop();
          await running.stop();
          catalog.close();
          if (ownPool) await pool.end();
          await runningMetrics?.stop();
          logger.info('recommendation server stopped');
        })()),
    };
  } catch (error) {
    stopped = true;
    for (const timer of timers) clearInterval(timer);
    await feed?.stop();
    catalog.close();
    if (ownPool) await pool.end();
    throw error;
  }
}

/** The engine's and the change feed's figures, read at scrape time (Recommend latency: marquee_grpc_*). */
function registerRecommendationMetrics(
  metrics: Metrics,
  engine: RecommendationEngine,
  feed: ChangeFeed,
): void {
  metrics.gaugesOf(
    'marquee_recommendation_model_info',
    'The model serving answers: 1, with its version as a label',
    ['version'],
    () => [[{ version: engine.status().version }, 1] as const],
  );
  metrics.gaugeOf(
    'marquee_recommendation_model_events',
    'Events the model knows',
    () => engine.status().events,
  );
  metrics.gaugeOf('marquee_recommendation_model_users', 'Users the model knows', () => engine.status().users);
  metrics.counterOf(
    'marquee_recommendation_retrains_total',
    'Full retrains swapped in since start',
    () => engine.status().retrains,
  );
  metrics.gaugeOf(
    'marquee_recommendation_last_retrain_seconds',
    'How long the last full retrain took, snapshot to swap',
    () => {
      const ms = engine.status().lastRetrainMs;
      return ms === undefined ? undefined : ms / 1000;
    },
  );
  metrics.counterOf(
    'marquee_recommendation_skipped_changes_total',
    'Booking changes skipped because the catalog does not know their show',
    () => engine.status().skippedChanges,
  );
  metrics.gaugeOf(
    'marquee_recommendation_feed_position',
    'Change-stream position stored and applied (the log index of the last booking change taken in)',
    () => feed.status().position,
  );
  metrics.gaugeOf('marquee_recommendation_feed_connected', '1 while a change stream is open', () =>
    feed.status().connected ? 1 : 0,
  );
  metrics.counterOf(
    'marquee_recommendation_feed_switches_total',
    'Times the change feed moved to another booking node after a failure',
    () => feed.status().switches,
  );
  metrics.counterOf(
    'marquee_recommendation_feed_changes_total',
    'Booking changes taken in from the change stream (a RESET counts the bookings it carried)',
    () => feed.status().applied,
  );
}
