/**
 * Flash sale (issue 14): a crowd of buyers on one show until it is sold out.
 *
 *   npx tsx scripts/bench/flash-sale.ts [--buyers 2000] [--seats 5000] [--seats-per-buyer 1..4]
 *       [--seconds-limit 180] [--channels 8] [--refresh-ms 1000] [--call-timeout-ms 10000] [--write-docs]
 *
 * Starts the local topology of `npm start` (scripts/lib/stack.ts: three booking nodes, catalog,
 * recommendation, gateways, nginx; its own private MariaDB and data under .data/bench/flash-<pid>),
 * creates one show of --seats reserved seats (rows of 100) through the catalog's admin API, then lets
 * --buyers buyers loose on it at once through nginx's gRPC front door, sharing --channels HTTP/2
 * connections. Each buyer, over and over until the show is sold out: picks --seats-per-buyer seats at
 * random among those its view shows free, HoldSeats, then ConfirmBooking; UNAVAILABLE and unknown
 * outcomes are retried with the same idempotency key (the shared rule, `mayRetry`), a refused hold
 * (FAILED_PRECONDITION: a seat taken) makes it pick other seats.
 *
 * What a buyer sees is the seat map as one GetAvailability read it at most --refresh-ms ago (the crowd
 * shares it, as a cached seat-map page would be shared), less the seats it was itself refused or sold
 * since. 2,000 buyers each reading the 5,000-seat map would measure the seat map, not the sale.
 *
 * Prints progress every second, then the time to sell out, bookings/s and seats/s, hold + confirm
 * latency (nearest rank), failed calls by code, term changes seen in ClusterService.Status during the
 * sale (aim 0), the CPU of every process (the bench's own apart), and checks each node's database once
 * the group has settled: the invariant checker (no seat sold twice, every acknowledged booking present
 * as acknowledged, the nodes identical) and the show's SOLD seats against the acknowledged bookings'.
 * Draws seats sold over time and bookings per second into .data/bench/flash-sale.svg
 * (docs/img/flash-sale.svg with --write-docs). Every process is started here and stopped by PID, also
 * on failure or Ctrl-C; the run's data is removed at the end (its logs are kept in
 * .data/bench/flash-logs when something looked wrong).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { BookingServiceClient, SeatState } from '../../proto/gen/marquee/booking/v1/booking';
import type { Availability, Booking, Hold } from '../../proto/gen/marquee/booking/v1/booking';
import { isUnknownOutcome, mayRetry } from '../../services/common/errors';
import { electionEvents, electionsFromEvents } from '../lib/chaos/logs';
import { FAST_RECONNECT, StatusObserver } from '../lib/chaos/observer';
import { formatCounts } from '../lib/chaos/session';
import { targetOf } from '../lib/chaos/shows';
import { Timeline } from '../lib/chaos/timeline';
import { verifyNodes } from '../lib/chaos/verify';
import { CHAOS_CARD } from '../lib/chaos/workload';
import type { AcknowledgedBooking } from '../lib/invariants';
import { startStack } from '../lib/stack';
import type { RunningStack } from '../lib/stack';
import { termChanges } from './churn';
import { SEATS_PER_SHOW, bearer, createShows } from './lib/catalog';
import { procCpuMs, procTreeCpuMs, selfCpuMs } from './lib/cpu';
import type { CpuReader } from './lib/cpu';
import { callWithMetadata, statusName } from './lib/grpc';
import { checkSold, cumulative, drawCount, parseSeatRange, perSecond, pickSeats } from './lib/sale';
import type { SeatRange, Tally } from './lib/sale';
import { summarize } from './lib/stats';
import { lineOverBarsSvg } from './lib/svg';
import { keepRunLogs, stopOnSignals } from './lib/run';

export interface Options {
  buyers: number;
  seats: number;
  seatsPerBooking: SeatRange;
  secondsLimit: number;
  channels: number;
  refreshMs: number;
  callTimeoutMs: number;
  writeDocs: boolean;
}

const USAGE =
  'usage: flash-sale.ts [--buyers N] [--seats N (≤ 5000)] [--seats-per-buyer N|A..B] [--seconds-limit S] ' +
  '[--channels N] [--refresh-ms MS] [--call-timeout-ms MS] [--write-docs]';
const NUMERIC = {
  buyers: 'buyers',
  seats: 'seats',
  'seconds-limit': 'secondsLimit',
  channels: 'channels',
  'refresh-ms': 'refreshMs',
  'call-timeout-ms': 'callTimeoutMs',
} as const;

export function parseArgs(argv: readonly string[]): Options {
  const options: Options = {
    buyers: 2000,
    seats: SEATS_PER_SHOW,
    seatsPerBooking: { min: 1, max: 4 },
    secondsLimit: 180,
    channels: 8,
    refreshMs: 1000,
    callTimeoutMs: 10_000,
    writeDocs: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]!);
    const flag = match?.[1] ?? '';
    if (flag === 'write-docs' && match?.[2] === undefined) {
      options.writeDocs = true;
      continue;
    }
    const raw = match?.[2] ?? argv[++i];
    if (flag === 'seats-per-buyer') {
      options.seatsPerBooking = parseSeatRange(String(raw));
      continue;
    }
    if (!(flag in NUMERIC)) throw new Error(`unknown argument ${String(argv[i])}; ${USAGE}`);
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`--${flag} needs a whole number ≥ 1 (got ${String(raw)}); ${USAGE}`);
    options[NUMERIC[flag as keyof typeof NUMERIC]] = value;
  }
  if (options.seats > SEATS_PER_SHOW)
    throw new Error(`--seats: one show of at most ${SEATS_PER_SHOW} seats (the catalog's limit per hall)`);
  return options;
}

const REPO_ROOT = path.join(__dirname, '..', '..');
const BENCH_DIR = path.join(REPO_ROOT, '.data', 'bench');
const TOKEN_SECRET = 'flash-bench-secret-0123456789';
const SEATS_PER_ROW = 100;
/** How long a buyer retries one call (same key) before giving up on it. */
const RETRY_BUDGET_MS = 60_000;
/** After the sale ends, how long calls still in flight may retry before the bench stops waiting. */
const DRAIN_MS = 30_000;

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const n = (value: number): string => value.toLocaleString('en-US');
const rate = (value: number): string => value.toFixed(value < 10 ? 1 : 0);
const ms = (value: number): string => (Number.isFinite(value) ? `${n(Math.round(value))} ms` : 'n/a');

/** The seat map as one GetAvailability read it; `readAtMs` is when that read was sent. */
interface SeatView {
  free: readonly string[];
  held: number;
  sold: number;
  readAtMs: number;
}

function viewOf(availability: Availability, readAtMs: number): SeatView {
  const count = (state: SeatState): number => availability.seats.filter((s) => s.state === state).length;
  return {
    free: targetOf(availability).seatIds,
    held: count(SeatState.SEAT_STATE_HELD),
    sold: count(SeatState.SEAT_STATE_SOLD),
    readAtMs,
  };
}

type Outcome<T> = { value: T } | { error: unknown; inDoubt: boolean };

interface Acknowledged {
  booking: AcknowledgedBooking;
  atMs: number;
  /** First HoldSeats sent → ConfirmBooking answered, retries included. */
  latencyMs: number;
  /** From the buyer's first try for this booking (refused holds included) to its confirmation. */
  waitMs: number;
}

/** The sale's shared state: the seat view, the tallies, and when it is over. */
class Sale {
  view: SeatView;
  readonly acks: Acknowledged[] = [];
  ackedSeats = 0;
  /** Failed calls by "<call> <code>", retried ones included. */
  readonly failed: Record<string, number> = {};
  /** Bookings given up on after their hold (confirm unanswered): their seats may or may not be sold. */
  inDoubtSeats = 0;
  inDoubtBookings = 0;
  /** Holds given up on (never answered); and refused holds. */
  holdsGivenUp = 0;
  holdsRefused = 0;
  holdsSent = 0;
  unexpected: string[] = [];
  waiting = 0;
  over = false;
  /** Hard stop: no call is retried any more. */
  stopped = false;
  endReason = '';
  endMs = NaN;
  startMs = NaN;
  private wake: (() => void)[] = [];
  private resolveEnded!: () => void;
  /** Resolves when the sale is over. */
  readonly ended = new Promise<void>((resolve) => (this.resolveEnded = resolve));

  constructor(
    readonly showId: string,
    readonly totalSeats: number,
    readonly runId: string,
    first: SeatView,
  ) {
    this.view = first;
  }

  setView(view: SeatView): void {
    this.view = view;
    if (view.free.length === 0 && view.held === 0) this.end('sold out (the seat map shows every seat sold)');
    this.wakeAll();
  }

  /** Resolves when the view is newer than `seen`, or the sale is over. */
  async nextView(seen: SeatView): Promise<void> {
    if (this.over || this.view !== seen) return;
    this.waiting++;
    await new Promise<void>((resolve) => this.wake.push(resolve));
    this.waiting--;
  }

  acknowledge(entry: Acknowledged): void {
    this.acks.push(entry);
    this.ackedSeats += entry.booking.seatIds.length;
    if (this.ackedSeats >= this.totalSeats) this.end('sold out (every seat acknowledged)', entry.atMs);
  }

  end(reason: string, atMs = now()): void {
    if (this.over) return;
    this.over = true;
    this.endReason = reason;
    this.endMs = atMs;
    this.resolveEnded();
    this.wakeAll();
  }

  count(key: string): void {
    this.failed[key] = (this.failed[key] ?? 0) + 1;
  }

  /**
   * `send` until it answers, retrying what the shared rule allows (every call here carries its
   * idempotency key or is a read) with a jittered backoff, for RETRY_BUDGET_MS. A hold stops retrying
   * once the sale is over (there is nothing left to hold); a confirm goes on until the hard stop, so
   * that as few bookings as possible end in doubt.
   */
  async call<T>(name: string, send: () => Promise<T>, afterEnd: boolean): Promise<Outcome<T>> {
    const deadline = now() + RETRY_BUDGET_MS;
    let pause = 50;
    let inDoubt = false;
    for (;;) {
      try {
        return { value: await send() };
      } catch (error) {
        const code = statusName(error);
        this.count(`${name} ${code}`);
        if (code === 'DEADLINE_EXCEEDED' || isUnknownOutcome(error)) inDoubt = true;
        if (!mayRetry(error, true)) return { error, inDoubt };
        if (this.stopped || (this.over && !afterEnd) || now() + pause > deadline)
          return { error, inDoubt: true };
        await sleep(pause * (0.5 + Math.random()));
        pause = Math.min(1000, pause * 2);
      }
    }
  }

  private wakeAll(): void {
    for (const resolve of this.wake.splice(0)) resolve();
  }
}

/** One buyer: books over and over until the sale is over. */
class Buyer {
  /** Seats this buyer was refused or sold, and when: skipped until a view read after that. */
  private readonly taken = new Map<string, number>();
  private sequence = 0;

  constructor(
    private readonly index: number,
    private readonly sale: Sale,
    private readonly client: BookingServiceClient,
    private readonly metadata: grpc.Metadata,
    private readonly options: Options,
  ) {}

  async run(): Promise<void> {
    const { sale, client, metadata } = this;
    let tryingSince = now();
    while (!sale.over) {
      const view = sale.view;
      this.forgetOlderThan(view.readAtMs);
      const want = drawCount(this.options.seatsPerBooking, Math.random);
      const seats = pickSeats(
        view.free,
        want,
        (id) => (this.taken.get(id) ?? -Infinity) >= view.readAtMs,
        Math.random,
      );
      if (seats.length === 0) {
        await sale.nextView(view);
        continue;
      }
      const key = `${sale.runId}-${this.index}-${this.sequence++}`;
      const started = now();
      sale.holdsSent++;
      const hold = await sale.call<Hold>(
        'hold',
        () =>
          callWithMetadata(
            client.holdSeats.bind(client),
            { showId: sale.showId, seatIds: seats, ga: [], idempotencyKey: `${key}-hold` },
            metadata,
            this.options.callTimeoutMs,
          ),
        false,
      );
      if ('error' in hold) {
        this.holdFailed(hold.error, seats);
        continue;
      }
      for (const seat of seats) this.taken.set(seat, now());
      const booking = await sale.call<Booking>(
        'confirm',
        () =>
          callWithMetadata(
            client.confirmBooking.bind(client),
            { holdId: hold.value.id, card: CHAOS_CARD, idempotencyKey: `${key}-pay` },
            metadata,
            this.options.callTimeoutMs,
          ),
        true,
      );
      if ('error' in booking) {
        if (booking.inDoubt) {
          sale.inDoubtBookings++;
          sale.inDoubtSeats += seats.length;
        } else
          sale.unexpected.push(`confirm ${statusName(booking.error)}: ${(booking.error as Error).message}`);
        continue;
      }
      const done = now();
      sale.acknowledge({
        booking: {
          id: booking.value.id,
          showId: sale.showId,
          seatIds: booking.value.seats.map((s) => s.seatId),
          state: 'CONFIRMED',
        },
        atMs: done,
        latencyMs: done - started,
        waitMs: done - tryingSince,
      });
      tryingSince = now();
    }
  }

  private holdFailed(error: unknown, seats: readonly string[]): void {
    const { sale } = this;
    if (statusName(error) === 'FAILED_PRECONDITION') {
      sale.holdsRefused++;
      // The node names the seats it refused (x-error-seat_ids); the others may still be free.
      const named = (error as grpc.ServiceError).metadata?.get('x-error-seat_ids')[0];
      const refused = typeof named === 'string' && named ? named.split(',') : seats;
      for (const seat of refused) this.taken.set(seat, now());
      return;
    }
    // Retried until the budget ran out or the sale ended: an answer lost may still have held seats.
    if (mayRetry(error, true)) {
      sale.holdsGivenUp++;
      return;
    }
    sale.unexpected.push(`hold ${statusName(error)}: ${(error as Error).message}`);
  }

  /** Drops what a newer view already shows (keeps the map small). */
  private forgetOlderThan(readAtMs: number): void {
    if (this.taken.size < 64) return;
    for (const [seat, at] of this.taken) if (at < readAtMs) this.taken.delete(seat);
  }
}

/** Reads the seat map through the front door every `refreshMs` until the sale is over. */
async function refreshView(
  sale: Sale,
  client: BookingServiceClient,
  metadata: grpc.Metadata,
  refreshMs: number,
): Promise<void> {
  while (!sale.over) {
    const started = now();
    const read = await sale.call<Availability>(
      'availability',
      () => callWithMetadata(client.getAvailability.bind(client), { showId: sale.showId }, metadata, 10_000),
      false,
    );
    if ('value' in read) sale.setView(viewOf(read.value, started));
    await sleep(Math.max(0, refreshMs - (now() - started)));
  }
}

/** The role-change lines of a booking node's log (the rest can be tens of MB of spans). */
function roleLines(logFile: string): string {
  try {
    return readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"event":"role"'))
      .join('\n');
  } catch {
    return '';
  }
}

/** CPU ms of every process of the stack and of the bench, by name. */
function cpuReaders(stack: RunningStack): Map<string, CpuReader> {
  const readers = new Map<string, CpuReader>([['bench (buyers)', selfCpuMs]]);
  for (const node of stack.nodes()) if (node.pid) readers.set(`booking-${node.id}`, procCpuMs(node.pid));
  for (const child of stack.processes)
    readers.set(child.name, child.name === 'nginx' ? procTreeCpuMs(child.pid) : procCpuMs(child.pid));
  return readers;
}

async function soldPerNode(
  stack: RunningStack,
  showId: string,
  ids: ReadonlySet<number>,
): Promise<Map<number, number>> {
  const db = await mysql.createConnection(stack.mysqlUrl);
  try {
    const sold = new Map<number, number>();
    for (const node of stack.bookingNodes.filter((spec) => ids.has(spec.id))) {
      const [rows] = await db.query<RowDataPacket[]>(
        `SELECT COUNT(*) AS n FROM \`${node.database}\`.seats WHERE show_id = ? AND state = 'SOLD'`,
        [showId],
      );
      sold.set(node.id, Number(rows[0]?.n));
    }
    return sold;
  } finally {
    await db.end();
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const runDir = path.join(BENCH_DIR, `flash-${process.pid}`);
  const logsDir = path.join(runDir, 'logs');
  let stack: RunningStack | undefined;
  let observer: StatusObserver | undefined;
  let sale: Sale | undefined;
  const clients: BookingServiceClient[] = [];
  const exits: string[] = [];
  let stopping = false;
  let keepLogs = false;
  const stopAll = async (): Promise<void> => {
    stopping = true;
    if (sale) {
      sale.stopped = true;
      sale.end('stopped');
    }
    await observer?.stop().catch(() => undefined);
    for (const client of clients) client.close();
    await stack?.stop().catch((error: unknown) => log(`stopping the stack: ${String(error)}`));
    if (keepLogs) {
      const kept = keepRunLogs(logsDir, BENCH_DIR, 'flash-logs');
      log(`logs kept in ${path.relative(REPO_ROOT, kept)}`);
    }
    rmSync(runDir, { recursive: true, force: true });
  };
  stopOnSignals(stopAll, log);
  try {
    const range = `${options.seatsPerBooking.min}..${options.seatsPerBooking.max}`;
    log(
      `flash sale: ${n(options.seats)} seats, ${n(options.buyers)} buyers (${range} seats a booking), ` +
        `${options.channels} channels through nginx, limit ${options.secondsLimit} s`,
    );
    stack = await startStack({
      repoRoot: REPO_ROOT,
      dataDir: runDir,
      logsDir,
      freshData: true,
      tokenSecret: TOKEN_SECRET,
      bookingDatabasePrefix: 'bench_flash',
      logLevel: 'info',
      extraEnv: { MARQUEE_CATALOG_DB: 'bench_flash_catalog' },
      // The machine this runs on is shared: give each service time to start on a busy one.
      startTimeoutMs: 120_000,
      onProgress: (step) => log(`  ${step}`),
      onNodeExit: (node, how) => {
        if (stopping) return;
        exits.push(`booking node ${node.id} exited on its own (${how})`);
        log(`  booking node ${node.id} exited on its own (${how})`);
      },
    });
    const [showId] = await createShows(stack.catalogAddress, TOKEN_SECRET, options.seats, {
      hallSeats: options.seats,
      seatsPerRow: SEATS_PER_ROW,
    });
    if (!showId) throw new Error('the catalog created no show');
    for (let i = 0; i < options.channels; i++)
      clients.push(
        new BookingServiceClient(stack.grpcAddress, grpc.credentials.createInsecure(), FAST_RECONNECT),
      );
    await Promise.all(
      clients.map(
        (client) =>
          new Promise<void>((resolve, reject) =>
            client.waitForReady(Date.now() + 10_000, (error) => (error ? reject(error) : resolve())),
          ),
      ),
    );
    const reader = bearer(TOKEN_SECRET, 'flash-seat-map');
    // The first read materializes the show (on the master, as a replicated write).
    const firstRead = now();
    const first = await callWithMetadata(
      clients[0]!.getAvailability.bind(clients[0]!),
      { showId },
      reader,
      60_000,
    );
    const start = await stack.waitForMaster(30_000);
    log(
      `show ${showId}: ${n(first.seats.length)} seats in rows of ${SEATS_PER_ROW}; ` +
        `node ${start.masterId} master in term ${start.term}; the sale opens`,
    );
    const timeline = new Timeline(Date.now());
    observer = new StatusObserver(
      stack.bookingNodes.map((node) => ({ id: node.id, peerAddress: node.peerAddress })),
      timeline,
      { intervalMs: 250, deadlineMs: 1000 },
    );
    observer.start();
    const observer0 = observer;

    const current = new Sale(
      showId,
      first.seats.length,
      `flash-${process.pid}-${Date.now()}`,
      viewOf(first, firstRead),
    );
    sale = current;
    const buyers = Array.from(
      { length: options.buyers },
      (_, i) =>
        new Buyer(
          i,
          current,
          clients[i % clients.length]!,
          bearer(TOKEN_SECRET, `flash-buyer-${i}`),
          options,
        ),
    );
    const cpu = cpuReaders(stack);
    const cpuBefore = new Map([...cpu].map(([name, read]) => [name, read()]));
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    current.startMs = now();
    const startWall = Date.now();
    const running = [
      ...buyers.map((buyer) => buyer.run()),
      refreshView(current, clients[0]!, reader, options.refreshMs),
    ];
    const limitAt = current.startMs + options.secondsLimit * 1000;
    let lastSeats = 0;
    let lastBookings = 0;
    let lastRefused = 0;
    let lastFailed = 0;
    const failedCalls = (): number =>
      Object.entries(current.failed)
        .filter(([key]) => !key.endsWith('FAILED_PRECONDITION'))
        .reduce((sum, [, count]) => sum + count, 0);
    while (!current.over) {
      await Promise.race([sleep(Math.min(1000, Math.max(0, limitAt - now()))), current.ended]);
      if (now() >= limitAt) current.end(`time limit (${options.secondsLimit} s)`);
      const elapsed = (now() - current.startMs) / 1000;
      const failed = failedCalls();
      const master = observer.master();
      log(
        `  ${elapsed.toFixed(0).padStart(4)} s  ${n(current.ackedSeats).padStart(6)} of ${n(current.totalSeats)} seats ` +
          `(+${current.ackedSeats - lastSeats}), ${n(current.acks.length)} bookings (+${current.acks.length - lastBookings}), ` +
          `holds refused +${current.holdsRefused - lastRefused}, failed calls +${failed - lastFailed}; ` +
          `seat map: ${n(current.view.free.length)} free, ${n(current.view.held)} held; ${current.waiting} buyers wait for it; ` +
          (master ? `node ${master.id} master in term ${master.term}` : 'no master serving'),
      );
      [lastSeats, lastBookings, lastRefused, lastFailed] = [
        current.ackedSeats,
        current.acks.length,
        current.holdsRefused,
        failed,
      ];
    }
    const cpuAfter = new Map([...cpu].map(([name, read]) => [name, read()]));
    loopDelay.disable();
    const saleMs = current.endMs - current.startMs;
    log(
      `sale over after ${(saleMs / 1000).toFixed(1)} s: ${current.endReason}; waiting for the calls in flight`,
    );
    const drained = await Promise.race([
      Promise.all(running).then(() => true),
      sleep(DRAIN_MS).then(() => false),
    ]);
    if (!drained) {
      current.stopped = true;
      await Promise.all(running);
    }
    await observer.stop();
    observer = undefined;
    // Who became master when, from the nodes' own logs: Status polls from this process miss what
    // happens while its event loop is busy with the crowd (and it is, on two shared cores).
    const logged = stack.bookingNodes.flatMap((node) => electionEvents(roleLines(node.logFile), node.id));
    const elections = [...observer0.elections(), ...electionsFromEvents(logged)];
    const changes = termChanges({ elections }, start).filter((c) => c.term > start.term);
    const newMasters = logged
      .filter((e) => e.role === 'master' && (e.term ?? 0) > start.term)
      .filter((e) => e.wallMs >= startWall && e.wallMs <= startWall + saleMs);

    // The group settles once the crowd is gone; the nodes that still run are checked (a node that
    // died during the sale is reported, not compared: its database stopped where it died).
    let settleProblem = '';
    const settledMaster = await stack.waitForMaster(60_000).catch((error: unknown) => {
      settleProblem = error instanceof Error ? error.message : String(error);
      return undefined;
    });
    const lastTerm = settledMaster?.term ?? Math.max(start.term, ...elections.map((e) => e.term));
    const termMoves = lastTerm - start.term;
    const live = stack.nodes().filter((node) => node.state === 'running');
    const verdict = settledMaster
      ? await verifyNodes({
          mysqlUrl: stack.mysqlUrl,
          nodes: live,
          masterId: settledMaster.masterId,
          acknowledged: current.acks.map((a) => a.booking),
          elections,
          convergeTimeoutMs: 60_000,
        })
      : undefined;
    const sold = checkSold({
      soldPerNode: await soldPerNode(stack, showId, new Set(live.map((node) => node.id))),
      acknowledgedSeats: current.ackedSeats,
      inDoubtSeats: current.inDoubtSeats,
      totalSeats: current.totalSeats,
    });

    // The figures. Sold out: when the last seat's booking was acknowledged (when a booking ended in
    // doubt instead, when the seat map first showed every seat sold).
    const soldOut = current.ackedSeats === current.totalSeats || current.endReason.startsWith('sold out');
    const lastAck = Math.max(current.startMs, ...current.acks.map((a) => a.atMs));
    const seconds = (current.ackedSeats === current.totalSeats ? lastAck - current.startMs : saleMs) / 1000;
    const latency = summarize(current.acks.map((a) => a.latencyMs));
    const wait = summarize(current.acks.map((a) => a.waitMs));
    const bookingTallies: Tally[] = current.acks.map((a) => ({ atMs: a.atMs, n: 1 }));
    const seatTallies: Tally[] = current.acks.map((a) => ({ atMs: a.atMs, n: a.booking.seatIds.length }));
    // Bookings acknowledged after the buyers stopped (confirms still retrying) get seconds of their own.
    const perSecondBookings = perSecond(
      bookingTallies,
      current.startMs,
      Math.max(saleMs, lastAck - current.startMs) / 1000,
    );
    const lateAcks = current.acks.filter((a) => a.atMs > current.endMs).length;
    const peak = Math.max(...perSecondBookings);
    const cpuLines = [...cpu.keys()].map((name) => {
      const spent = cpuAfter.get(name)! - cpuBefore.get(name)!;
      if (Number.isNaN(spent)) return `${name} (exited during the sale)`;
      return `${name} ${(spent / 1000).toFixed(1)} s (${((spent / saleMs) * 100).toFixed(0)} %)`;
    });
    const totalCpu = [...cpu.keys()].reduce(
      (sum, name) => sum + (cpuAfter.get(name)! - cpuBefore.get(name)! || 0),
      0,
    );
    const lines = [
      '',
      `flash sale: ${n(current.totalSeats)} seats (one show, rows of ${SEATS_PER_ROW}), ${n(options.buyers)} buyers, ` +
        `${range} seats a booking, ${options.channels} HTTP/2 channels through nginx (${stack.grpcAddress})`,
      soldOut
        ? `sold out in ${seconds.toFixed(1)} s (the buyers stopped at ${(saleMs / 1000).toFixed(1)} s: ${current.endReason})`
        : `NOT sold out: ${n(current.ackedSeats)} of ${n(current.totalSeats)} seats in ${seconds.toFixed(1)} s (${current.endReason})`,
      `bookings: ${n(current.acks.length)} (${(current.acks.length / seconds).toFixed(1)}/s, peak second ${peak}); ` +
        `seats: ${n(current.ackedSeats)} (${(current.ackedSeats / seconds).toFixed(1)}/s)`,
      ...(lateAcks > 0
        ? [`of them acknowledged after the buyers stopped (confirms retried meanwhile): ${lateAcks}`]
        : []),
      `hold + confirm latency (acknowledged bookings, retries included): p50 ${ms(latency.median)}, ` +
        `p99 ${ms(latency.p99)}, max ${ms(latency.max)}`,
      `a buyer's wait for a booking (refused holds included): p50 ${ms(wait.median)}, p99 ${ms(wait.p99)}, max ${ms(wait.max)}`,
      `holds sent: ${n(current.holdsSent)}; refused (a seat taken) ${n(current.holdsRefused)}, given up ${current.holdsGivenUp}`,
      `failed calls by code (retried ones included): ${formatCounts(current.failed)}`,
      `bookings in doubt (confirm never answered): ${current.inDoubtBookings} (${current.inDoubtSeats} seats)`,
      ...current.unexpected.slice(0, 10).map((text) => `  unexpected: ${text}`),
      ...exits.map((text) => `  ${text}`),
      // Terms only grow: the difference counts every election, also those Status polls missed.
      `term changes during the sale: ${termMoves} (aim 0)` +
        (termMoves > 0
          ? `: term ${start.term} → ${lastTerm}; masters seen in Status: ${changes.map((c) => `term ${c.term} node ${c.masterId}`).join(', ') || 'none'}`
          : `; node ${start.masterId} master of term ${start.term} throughout`),
      `CPU during the sale (share of one core): ${cpuLines.join(', ')}; all ${(totalCpu / 1000).toFixed(1)} s ` +
        `of the ${((2 * saleMs) / 1000).toFixed(1)} s two cores had`,
      `bench event loop delay: p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms`,
      verdict
        ? `${verdict.converged ? '' : 'NOT CONVERGED: '}${verdict.report.split('\n').join('\n  ')}`
        : `NOT CHECKED (no master after the sale): ${settleProblem}`,
      `${sold.ok ? 'check passed' : 'CHECK FAILED'}: ${sold.text}`,
    ];
    keepLogs =
      termMoves > 0 ||
      !sold.ok ||
      !verdict ||
      verdict.violations.length > 0 ||
      !verdict.converged ||
      current.unexpected.length > 0 ||
      exits.length > 0;
    const svgPath = options.writeDocs
      ? path.join(REPO_ROOT, 'docs', 'img', 'flash-sale.svg')
      : path.join(BENCH_DIR, 'flash-sale.svg');
    mkdirSync(path.dirname(svgPath), { recursive: true });
    writeFileSync(
      svgPath,
      lineOverBarsSvg({
        title:
          `Flash sale: ${n(options.buyers)} buyers, ${n(current.totalSeats)} seats, ` +
          (soldOut
            ? `sold out in ${seconds.toFixed(1)} s`
            : `${n(current.ackedSeats)} sold in ${seconds.toFixed(0)} s`),
        subtitle:
          `${rate(current.acks.length / seconds)} bookings/s, ${rate(current.ackedSeats / seconds)} seats/s; ` +
          `hold + confirm p50 ${ms(latency.median)}, p99 ${ms(latency.p99)}; ${n(current.holdsRefused)} holds refused; ` +
          `${termMoves} term changes` +
          (newMasters.length > 0 ? ` (red: ${newMasters.length} masters elected)` : ''),
        xLabel: 'seconds since the sale opened',
        line: {
          name: 'seats sold (acknowledged)',
          color: '#1d4ed8',
          points: cumulative(seatTallies, current.startMs),
          max: current.totalSeats,
        },
        bars: { name: 'bookings per second', color: '#fdba74', values: perSecondBookings },
        marks: [
          ...newMasters.map((e) => ({
            at: (e.wallMs - startWall) / 1000,
            label: newMasters.length <= 6 ? `term ${e.term}` : '',
            color: '#dc2626',
          })),
          ...(soldOut ? [{ at: seconds, label: `sold out ${seconds.toFixed(1)} s`, color: '#16a34a' }] : []),
        ],
      }),
    );
    lines.push(`picture: ${path.relative(REPO_ROOT, svgPath)}`);
    log(lines.join('\n'));
    if (!sold.ok || !verdict || verdict.violations.length > 0 || exits.length > 0) process.exitCode = 1;
  } catch (error) {
    keepLogs = true;
    throw error;
  } finally {
    await stopAll();
  }
}

if (require.main === module)
  main().catch((error: unknown) => {
    process.stderr.write(
      `flash-sale: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  });
