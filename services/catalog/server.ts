import type { ServiceDefinition } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { adaptService, startGrpcServer } from '../common/grpc-server';
import type { LamportClock } from '../common/lamport';
import { migrate, openDatabase } from '../common/mysql';
import type { Pool } from '../common/mysql';
import { CatalogServiceService } from '../../proto/gen/marquee/catalog/v1/catalog';
import type { CatalogServiceServer } from '../../proto/gen/marquee/catalog/v1/catalog';
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

    const server = await startGrpcServer({
      host: config.host,
      port: config.port,
      logger,
      reflectionListsAll: config.reflectionListsAll,
      clock: options.lamport,
      services: [
        {
          name: CATALOG_SERVICE_NAME,
          definition: { ...unary.definition, importCatalog: importStream.definition } as ServiceDefinition,
          implementation: { ...unary.implementation, importCatalog: importStream.handler },
        },
      ],
    });
    return {
      port: server.port,
      cacheStats: () => cache.stats(),
      stop: async () => {
        await server.stop();
        if (ownPool) await pool.end();
      },
    };
  } catch (error) {
    if (ownPool) await pool.end().catch(() => undefined);
    throw error;
  }
}
