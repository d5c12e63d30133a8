/**
 * Helpers for each service's `loadConfig(env)`: parse once, fill defaults, validate with a message
 * naming the variable, freeze. Nothing else reads process.env.
 */
export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`config ${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export function readString(env: Env, name: string, fallback?: string): string {
  const value = env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback === undefined) throw new ConfigError(name, 'is required');
  return fallback;
}

export function readInt(
  env: Env,
  name: string,
  fallback: number,
  range: { min: number; max: number },
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new ConfigError(
      name,
      `must be an integer between ${range.min} and ${range.max} (got ${JSON.stringify(raw)})`,
    );
  }
  return value;
}

export function readPort(env: Env, name: string, fallback: number): number {
  return readInt(env, name, fallback, { min: 0, max: 65535 });
}

export function readMysqlUrl(env: Env, name: string, fallback: string): string {
  const value = readString(env, name, fallback);
  if (!/^mysql:\/\//.test(value)) throw new ConfigError(name, 'must be a mysql:// URL');
  return value;
}

export function readLogLevel(env: Env): string {
  const level = readString(env, 'MARQUEE_LOG_LEVEL', 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) {
    throw new ConfigError('MARQUEE_LOG_LEVEL', `unknown level ${JSON.stringify(level)}`);
  }
  return level;
}

/**
 * Where a process keeps its Lamport clock's high-water mark so the clock never goes backwards across
 * restarts; '' keeps it in memory only (tests, throwaway containers).
 */
export function readLamportFile(env: Env): string {
  return readString(env, 'MARQUEE_LAMPORT_FILE', '');
}

/** The shared token secret: required in production, a fixed development value otherwise. */
export function readTokenSecret(env: Env): string {
  const secret = readString(
    env,
    'MARQUEE_TOKEN_SECRET',
    env.NODE_ENV === 'production' ? undefined : 'marquee-dev-secret-change-me',
  );
  if (secret.length < 16) throw new ConfigError('MARQUEE_TOKEN_SECRET', 'must be at least 16 characters');
  return secret;
}

/**
 * "1=host:port,2=host:port": node id → address (MARQUEE_PEERS, MARQUEE_BOOKING_ADDRS), read the
 * same way by the booking node and the gateway. Undefined when the variable is empty and no
 * fallback is given.
 */
export function readNodeAddresses(env: Env, name: string, fallback = ''): Map<number, string> | undefined {
  const raw = readString(env, name, fallback).trim();
  if (raw === '') return undefined;
  const addresses = new Map<number, string>();
  for (const part of raw.split(',')) {
    const match = /^\s*(\d{1,4})\s*=\s*([^\s:,=]+):(\d{1,5})\s*$/.exec(part);
    const id = Number(match?.[1]);
    const port = Number(match?.[3]);
    if (!match || id < 1 || id > 1000 || port < 1 || port > 65535)
      throw new ConfigError(name, `entry ${JSON.stringify(part)} must be <node id>=<host>:<port>`);
    if (addresses.has(id)) throw new ConfigError(name, `node ${id} is listed twice`);
    addresses.set(id, `${match[2]}:${port}`);
  }
  return addresses;
}

/** A database name: checked at boot so a typo fails with the variable's name, not inside openDatabase. */
export function readDatabaseName(env: Env, name: string, fallback: string): string {
  const value = readString(env, name, fallback);
  if (!/^[A-Za-z0-9_]{1,64}$/.test(value))
    throw new ConfigError(name, 'must be a plain identifier (letters, digits and _, at most 64)');
  return value;
}

/** host:port of a service (MARQUEE_CATALOG_ADDR and the like). */
export function readAddress(env: Env, name: string, fallback: string): string {
  const value = readString(env, name, fallback);
  if (!/^[^\s:]+:\d{1,5}$/.test(value)) throw new ConfigError(name, 'must be host:port');
  return value;
}
