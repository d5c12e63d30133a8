/**
 * The chaos soak against the real local stack, as a person runs it: startStack (three booking nodes
 * in cluster mode, fault proxies, nginx, control API) in a temp data dir on free ports, the demo
 * data loaded, then one cycle of each fault under a small booking workload, driven only through the
 * control API and gRPC. Asserts the invariants and that every fault was followed by a new master
 * and acknowledged writes; no timing is asserted.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { testMysqlUrl } from '../../../../test/databases';
import { SEATS_PER_SHOW, createShows } from '../../../bench/lib/catalog';
import { seedDemoData } from '../../../demo-data/seed';
import { startStack } from '../../stack';
import type { RunningStack } from '../../stack';
import { StackControlClient, readStackDescription } from '../../stack-control';
import { ChaosSession } from '../session';
import { formatSoakSummary, runSoak } from '../soak';
import type { SoakResult } from '../soak';
import { formatTimeline } from '../timeline';
import { renderTimelineSvg } from '../timeline-svg';

const repoRoot = path.join(__dirname, '..', '..', '..', '..');
const suffix = randomBytes(3).toString('hex');
const dataDir = path.join(repoRoot, '.data', 'test', `chaos-${suffix}`);
// Beside the data dir, not in it, as `npm start` keeps them (.data/local and .data/logs).
const logsDir = path.join(repoRoot, '.data', 'test', `chaos-${suffix}-logs`);
const catalogDatabase = `chaos_catalog_${suffix}`;
const bookingPrefix = `chaos_booking_${suffix}`;
const recommendationDatabase = `chaos_recommendation_${suffix}`;
const TOKEN_SECRET = 'chaos-e2e-secret-0123456789';

describe('chaos soak against the local stack', () => {
  let stack: RunningStack | undefined;

  beforeAll(async () => {
    stack = await startStack({
      repoRoot,
      dataDir,
      logsDir,
      mysqlUrl: testMysqlUrl(),
      freshData: true,
      tokenSecret: TOKEN_SECRET,
      bookingDatabasePrefix: bookingPrefix,
      logLevel: 'info',
      control: true,
      extraEnv: { MARQUEE_CATALOG_DB: catalogDatabase, MARQUEE_RECOMMENDATION_DB: recommendationDatabase },
    });
    await seedDemoData(stack.grpcAddress, TOKEN_SECRET, new Date());
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
    const admin = await mysql.createConnection(testMysqlUrl());
    const databases = [
      catalogDatabase,
      recommendationDatabase,
      ...[1, 2, 3].map((id) => `${bookingPrefix}_${id}`),
    ];
    for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await admin.end();
    for (const dir of [dataDir, logsDir]) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('kill, pause and partition the master under bookings: new masters, writes, no violation', async () => {
    const description = readStackDescription(dataDir);
    expect(description.logsDir).toBe(logsDir);
    const control = new StackControlClient(description.controlUrl);
    const log: string[] = [];
    const session = await ChaosSession.open({
      description,
      control,
      workers: 3,
      shows: 4,
      log: (line) => log.push(line),
    });
    let result: SoakResult | undefined;
    try {
      // Our own limit below jest's, so a run that is slow (a loaded CI machine) fails with its log
      // printed below instead of being abandoned by jest's timeout without one.
      result = await Promise.race([
        runSoak(session, control, description.mysqlUrl, { cycles: 1, pauseMs: 1500 }),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('the soak did not finish within 200 s')), 200_000).unref(),
        ),
      ]);
    } finally {
      // On failure, what happened is the first thing a reader needs.
      if (!result) process.stderr.write(`${log.join('\n')}\n`);
    }
    const { report, verify, steps } = result;
    const story = [
      ...formatTimeline(report.events, report.acks, report.startMs),
      ...formatSoakSummary(result),
    ].join('\n');
    if (process.env.CHAOS_E2E_VERBOSE) process.stdout.write(`${log.join('\n')}\n${story}\n`);

    expect({ violations: verify.violations.map((v) => v.message), story }).toEqual({
      violations: [],
      story,
    });
    expect(verify.converged).toBe(true);
    expect(steps.map((s) => s.fault)).toEqual(['kill', 'pause', 'partition']);
    for (const step of steps) {
      expect({ step, story }).toEqual({
        step: expect.objectContaining({ newMaster: expect.any(Number), wroteAfter: true, settled: true }),
        story,
      });
    }
    expect(report.failovers).toHaveLength(3);
    // The nodes' own election lines, read from stack.json's logsDir, are on the timeline too.
    expect(report.events.some((e) => e.kind === 'election' && e.text.startsWith('log: became master'))).toBe(
      true,
    );
    for (const failover of report.failovers) expect(failover.master).toBeDefined();
    expect(report.stats!.acknowledged).toBeGreaterThan(0);
    const svg = renderTimelineSvg({
      title: 'soak',
      nodes: report.nodes,
      events: report.events,
      acks: report.acks,
      startMs: report.startMs,
      endMs: report.endMs,
    });
    expect(svg.startsWith('<svg')).toBe(true);
  }, 240_000);

  // After the soak, so the soak's faults meet the small state its step timeouts were written for: this
  // load books thousands of seats, and every deposed master then needs a snapshot of that (issue 14).
  it('a saturating booking load with no fault changes no term (the suite beside it loads the machine too)', async () => {
    const description = readStackDescription(dataDir);
    const control = new StackControlClient(description.controlUrl);
    // A hall of its own, so the soak below still finds free seats in the demo shows.
    const showIds = await createShows(description.catalogAddress, TOKEN_SECRET, SEATS_PER_SHOW);
    const before = await stack!.waitForMaster(30_000);
    const log: string[] = [];
    // Sixteen clients that book back to back (5-25 ms between rounds): far past what two cores serve.
    const session = await ChaosSession.open({
      description,
      control,
      workers: 16,
      showIds,
      log: (line) => log.push(line),
    });
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    const report = await session.close();
    const after = await stack!.waitForMaster(30_000);
    const story = [...log, ...formatTimeline(report.events, report.acks, report.startMs)].join('\n');
    // Every (term, master) any node reported in the window, by Status and by its own log lines.
    const changes = report.elections.filter((e) => e.term !== before.term || e.masterId !== before.masterId);
    expect({ changes, story }).toEqual({ changes: [], story });
    expect(after).toEqual(before);
    expect(report.stats!.acknowledged).toBeGreaterThan(0);
  }, 120_000);
});
