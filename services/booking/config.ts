import {
  ConfigError,
  readInt,
  readLamportFile,
  readLogLevel,
  readMysqlUrl,
  readPort,
  readString,
  readTokenSecret,
} from '../common/config';
import type { Env } from '../common/config';

export interface BookingConfig {
  host: string;
  port: number;
  nodeId: number;
  mysqlUrl: string;
  database: string;
  /** Connections in the booking pool; each in-flight write holds one for its transaction. */
  mysqlConnections: number;
  catalogAddr: string;
  tokenSecret: string;
  tokenTtlSeconds: number;
  holdTtlSeconds: number;
  adminEmail: string;
  adminPassword: string;
  idempotencyTtlHours: number;
  sweepIntervalMs: number;
  logLevel: string;
  /** Persisted Lamport clock ('' = in memory). */
  lamportFile: string;
}

/** Parses the booking node's settings once, fills defaults, validates and freezes them. */
export function loadConfig(env: Env): Readonly<BookingConfig> {
  const production = env.NODE_ENV === 'production';
  const nodeId = readInt(env, 'MARQUEE_NODE_ID', 1, { min: 1, max: 1000 });
  const database = readString(env, 'MARQUEE_BOOKING_DB', `marquee_booking_${nodeId}`);
  if (!/^[A-Za-z0-9_]{1,64}$/.test(database))
    throw new ConfigError('MARQUEE_BOOKING_DB', 'must be a plain identifier (letters, digits, _)');
  const catalogAddr = readString(env, 'MARQUEE_CATALOG_ADDR', '127.0.0.1:50061');
  if (!/^[^\s:]+:\d{1,5}$/.test(catalogAddr))
    throw new ConfigError('MARQUEE_CATALOG_ADDR', 'must be host:port');
  const adminEmail = readString(env, 'MARQUEE_ADMIN_EMAIL', 'admin@marquee.local').toLowerCase();
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(adminEmail))
    throw new ConfigError('MARQUEE_ADMIN_EMAIL', 'must be an email address');
  // A well-known default admin password is only tolerable on a developer's machine.
  const adminPassword = readString(env, 'MARQUEE_ADMIN_PASSWORD', production ? undefined : 'marquee-admin');
  if (adminPassword.length < 8 || adminPassword.length > 128)
    throw new ConfigError('MARQUEE_ADMIN_PASSWORD', 'must be 8 to 128 characters');
  return Object.freeze({
    host: readString(env, 'MARQUEE_BOOKING_HOST', '127.0.0.1'),
    port: readPort(env, 'MARQUEE_BOOKING_PORT', 50071),
    nodeId,
    mysqlUrl: readMysqlUrl(env, 'MARQUEE_MYSQL_URL', 'mysql://root@127.0.0.1:3306'),
    database,
    mysqlConnections: readInt(env, 'MARQUEE_BOOKING_MYSQL_CONNECTIONS', 32, { min: 1, max: 500 }),
    catalogAddr,
    tokenSecret: readTokenSecret(env),
    tokenTtlSeconds: readInt(env, 'MARQUEE_TOKEN_TTL_SECONDS', 86400, { min: 60, max: 30 * 86400 }),
    holdTtlSeconds: readInt(env, 'MARQUEE_HOLD_TTL_SECONDS', 600, { min: 1, max: 86400 }),
    adminEmail,
    adminPassword,
    idempotencyTtlHours: readInt(env, 'MARQUEE_IDEMPOTENCY_TTL_HOURS', 24, { min: 1, max: 24 * 30 }),
    sweepIntervalMs: readInt(env, 'MARQUEE_SWEEP_INTERVAL_MS', 1000, { min: 10, max: 3600000 }),
    logLevel: readLogLevel(env),
    lamportFile: readLamportFile(env),
  });
}
