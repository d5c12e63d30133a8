/**
 * `npm start`: runs the whole local stack in the foreground — a private MariaDB, the catalog, a booking
 * node and the nginx front door — loads the demo catalog, prints one `Marquee is up:` line with the
 * addresses, and stops every process it started (by PID) on Ctrl-C.
 *
 * Environment: MARQUEE_MYSQL_URL to use an existing MySQL server instead of the private MariaDB;
 * MARQUEE_TOKEN_SECRET (a development secret otherwise); MARQUEE_FRESH=1 to wipe the demo data first.
 */
import path from 'node:path';
import { readTokenSecret } from '../services/common/config';
import { seedDemoData } from './demo-data/seed';
import { DEFAULT_PORTS, startStack } from './lib/stack';

const repoRoot = path.join(__dirname, '..');

async function main(): Promise<void> {
  const started = Date.now();
  const tokenSecret = readTokenSecret(process.env);
  let step = 0;
  const progress = (what: string): void => {
    step += 1;
    process.stdout.write(`[${step}/5] starting ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  };
  const stack = await startStack({
    repoRoot,
    dataDir: path.join(repoRoot, '.data', 'local'),
    ports: { ...DEFAULT_PORTS, mysql: Number(process.env.MARQUEE_MYSQL_PORT ?? 53306) },
    mysqlUrl: process.env.MARQUEE_MYSQL_URL,
    freshData: process.env.MARQUEE_FRESH === '1',
    tokenSecret,
    logLevel: process.env.MARQUEE_LOG_LEVEL,
    onProgress: progress,
  });

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping ${stack.processes.length} processes...\n`);
    stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`stop failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  for (const child of stack.processes) {
    void child.exited.then((code) => {
      if (stopping) return;
      process.stderr.write(
        `${child.name} (pid ${child.pid}) exited with ${String(code)}; see .data/local/logs/${child.name}.log\n`,
      );
      shutdown('child exit');
    });
  }

  progress('demo data');
  let seeded: string;
  try {
    seeded = await seedDemoData(stack.grpcAddress, tokenSecret, new Date());
  } catch (error) {
    stopping = true;
    await stack.stop();
    throw error;
  }
  process.stdout.write(`demo data: ${seeded}\n`);
  process.stdout.write(
    `logs: ${path.join('.data', 'local', 'logs')}; admin: see README (MARQUEE_ADMIN_EMAIL)\n`,
  );
  process.stdout.write(
    `Marquee is up: grpc ${stack.grpcAddress} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`npm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
