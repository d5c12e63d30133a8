/**
 * Failover and replication benchmark for the booking group (issue 3):
 *
 *   npx tsx scripts/bench/failover.ts [--rounds 20] [--clients 8] [--load-rate 10] [--seconds 10]
 *       [--throughput-clients 32] [--probe-interval 10] [--probe-timeout 400] [--write-docs]
 *       [--skip-failover] [--skip-throughput] [--etcd both|on|off]
 *
 * 1. Failover. The local topology of `npm start` (scripts/lib/stack.ts: three booking nodes in cluster
 *    mode with default timings and the majority ack policy, fault proxies in pass-through, catalog,
 *    nginx) on a private MariaDB; --clients booking clients (hold + confirm, retrying with the same
 *    idempotency keys) load it through nginx, paced to --load-rate bookings/s in all (0: unpaced).
 *    The pace once kept the booking state under the 4 MiB a one-message snapshot could carry (see
 *    docs/BENCHMARKS.md); snapshots are streamed in chunks now (issue 12, scripts/bench/rebuild.ts),
 *    and the pace stays so that runs compare with the earlier ones.
 *    Each round SIGKILLs the master (t0) and, from the moment its process is gone, sends a probe
 *    every --probe-interval ms: HoldSeats of one general-admission place with a --probe-timeout
 *    deadline, straight to the surviving nodes' client addresses in turn (a slave forwards it to the
 *    master it knows). Failover = the first acknowledged probe's answer − t0. The probe's hold is then
 *    looked up in the survivors' replication logs: its entry must carry a term newer than the killed
 *    master's. ClusterService.Status of the survivors, polled every 20 ms, gives the steps in between
 *    (a survivor stops following the killed master, a new master is elected, it serves writes). Then
 *    the killed node is restarted and the round waits until every node has applied what the master
 *    had committed and the master (the highest id, which takes back over) is stable for 0.5 s.
 *    --etcd (default both): the failover part runs twice, on a stack with its private etcd (the
 *    booking group's fallback lease, as npm start runs it) and on one without (bully + quorum alone),
 *    and prints them side by side with the ratio of the medians. The etcd run ends by SIGKILLing etcd
 *    itself under the load for 5 s, then restarting it, and reports the bookings, the longest gap
 *    between them and the failed attempts meanwhile, next to the same span just before (issue 16).
 * 2. Throughput. Bookings per second of one single booking node (no MARQUEE_PEERS) and of three-node
 *    groups at the async, majority and all ack policies (peer links direct, no fault proxies), all
 *    running at once on the same MariaDB, measured in alternating one-second slices (--seconds each)
 *    with --throughput-clients clients sent straight to the node (for a group: its master), so the
 *    comparison is about replication, not routing. After each slice of a group the bench waits until
 *    its slaves have applied everything (counted in its time), so no replication work spills into
 *    the next target's slice. Printed with the ratio to the single node and CPU per booking.
 *
 * Failover times are drawn as dot strips with the median, p99 and the 1 s / 2 s aims
 * (docs/img/failover-distribution.svg with --write-docs, otherwise .data/bench/). Every process is
 * started by this script, stopped by PID (also on failure or Ctrl-C), and .data/bench/failover-<pid>
 * is removed at the end; when a round misses the aim or the run fails, the logs are kept in
 * .data/bench/failover-logs/.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { BookingServiceClient } from '../../proto/gen/marquee/booking/v1/booking';
import type { Hold } from '../../proto/gen/marquee/booking/v1/booking';
import { ClusterServiceClient, NodeRole } from '../../proto/gen/marquee/cluster/v1/cluster';
import type { NodeStatus } from '../../proto/gen/marquee/cluster/v1/cluster';
import { openDatabase } from '../../services/common/mysql';
import { allSnapshotRows } from '../../services/booking/state-machine';
import { startPrivateMariaDb } from '../lib/mariadb';
import type { PrivateMariaDb } from '../lib/mariadb';
import { freePort, startProcess } from '../lib/processes';
import type { ManagedProcess } from '../lib/processes';
import { DEV_CLUSTER_SECRET, startStack, waitForMaster, waitForServing } from '../lib/stack';
import type { RunningStack } from '../lib/stack';
import { BENCH_GA_AREA, SEATS_PER_SHOW, bearer, createShows } from './lib/catalog';
import { procCpuMs, selfCpuMs } from './lib/cpu';
import type { CpuReader } from './lib/cpu';
import { mayRetry } from '../../services/common/errors';
import { callWithMetadata, statusName } from './lib/grpc';
import { summarize } from './lib/stats';
import type { Summary } from './lib/stats';
import { dotStripSvg } from './lib/svg';
import { comparisonTable, describeOutage, measureEtcdOutage } from './lib/etcd-compare';
import type { EtcdOutage, FailoverMode, ModeFigures } from './lib/etcd-compare';

interface Options {
  rounds: number;
  /** Booking clients loading the group through nginx during the failover rounds. */
  clients: number;
  /** Seconds each throughput target runs (in one-second slices). */
  seconds: number;
  throughputClients: number;
  probeInterval: number;
  probeTimeout: number;
  /** Bookings per second the failover load is paced to (all clients together); 0: as fast as it goes. */
  loadRate: number;
  writeDocs: boolean;
  skipFailover: boolean;
  skipThroughput: boolean;
  /** Which failover runs: with the private etcd, without, or both (side by side). */
  etcd: 'both' | 'on' | 'off';
}

const NUMERIC_FLAGS = {
  rounds: 'rounds',
  clients: 'clients',
  seconds: 'seconds',
  'throughput-clients': 'throughputClients',
  'probe-interval': 'probeInterval',
  'probe-timeout': 'probeTimeout',
  'load-rate': 'loadRate',
} as const;
const BOOLEAN_FLAGS = {
  'write-docs': 'writeDocs',
  'skip-failover': 'skipFailover',
  'skip-throughput': 'skipThroughput',
} as const;

function parseArgs(argv: string[]): Options {
  const options: Options = {
    rounds: 20,
    clients: 8,
    seconds: 10,
    throughputClients: 32,
    probeInterval: 10,
    probeTimeout: 400,
    loadRate: 10,
    writeDocs: false,
    skipFailover: false,
    skipThroughput: false,
    etcd: 'both',
  };
  const usage =
    'use --rounds N, --clients N, --seconds N, --throughput-clients N, --probe-interval MS, ' +
    '--probe-timeout MS, --load-rate N (0: unpaced), --write-docs, --skip-failover, --skip-throughput, ' +
    '--etcd both|on|off';
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]!);
    const flag = match?.[1] ?? '';
    if (flag in BOOLEAN_FLAGS && match?.[2] === undefined) {
      options[BOOLEAN_FLAGS[flag as keyof typeof BOOLEAN_FLAGS]] = true;
      continue;
    }
    if (flag === 'etcd') {
      const raw = match?.[2] ?? argv[++i];
      if (raw !== 'both' && raw !== 'on' && raw !== 'off')
        throw new Error(`--etcd needs both, on or off (got ${raw})`);
      options.etcd = raw;
      continue;
    }
    if (!(flag in NUMERIC_FLAGS)) throw new Error(`unknown argument ${argv[i]} (${usage})`);
    const raw = match?.[2] ?? argv[++i];
    const value = Number(raw);
    const least = flag === 'load-rate' ? 0 : 1;
    if (!Number.isInteger(value) || value < least)
      throw new Error(`--${flag} needs a whole number ≥ ${least} (got ${raw})`);
    options[NUMERIC_FLAGS[flag as keyof typeof NUMERIC_FLAGS]] = value;
  }
  return options;
}

const REPO_ROOT = path.join(__dirname, '..', '..');
const BENCH_DIR = path.join(REPO_ROOT, '.data', 'bench');
const TOKEN_SECRET = 'bench-secret-not-for-production';
/** The aims of issue 3. */
const AIM_MEDIAN_MS = 1000;
const AIM_P99_MS = 2000;
const AIM_MAJORITY_RATIO = 0.5;
/** A round that sees no acknowledged write this long after the kill is a failed round. */
const ROUND_GIVE_UP_MS = 30000;
const STATUS_POLL_MS = 20;
/** Reconnect quickly to a node that comes back: the default backoff (1 s and up) would hide it. */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 500,
};

const log = (text: string): void => void process.stderr.write(`${text}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const now = (): number => performance.now();
const ms = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(0)} ms` : 'n/a');

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

function formatCounts(counts: ReadonlyMap<string, number>): string {
  if (counts.size === 0) return 'none';
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
}

function mergeCounts(into: Map<string, number>, from: ReadonlyMap<string, number>): void {
  for (const [key, n] of from) into.set(key, (into.get(key) ?? 0) + n);
}

/** Everything the run started, stopped last-first; also on Ctrl-C. */
class Cleanup {
  private readonly closers: { name: string; close: () => Promise<void> }[] = [];

  add(name: string, close: () => Promise<void>): void {
    this.closers.push({ name, close });
  }

  async run(): Promise<void> {
    for (const { name, close } of this.closers.splice(0).reverse())
      await close().catch((error: unknown) => log(`cleanup (${name}): ${String(error)}`));
  }
}

/** The seats of `showIds` in seat-map order, read (and so materialized) through `address`. */
async function seatList(
  address: string,
  showIds: readonly string[],
): Promise<{ showId: string; seatId: string }[]> {
  const client = new BookingServiceClient(address, grpc.credentials.createInsecure());
  try {
    const metadata = bearer(TOKEN_SECRET, 'bench-setup');
    const seats: { showId: string; seatId: string }[] = [];
    for (const showId of showIds) {
      const availability = await callWithMetadata(
        client.getAvailability.bind(client),
        { showId },
        metadata,
        60000,
      );
      for (const seat of availability.seats) seats.push({ showId, seatId: seat.seatId });
    }
    return seats;
  } finally {
    client.close();
  }
}

const CARD = { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123', holderName: 'Bench' };

/**
 * Booking clients: each books the next free seat (hold, then confirm) and, on a retryable error,
 * retries the same booking with the same idempotency keys (as a real client should), so a failover
 * shows up as failed attempts and a gap, never as a lost or doubled booking.
 */
class BookingLoad {
  /** Failed attempts; `message` kept for the codes a master change does not explain. */
  readonly failures: { at: number; code: string; message?: string }[] = [];
  /** Per booking: when its last (successful) attempt started, and when the confirmation came back. */
  readonly attemptStarts: number[] = [];
  readonly completions: number[] = [];
  readonly latencies: number[] = [];
  gaveUp = 0;
  /** Bookings whose attempt failed just as the load was stopped (not retried). */
  abandoned = 0;
  /** Per booking given up on: its key and the answers it kept getting. */
  readonly gaveUpDetails: string[] = [];
  private next = 0;
  /** Pacing: when the next booking may start (performance.now() ms). */
  private nextStart = 0;
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly channels: BookingServiceClient[];
  private readonly metadata: grpc.Metadata[];

  constructor(
    readonly label: string,
    address: string,
    private readonly seats: readonly { showId: string; seatId: string }[],
    readonly concurrency: number,
    private readonly callTimeoutMs: number,
    /** Bookings per second over all loops; 0: unpaced. */
    private readonly rate = 0,
    channelCount = 4,
  ) {
    this.channels = Array.from(
      { length: channelCount },
      () => new BookingServiceClient(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS),
    );
    this.metadata = Array.from({ length: concurrency }, (_, i) =>
      bearer(TOKEN_SECRET, `bench-${label.replace(/\W+/g, '-')}-${i}`),
    );
  }

  get count(): number {
    return this.completions.length;
  }

  get exhausted(): boolean {
    return this.next >= this.seats.length;
  }

  /** Starts `concurrency` loops that run until stop(). */
  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.concurrency }, (_, id) => this.loop(id));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** Runs `concurrency` loops for `durationMs`, then waits for the bookings in flight. */
  async runFor(durationMs: number): Promise<void> {
    const endAt = now() + durationMs;
    this.running = true;
    await Promise.all(
      Array.from({ length: this.concurrency }, (_, id) => this.loop(id, () => now() < endAt)),
    );
    this.running = false;
  }

  close(): void {
    for (const client of this.channels) client.close();
  }

  private async loop(id: number, more: () => boolean = () => true): Promise<void> {
    while (this.running && more()) {
      const index = this.next++;
      const seat = this.seats[index];
      if (!seat) {
        if (index === this.seats.length) log(`${this.label}: ran out of seats after ${this.seats.length}`);
        return;
      }
      if (this.rate > 0) {
        this.nextStart = Math.max(now(), this.nextStart + 1000 / this.rate);
        await sleep(this.nextStart - now());
      }
      await this.book(id, index, seat);
    }
  }

  private async book(id: number, index: number, seat: { showId: string; seatId: string }): Promise<void> {
    const client = this.channels[id % this.channels.length]!;
    const metadata = this.metadata[id]!;
    const key = `${this.label}-${index}`;
    const answers = new Map<string, number>();
    let lastMessage = '';
    let firstFailure = NaN;
    for (let attempt = 0; attempt < 400; attempt++) {
      const started = now();
      try {
        const hold: Hold = await callWithMetadata(
          client.holdSeats.bind(client),
          { showId: seat.showId, seatIds: [seat.seatId], ga: [], idempotencyKey: `${key}-hold` },
          metadata,
          this.callTimeoutMs,
        );
        await callWithMetadata(
          client.confirmBooking.bind(client),
          { holdId: hold.id, card: CARD, idempotencyKey: `${key}-pay` },
          metadata,
          this.callTimeoutMs,
        );
        const done = now();
        this.attemptStarts.push(started);
        this.completions.push(done);
        this.latencies.push(done - started);
        return;
      } catch (error) {
        const code = statusName(error);
        const expected = code === 'UNAVAILABLE' || code === 'DEADLINE_EXCEEDED';
        lastMessage = (error as Error).message;
        if (Number.isNaN(firstFailure)) firstFailure = now();
        const answer = `${lastMessage.replace(/\b(?:hld|bk|pay)_[0-9a-f]+|\d+/g, '#')}`;
        answers.set(answer, (answers.get(answer) ?? 0) + 1);
        this.failures.push({ at: now(), code, ...(expected ? {} : { message: (error as Error).message }) });
        if (!expected) log(`${this.label}: booking attempt failed: ${(error as Error).message}`);
        if (!this.running) {
          // Stopping: the booking is left unfinished on purpose (its seat may stay held).
          this.abandoned++;
          return;
        }
        // The shared rule (services/common/errors.ts): both calls carry idempotency keys.
        if (!mayRetry(error, true)) break;
        await sleep(25);
      }
    }
    const detail =
      `${key}: gave up after ${((now() - firstFailure) / 1000).toFixed(1)} s and ${[...answers.values()].reduce((a, b) => a + b, 0)} failed attempts; answers: ` +
      [...answers].map(([answer, n]) => `${n} × ${answer}`).join(' | ') +
      `; last: ${lastMessage}`;
    this.gaveUpDetails.push(detail);
    log(`${this.label}: ${detail}`);
    this.gaveUp++;
  }
}

/** ClusterService.Status of every node over one long-lived channel each. */
class StatusReader {
  private readonly clients = new Map<number, ClusterServiceClient>();

  constructor(peers: ReadonlyMap<number, string>) {
    for (const [id, address] of peers)
      this.clients.set(
        id,
        new ClusterServiceClient(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS),
      );
  }

  read(id: number, timeoutMs = 1000): Promise<NodeStatus | undefined> {
    const client = this.clients.get(id)!;
    return callWithMetadata(client.status.bind(client), {}, new grpc.Metadata(), timeoutMs).catch(
      () => undefined,
    );
  }

  async readAll(ids: readonly number[], timeoutMs = 1000): Promise<Map<number, NodeStatus | undefined>> {
    const answers = await Promise.all(ids.map(async (id) => [id, await this.read(id, timeoutMs)] as const));
    return new Map(answers);
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
  }
}

function describe(status: NodeStatus | undefined, id: number): string {
  if (!status) return `node ${id}: no answer`;
  return (
    `node ${id}: ${NodeRole[status.role]} term ${status.term} master ${status.masterId || '?'}` +
    ` applied ${status.appliedIndex}${status.canServeWrites ? ' serving' : ''}`
  );
}

interface ProbeResult {
  node: number;
  sentAt: number;
  doneAt: number;
  holdId?: string;
  code?: string;
}

/** One-place general-admission holds sent straight to a node's client address. */
class Prober {
  private readonly clients = new Map<number, BookingServiceClient>();
  private readonly metadata = bearer(TOKEN_SECRET, 'bench-probe');
  private sequence = 0;

  constructor(
    addresses: ReadonlyMap<number, string>,
    private readonly showId: string,
    private readonly timeoutMs: number,
  ) {
    for (const [id, address] of addresses)
      this.clients.set(
        id,
        new BookingServiceClient(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS),
      );
  }

  async probe(node: number, timeoutMs = this.timeoutMs): Promise<ProbeResult> {
    const client = this.clients.get(node)!;
    const sentAt = now();
    try {
      const hold = await callWithMetadata(
        client.holdSeats.bind(client),
        {
          showId: this.showId,
          seatIds: [],
          ga: [{ areaId: BENCH_GA_AREA, quantity: 1 }],
          idempotencyKey: `probe-${process.pid}-${this.sequence++}`,
        },
        this.metadata,
        timeoutMs,
      );
      return { node, sentAt, doneAt: now(), holdId: hold.id };
    } catch (error) {
      return { node, sentAt, doneAt: now(), code: statusName(error) };
    }
  }

  /** Gives the probes' places back (through `node`); returns how many releases failed. */
  async release(node: number, holdIds: readonly string[]): Promise<number> {
    const client = this.clients.get(node)!;
    let failed = 0;
    for (const holdId of holdIds) {
      await callWithMetadata(
        client.releaseHold.bind(client),
        { holdId, idempotencyKey: `release-${holdId}` },
        this.metadata,
        5000,
      ).catch(() => failed++);
    }
    return failed;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
  }
}

interface RoundResult {
  round: number;
  killed: number;
  oldTerm: number;
  /** Times after the kill, ms; NaN when not seen. */
  suspectMs: number;
  electedMs: number;
  servingMs: number;
  ackMs: number;
  nginxBookingMs: number;
  newMaster: number;
  newTerm: number;
  ackVia: number;
  /** Term of the acknowledged probe's hold in the replication log of the node that acknowledged it. */
  ackEntryTerm: number;
  probesSent: number;
  probeFailures: Map<string, number>;
  loadFailures: Map<string, number>;
  /** Restart of the killed node until it serves health again. */
  restartMs: number;
  /** Restart until every node caught up and the master (the highest id, taking back over) is stable. */
  rejoinMs: number;
  /** Longest gap between two acknowledged load bookings while the killed node rejoined. */
  rejoinGapMs: number;
  /** The master once the killed node rejoined (the highest id takes back over) and its term. */
  rejoinedMaster: number;
  rejoinedTerm: number;
  /** Anything that looked wrong. */
  notes: string[];
}

/** Booking node exits the bench caused (kills, the final stop) and the ones it did not. */
const exits = { expected: new Set<number>(), unexpected: [] as string[], stopping: false };

/**
 * The booking state of `database` as a snapshot would carry it, taken with the booking node's own
 * snapshot code: its rows and their size on the wire (each row is one JSON string).
 */
async function snapshotSize(mysqlUrl: string, database: string): Promise<{ rows: number; bytes: number }> {
  const pool = await openDatabase(mysqlUrl, database, 1);
  try {
    const connection = await pool.getConnection();
    try {
      const rows = await allSnapshotRows(connection);
      return {
        rows: rows.length,
        bytes: rows.reduce<number>((sum, row) => sum + Buffer.byteLength(JSON.stringify(row.r)) + 3, 0),
      };
    } finally {
      connection.release();
    }
  } finally {
    await pool.end();
  }
}

/** The term of the log entry that created `holdId`, in node `id`'s database; NaN when absent. */
async function holdEntryTerm(
  db: mysql.Connection,
  database: string,
  holdId: string,
  newerThan: number,
): Promise<number> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT term FROM \`${database}\`.replication_log WHERE term > ? AND payload LIKE ? ORDER BY log_index LIMIT 1`,
    [newerThan, `%${holdId}%`],
  );
  return rows[0] ? Number(rows[0].term) : NaN;
}

interface Settled {
  masterId: number;
  term: number;
  /** Set when the highest id did not take back over. */
  note?: string;
}

/**
 * Waits until one master serves writes, every other node follows it and has applied what the master
 * had committed when we looked, the highest id is master (bully: a returning higher id catches up,
 * then takes over; waited for up to 15 s), and all of that still holds 0.5 s later.
 */
async function settle(stack: RunningStack, statuses: StatusReader, timeoutMs = 60000): Promise<Settled> {
  const deadline = now() + timeoutMs;
  const ids = stack.bookingNodes.map((n) => n.id);
  const highest = Math.max(...ids);
  let waitedForTakeover = 0;
  let lastView = '';
  while (now() < deadline) {
    const { masterId, term } = await stack.waitForMaster(Math.max(1000, deadline - now()));
    const master = await statuses.read(masterId);
    if (!master?.canServeWrites || master.term !== term) continue;
    const target = Number(master.commitIndex);
    // Every other node follows this master and has applied its commit index.
    let caughtUp = false;
    while (now() < deadline) {
      const all = await statuses.readAll(ids);
      lastView = [...all].map(([id, s]) => describe(s, id)).join('; ');
      const moved = [...all.values()].some(
        (s) => s && (s.term > term || (s.role === NodeRole.NODE_ROLE_MASTER && s.nodeId !== masterId)),
      );
      if (moved) break;
      caughtUp = [...all].every(
        ([id, s]) =>
          s &&
          (id === masterId ||
            (s.role === NodeRole.NODE_ROLE_SLAVE &&
              s.masterId === masterId &&
              s.term === term &&
              Number(s.appliedIndex) >= target)),
      );
      if (caughtUp) break;
      await sleep(100);
    }
    if (!caughtUp) continue;
    if (masterId !== highest && waitedForTakeover < 15000) {
      await sleep(200);
      waitedForTakeover += 200;
      continue;
    }
    await sleep(500);
    const after = await statuses.readAll(ids);
    const stable = [...after].every(
      ([id, s]) =>
        s &&
        s.term === term &&
        (id === masterId ? s.canServeWrites : s.masterId === masterId && s.role === NodeRole.NODE_ROLE_SLAVE),
    );
    if (stable)
      return masterId === highest
        ? { masterId, term }
        : {
            masterId,
            term,
            note: `node ${highest} did not take over within 15 s (node ${masterId} stays master)`,
          };
  }
  throw new Error(`the booking group did not settle within ${timeoutMs} ms; last seen: ${lastView}`);
}

/**
 * settle(), and when the group does not settle, what the booking logs say about why: a catch-up or
 * snapshot refused for its size, and the masters elected meanwhile.
 */
async function settleOrExplain(stack: RunningStack, statuses: StatusReader): Promise<Settled> {
  try {
    return await settle(stack, statuses);
  } catch (error) {
    const findings: string[] = [];
    for (const node of stack.bookingNodes) {
      let text = '';
      try {
        text = readFileSync(node.logFile, 'utf8');
      } catch {
        continue;
      }
      const lines = text.split('\n');
      const tooLarge = lines.filter((line) => line.includes('larger than max'));
      const masters = lines.filter((line) => line.includes('"election: master in term'));
      const last = (line: string | undefined): string => {
        if (!line) return '';
        try {
          const entry = JSON.parse(line) as { time?: string; msg?: string; err?: { message?: string } };
          return `${entry.time ?? ''} ${entry.msg ?? ''}${entry.err?.message ? `: ${entry.err.message}` : ''}`;
        } catch {
          return line.slice(0, 300);
        }
      };
      if (tooLarge.length > 0)
        findings.push(
          `node ${node.id}: ${tooLarge.length} calls refused for size, last: ${last(tooLarge.at(-1))}`,
        );
      if (masters.length > 0)
        findings.push(
          `node ${node.id}: elected master ${masters.length} times, last: ${last(masters.at(-1))}`,
        );
    }
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\nfrom the booking logs:\n  ${findings.join('\n  ') || 'nothing obvious'}`);
  }
}

/** One kill of the master, measured. */
async function failoverRound(
  round: number,
  options: Options,
  stack: RunningStack,
  statuses: StatusReader,
  prober: Prober,
  load: BookingLoad,
  db: mysql.Connection,
  settled: Settled,
): Promise<{ result: RoundResult; next: Settled }> {
  const notes: string[] = [];
  const killed = settled.masterId;
  const oldTerm = settled.term;
  const survivors = stack.bookingNodes.map((n) => n.id).filter((id) => id !== killed);

  // Warm the probe channels to the survivors and check that the path acknowledges writes at all.
  const warm: string[] = [];
  for (const node of survivors) {
    let result: ProbeResult | undefined;
    for (let i = 0; i < 20 && !result?.holdId; i++) {
      result = await prober.probe(node, 2000);
      if (!result.holdId) await sleep(100);
    }
    if (!result?.holdId)
      throw new Error(`round ${round}: node ${node} acknowledges no write before the kill`);
    warm.push(result.holdId);
  }
  await prober.release(survivors[0]!, warm);

  exits.expected.add(killed);
  const t0 = now();
  const killing = stack.kill(killed);
  // Status of the survivors every STATUS_POLL_MS from the kill on.
  let suspectAt = NaN;
  let electedAt = NaN;
  let servingAt = NaN;
  let newMaster = 0;
  let newTerm = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const polled = now();
      const all = await statuses.readAll(survivors, 500);
      for (const s of all.values()) {
        if (!s) continue;
        const at = now();
        const left = s.term > oldTerm || s.masterId !== killed || s.role !== NodeRole.NODE_ROLE_SLAVE;
        if (left && Number.isNaN(suspectAt)) suspectAt = at;
        if (s.role === NodeRole.NODE_ROLE_MASTER && s.term > oldTerm) {
          if (Number.isNaN(electedAt)) {
            electedAt = at;
            newMaster = s.nodeId;
            newTerm = s.term;
          }
          if (s.canServeWrites && Number.isNaN(servingAt)) servingAt = at;
        }
      }
      await sleep(Math.max(0, STATUS_POLL_MS - (now() - polled)));
    }
  })();
  await killing;
  const exitedAt = now();

  // Probes from the moment the process is gone until one is acknowledged.
  const results: ProbeResult[] = [];
  const inFlight = new Set<Promise<void>>();
  let first: ProbeResult | undefined;
  let sent = 0;
  while (!first && now() - t0 < ROUND_GIVE_UP_MS) {
    const node = survivors[sent++ % survivors.length]!;
    const pending = prober.probe(node).then((result) => {
      results.push(result);
      if (result.holdId && !first) first = result;
    });
    inFlight.add(pending);
    void pending.finally(() => inFlight.delete(pending));
    await sleep(options.probeInterval);
  }
  await Promise.all(inFlight);
  // Let the watcher see the new master serving (it may report after the first acknowledgement).
  const watchUntil = now() + 1000;
  while (Number.isNaN(servingAt) && now() < watchUntil) await sleep(STATUS_POLL_MS);
  watching = false;
  await watcher;

  const ackMs = first ? first.doneAt - t0 : NaN;
  let ackEntryTerm = NaN;
  if (first?.holdId) {
    // The node that acknowledged it as master holds the entry in its log; look in every survivor.
    for (const node of [newMaster, ...survivors.filter((id) => id !== newMaster)]) {
      const spec = stack.bookingNodes.find((n) => n.id === node);
      if (!spec) continue;
      ackEntryTerm = await holdEntryTerm(db, spec.database, first.holdId, oldTerm);
      if (!Number.isNaN(ackEntryTerm)) break;
    }
    if (Number.isNaN(ackEntryTerm))
      notes.push(`the acknowledged hold ${first.holdId} is in no survivor's log with a term > ${oldTerm}`);
  } else {
    notes.push(`no write was acknowledged within ${ROUND_GIVE_UP_MS} ms of the kill`);
  }
  const held = results.filter((r) => r.holdId).map((r) => r.holdId!);
  const releaseFailed = held.length > 0 ? await prober.release(newMaster || survivors[0]!, held) : 0;
  if (releaseFailed > 0) notes.push(`${releaseFailed} probe holds could not be released`);

  const windowEnd = (first?.doneAt ?? now()) + 1000;
  const loadFailures = countBy(
    load.failures.filter((f) => f.at >= t0 && f.at <= windowEnd),
    (f) => f.code,
  );
  const nginxIndex = load.attemptStarts.findIndex((start) => start >= exitedAt);
  const nginxBookingMs = nginxIndex >= 0 ? load.completions[nginxIndex]! - t0 : NaN;

  notes.push(...exits.unexpected.splice(0));
  const restartStart = now();
  await stack.restart(killed);
  const restartMs = now() - restartStart;
  const next = await settleOrExplain(stack, statuses);
  const rejoinEnd = now();
  if (next.note) notes.push(next.note);

  const acked = load.completions.filter((at) => at >= restartStart && at <= rejoinEnd);
  let rejoinGapMs = 0;
  let previous = restartStart;
  for (const at of [...acked, rejoinEnd]) {
    rejoinGapMs = Math.max(rejoinGapMs, at - previous);
    previous = at;
  }
  const result: RoundResult = {
    round,
    killed,
    oldTerm,
    suspectMs: suspectAt - t0,
    electedMs: electedAt - t0,
    servingMs: servingAt - t0,
    ackMs,
    nginxBookingMs,
    newMaster,
    newTerm,
    ackVia: first?.node ?? 0,
    ackEntryTerm,
    probesSent: sent,
    probeFailures: countBy(
      results.filter((r) => !r.holdId),
      (r) => r.code ?? 'OTHER',
    ),
    loadFailures,
    restartMs,
    rejoinMs: rejoinEnd - restartStart,
    rejoinGapMs,
    rejoinedMaster: next.masterId,
    rejoinedTerm: next.term,
    notes,
  };
  return { result, next };
}

interface FailoverReport {
  rounds: RoundResult[];
  ack: Summary;
  elected: Summary;
  suspect: Summary;
  serving: Summary;
  nginx: Summary;
  rejoin: Summary;
  rejoinGap: Summary;
  /** SOLD seats on every node against the bookings acknowledged to clients. */
  soldCheck: string;
  soldOk: boolean;
  gaveUp: string[];
  /** The master's booking state at the end, as a snapshot would carry it. */
  snapshot: { rows: number; bytes: number };
  probeFailures: Map<string, number>;
  loadFailuresInWindows: Map<string, number>;
  loadFailuresOutside: number;
  /** Failed attempts with a code a master change does not explain, with their messages. */
  unusualFailures: string[];
  loadBookings: number;
  loadSeconds: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  elapsedSeconds: number;
  logsKept?: string;
  mode: FailoverMode;
  /** The etcd run only: etcd itself SIGKILLed under the load, then restarted. */
  etcdOutage?: EtcdOutage;
}

async function runFailover(
  options: Options,
  mysqlUrl: string,
  runDir: string,
  cleanup: Cleanup,
  mode: FailoverMode,
): Promise<FailoverReport> {
  const started = now();
  const dataDir = path.join(runDir, `failover-${mode}`);
  log(
    `failover (${mode === 'etcd' ? 'with the private etcd' : 'bully + quorum alone'}): starting the stack ` +
      '(three booking nodes, majority ack policy, default timings)',
  );
  const stack = await startStack({
    repoRoot: REPO_ROOT,
    dataDir,
    mysqlUrl,
    freshData: true,
    tokenSecret: TOKEN_SECRET,
    bookingDatabasePrefix: `bench_failover_${mode}`,
    logLevel: 'info',
    etcd: mode === 'etcd' ? 'private' : 'off',
    extraEnv: { MARQUEE_ACK_POLICY: 'majority', MARQUEE_CATALOG_DB: `bench_failover_${mode}_catalog` },
    onProgress: (step) => log(`  ${step}`),
    onNodeExit: (node, how) => {
      if (exits.expected.delete(node.id) || exits.stopping) return;
      exits.unexpected.push(`node ${node.id} exited on its own (${how})`);
      log(`  booking node ${node.id} exited on its own (${how}), see ${dataDir}/logs/booking-${node.id}.log`);
    },
  });
  cleanup.add('failover stack', async () => {
    exits.stopping = true;
    await stack.stop();
  });
  const statuses = new StatusReader(new Map(stack.bookingNodes.map((n) => [n.id, n.peerAddress])));
  cleanup.add('status channels', async () => statuses.close());
  const db = await mysql.createConnection(mysqlUrl);
  cleanup.add('mysql', () => db.end());

  const { masterId } = await stack.waitForMaster(20000);
  const masterAddress = stack.bookingNodes.find((n) => n.id === masterId)!.clientAddress;
  // Paced, one show is enough; unpaced, the clients sell ~80 seats a second for the whole run.
  const seatCount = options.loadRate === 0 ? 12 * SEATS_PER_SHOW : SEATS_PER_SHOW;
  log(`failover: creating ${seatCount} seats and a general-admission probe area through the catalog`);
  const showIds = await createShows(stack.catalogAddress, TOKEN_SECRET, seatCount, { gaCapacity: 100000 });
  const seats = await seatList(masterAddress, showIds);
  const prober = new Prober(
    new Map(stack.bookingNodes.map((n) => [n.id, n.clientAddress])),
    showIds[0]!,
    options.probeTimeout,
  );
  cleanup.add('probe channels', async () => prober.close());
  const load = new BookingLoad(
    'failover-load',
    stack.grpcAddress,
    seats,
    options.clients,
    5000,
    options.loadRate,
  );
  cleanup.add('failover load', async () => {
    await load.stop();
    load.close();
  });
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const loadStart = now();
  load.start();
  log(
    `failover: ${options.clients} booking clients through nginx (${stack.grpcAddress}); ${options.rounds} rounds`,
  );

  const rounds: RoundResult[] = [];
  let anomaly = false;
  let settled = await settleOrExplain(stack, statuses);
  for (let round = 1; round <= options.rounds; round++) {
    const { result, next } = await failoverRound(round, options, stack, statuses, prober, load, db, settled);
    settled = next;
    rounds.push(result);
    const termOk = result.ackEntryTerm > result.oldTerm;
    log(
      `[round ${round}/${options.rounds}] killed node ${result.killed} (master of term ${result.oldTerm}): ` +
        `suspected ${ms(result.suspectMs)}, node ${result.newMaster} elected (term ${result.newTerm}) ${ms(result.electedMs)}, ` +
        `serving ${ms(result.servingMs)}, first write acknowledged ${ms(result.ackMs)} ` +
        `(via node ${result.ackVia}, log entry term ${result.ackEntryTerm}${termOk ? '' : ' NOT NEWER'}), ` +
        `first booking through nginx ${ms(result.nginxBookingMs)}; ` +
        `${result.probesSent} probes, failed: ${formatCounts(result.probeFailures)}; ` +
        `load failures: ${formatCounts(result.loadFailures)}; restart ${(result.restartMs / 1000).toFixed(1)} s, ` +
        `rejoined ${(result.rejoinMs / 1000).toFixed(1)} s (longest gap between bookings ${ms(result.rejoinGapMs)}` +
        `; then node ${result.rejoinedMaster} master of term ${result.rejoinedTerm})` +
        `${result.notes.length ? `; ${result.notes.join('; ')}` : ''}`,
    );
    if (!termOk || !(result.ackMs <= AIM_P99_MS) || result.notes.length > 0) anomaly = true;
    if (load.failures.some((f) => f.message !== undefined)) anomaly = true;
    if (load.exhausted) {
      log('failover: the load ran out of seats; stopping the rounds here');
      break;
    }
  }
  let etcdOutage: EtcdOutage | undefined;
  if (stack.etcd) {
    log('failover: 5 s of load alone, then SIGKILL etcd itself under the load for 5 s, then restart it');
    etcdOutage = await measureEtcdOutage({
      etcd: stack.etcd,
      master: () => stack.waitForMaster(5000),
      completions: load.completions,
      failures: load.failures,
      now,
      settleMs: 5000,
      downMs: 5000,
      afterMs: 3000,
    });
    for (const line of describeOutage(etcdOutage)) log(`  ${line}`);
  }
  await load.stop();
  const loadSeconds = (now() - loadStart) / 1000;
  loopDelay.disable();
  // Every booking acknowledged to a client sold its seat exactly once, on every node.
  settled = await settleOrExplain(stack, statuses);
  const sold: number[] = [];
  for (const node of stack.bookingNodes) {
    const [rows] = await db.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM \`${node.database}\`.seats WHERE state = 'SOLD'`,
    );
    sold.push(Number(rows[0]?.n));
  }
  const soldCheck =
    `SOLD seats per node: ${sold.join(', ')}; bookings acknowledged to the clients: ${load.count}` +
    (load.gaveUp > 0 ? ` (+${load.gaveUp} given up)` : '') +
    (load.abandoned > 0 ? ` (+${load.abandoned} failed as the load stopped)` : '');
  // A booking given up on may still have been sold (its answer lost): it may add to the count.
  const unsure = load.gaveUp + load.abandoned;
  const soldOk = sold.every((n) => n === sold[0] && n >= load.count && n <= load.count + unsure);
  if (!soldOk || load.gaveUp > 0) anomaly = true;
  let logsKept: string | undefined;
  if (anomaly) {
    logsKept = path.join(BENCH_DIR, 'failover-logs');
    rmSync(logsKept, { recursive: true, force: true });
    cpSync(path.join(dataDir, 'logs'), logsKept, { recursive: true });
    log(`failover: a round missed the aim or looked wrong; the stack's logs are kept in ${logsKept}`);
  }
  const windows = rounds.map((r) => r.loadFailures);
  const inWindows = new Map<string, number>();
  for (const w of windows) mergeCounts(inWindows, w);
  const probeFailures = new Map<string, number>();
  for (const r of rounds) mergeCounts(probeFailures, r.probeFailures);
  const totalInWindows = [...inWindows.values()].reduce((a, b) => a + b, 0);
  const finite = (values: number[]): number[] => values.filter((v) => Number.isFinite(v));
  return {
    rounds,
    ack: summarize(finite(rounds.map((r) => r.ackMs))),
    elected: summarize(finite(rounds.map((r) => r.electedMs))),
    suspect: summarize(finite(rounds.map((r) => r.suspectMs))),
    serving: summarize(finite(rounds.map((r) => r.servingMs))),
    nginx: summarize(finite(rounds.map((r) => r.nginxBookingMs))),
    rejoin: summarize(rounds.map((r) => r.rejoinMs)),
    rejoinGap: summarize(rounds.map((r) => r.rejoinGapMs)),
    soldCheck,
    soldOk,
    gaveUp: load.gaveUpDetails,
    snapshot: await snapshotSize(
      mysqlUrl,
      stack.bookingNodes.find((n) => n.id === settled.masterId)!.database,
    ),
    probeFailures,
    loadFailuresInWindows: inWindows,
    loadFailuresOutside: load.failures.length - totalInWindows,
    unusualFailures: [
      ...countBy(
        load.failures.filter((f) => f.message !== undefined),
        (f) => `${f.code}: ${f.message}`,
      ),
    ].map(([text, n]) => `${n} × ${text}`),
    loadBookings: load.count,
    loadSeconds,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6,
    elapsedSeconds: (now() - started) / 1000,
    logsKept,
    mode,
    etcdOutage,
  };
}

/** A measured booking target of the throughput comparison. */
interface Target {
  label: string;
  load: BookingLoad;
  /** CPU readers of the target's own processes (master first). */
  cpu: Map<string, CpuReader>;
  /** For a group: its master and term now (to check nothing changed during the measurement). */
  master?: () => Promise<string>;
  /**
   * For a group: waits until every slave has applied what the master applied, so replication work
   * left over from this target's slice does not run (and count) in the next target's slice.
   */
  drain?: () => Promise<void>;
  /** For a group: the master's applied index (log entries so far). */
  logIndex?: () => Promise<number>;
  elapsedMs: number;
  /** Of elapsedMs: time spent draining after the slices. */
  drainMs: number;
  counted: number;
  cpuMs: Map<string, number>;
}

/** Three booking nodes in cluster mode with peer links straight to each other (no fault proxies). */
async function startGroup(
  policy: string,
  mysqlUrl: string,
  catalogAddress: string,
  runDir: string,
  cleanup: Cleanup,
): Promise<{ nodes: { id: number; client: string; peer: string; process: ManagedProcess }[] }> {
  const ids = [1, 2, 3];
  const ports = await Promise.all(
    ids.map(async (id) => ({ id, client: await freePort(), peer: await freePort() })),
  );
  const peers = ports.map((p) => `${p.id}=127.0.0.1:${p.peer}`).join(',');
  const clients = ports.map((p) => `${p.id}=127.0.0.1:${p.client}`).join(',');
  const nodes = ports.map(({ id, client, peer }) => {
    const stateDir = path.join(runDir, 'throughput', policy, `booking-${id}`);
    const child = startProcess(
      `booking-${policy}-${id}`,
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'services/booking/main.ts')],
      {
        logFile: path.join(runDir, 'throughput', 'logs', `booking-${policy}-${id}.log`),
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          MARQUEE_MYSQL_URL: mysqlUrl,
          MARQUEE_TOKEN_SECRET: TOKEN_SECRET,
          MARQUEE_LOG_LEVEL: 'warn',
          MARQUEE_CATALOG_ADDR: catalogAddress,
          MARQUEE_NODE_ID: String(id),
          MARQUEE_BOOKING_PORT: String(client),
          MARQUEE_BOOKING_DB: `bench_${policy}_${id}`,
          MARQUEE_PEERS: peers,
          MARQUEE_BOOKING_ADDRS: clients,
          MARQUEE_CLUSTER_SECRET: DEV_CLUSTER_SECRET,
          MARQUEE_ACK_POLICY: policy,
          MARQUEE_STATE_DIR: stateDir,
          MARQUEE_LAMPORT_FILE: path.join(stateDir, 'lamport.json'),
        },
      },
    );
    cleanup.add(`booking-${policy}-${id}`, () => child.stop());
    return { id, client: `127.0.0.1:${client}`, peer: `127.0.0.1:${peer}`, process: child };
  });
  await Promise.all(nodes.map((n) => waitForServing(n.client, 60000, n.process.exited)));
  return { nodes };
}

interface ThroughputReport {
  rows: {
    label: string;
    rate: number;
    ratio: number;
    p50: number;
    p99: number;
    failed: number;
    /** Per one-second slice: waiting for the slaves to apply what the master did in it. */
    drainMs: number;
    /** Bookings per second while the clients ran, without the catch-up wait. */
    loadingRate: number;
    /** Replication log entries per booking (NaN for the single node). */
    entriesPerBooking: number;
    cpu: string;
  }[];
  seconds: number;
  notes: string[];
}

async function runThroughput(
  options: Options,
  mariadb: PrivateMariaDb,
  runDir: string,
  cleanup: Cleanup,
): Promise<ThroughputReport> {
  const logs = path.join(runDir, 'throughput', 'logs');
  mkdirSync(logs, { recursive: true });
  const catalogPort = await freePort();
  const catalogAddress = `127.0.0.1:${catalogPort}`;
  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    MARQUEE_MYSQL_URL: mariadb.url,
    MARQUEE_TOKEN_SECRET: TOKEN_SECRET,
    MARQUEE_LOG_LEVEL: 'warn',
    MARQUEE_CATALOG_ADDR: catalogAddress,
  };
  log('throughput: starting a catalog, one single booking node and three groups (async, majority, all)');
  const catalog = startProcess(
    'catalog',
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'services/catalog/main.ts')],
    {
      logFile: path.join(logs, 'catalog.log'),
      cwd: REPO_ROOT,
      env: { ...baseEnv, MARQUEE_CATALOG_PORT: String(catalogPort), MARQUEE_CATALOG_DB: 'bench_catalog' },
    },
  );
  cleanup.add('catalog', () => catalog.stop());
  await waitForServing(catalogAddress, 60000, catalog.exited);
  const singlePort = await freePort();
  const single = startProcess(
    'booking-single',
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'services/booking/main.ts')],
    {
      logFile: path.join(logs, 'booking-single.log'),
      cwd: REPO_ROOT,
      env: { ...baseEnv, MARQUEE_BOOKING_PORT: String(singlePort), MARQUEE_BOOKING_DB: 'bench_single' },
    },
  );
  cleanup.add('booking-single', () => single.stop());
  const singleAddress = `127.0.0.1:${singlePort}`;
  await waitForServing(singleAddress, 60000, single.exited);
  const policies = ['async', 'majority', 'all'];
  const groups = [];
  for (const policy of policies) {
    const group = await startGroup(policy, mariadb.url, catalogAddress, runDir, cleanup);
    const peers = new Map(group.nodes.map((n) => [n.id, n.peer]));
    const elected = await waitForMaster(() => peers, 30000);
    groups.push({ policy, ...group, peers, elected });
    log(`  ${policy}: node ${elected.masterId} is master of term ${elected.term}`);
  }

  // Enough seats for the fastest target at full speed, plus warm-up.
  const seatsPerTarget = 10000;
  const showIds = await createShows(catalogAddress, TOKEN_SECRET, seatsPerTarget);
  const statusOf = async (peers: ReadonlyMap<number, string>): Promise<string> => {
    const found = await waitForMaster(() => peers, 5000).catch(() => undefined);
    return found ? `node ${found.masterId} term ${found.term}` : 'no master';
  };
  const targets: Target[] = [];
  const makeTarget = (label: string, load: BookingLoad, cpu: Map<string, CpuReader>): Target => ({
    label,
    load,
    cpu,
    elapsedMs: 0,
    drainMs: 0,
    counted: 0,
    cpuMs: new Map(),
  });
  log(`throughput: materializing ${seatsPerTarget} seats on each target`);
  const singleSeats = await seatList(singleAddress, showIds);
  targets.push(
    makeTarget(
      'single node',
      new BookingLoad('tp-single', singleAddress, singleSeats, options.throughputClients, 30000),
      new Map([['node', procCpuMs(single.pid)]]),
    ),
  );
  for (const group of groups) {
    const master = group.nodes.find((n) => n.id === group.elected.masterId)!;
    const seats = await seatList(master.client, showIds);
    const groupStatus = new StatusReader(group.peers);
    cleanup.add(`${group.policy} status channels`, async () => groupStatus.close());
    const cpu = new Map<string, CpuReader>([['master', procCpuMs(master.process.pid)]]);
    for (const n of group.nodes) if (n !== master) cpu.set(`slave ${n.id}`, procCpuMs(n.process.pid));
    targets.push({
      ...makeTarget(
        `3 nodes, ${group.policy}`,
        new BookingLoad(`tp-${group.policy}`, master.client, seats, options.throughputClients, 30000),
        cpu,
      ),
      master: () => statusOf(group.peers),
      logIndex: async () => Number((await groupStatus.read(master.id))?.appliedIndex ?? NaN),
      drain: async () => {
        const leader = await groupStatus.read(master.id);
        if (!leader) throw new Error(`${group.policy}: the master did not answer Status`);
        const target = Number(leader.appliedIndex);
        const deadline = now() + 60000;
        for (;;) {
          const all = await groupStatus.readAll(group.nodes.map((n) => n.id));
          if ([...all.values()].every((st) => st && Number(st.appliedIndex) >= target)) return;
          if (now() > deadline) throw new Error(`${group.policy}: slaves did not catch up within 60 s`);
          await sleep(10);
        }
      },
    });
  }
  for (const target of targets) cleanup.add(`${target.label} clients`, async () => target.load.close());
  const before = await Promise.all(targets.map((t) => t.master?.() ?? Promise.resolve('')));

  const shared = new Map<string, CpuReader>([
    ['bench', selfCpuMs],
    ['mariadb', procCpuMs(mariadb.process.pid)],
  ]);
  log('throughput: one second of warm-up per target');
  for (const target of targets) {
    await target.load.runFor(1000);
    await target.drain?.();
    target.load.latencies.length = 0;
  }
  const slices = Math.max(1, options.seconds);
  const indexBefore = await Promise.all(targets.map((t) => t.logIndex?.() ?? Promise.resolve(NaN)));
  const started = now();
  for (let slice = 0; slice < slices; slice++) {
    // Rotate the order so no target always runs right after the same one.
    const order = targets.map((_, i) => targets[(i + slice) % targets.length]!);
    const line: string[] = [];
    for (const target of order) {
      const readers = new Map([...shared, ...target.cpu]);
      const cpuBefore = new Map([...readers].map(([name, read]) => [name, read()]));
      const countBefore = target.load.count;
      const sliceStart = now();
      await target.load.runFor(1000);
      const drainStart = now();
      await target.drain?.();
      const elapsed = now() - sliceStart;
      target.drainMs += now() - drainStart;
      target.elapsedMs += elapsed;
      target.counted += target.load.count - countBefore;
      for (const [name, read] of readers)
        target.cpuMs.set(name, (target.cpuMs.get(name) ?? 0) + read() - cpuBefore.get(name)!);
      line.push(`${target.label} ${(((target.load.count - countBefore) / elapsed) * 1000).toFixed(0)}/s`);
    }
    log(`[slice ${slice + 1}/${slices}] ${line.join(', ')}`);
  }
  const indexAfter = await Promise.all(targets.map((t) => t.logIndex?.() ?? Promise.resolve(NaN)));
  const after = await Promise.all(targets.map((t) => t.master?.() ?? Promise.resolve('')));
  const notes: string[] = [];
  targets.forEach((t, i) => {
    if (before[i] !== after[i])
      notes.push(`${t.label}: master changed during the run (${before[i]} → ${after[i]})`);
  });
  const singleRate = (targets[0]!.counted / targets[0]!.elapsedMs) * 1000;
  const rows = targets.map((target, i) => {
    const rate = (target.counted / target.elapsedMs) * 1000;
    const latency = summarize(target.load.latencies);
    const parts = [...target.cpuMs].map(
      ([name, total]) => [name, total / Math.max(1, target.counted)] as const,
    );
    const total = parts.reduce((sum, [, v]) => sum + v, 0);
    return {
      label: target.label,
      rate,
      ratio: rate / singleRate,
      p50: latency.median,
      p99: latency.p99,
      failed: target.load.failures.length,
      drainMs: target.drainMs / slices,
      loadingRate: (target.counted / (target.elapsedMs - target.drainMs)) * 1000,
      entriesPerBooking: (indexAfter[i]! - indexBefore[i]!) / target.counted,
      cpu: `${parts.map(([name, v]) => `${name} ${v.toFixed(2)}`).join(' + ')} = ${total.toFixed(2)}`,
    };
  });
  return { rows, seconds: (now() - started) / 1000, notes };
}

function failoverSvg(report: FailoverReport, title: string): string {
  const { ack } = report;
  return dotStripSvg({
    title,
    subtitle:
      `${report.rounds.length} SIGKILLs of the master under load: first write acknowledged by the new master, ` +
      `median ${ms(ack.median)}, p99 ${ms(ack.p99)}, max ${ms(ack.max)}`,
    xLabel: 'time after SIGKILL of the master',
    series: [
      {
        name: 'survivor stops following',
        color: '#a3a3a3',
        values: report.rounds.map((r) => r.suspectMs),
      },
      { name: 'new master elected', color: '#60a5fa', values: report.rounds.map((r) => r.electedMs) },
      { name: 'first write acknowledged', color: '#1d4ed8', values: report.rounds.map((r) => r.ackMs) },
      {
        name: 'first booking via nginx',
        color: '#7c3aed',
        values: report.rounds.map((r) => r.nginxBookingMs),
      },
    ],
    lines: [
      { at: ack.median, label: `median ${ms(ack.median)}`, color: '#1d4ed8' },
      { at: ack.p99, label: `p99 ${ms(ack.p99)}`, color: '#dc2626' },
      { at: AIM_MEDIAN_MS, label: 'aim: median ≤ 1 s', color: '#16a34a', dashed: true },
      { at: AIM_P99_MS, label: 'aim: p99 ≤ 2 s', color: '#ea580c', dashed: true },
    ],
  });
}

function printFailover(report: FailoverReport, options: Options): string[] {
  const row = (name: string, s: Summary): string =>
    `| ${name.padEnd(34)} | ${[s.median, s.p90, s.p99, s.max, s.min].map((v) => ms(v).padStart(7)).join(' | ')} |`;
  const { ack } = report;
  const lines = [
    `failover ${report.mode === 'etcd' ? 'WITH the private etcd (fallback lease)' : 'WITHOUT etcd (bully + quorum alone)'}: ` +
      `${report.rounds.length} SIGKILLs of the master, ${options.clients} booking clients through nginx, ` +
      `probes every ${options.probeInterval} ms with a ${options.probeTimeout} ms deadline`,
    '',
    `| after SIGKILL (n = ${String(ack.count).padEnd(3)})               |  median |     p90 |     p99 |     max |     min |`,
    '| ---------------------------------- | ------: | ------: | ------: | ------: | ------: |',
    row('a survivor stops following it', report.suspect),
    row('new master elected (Status)', report.elected),
    row('new master serves writes (Status)', report.serving),
    row('first write acknowledged', ack),
    row('first booking through nginx', report.nginx),
    '',
    `aim median ≤ 1 s: ${ack.median <= AIM_MEDIAN_MS ? 'met' : 'NOT met'} (${ms(ack.median)}); ` +
      `aim p99 ≤ 2 s: ${ack.p99 <= AIM_P99_MS ? 'met' : 'NOT met'} (${ms(ack.p99)})`,
    `probe failures during the failover windows: ${formatCounts(report.probeFailures)}`,
    `load attempts that failed during the failover windows (kill → first ack + 1 s): ${formatCounts(report.loadFailuresInWindows)}; ` +
      `outside them (restarts, the returning node taking over): ${report.loadFailuresOutside}`,
    ...report.unusualFailures.map((text) => `  unexpected: ${text}`),
    `${report.soldOk ? 'check passed' : 'CHECK FAILED'}: ${report.soldCheck}`,
    ...report.gaveUp.map((text) => `  given up: ${text}`),
    `load: ${report.loadBookings} bookings in ${report.loadSeconds.toFixed(0)} s through nginx ` +
      `(${(report.loadBookings / report.loadSeconds).toFixed(0)}/s across kills and restarts)`,
    `killed node rejoining (restart, catch-up, the highest id taking back over, stable 0.5 s): ` +
      `median ${ms(report.rejoin.median)}, max ${ms(report.rejoin.max)}; longest gap between acknowledged ` +
      `bookings meanwhile: median ${ms(report.rejoinGap.median)}, max ${ms(report.rejoinGap.max)}`,
    `booking state on the master at the end: ${report.snapshot.rows} rows, ` +
      `${(report.snapshot.bytes / 1048576).toFixed(2)} MiB as snapshot rows (streamed in chunks of at most 1 MiB)`,
    `bench event loop delay: p99 ${report.loopDelayP99Ms.toFixed(1)} ms, max ${report.loopDelayMaxMs.toFixed(1)} ms ` +
      '(the fault proxies of the peer links run in this process)',
    `failover part took ${report.elapsedSeconds.toFixed(0)} s`,
  ];
  const slow = report.rounds.filter((r) => !(r.ackMs <= AIM_P99_MS) || r.notes.length > 0);
  for (const r of slow)
    lines.push(
      `  round ${r.round}: ack ${ms(r.ackMs)}, elected ${ms(r.electedMs)}, serving ${ms(r.servingMs)}; ${r.notes.join('; ') || 'no notes'}`,
    );
  if (report.logsKept) lines.push(`stack logs kept in ${report.logsKept}`);
  if (report.etcdOutage) lines.push('', ...describeOutage(report.etcdOutage));
  return lines;
}

function modeFigures(report: FailoverReport): ModeFigures {
  return {
    mode: report.mode,
    rows: [
      { name: 'a survivor stops following it', summary: report.suspect },
      { name: 'new master elected (Status)', summary: report.elected },
      { name: 'new master serves writes (Status)', summary: report.serving },
      { name: 'first write acknowledged', summary: report.ack },
      { name: 'first booking through nginx', summary: report.nginx },
    ],
  };
}

function printThroughput(report: ThroughputReport, options: Options): string[] {
  const majority = report.rows.find((r) => r.label.endsWith('majority'));
  return [
    `throughput: ${options.throughputClients} clients straight to the node (group: its master), ` +
      `${options.seconds} one-second slices each, alternating`,
    '',
    '| target             | bookings/s | ÷ single |    p50 |    p99 | failed | slaves catch up | while loading | CPU ms per booking |',
    '| ------------------ | ---------: | -------: | -----: | -----: | -----: | --------------: | ------------: | ------------------ |',
    ...report.rows.map(
      (r) =>
        `| ${r.label.padEnd(18)} | ${r.rate.toFixed(0).padStart(10)} | ${`${(r.ratio * 100).toFixed(0)} %`.padStart(8)} | ` +
        `${ms(r.p50).padStart(6)} | ${ms(r.p99).padStart(6)} | ${String(r.failed).padStart(6)} | ` +
        `${ms(r.drainMs).padStart(15)} | ${`${r.loadingRate.toFixed(0)}/s`.padStart(13)} | ${r.cpu} |`,
    ),
    '',
    'bookings/s counts each slice plus the wait for its slaves to apply it (no work spills into the next',
    'target\'s slice; "while loading" leaves that wait out); CPU ms per booking sums the bench (clients),',
    "MariaDB (every node's database) and the booking processes over the same time.",
    ...report.rows
      .filter((r) => Number.isFinite(r.entriesPerBooking))
      .map((r) => `${r.label}: ${r.entriesPerBooking.toFixed(2)} replication log entries per booking`),
    '',
    majority
      ? `aim majority ≥ 50 % of single node: ${majority.ratio >= AIM_MAJORITY_RATIO ? 'met' : 'NOT met'} (${(majority.ratio * 100).toFixed(0)} %)`
      : '',
    ...report.notes,
    `throughput part measured for ${report.seconds.toFixed(0)} s`,
  ];
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = now();
  const runDir = path.join(BENCH_DIR, `failover-${process.pid}`);
  mkdirSync(runDir, { recursive: true });
  const cleanup = new Cleanup();
  let finished = false;
  const finish = async (): Promise<void> => {
    if (finished) return;
    finished = true;
    await cleanup.run();
    rmSync(runDir, { recursive: true, force: true });
  };
  const onSignal = (signal: string): void => {
    log(`\n${signal}: stopping every process this bench started`);
    // A terminal's Ctrl-C reaches the children too: their exits are expected from here on.
    exits.stopping = true;
    void finish().finally(() => process.exit(130));
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  const output: string[] = [];
  try {
    log(`starting a private MariaDB in ${path.join(runDir, 'mariadb')}`);
    const mariadb = await startPrivateMariaDb({
      dataDir: path.join(runDir, 'mariadb'),
      port: await freePort(),
      fresh: true,
      logFile: path.join(runDir, 'mariadb.log'),
    });
    cleanup.add('mariadb', () => mariadb.stop());
    if (!options.skipFailover) {
      const modes: FailoverMode[] =
        options.etcd === 'both' ? ['bully', 'etcd'] : options.etcd === 'on' ? ['etcd'] : ['bully'];
      const reports: FailoverReport[] = [];
      for (const mode of modes) {
        const failoverCleanup = new Cleanup();
        cleanup.add(`failover ${mode}`, () => failoverCleanup.run());
        const report = await runFailover(options, mariadb.url, runDir, failoverCleanup, mode);
        await failoverCleanup.run();
        reports.push(report);
        // The docs picture is the default stack's (npm start runs etcd); the other goes to .data/bench.
        const svgPath =
          options.writeDocs && mode === 'etcd'
            ? path.join(REPO_ROOT, 'docs', 'img', 'failover-distribution.svg')
            : path.join(BENCH_DIR, `failover-distribution-${mode}.svg`);
        writeFileSync(
          svgPath,
          failoverSvg(
            report,
            `Booking group failover after SIGKILL of the master (${mode === 'etcd' ? 'with etcd' : 'bully alone'})`,
          ),
        );
        output.push(...printFailover(report, options), `failover picture: ${svgPath}`, '');
        process.stdout.write(`${output.join('\n')}\n`);
        output.length = 0;
      }
      const withEtcd = reports.find((r) => r.mode === 'etcd');
      const alone = reports.find((r) => r.mode === 'bully');
      if (withEtcd && alone) {
        output.push(
          'failover with and without etcd, side by side (ratio: with etcd ÷ bully alone):',
          '',
          ...comparisonTable(modeFigures(withEtcd), modeFigures(alone)),
          '',
        );
        process.stdout.write(`${output.join('\n')}\n`);
        output.length = 0;
      }
    }
    if (!options.skipThroughput) {
      const throughputCleanup = new Cleanup();
      cleanup.add('throughput', () => throughputCleanup.run());
      const report = await runThroughput(options, mariadb, runDir, throughputCleanup);
      await throughputCleanup.run();
      output.push(...printThroughput(report, options), '');
    }
    output.push(`total ${((now() - started) / 1000).toFixed(0)} s`);
    process.stdout.write(`${output.join('\n')}\n`);
  } catch (error) {
    // Keep what explains the failure: every log the run wrote (the data itself goes).
    const kept = path.join(BENCH_DIR, 'failover-logs');
    rmSync(kept, { recursive: true, force: true });
    for (const part of ['failover-bully/logs', 'failover-etcd/logs', 'throughput/logs'])
      try {
        cpSync(path.join(runDir, part), path.join(kept, part.split('/')[0]!), { recursive: true });
      } catch {
        // that part did not run
      }
    log(`logs of the failed run kept in ${kept}`);
    throw error;
  } finally {
    await finish();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
