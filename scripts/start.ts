/**
 * `npm start`: runs the whole local stack in the foreground — a private MariaDB, the catalog, three
 * booking nodes in cluster mode (each peer link through a fault proxy), the recommendation service,
 * two HTTP gateways, the nginx front door (gRPC and web) and the control API a chaos tool drives —
 * loads the demo catalog, prints the addresses and one `Marquee is up:` line, and stops every process
 * it started (by PID) on Ctrl-C.
 *
 * Environment: MARQUEE_MYSQL_URL to use an existing MySQL server instead of the private MariaDB;
 * MARQUEE_ETCD_ENDPOINTS unset starts a private etcd for the booking group's fallback lease, empty
 * runs the group on bully + quorum alone, a URL list uses that etcd; MARQUEE_TOKEN_SECRET and
 * MARQUEE_CLUSTER_SECRET (development secrets otherwise); MARQUEE_FRESH=1 to wipe the demo data
 * (and etcd's) first.
 */
import path from 'node:path';
import { readTokenSecret } from '../services/common/config';
import { seedDemoData } from './demo-data/seed';
import {
  DEFAULT_METRICS_PORTS,
  DEFAULT_PEER_PORTS,
  DEFAULT_PORTS,
  stackStepCount,
  startStack,
} from './lib/stack';
import type { StackOptions } from './lib/stack';
import { etcdModeFromEnv } from './lib/stack-etcd';
import { etcdStatusLine } from './lib/etcd-status';
import { whenParentGone } from './lib/processes';

const repoRoot = path.join(__dirname, '..');
const dataDir = path.join(repoRoot, '.data', 'local');
// Every process's log, apart from the rest of the data: where `npm run logs` reads by default.
const logsDir = path.join(repoRoot, '.data', 'logs');
/** As the messages show it, relative to the checkout. */
const logs = path.relative(repoRoot, logsDir);

async function main(): Promise<void> {
  const started = Date.now();
  const tokenSecret = readTokenSecret(process.env);
  const seconds = (): string => ((Date.now() - started) / 1000).toFixed(1);
  let stopping = false;
  const options: StackOptions = {
    repoRoot,
    dataDir,
    logsDir,
    ports: {
      ...DEFAULT_PORTS,
      peer: DEFAULT_PEER_PORTS,
      mysql: Number(process.env.MARQUEE_MYSQL_PORT ?? 53306),
      metrics: DEFAULT_METRICS_PORTS,
    },
    mysqlUrl: process.env.MARQUEE_MYSQL_URL,
    etcd: etcdModeFromEnv(process.env.MARQUEE_ETCD_ENDPOINTS),
    freshData: process.env.MARQUEE_FRESH === '1',
    tokenSecret,
    clusterSecret: process.env.MARQUEE_CLUSTER_SECRET,
    logLevel: process.env.MARQUEE_LOG_LEVEL,
    control: true,
    // Chaos kills booking nodes on purpose: say so, keep the stack up.
    onNodeExit: (node, how) => {
      if (stopping) return;
      process.stdout.write(
        `booking node ${node.id} exited (${how}), now ${node.state}; the stack keeps running ` +
          `(restart: POST /nodes/${node.id}/restart; log: ${logs}/booking-${node.id}.log)\n`,
      );
    },
  };
  const total = stackStepCount(options) + 1;
  let step = 0;
  options.onProgress = (what: string): void => {
    step += 1;
    process.stdout.write(`[${step}/${total}] ${what} (${seconds()} s)\n`);
  };
  const stack = await startStack(options);

  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the stack...\n`);
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
  // The terminal closed.
  process.on('SIGHUP', () => shutdown('SIGHUP'));
  // npm (or whatever started us) is gone without passing a signal on: stop rather than run orphaned.
  whenParentGone(() => shutdown('parent process gone'));
  // MariaDB, catalog, recommendation, the gateways and nginx are not chaos targets: without one the
  // stack is broken.
  for (const child of stack.processes) {
    void child.exited.then((code) => {
      if (stopping) return;
      process.stderr.write(
        `${child.name} (pid ${child.pid}) exited with ${String(code)}; see ${logs}/${child.name}.log\n`,
      );
      shutdown('child exit');
    });
  }

  options.onProgress('loading demo data');
  let seeded: string;
  try {
    seeded = await seedDemoData(stack.grpcAddress, tokenSecret, new Date());
  } catch (error) {
    stopping = true;
    await stack.stop();
    throw error;
  }
  // The master at this moment, for the listing; a chaos run may already have changed it.
  const master = await stack.waitForMaster(10000).catch(() => undefined);
  process.stdout.write(`demo data: ${seeded}\n`);
  for (const node of stack.nodes())
    process.stdout.write(
      `booking node ${node.id}: client ${node.clientAddress}, peer ${node.peerAddress}, pid ${String(node.pid)}` +
        `${node.id === master?.masterId ? ` (master, term ${master.term})` : ''}\n`,
    );
  process.stdout.write(`${await etcdStatusLine(stack)}\n`);
  process.stdout.write(
    `catalog: ${stack.catalogAddress}, recommendation: ${stack.recommendationAddress} ` +
      `(behind nginx at ${stack.grpcAddress})\n`,
  );
  process.stdout.write(`gateways: ${stack.gatewayUrls.join(', ')} (behind nginx at ${stack.webUrl})\n`);
  const metrics = stack.ports.metrics;
  if (metrics)
    process.stdout.write(
      `metrics (GET /metrics): catalog :${metrics.catalog}, booking ${metrics.booking.map((p) => `:${p}`).join(' ')}, ` +
        `recommendation :${metrics.recommendation}, gateways ${metrics.gateway.map((p) => `:${p}`).join(' ')} ` +
        `(summary: ${stack.webUrl}/api/metrics/summary)\n`,
    );
  process.stdout.write(
    `control: ${stack.controlUrl ?? '(off)'} (stack.json in ${path.join('.data', 'local')}; the chaos CLI reads it)\n`,
  );
  process.stdout.write(
    `logs: ${logs}; admin: ${stack.description.adminEmail} (see README, MARQUEE_ADMIN_EMAIL)\n`,
  );
  process.stdout.write(`Marquee is up: grpc ${stack.grpcAddress} web ${stack.webUrl} (${seconds()} s)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`npm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
