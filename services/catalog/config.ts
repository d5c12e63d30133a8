import {
  ConfigError,
  readInt,
  readDatabaseName,
  readLamportFile,
  readLogLevel,
  readMysqlUrl,
  readPort,
  readString,
  readTokenSecret,
} from '../common/config';
import type { Env } from '../common/config';
import { readMetricsEndpoint } from '../common/metrics';
import type { MetricsEndpointConfig } from '../common/metrics';

export interface CatalogConfig {
  readonly host: string;
  readonly port: number;
  readonly mysqlUrl: string;
  readonly database: string;
  readonly tokenSecret: string;
  readonly logLevel: string;
  /** How long a cached read may be served; writes through this process clear the cache at once. */
  readonly cacheTtlMs: number;
  /**
   * Reflection lists every marquee service, not only the catalog: the nginx front door routes the
   * reflection path to the catalog, so `grpcurl list` through it must see the whole API.
   */
  readonly reflectionListsAll: boolean;
  /** Persisted Lamport clock ('' = in memory). */
  readonly lamportFile: string;
  /** GET /metrics (MARQUEE_METRICS_PORT); undefined: not served. */
  readonly metrics: MetricsEndpointConfig | undefined;
}

/** Parses the catalog's environment once; throws ConfigError naming the variable on bad values. */
export function loadConfig(env: Env): CatalogConfig {
  const host = readString(env, 'MARQUEE_CATALOG_HOST', '127.0.0.1');
  return Object.freeze({
    host,
    port: readPort(env, 'MARQUEE_CATALOG_PORT', 50061),
    mysqlUrl: readMysqlUrl(env, 'MARQUEE_MYSQL_URL', 'mysql://root@127.0.0.1:3306'),
    database: readDatabaseName(env, 'MARQUEE_CATALOG_DB', 'marquee_catalog'),
    tokenSecret: readTokenSecret(env),
    logLevel: readLogLevel(env),
    cacheTtlMs: readInt(env, 'MARQUEE_CATALOG_CACHE_TTL_MS', 30_000, { min: 0, max: 3_600_000 }),
    reflectionListsAll: readBoolean(env, 'MARQUEE_CATALOG_REFLECT_ALL', true),
    lamportFile: readLamportFile(env),
    metrics: readMetricsEndpoint(env, 'MARQUEE_METRICS_PORT', 'MARQUEE_METRICS_HOST', host),
  });
}

function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(name, `must be true or false (got ${JSON.stringify(raw)})`);
}
