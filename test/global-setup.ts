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
  const mariadb = await startPrivateMariaDb({
    dataDir: path.join(root, 'mariadb'),
    port,
    fresh: true,
    logFile: path.join(root, 'mariadb.log'),
  });
  process.env.MARQUEE_TEST_MYSQL_URL = mariadb.url;
  writeFileSync(path.join(root, 'mariadb.pid'), String(mariadb.process.pid));
  (globalThis as { __marqueeMariaDb?: typeof mariadb }).__marqueeMariaDb = mariadb;
}
