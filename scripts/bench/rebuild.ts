/**
 * Rebuild benchmark (issue 12): how fast a wiped booking node is rebuilt from a streamed snapshot,
 * and what streaming it costs the master's event loop.
 *
 *   npx tsx scripts/bench/rebuild.ts [--rows 300000] [--batch-rows 2000] [--chunk-kib 1024]
 *
 * A private MariaDB holds two databases: the master's, filled straight by SQL with --rows booking
 * state rows (seats of 500-seat shows, holds, hold items, bookings, payments) at a compacted log
 * position, and the slave's, empty. The slave is a child process (this script with --slave): a
 * ReplicationNode over its database with the booking state machine, serving the peer gRPC service.
 * This process is the master: becomeMaster(2) starts its replicator, which finds the slave's log
 * behind its compacted log and streams it a snapshot (OfferSnapshot + InstallSnapshot, staging
 * tables, swap). Measured from becomeMaster until the slave's applied position reaches the snapshot:
 * rebuild time and rows/s, the master's event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms
 * resolution: p50, p99, max), peak RSS of both processes; then every table is compared
 * (CHECKSUM TABLE). Progress (rows staged on the slave) is printed every second. Every process is
 * stopped by PID and the data directory removed at the end.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { RowDataPacket } from 'mysql2/promise';
import pino from 'pino';
import { BOOKING_SCHEMA } from '../../services/booking/schema';
import { BookingStateMachine, SNAPSHOT_TABLES } from '../../services/booking/state-machine';
import { startGrpcServer } from '../../services/common/grpc-server';
import { LamportClock } from '../../services/common/lamport';
import { migrate, openDatabase } from '../../services/common/mysql';
import type { Pool } from '../../services/common/mysql';
import { ClusterSecret } from '../../services/common/peer-auth';
import { ReplicationLog } from '../../services/replication/log-store';
import { ReplicationNode } from '../../services/replication/node';
import { MAX_PEER_MESSAGE_BYTES } from '../../services/replication/transport';
import { startPrivateMariaDb } from '../lib/mariadb';
import { freePort, startProcess } from '../lib/processes';

const REPO_ROOT = path.resolve(__dirname, '../..');
const SECRET = new ClusterSecret('rebuild-bench-secret-0123456789abcdef');
const logger = pino({ level: 'warn' });

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at < 0 ? fallback : Number(process.argv[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

function text(name: string): string {
  const at = process.argv.indexOf(`--${name}`);
  const value = at < 0 ? undefined : process.argv[at + 1];
  if (!value) throw new Error(`--${name} is required`);
  return value;
}

/** The child: a slave node over an empty database until the master's snapshot arrives. */
async function slave(): Promise<void> {
  const pool = await openDatabase(text('mysql'), text('db'), 8);
  await migrate(pool, BOOKING_SCHEMA);
  const node = new ReplicationNode({
    nodeId: 2,
    pool,
    machine: new BookingStateMachine(),
    peers: new Map([[1, text('master')]]),
    secret: SECRET,
    clock: new LamportClock(),
    logger,
  });
  await node.start();
  const server = await startGrpcServer({
    host: '127.0.0.1',
    port: option('port', 1),
    services: [node.service()],
    logger,
    maxReceiveMessageBytes: MAX_PEER_MESSAGE_BYTES,
  });
  // Peak RSS on request (the parent reads our stdout log at the end).
  const peak = setInterval(() => {
    rss = Math.max(rss, process.memoryUsage().rss);
  }, 100);
  let rss = 0;
  process.once('SIGTERM', () => {
    clearInterval(peak);
    console.log(JSON.stringify({ peakRssMiB: Math.round(rss / 2 ** 20) }));
    void server
      .stop(0)
      .then(() => node.stop())
      .then(() => pool.end())
      .then(() => process.exit(0));
  });
}

/** Inserts `rows` in statements of 2,000. */
async function insert(pool: Pool, table: string, columns: string, rows: unknown[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += 2000)
    await pool.query(`INSERT INTO ${table} (${columns}) VALUES ?`, [rows.slice(i, i + 2000)]);
}

/** About `total` rows in the booking tables' shape: 60 % seats, 10 % each of the rest. */
async function fill(pool: Pool, total: number): Promise<number> {
  const seatsPerShow = 500;
  const shows = Math.max(1, Math.round((total * 0.6) / seatsPerShow));
  const each = Math.round(total * 0.1);
  const at = '2026-12-07 12:00:00.000';
  await insert(
    pool,
    'shows',
    'show_id, currency, starts_at, materialized_at',
    Array.from({ length: shows }, (_, s) => [`show-${s}`, 'EUR', '2027-01-01T20:00:00Z', at]),
  );
  for (let s = 0; s < shows; s++)
    await insert(
      pool,
      'seats',
      'show_id, seat_id, position, label, price_tier, amount_cents, state, booking_id',
      Array.from({ length: seatsPerShow }, (_, i) => [
        `show-${s}`,
        `R${Math.floor(i / 20)}-${i % 20}`,
        i,
        `Row ${Math.floor(i / 20)} seat ${i % 20}`,
        'STANDARD',
        4500,
        i < each / shows ? 'SOLD' : 'FREE',
        i < each / shows ? `booking-${s}-${i}` : null,
      ]),
    );
  const ids = Array.from({ length: each }, (_, i) => i);
  await insert(
    pool,
    'holds',
    'id, user_id, show_id, state, total_cents, currency, expires_at, created_at, booking_id',
    ids.map((i) => [
      `hold-${i}`,
      `user-${i % 5000}`,
      `show-${i % shows}`,
      'CONFIRMED',
      4500,
      'EUR',
      at,
      at,
      `booking-${i}`,
    ]),
  );
  await insert(
    pool,
    'hold_items',
    'hold_id, kind, item_id, label, quantity, amount_cents',
    ids.map((i) => [`hold-${i}`, i % 2 ? 'SEAT' : 'GA', `item-${i}`, 'A seat', 1, 4500]),
  );
  await insert(
    pool,
    'bookings',
    'id, user_id, show_id, hold_id, state, total_cents, currency, payment_id, created_at',
    ids.map((i) => [
      `booking-${i}`,
      `user-${i % 5000}`,
      `show-${i % shows}`,
      `hold-${i}`,
      'CONFIRMED',
      4500,
      'EUR',
      `pay-${i}`,
      at,
    ]),
  );
  await insert(
    pool,
    'payments',
    'id, kind, booking_id, user_id, amount_cents, currency, card_last4, created_at',
    ids.map((i) => [`pay-${i}`, 'CHARGE', `booking-${i}`, `user-${i % 5000}`, 4500, 'EUR', '4242', at]),
  );
  return shows * seatsPerShow + shows + each * 4;
}

async function count(pool: Pool, sql: string): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>(sql);
  return Number(Object.values(rows[0] ?? {})[0] ?? 0);
}

async function master(): Promise<void> {
  const total = option('rows', 300_000);
  const runDir = path.join(REPO_ROOT, '.data', 'bench', `rebuild-${process.pid}`);
  mkdirSync(runDir, { recursive: true });
  const mariadb = await startPrivateMariaDb({
    dataDir: path.join(runDir, 'mariadb'),
    port: await freePort(),
    fresh: true,
    logFile: path.join(runDir, 'mariadb.log'),
  });
  const stops: (() => Promise<void>)[] = [() => mariadb.stop()];
  try {
    const pool = await openDatabase(mariadb.url, 'rebuild_master', 8);
    stops.unshift(() => pool.end());
    await migrate(pool, BOOKING_SCHEMA);
    process.stdout.write(`filling the master with about ${total} state rows... `);
    const rows = await fill(pool, total);
    console.log(`${rows} rows`);
    // The master's log was compacted at 1000: a slave starting from nothing needs a snapshot.
    await new ReplicationLog(pool, 1).migrate();
    await pool.query(
      `UPDATE replication_state SET current_term = 1, leader_id = 1, last_index = 1000, last_term = 1,
         commit_index = 1000, applied_index = 1000, snapshot_index = 1000, snapshot_term = 1`,
    );

    const slavePort = await freePort();
    const child = startProcess(
      'slave',
      process.execPath,
      [
        '--import',
        'tsx',
        __filename,
        '--slave',
        '--mysql',
        mariadb.url,
        '--db',
        'rebuild_slave',
        '--port',
        String(slavePort),
        '--master',
        '127.0.0.1:1',
      ],
      { logFile: path.join(runDir, 'slave.log'), cwd: REPO_ROOT },
    );
    stops.unshift(() => child.stop());
    const slavePool = await openDatabase(mariadb.url, 'rebuild_slave', 2);
    stops.unshift(() => slavePool.end());
    for (;;) {
      const up = await count(
        slavePool,
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'rebuild_slave' AND TABLE_NAME = 'replication_state'",
      ).catch(() => 0);
      if (up === 1) break;
      if (child.child.exitCode !== null) throw new Error(`the slave exited; see ${runDir}/slave.log`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 500)); // its gRPC server listens right after

    const sender = new ReplicationNode({
      nodeId: 1,
      pool,
      machine: new BookingStateMachine(),
      peers: new Map([[2, `127.0.0.1:${slavePort}`]]),
      secret: SECRET,
      clock: new LamportClock(),
      logger,
      snapshotBatchRows: option('batch-rows', 2000),
      snapshotChunkBytes: option('chunk-kib', 1024) * 1024,
    });
    await sender.start();
    const delay = monitorEventLoopDelay({ resolution: 1 });
    // The fill's garbage may still be on the heap: the RSS at the start shows what the transfer added.
    const rssAtStart = process.memoryUsage().rss;
    let masterRss = rssAtStart;
    const started = performance.now();
    delay.enable();
    await sender.becomeMaster(2);
    const target = (await sender.log.state()).lastIndex;
    let lastPrint = 0;
    for (;;) {
      masterRss = Math.max(masterRss, process.memoryUsage().rss);
      const applied = await count(
        slavePool,
        'SELECT applied_index FROM replication_state WHERE id = 1',
      ).catch(() => 0);
      if (applied >= target) break;
      const now = performance.now();
      if (now - lastPrint >= 1000) {
        lastPrint = now;
        const staged = await count(
          slavePool,
          'SELECT COALESCE(MAX(row_count), 0) FROM replication_snapshot_receive',
        ).catch(() => 0);
        console.log(
          `  ${((now - started) / 1000).toFixed(1)} s: ${staged} of ${rows} rows staged (${Math.round((100 * staged) / rows)} %)`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    delay.disable();
    await sender.stop();

    const mismatched: string[] = [];
    for (const table of SNAPSHOT_TABLES) {
      const [sums] = await pool.query<RowDataPacket[]>(
        `CHECKSUM TABLE rebuild_master.\`${table}\`, rebuild_slave.\`${table}\``,
      );
      if (sums[0]?.Checksum !== sums[1]?.Checksum) mismatched.push(table);
    }
    const slaveRows = (
      await Promise.all(SNAPSHOT_TABLES.map((t) => count(slavePool, `SELECT COUNT(*) FROM \`${t}\``)))
    ).reduce((a, b) => a + b, 0);
    await child.stop();
    const slaveRss = /"peakRssMiB":(\d+)/.exec(readFileSync(path.join(runDir, 'slave.log'), 'utf8'))?.[1];
    const ms = (ns: number) => (ns / 1e6).toFixed(1);
    console.log(
      `rebuilt ${slaveRows} of ${rows} rows in ${seconds.toFixed(1)} s: ${Math.round(rows / seconds)} rows/s`,
    );
    console.log(
      `master event-loop delay during the transfer: p50 ${ms(delay.percentile(50))} ms, p99 ${ms(delay.percentile(99))} ms, max ${ms(delay.max)} ms`,
    );
    console.log(
      `peak RSS: master ${Math.round(masterRss / 2 ** 20)} MiB (${Math.round(rssAtStart / 2 ** 20)} MiB when the transfer began), slave ${slaveRss ?? '?'} MiB`,
    );
    console.log(
      mismatched.length === 0
        ? 'every table equal (CHECKSUM TABLE)'
        : `TABLES DIFFER: ${mismatched.join(', ')}`,
    );
    if (mismatched.length > 0 || slaveRows !== rows) process.exitCode = 1;
  } finally {
    for (const stop of stops)
      await stop().catch((error: unknown) => console.error('stopping failed:', error));
    rmSync(runDir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--slave'))
  slave().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
else
  master().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
