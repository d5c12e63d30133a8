import type { ServerWritableStream, ServiceDefinition, handleServerStreamingCall } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { adaptService, startGrpcServer } from '../common/grpc-server';
import type { LamportClock } from '../common/lamport';
import { Metrics, startMetricsServer } from '../common/metrics';
import type { MetricsServer } from '../common/metrics';
import { migrate, openDatabase } from '../common/mysql';
import type { Pool } from '../common/mysql';
import { CatalogServiceService } from '../../proto/gen/marquee/catalog/v1/catalog';
import type { CatalogServiceServer, ImportProgress } from '../../proto/gen/marquee/catalog/v1/catalog';
import { ReadCache } from './cache';
import type { CacheStats } from './cache';
import type { CatalogConfig } from './config';
import { DEFAULT_FETCH_LIMITS, fetchDocument } from './fetch-document';
import type { FetchLimits } from './fetch-document';
import { catalogHandlers } from './handlers';
import { importCatalogMethod } from './import-stream';
import { CATALOG_SCHEMA } from './schema';
import { MysqlCatalogStore } from './store';

export const CATALOG_SERVICE_NAME = 'marquee.catalog.v1.CatalogService';

export interface CatalogServerOptions {
  config: CatalogConfig;
  logger: Logger;
  /** Use this pool (tests) instead of opening config.database; the caller then closes it. */
  pool?: Pool;
  /** Timeout and size cap for ImportCatalog's source_url (defaults: 15 s, 20 MB). */
  fetchLimits?: FetchLimits;
  /** The process's Lamport clock, stamped on every call (a fresh one unless given). */
  lamport?: LamportClock;
}

export interface RunningCatalogServer {
  port: number;
  /** The bound /metrics port when config.metrics asked for the endpoint. */
  metricsPort: number | undefined;
  metrics: Metrics;
  /** Read-cache counters, for tests and diagnostics. */
  cacheStats(): CacheStats;
  stop(): Promise<void>;
}

/** Opens (or takes) the database, migrates it and serves CatalogService with health and reflection. */
export async function startCatalogServer(options: CatalogServerOptions): Promise<RunningCatalogServer> {
  const { config } = options;
  const logger = options.logger.child({ component: 'catalog' });
  const ownPool = options.pool === undefined;
  const pool = options.pool ?? (await openDatabase(config.mysqlUrl, config.database));
  const metrics = new Metrics({ service: 'catalog' });
  let metricsServer: MetricsServer | undefined;
  try {
    await migrate(pool, CATALOG_SCHEMA);
    const store = new MysqlCatalogStore(pool);
    const cache = new ReadCache(config.cacheTtlMs);
    const limits = options.fetchLimits ?? DEFAULT_FETCH_LIMITS;
    const deps = { store, cache, tokenSecret: config.tokenSecret, logger };

    // adaptService serves unary methods only; ImportCatalog streams and has its own handler.
    const { importCatalog: _streaming, ...unaryMethods } = CatalogServiceService;
    const unary = adaptService<CatalogServiceServer>(
      unaryMethods as unknown as ServiceDefinition,
      catalogHandlers(deps),
      logger,
    );
    const importStream = importCatalogMethod({ ...deps, fetchDocument: (url) => fetchDocument(url, limits) });
    registerCatalogMetrics(metrics, cache);
    const importHandler = countImportedRecords(importStream.handler, metrics);

    const server = await startGrpcServer({
      host: config.host,
      port: config.port,
      logger,
      reflectionListsAll: config.reflectionListsAll,
      clock: options.lamport,
      metrics,
      services: [
        {
          name: CATALOG_SERVICE_NAME,
          definition: { ...unary.definition, importCatalog: importStream.definition } as ServiceDefinition,
          implementation: { ...unary.implementation, importCatalog: importHandler },
        },
      ],
    });
    try {
      if (config.metrics)
        metricsServer = await startMetricsServer({ endpoint: config.metrics, metrics, logger });
    } catch (error) {
      await server.stop();
      throw error;
    }
    const running = metricsServer;
    return {
      port: server.port,
      metricsPort: running?.port,
      metrics,
      cacheStats: () => cache.stats(),
      stop: async () => {
        await server.stop();
        await running?.stop();
        if (ownPool) await pool.end();
      },
    };
  } catch (error) {
    if (ownPool) await pool.end().catch(() => undefined);
    throw error;
  }
}

/** The read cache's counters, read at scrape time (hit rate: hits / (hits + misses)). */
function registerCatalogMetrics(metrics: Metrics, cache: ReadCache): void {
  metrics.counterOf(
    'marquee_catalog_cache_hits_total',
    'Catalog reads answered from the in-process cache',
    () => cache.stats().hits,
  );
  metrics.counterOf(
    'marquee_catalog_cache_misses_total',
    'Catalog reads that went to the database (absent or expired entry)',
    () => cache.stats().misses,
  );
  metrics.gaugeOf(
    'marquee_catalog_cache_entries',
    'Entries in the catalog read cache',
    () => cache.stats().size,
  );
}

/**
 * Counts the records of every import that committed, by outcome, from the stream's last progress
 * message (phase "done"); an import that failed or was cancelled rolled back and counts nothing.
 */
function countImportedRecords<Req>(
  handler: handleServerStreamingCall<Req, ImportProgress>,
  metrics: Metrics,
): handleServerStreamingCall<Req, ImportProgress> {
  const records = metrics.counter({
    name: 'marquee_catalog_import_records_total',
    help: 'Records (venues, events, shows) written by committed catalog imports, by outcome',
    labelNames: ['outcome'],
  });
  for (const outcome of ['created', 'updated', 'unchanged']) records.inc({ outcome }, 0);
  return (call: ServerWritableStream<Req, ImportProgress>) => {
    let last: ImportProgress | undefined;
    const write = call.write.bind(call) as (progress: ImportProgress) => boolean;
    const end = call.end.bind(call) as () => ServerWritableStream<Req, ImportProgress>;
    call.write = ((progress: ImportProgress) => {
      last = { ...progress };
      return write(progress);
    }) as typeof call.write;
    // import-stream.ts ends the call only after runImport committed (errors end it with a status).
    call.end = (() => {
      if (last?.phase === 'done')
        for (const outcome of ['created', 'updated', 'unchanged'] as const)
          records.inc({ outcome }, last[outcome]);
      return end();
    }) as typeof call.end;
    handler(call);
  };
}
