/**
 * Booking benchmark: how close does a full booking (hold + pay through gRPC, with idempotency keys
 * and every invariant checked in MySQL) come to the raw commit rate of the same MariaDB?
 *
 *   npx tsx scripts/bench/booking.ts [--seconds 10] [--clients 32] [--connections 32] [--seats 20000] [--channels 4] [--profile]
 *
 * 1. baseline: raw mysql2, 32 connections, single-row INSERT transactions (BEGIN; INSERT; COMMIT);
 * 2. booking: the catalog and a booking node as child processes, started as production starts them
 *    (`node --import tsx services/<name>/main.ts`, configured by environment), shows created through
 *    the catalog's admin API; 32 concurrent clients in this process each do HoldSeats(1 seat) then
 *    ConfirmBooking, over a few shared gRPC channels;
 * 3. for reading the figures: the same bookings through the store directly, in this process, without gRPC.
 * The phases run in alternating one-second slices (--seconds each), so drifting load on a shared
 * machine hits them alike. Prints the rates, the ratio, the hold+confirm latency and the CPU time
 * each process spent per operation (on a 2-core machine CPU is what runs out), and writes a latency
 * histogram as SVG. `--profile` runs the booking node under `node --cpu-prof` (.data/bench/profile).
 * It starts its own private MariaDB under .data/bench (durable commits, like production) and stops
 * every child by PID at the end, also on failure or Ctrl-C.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import { BookingServiceClient } from '../../proto/gen/marquee/booking/v1/booking';
import { signToken } from '../../services/common/auth';
import { createLogger } from '../../services/common/logger';
import { migrate, openDatabase } from '../../services/common/mysql';
import { scopeFor } from '../../services/booking/idempotency';
import { Inventory } from '../../services/booking/inventory';
import { SimulatedCardProcessor, validateCard } from '../../services/booking/payments';
import { BOOKING_SCHEMA } from '../../services/booking/schema';
import { StaticShowSource } from '../../services/booking/show-source';
import type { ShowInventory } from '../../services/booking/show-source';
import { MysqlBookingStore } from '../../services/booking/store';
import { startPrivateMariaDb } from '../lib/mariadb';
import type { PrivateMariaDb } from '../lib/mariadb';
import { freePort, startProcess } from '../lib/processes';
import { waitForServing } from '../lib/stack';
import { createShows } from './lib/catalog';
import { procCpuMs } from './lib/cpu';
import { retryOnCandidates } from '../lib/chaos/retry';
import { callWithMetadata } from './lib/grpc';
import { percentile } from './lib/stats';
import { histogramSvg } from './lib/svg';
import { singleNodeWriter } from '../../services/booking/write/batcher';

interface Options {
  seconds: number;
  clients: number;
  connections: number;
  seats: number;
  channels: number;
  /** Run the booking node under `node --cpu-prof` (profile in .data/bench/profile). */
  profile: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    seconds: 10,
    clients: 32,
    connections: 32,
    seats: 20000,
    channels: 4,
    profile: false,
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--profile') {
      options.profile = true;
      continue;
    }
    const match = /^--(seconds|clients|connections|seats|channels)(?:=(.*))?$/.exec(argv[i]!);
    if (!match)
      throw new Error(
        `unknown argument ${argv[i]} (use --seconds N, --clients N, --connections N, --seats N, --channels N, --profile)`,
      );
    const raw = match[2] ?? argv[++i];
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0)
      throw new Error(`--${match[1]} needs a positive number (got ${raw})`);
    options[match[1] as Exclude<keyof Options, 'profile'>] = value;
  }
  return options;
}

const log = (text: string): void => void process.stderr.write(`${text}\n`);

/** A measured workload: `step(id)` is one transaction or booking by loop `id`. */
interface Phase {
  label: string;
  concurrency: number;
  step(id: number): Promise<void>;
  count: number;
  elapsedMs: number;
  /** CPU milliseconds each watched process spent during this phase's slices. */
  cpuMs?: Map<string, number>;
}

/**
 * The processes whose CPU time the bench accounts per phase (the machine has two cores, so CPU,
 * not the disk, is usually what runs out): name → a function reading its user+system CPU ms.
 */
const watched = new Map<string, () => number>([
  [
    'bench',
    () => {
      const usage = process.cpuUsage();
      return (usage.user + usage.system) / 1000;
    },
  ],
]);

function cpuSnapshot(): Map<string, number> {
  return new Map([...watched].map(([name, read]) => [name, read()]));
}

/** Runs `phase` on `concurrency` loops for `ms`, adding to its count, elapsed and CPU time. */
async function runSlice(phase: Phase, ms: number): Promise<void> {
  const cpuBefore = cpuSnapshot();
  const started = performance.now();
  const endAt = started + ms;
  await Promise.all(
    Array.from({ length: phase.concurrency }, async (_, id) => {
      while (performance.now() < endAt) {
        await phase.step(id);
        phase.count++;
      }
    }),
  );
  phase.elapsedMs += performance.now() - started;
  phase.cpuMs ??= new Map();
  for (const [name, after] of cpuSnapshot())
    phase.cpuMs.set(name, (phase.cpuMs.get(name) ?? 0) + after - (cpuBefore.get(name) ?? NaN));
}

/** "bench 0.41 + booking 1.20 + mariadb 0.90 = 2.51 CPU ms per booking". */
function cpuPerOperation(phase: Phase, operations: number, unit: string): string {
  const parts = [...(phase.cpuMs ?? [])].filter(([, ms]) => ms > 0 || phase.label.includes(''));
  const total = parts.reduce((sum, [, ms]) => sum + ms, 0);
  const per = (ms: number): string => (ms / Math.max(1, operations)).toFixed(2);
  return `${parts.map(([name, ms]) => `${name} ${per(ms)}`).join(' + ')} = ${per(total)} CPU ms per ${unit}`;
}

/**
 * Alternates one-second slices of the phases until each ran `seconds`. On a shared machine the
 * load drifts; interleaving exposes both phases to the same drift, so their ratio stays honest.
 */
async function interleave(phases: Phase[], seconds: number): Promise<void> {
  const slices = Math.max(1, Math.round(seconds));
  const sliceMs = (seconds * 1000) / slices;
  for (let i = 0; i < slices; i++) {
    for (const phase of phases) {
      const before = phase.count;
      await runSlice(phase, sliceMs);
      const rate = ((phase.count - before) / sliceMs) * 1000;
      log(`[${i + 1}/${slices}] ${phase.label}: ${rate.toFixed(0)}/s`);
    }
  }
}

async function rawPhase(url: string, options: Options): Promise<{ phase: Phase; close(): Promise<void> }> {
  const pool = await openDatabase(url, 'bench_raw', options.connections);
  await pool.query(
    'CREATE TABLE IF NOT EXISTS t (id BIGINT AUTO_INCREMENT PRIMARY KEY, payload VARCHAR(64) NOT NULL, created_at DATETIME(3) NOT NULL)',
  );
  // One dedicated connection per loop, as an application holding a connection per worker would.
  const connections = await Promise.all(
    Array.from({ length: options.connections }, () => pool.getConnection()),
  );
  const phase: Phase = {
    label: `raw INSERT transactions, ${options.connections} connections`,
    concurrency: options.connections,
    count: 0,
    elapsedMs: 0,
    step: async (id) => {
      const connection = connections[id]!;
      await connection.query('BEGIN');
      await connection.query('INSERT INTO t (payload, created_at) VALUES (?, NOW(3))', [`worker-${id}`]);
      await connection.query('COMMIT');
    },
  };
  return {
    phase,
    close: async () => {
      for (const connection of connections) connection.release();
      await pool.end();
    },
  };
}

interface BookingPhase {
  phase: Phase;
  latencies: number[];
  failures(): number;
  close(): Promise<void>;
}

function benchShow(seats: number): ShowInventory {
  return {
    showId: 'bench-show',
    currency: 'EUR',
    startsAt: '2030-01-01T20:00:00Z',
    seats: Array.from({ length: seats }, (_, i) => ({
      id: `S-${i}`,
      label: `Seat ${i}`,
      priceTier: 'std',
      amountCents: 2500,
    })),
    pools: [],
  };
}

const TOKEN_SECRET = 'bench-secret-not-for-production';

/**
 * Starts the catalog and a booking node as child processes, exactly as production runs them
 * (`node --import tsx services/<name>/main.ts`, configured from the environment), so the booking
 * server has an event loop of its own and the bench clients do not steal its CPU time.
 */
async function startServices(
  url: string,
  options: Options,
  benchDir: string,
  closers: (() => Promise<void>)[],
): Promise<{ bookingAddr: string; catalogAddr: string }> {
  const repoRoot = path.join(__dirname, '..', '..');
  const [catalogPort, bookingPort] = [await freePort(), await freePort()];
  const catalogAddr = `127.0.0.1:${catalogPort}`;
  const bookingAddr = `127.0.0.1:${bookingPort}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MARQUEE_MYSQL_URL: url,
    MARQUEE_TOKEN_SECRET: TOKEN_SECRET,
    MARQUEE_LOG_LEVEL: 'warn',
    MARQUEE_CATALOG_PORT: String(catalogPort),
    MARQUEE_CATALOG_ADDR: catalogAddr,
    MARQUEE_CATALOG_DB: 'bench_catalog',
    MARQUEE_BOOKING_PORT: String(bookingPort),
    MARQUEE_BOOKING_DB: 'bench_booking',
    MARQUEE_BOOKING_MYSQL_CONNECTIONS: String(options.connections),
  };
  const start = async (name: string, main: string, addr: string, nodeFlags: string[]): Promise<void> => {
    const logFile = path.join(benchDir, `${name}.log`);
    const child = startProcess(
      name,
      process.execPath,
      [...nodeFlags, '--import', 'tsx', path.join(repoRoot, main)],
      { logFile, env, cwd: repoRoot },
    );
    closers.push(() => child.stop());
    watched.set(name, procCpuMs(child.pid));
    try {
      await waitForServing(addr, 30000, child.exited);
    } catch (error) {
      throw new Error(`${name}: ${(error as Error).message} (see ${logFile})`);
    }
  };
  await start('catalog', 'services/catalog/main.ts', catalogAddr, []);
  const profile = options.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(benchDir, 'profile')}`] : [];
  await start('booking', 'services/booking/main.ts', bookingAddr, profile);
  return { bookingAddr, catalogAddr };
}

async function bookingPhase(
  addresses: { bookingAddr: string; catalogAddr: string },
  options: Options,
): Promise<BookingPhase> {
  const showIds = await createShows(addresses.catalogAddr, TOKEN_SECRET, options.seats);
  const clients: BookingServiceClient[] = [];
  for (let i = 0; i < options.channels; i++) {
    clients.push(
      new BookingServiceClient(addresses.bookingAddr, grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
      }),
    );
  }
  const close = async (): Promise<void> => {
    for (const client of clients) client.close();
  };
  try {
    const metadata = Array.from({ length: options.clients }, (_, i) => {
      const m = new grpc.Metadata();
      const principal = { userId: `bench-${i}`, email: `bench-${i}@example.com`, role: 'user' as const };
      m.set('authorization', `Bearer ${signToken(principal, TOKEN_SECRET, 3600, Date.now())}`);
      return m;
    });
    // Materialize the shows before the clock starts (a one-off cost, not part of the booking path);
    // the seat map of each show gives the seat ids to book, show after show.
    const seats: { showId: string; seatId: string }[] = [];
    for (const showId of showIds) {
      const availability = await callWithMetadata(
        clients[0]!.getAvailability.bind(clients[0]!),
        { showId },
        metadata[0]!,
      );
      for (const seat of availability.seats) seats.push({ showId, seatId: seat.seatId });
    }
    const card = { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123', holderName: 'Bench' };
    const latencies: number[] = [];
    let nextSeat = 0;
    let failures = 0;
    const phase: Phase = {
      label: `hold + confirm via gRPC, ${options.clients} clients`,
      concurrency: options.clients,
      count: 0,
      elapsedMs: 0,
      step: async (id) => {
        const index = nextSeat++;
        const seat = seats[index];
        if (!seat) throw new Error(`ran out of seats after ${seats.length}: raise --seats`);
        const client = clients[id % clients.length]!;
        const started = performance.now();
        try {
          // Both writes carry idempotency keys, so they are repeated by the scripts' one retry policy.
          const hold = await repeated(() =>
            callWithMetadata(
              client.holdSeats.bind(client),
              {
                showId: seat.showId,
                seatIds: [seat.seatId],
                ga: [],
                idempotencyKey: `bench-hold-${index}`,
              },
              metadata[id]!,
            ),
          );
          await repeated(() =>
            callWithMetadata(
              client.confirmBooking.bind(client),
              { holdId: hold.id, card, idempotencyKey: `bench-pay-${index}` },
              metadata[id]!,
            ),
          );
          latencies.push(performance.now() - started);
        } catch (error) {
          failures++;
          if (failures <= 3) log(`booking failed: ${(error as Error).message}`);
        }
      },
    };
    return { phase, latencies, failures: () => failures, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The same bookings straight through the store (no gRPC): separates the cost of the transport from
 * the cost of the transactions when reading the figures.
 */
async function storePhase(
  url: string,
  options: Options,
  show: ShowInventory,
): Promise<{ phase: Phase; close(): Promise<void> }> {
  const pool = await openDatabase(url, 'bench_store', options.connections, { multipleStatements: true });
  const logger = createLogger('bench', { level: 'warn' });
  await migrate(pool, BOOKING_SCHEMA);
  const ctx = { pool, clock: Date.now, holdTtlSeconds: 600, payments: new SimulatedCardProcessor(), logger };
  const writer = singleNodeWriter(pool, Date.now, logger);
  const store = new MysqlBookingStore(
    ctx,
    new Inventory(pool, new StaticShowSource([show]), Date.now, logger, writer),
    24,
    writer,
  );
  await store.availability(show.showId, Infinity);
  const card = validateCard(
    { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123', holderName: '' },
    Date.now(),
  );
  let nextSeat = 0;
  const phase: Phase = {
    label: `hold + confirm via the store, no gRPC, ${options.clients} loops`,
    concurrency: options.clients,
    count: 0,
    elapsedMs: 0,
    step: async (id) => {
      const seat = nextSeat++;
      if (seat >= options.seats) throw new Error(`ran out of seats after ${options.seats}: raise --seats`);
      const principal = { userId: `direct-${id}`, email: `direct-${id}@example.com`, role: 'user' as const };
      const request = { showId: show.showId, seatIds: [`S-${seat}`], ga: [] };
      const hold = await store.hold(
        principal,
        scopeFor(principal.userId, `direct-hold-${seat}`, 'HoldSeats', request),
        request,
        Infinity,
      );
      const confirm = { holdId: hold.id, card: { last4: card.last4 } };
      await store.confirm(
        principal,
        scopeFor(principal.userId, `direct-pay-${seat}`, 'ConfirmBooking', confirm),
        hold.id,
        card,
      );
    },
  };
  return { phase, close: () => pool.end() };
}

/** The benchmark's own check: every confirmed booking sold exactly one seat. */
async function verifySold(url: string, confirmed: number): Promise<boolean> {
  const connection = await mysql.createConnection(url);
  try {
    const [rows] = await connection.query(
      "SELECT COUNT(*) AS n FROM bench_booking.seats WHERE state = 'SOLD'",
    );
    return Number((rows as { n: number }[])[0]?.n) === confirmed;
  } finally {
    await connection.end();
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const benchDir = path.join(__dirname, '..', '..', '.data', 'bench');
  const dataDir = path.join(benchDir, `mariadb-${process.pid}`);
  mkdirSync(benchDir, { recursive: true });
  let mariadb: PrivateMariaDb | undefined;
  const closers: (() => Promise<void>)[] = [];
  const cleanUp = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse())
      await close().catch((error: unknown) => log(`cleanup: ${String(error)}`));
    await mariadb?.stop();
    mariadb = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log(`starting a private MariaDB in ${dataDir}`);
    mariadb = await startPrivateMariaDb({
      dataDir,
      port: await freePort(),
      fresh: true,
      logFile: path.join(benchDir, 'mariadb.log'),
    });
    watched.set('mariadb', procCpuMs(mariadb.process.pid));
    const raw = await rawPhase(mariadb.url, options);
    closers.push(raw.close);
    const show = benchShow(options.seats);
    const addresses = await startServices(mariadb.url, options, benchDir, closers);
    const booking = await bookingPhase(addresses, options);
    closers.push(booking.close);
    const direct = await storePhase(mariadb.url, options, show);
    closers.push(direct.close);
    await interleave([raw.phase, booking.phase, direct.phase], options.seconds);
    if (!(await verifySold(mariadb.url, booking.latencies.length))) {
      throw new Error('the number of SOLD seats does not match the confirmed bookings');
    }
    const rawRate = raw.phase.count / (raw.phase.elapsedMs / 1000);
    const bookingRate = booking.latencies.length / (booking.phase.elapsedMs / 1000);
    const directRate = direct.phase.count / (direct.phase.elapsedMs / 1000);
    const sorted = [...booking.latencies].sort((a, b) => a - b);
    const p50 = percentile(sorted, 50);
    const p99 = percentile(sorted, 99);
    const svgPath = path.join(benchDir, 'booking-latency.svg');
    writeFileSync(
      svgPath,
      histogramSvg(
        booking.latencies,
        `hold + confirm, ${options.clients} clients: ${bookingRate.toFixed(0)} bookings/s, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`,
      ),
    );
    process.stdout.write(
      [
        `raw INSERT transactions (${options.connections} connections): ${rawRate.toFixed(0)} tx/s`,
        `bookings (hold + confirm via gRPC, ${options.clients} clients): ${bookingRate.toFixed(0)} bookings/s (${booking.failures()} failed)`,
        `ratio bookings/s ÷ raw tx/s: ${((bookingRate / rawRate) * 100).toFixed(1)} %`,
        `hold + confirm latency: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`,
        `for comparison, the same bookings through the store without gRPC: ${directRate.toFixed(0)} bookings/s (${((directRate / rawRate) * 100).toFixed(1)} % of raw)`,
        `CPU, raw: ${cpuPerOperation(raw.phase, raw.phase.count, 'transaction')}`,
        `CPU, gRPC: ${cpuPerOperation(booking.phase, booking.latencies.length, 'booking')}`,
        `CPU, store: ${cpuPerOperation(direct.phase, direct.phase.count, 'booking')}`,
        `latency histogram: ${svgPath}`,
        '',
      ].join('\n'),
    );
  } finally {
    await cleanUp();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});

/**
 * One call repeated on a retryable or unknown outcome (scripts/lib/chaos/retry.ts, the rule all the
 * scripts share) within 10 s; the bench has one address per client, so every attempt goes there.
 */
async function repeated<T>(call: () => Promise<T>): Promise<T> {
  const outcome = await retryOnCandidates(call, () => ['the booking node'], {
    budgetMs: 10_000,
    now: () => performance.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  return outcome.value;
}
