import { rmSync } from 'node:fs';
import path from 'node:path';
import type { PrivateMariaDb } from '../scripts/lib/mariadb';

/** Stops the MariaDB that globalSetup started (by its PID) and removes its data directory and log. */
export default async function globalTeardown(): Promise<void> {
  const started = (globalThis as { __marqueeMariaDb?: { server: PrivateMariaDb; dataDir: string } })
    .__marqueeMariaDb;
  if (!started) return;
  await started.server.stop();
  rmSync(started.dataDir, { recursive: true, force: true });
  const root = path.dirname(started.dataDir);
  const name = path.basename(started.dataDir);
  for (const file of [`${name}.pid`, `${name}.log`]) rmSync(path.join(root, file), { force: true });
}
