import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startProcess, waitForPort } from './processes';
import type { ManagedProcess } from './processes';

const run = promisify(execFile);

export interface PrivateMariaDb {
  url: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

function findBinary(name: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} not found: run ./scripts/setup.sh (it installs mariadb-server)`);
}

/**
 * Starts a private mariadbd with its data under `dataDir` on 127.0.0.1:`port`, initialising the data
 * directory on first use. `fresh` wipes it first (tests); `npm start` keeps it between runs.
 */
export async function startPrivateMariaDb(options: {
  dataDir: string;
  port: number;
  fresh: boolean;
  logFile: string;
}): Promise<PrivateMariaDb> {
  const { dataDir, port } = options;
  if (options.fresh) rmSync(dataDir, { recursive: true, force: true });
  const initialised = existsSync(path.join(dataDir, 'mysql'));
  mkdirSync(dataDir, { recursive: true });
  if (!initialised) {
    await run(findBinary('mariadb-install-db'), [
      '--no-defaults',
      `--datadir=${dataDir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--user=root',
    ]);
  }
  const mariadbd = startProcess(
    'mariadb',
    findBinary('mariadbd'),
    [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${path.join(dataDir, 'mysqld.sock')}`,
      `--pid-file=${path.join(dataDir, 'mysqld.pid')}`,
      '--user=root',
      '--skip-name-resolve',
      '--max-connections=1000',
      '--innodb-buffer-pool-size=256M',
      '--innodb-lock-wait-timeout=10',
      // Durable like production: every commit is flushed (the benchmark baseline uses the same server).
      '--innodb-flush-log-at-trx-commit=1',
      '--skip-log-bin',
    ],
    { logFile: options.logFile },
  );
  await waitForPort('127.0.0.1', port, 30000, mariadbd.exited);
  return {
    url: `mysql://root@127.0.0.1:${port}`,
    port,
    process: mariadbd,
    stop: () => mariadbd.stop('SIGTERM', 15000),
  };
}
