/**
 * Election churn under a saturating booking load with no fault (issue 12):
 *
 *   npx tsx scripts/bench/churn.ts [--minutes 10] [--workers 16] [--hogs 1] [--write-docs]
 *
 * Starts the local topology of `npm start` (scripts/lib/stack.ts, its own private MariaDB and data
 * under .data/bench/churn-<pid>), creates a hall of its own (5,000 seats a show and a
 * general-admission area of 100,000 places, so it never sells out), starts --hogs processes that
 * spin one core each beside it (another CPU-heavy process on the machine), and runs --workers booking
 * clients back to back (the chaos workload: hold, confirm, sometimes cancel; retries with the same
 * idempotency keys) for --minutes. Nothing is injected: every term change is churn.
 *
 * Prints progress every 10 s, then bookings/s, every (term, master) any node reported, term changes
 * and elections per hour; draws the run as the chaos timeline (node lanes, roles, acknowledged
 * writes) into .data/bench/churn-timeline.svg (docs/img/churn-timeline.svg with --write-docs).
 * Every process is started here and stopped by PID, also on failure or Ctrl-C; the run's data is
 * removed at the end (its logs are kept in .data/bench/churn-logs when a term changed).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startProcess } from '../lib/processes';
import type { ManagedProcess } from '../lib/processes';
import { startStack } from '../lib/stack';
import type { RunningStack } from '../lib/stack';
import { StackControlClient, readStackDescription } from '../lib/stack-control';
import { ChaosSession } from '../lib/chaos/session';
import type { SessionReport } from '../lib/chaos/session';
import { renderTimelineSvg } from '../lib/chaos/timeline-svg';
import { SEATS_PER_SHOW, createShows } from './lib/catalog';
import { keepRunLogs, stopOnSignals } from './lib/run';

interface Options {
  minutes: number;
  workers: number;
  hogs: number;
  writeDocs: boolean;
}

const REPO_ROOT = path.join(__dirname, '..', '..');
const BENCH_DIR = path.join(REPO_ROOT, '.data', 'bench');
const TOKEN_SECRET = 'churn-bench-secret-0123456789';
const USAGE = 'usage: churn.ts [--minutes N] [--workers N] [--hogs N] [--write-docs]';

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { minutes: 10, workers: 16, hogs: 1, writeDocs: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--write-docs') {
      options.writeDocs = true;
      continue;
    }
    const value = Number(argv[i + 1]);
    const field = ({ '--minutes': 'minutes', '--workers': 'workers', '--hogs': 'hogs' } as const)[
      flag as '--minutes'
    ];
    if (field === undefined) throw new Error(`unknown flag ${String(flag)}; ${USAGE}`);
    if (!Number.isFinite(value) || value < 0 || (field !== 'minutes' && !Number.isInteger(value)))
      throw new Error(`${flag} needs a non-negative number (got ${String(argv[i + 1])}); ${USAGE}`);
    options[field] = value;
    i++;
  }
  if (options.workers < 1) throw new Error(`--workers must be at least 1; ${USAGE}`);
  return options;
}

/** The (term, master) pairs of the run other than the one it started with. */
export function termChanges(
  report: Pick<SessionReport, 'elections'>,
  start: { term: number; masterId: number },
): { term: number; masterId: number }[] {
  const seen = new Map<string, { term: number; masterId: number }>();
  for (const e of report.elections)
    if (e.term !== start.term || e.masterId !== start.masterId) seen.set(`${e.term}/${e.masterId}`, e);
  return [...seen.values()].sort((a, b) => a.term - b.term);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const runDir = path.join(BENCH_DIR, `churn-${process.pid}`);
  const logsDir = path.join(runDir, 'logs');
  const hogs: ManagedProcess[] = [];
  let stack: RunningStack | undefined;
  let session: ChaosSession | undefined;
  let keepLogs = false;
  const stopAll = async (): Promise<void> => {
    await session?.close().catch(() => undefined);
    await Promise.all(hogs.map((hog) => hog.stop()));
    await stack?.stop();
    if (keepLogs) {
      const kept = keepRunLogs(logsDir, BENCH_DIR, 'churn-logs');
      log(`logs kept in ${kept}`);
    }
    rmSync(runDir, { recursive: true, force: true });
  };
  stopOnSignals(stopAll, log);
  try {
    log(
      `churn: ${options.minutes} min, ${options.workers} booking clients back to back, ${options.hogs} busy process(es) beside`,
    );
    stack = await startStack({
      repoRoot: REPO_ROOT,
      dataDir: runDir,
      logsDir,
      freshData: true,
      tokenSecret: TOKEN_SECRET,
      bookingDatabasePrefix: 'bench_churn',
      logLevel: 'info',
      control: true,
      extraEnv: { MARQUEE_CATALOG_DB: 'bench_churn_catalog' },
      onProgress: (step) => log(`  ${step}`),
    });
    const description = readStackDescription(runDir);
    const showIds = await createShows(description.catalogAddress, TOKEN_SECRET, 4 * SEATS_PER_SHOW, {
      gaCapacity: 100_000,
    });
    for (let i = 0; i < options.hogs; i++)
      hogs.push(
        startProcess(`hog-${i + 1}`, process.execPath, ['-e', 'for (;;) {}'], {
          logFile: path.join(logsDir, `hog-${i + 1}.log`),
        }),
      );
    const start = await stack.waitForMaster(30_000);
    log(`master: node ${start.masterId} in term ${start.term}; booking for ${options.minutes} min`);
    session = await ChaosSession.open({
      description,
      control: new StackControlClient(description.controlUrl),
      workers: options.workers,
      showIds,
      log: () => undefined,
    });
    const startedAt = Date.now();
    const endAt = startedAt + options.minutes * 60_000;
    while (Date.now() < endAt) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, endAt - Date.now())));
      const stats = session.workload?.stats();
      const elapsed = (Date.now() - startedAt) / 1000;
      log(
        `  ${elapsed.toFixed(0).padStart(4)} s  ${String(stats?.acknowledged ?? 0).padStart(7)} bookings  ` +
          `terms now: ${session.describeNodes()}`,
      );
    }
    const report = await session.close();
    session = undefined;
    const seconds = (report.endMs - report.startMs) / 1000;
    const changes = termChanges(report, start);
    const bookings = report.stats?.acknowledged ?? 0;
    log('');
    log(
      `bookings acknowledged: ${bookings} in ${seconds.toFixed(0)} s (${(bookings / seconds).toFixed(1)}/s)`,
    );
    // Refusals a client retried (UNAVAILABLE while a master flickers or re-elects), then final failures.
    log(`failed attempts (retried): ${JSON.stringify(report.stats?.attemptErrors ?? {})}`);
    log(`failed operations: ${JSON.stringify(report.stats?.failures ?? {})}`);
    log(
      `term changes: ${changes.length}${changes.length > 0 ? ` (${changes.map((c) => `term ${c.term} → node ${c.masterId}`).join(', ')})` : ''}`,
    );
    log(`elections per hour: ${((changes.length / seconds) * 3600).toFixed(1)} (aim 0)`);
    keepLogs = changes.length > 0;
    const svgPath = options.writeDocs
      ? path.join(REPO_ROOT, 'docs', 'img', 'churn-timeline.svg')
      : path.join(BENCH_DIR, 'churn-timeline.svg');
    mkdirSync(path.dirname(svgPath), { recursive: true });
    writeFileSync(
      svgPath,
      renderTimelineSvg({
        title: `${options.minutes} min, ${options.workers} clients, ${options.hogs} busy process(es): ${changes.length} term change(s), ${bookings} bookings`,
        nodes: report.nodes,
        events: report.events,
        acks: report.acks,
        startMs: report.startMs,
        endMs: report.endMs,
      }),
    );
    log(`timeline: ${path.relative(REPO_ROOT, svgPath)}`);
  } finally {
    await stopAll();
  }
}

if (require.main === module)
  main().catch((error: unknown) => {
    process.stderr.write(
      `churn: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  });
