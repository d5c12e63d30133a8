import {
  ConfigError,
  readAddress,
  readDatabaseName,
  readInt,
  readLamportFile,
  readLogLevel,
  readMysqlUrl,
  readNodeAddresses,
  readPort,
  readString,
  readTokenSecret,
} from '../common/config';
import type { Env } from '../common/config';
import { readMetricsEndpoint } from '../common/metrics';
import type { MetricsEndpointConfig } from '../common/metrics';

export interface RecommendationConfig {
  readonly host: string;
  /** 50091: DESIGN.md's 50081 is taken by booking node 1's peer port in the local topology. */
  readonly port: number;
  readonly mysqlUrl: string;
  readonly database: string;
  readonly tokenSecret: string;
  readonly logLevel: string;
  readonly lamportFile: string;
  readonly catalogAddr: string;
  /** Booking nodes whose change streams are followed, tried in turn when one fails. */
  readonly bookingAddrs: readonly string[];
  /** How often the whole model is rebuilt from every interaction (on a worker thread). */
  readonly retrainIntervalMs: number;
  /**
   * How often the catalog's events and shows are read again (new events, shows that ended). Each
   * read costs one ListShows per event: raise it for a catalog of thousands of events.
   */
  readonly catalogRefreshMs: number;
  /** Half-life of a booking's weight in the model, in days. */
  readonly halfLifeDays: number;
  /** GET /metrics (MARQUEE_METRICS_PORT); undefined: not served. */
  readonly metrics: MetricsEndpointConfig | undefined;
}

/** Parses the recommendation service's environment once; throws ConfigError naming the variable. */
export function loadConfig(env: Env): RecommendationConfig {
  const booking = readNodeAddresses(
    env,
    'MARQUEE_BOOKING_ADDRS',
    '1=127.0.0.1:50071,2=127.0.0.1:50072,3=127.0.0.1:50073',
  );
  if (!booking) throw new ConfigError('MARQUEE_BOOKING_ADDRS', 'must list at least one booking node');
  const host = readString(env, 'MARQUEE_RECOMMENDATION_HOST', '127.0.0.1');
  return Object.freeze({
    host,
    port: readPort(env, 'MARQUEE_RECOMMENDATION_PORT', 50091),
    mysqlUrl: readMysqlUrl(env, 'MARQUEE_MYSQL_URL', 'mysql://root@127.0.0.1:3306'),
    database: readDatabaseName(env, 'MARQUEE_RECOMMENDATION_DB', 'marquee_recommendation'),
    tokenSecret: readTokenSecret(env),
    logLevel: readLogLevel(env),
    lamportFile: readLamportFile(env),
    catalogAddr: readAddress(env, 'MARQUEE_CATALOG_ADDR', '127.0.0.1:50061'),
    bookingAddrs: [...booking.values()],
    retrainIntervalMs: readInt(env, 'MARQUEE_RECOMMENDATION_RETRAIN_MS', 600_000, {
      min: 1000,
      max: 86_400_000,
    }),
    catalogRefreshMs: readInt(env, 'MARQUEE_RECOMMENDATION_CATALOG_REFRESH_MS', 15_000, {
      min: 100,
      max: 86_400_000,
    }),
    halfLifeDays: readInt(env, 'MARQUEE_RECOMMENDATION_HALF_LIFE_DAYS', 30, { min: 1, max: 3650 }),
    metrics: readMetricsEndpoint(env, 'MARQUEE_METRICS_PORT', 'MARQUEE_METRICS_HOST', host),
  });
}
