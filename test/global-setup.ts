import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startPrivateMariaDb } from '../scripts/lib/mariadb';
import { freePort } from '../scripts/lib/processes';

/**
 * Starts one private MariaDB for the whole test run (unless MARQUEE_TEST_MYSQL_URL names a server)
 * and hands its URL to the test workers through the environment.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.MARQUEE_TEST_MYSQL_URL) return;
  const root = path.join(__dirname, '..', '.data', 'test');
  mkdirSync(root, { recursive: true });
  const port = await freePort();
  // One data directory per run, so two jest runs on one machine never share (or wipe) a server.
  const dataDir = path.join(root, `mariadb-${process.pid}`);
  const mariadb = await startPrivateMariaDb({
    dataDir,
    port,
    fresh: true,
    logFile: path.join(root, `mariadb-${process.pid}.log`),
  });
  process.env.MARQUEE_TEST_MYSQL_URL = mariadb.url;
  writeFileSync(path.join(root, `mariadb-${process.pid}.pid`), String(mariadb.process.pid));
  (globalThis as { __marqueeMariaDb?: { server: typeof mariadb; dataDir: string } }).__marqueeMariaDb = {
    server: mariadb,
    dataDir,
  };
}
