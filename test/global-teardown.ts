import { rmSync } from 'node:fs';
import path from 'node:path';
import type { PrivateMariaDb } from '../scripts/lib/mariadb';

/** Stops the MariaDB that globalSetup started (by its PID) and removes its data directory. */
export default async function globalTeardown(): Promise<void> {
  const mariadb = (globalThis as { __marqueeMariaDb?: PrivateMariaDb }).__marqueeMariaDb;
  if (!mariadb) return;
  await mariadb.stop();
  rmSync(path.join(__dirname, '..', '.data', 'test', 'mariadb'), { recursive: true, force: true });
}
