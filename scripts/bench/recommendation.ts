/**
 * Does serving stall while a model is rebuilt? Recommend's latency in three phases of the same run:
 *
 *   idle            nothing else happening (the baseline)
 *   worker retrain  a full retrain on a worker thread, as the service does it (trainer.ts)
 *   inline retrain  the same retrain on the serving thread: what the worker spares us
 *
 * Requests are issued on a fixed schedule (an open loop), and each one's latency runs from when it
 * was DUE, not from when the event loop got round to it: a stalled loop shows as the stall it is.
 *
 *   npx tsx scripts/bench/recommendation.ts [--users N] [--rate R] [--seconds S]
 *
 * Prints p50/p90/p99/max per phase and the ratios to idle; draws them as docs/img/recommend-latency.svg.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { recommend, serializeModel, train } from '../../services/recommendation/model';
import type { Model } from '../../services/recommendation/model';
import { syntheticDataset } from '../../services/recommendation/model/synthetic-data';
import { encodeColumns } from '../../services/recommendation/interaction-columns';
import { trainOnWorker } from '../../services/recommendation/trainer';
import { summarize } from './lib/stats';
import type { Summary } from './lib/stats';
import { percentileBarsSvg } from './lib/svg';

interface Options {
  users: number;
  rate: number;
  seconds: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { users: 6000, rate: 400, seconds: 4 };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = Number(argv[i + 1]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${flag} needs a positive number`);
    if (flag === '--users') options.users = Math.floor(value);
    else if (flag === '--rate') options.rate = value;
    else if (flag === '--seconds') options.seconds = value;
    else throw new Error(`unknown option ${flag} (known: --users, --rate, --seconds)`);
  }
  return options;
}

const progress = (text: string): void => void process.stderr.write(`bench: ${text}\n`);

/**
 * Calls Recommend every 1000/rate ms until `until()` says stop (and at least `minMs` have passed);
 * returns each call's latency measured from the moment it was due.
 */
async function load(
  model: () => Model,
  users: readonly string[],
  now: number,
  rate: number,
  minMs: number,
  until: () => boolean,
): Promise<number[]> {
  const latencies: number[] = [];
  const interval = 1000 / rate;
  const start = performance.now();
  let next = start;
  let i = 0;
  while (performance.now() - start < minMs || !until()) {
    const due = next;
    next += interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    // Every call that fell due while the loop was blocked is made now, and counted from its due time.
    recommend(model(), { userId: users[i++ % users.length]!, k: 10, now });
    latencies.push(performance.now() - due);
  }
  return latencies;
}

function row(name: string, s: Summary, base?: Summary): string {
  const ratio = (a: number, b: number | undefined): string => (b ? `${(a / b).toFixed(1)}x` : '');
  return [
    name.padEnd(16),
    s.count.toString().padStart(7),
    s.median.toFixed(2).padStart(8),
    s.p90.toFixed(2).padStart(8),
    s.p99.toFixed(2).padStart(9),
    s.max.toFixed(1).padStart(9),
    ratio(s.p99, base?.p99).padStart(12),
  ].join(' ');
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  progress(`generating ${options.users} users' bookings`);
  const data = syntheticDataset({ users: options.users });
  const users = [...new Set(data.interactions.map((i) => i.userId))];
  const job = { interactions: data.interactions, contents: data.events, options: { now: data.now } };
  // Encoded before the phases start: the service encodes while serving too, a few thousand at a turn.
  const columns = await encodeColumns(data.interactions);
  progress(
    `training the serving model on ${data.interactions.length} bookings, ${data.events.length} events`,
  );
  const t0 = performance.now();
  const serving = train(job.interactions, job.contents, job.options);
  const inlineTrainMs = performance.now() - t0;
  const snapshotKb = Math.round(JSON.stringify(serializeModel(serving)).length / 1024);
  progress(`trained in ${inlineTrainMs.toFixed(0)} ms (snapshot ${snapshotKb} KiB)`);
  const current = (): Model => serving;
  const minMs = options.seconds * 1000;

  progress(`phase 1/3: idle, ${options.rate} Recommend/s for ${options.seconds} s`);
  const idle = await load(current, users, data.now, options.rate, minMs, () => true);

  progress('phase 2/3: the same load during a full retrain on a worker thread');
  let workerDone = false;
  let workerMs = 0;
  const retrain = trainOnWorker({ ...job, interactions: columns }).then((result) => {
    workerMs = result.ms;
    workerDone = true;
  });
  const duringWorker = await load(current, users, data.now, options.rate, minMs, () => workerDone);
  await retrain;

  progress('phase 3/3: the same load while the retrain runs on the serving thread');
  let inlineDone = false;
  const inline = (async () => {
    // Let the load start first, then block the loop exactly as an in-thread retrain would.
    await new Promise((resolve) => setTimeout(resolve, 200));
    train(job.interactions, job.contents, job.options);
    inlineDone = true;
  })();
  const duringInline = await load(current, users, data.now, options.rate, minMs, () => inlineDone);
  await inline;

  const [a, b, c] = [summarize(idle), summarize(duringWorker), summarize(duringInline)];
  console.log(
    `\nRecommend latency, ms from due time (${options.rate}/s, ${data.interactions.length} bookings, ` +
      `${data.events.length} events, ${users.length} users; retrain ${workerMs.toFixed(0)} ms on the worker)\n`,
  );
  console.log('phase              calls      p50      p90       p99       max  p99 vs idle');
  console.log(row('idle', a));
  console.log(row('worker retrain', b, a));
  console.log(row('inline retrain', c, a));

  const file = path.join(__dirname, '..', '..', 'docs', 'img', 'recommend-latency.svg');
  const bars = (s: Summary) => [
    { label: 'p50', ms: s.median },
    { label: 'p90', ms: s.p90 },
    { label: 'p99', ms: s.p99 },
    { label: 'max', ms: s.max },
  ];
  writeFileSync(
    file,
    percentileBarsSvg({
      title: 'Recommend latency while the model is retrained',
      subtitle: `${options.rate} calls/s, open loop, latency from due time; ${data.interactions.length} bookings, ${users.length} users (log scale)`,
      rows: [
        { name: 'idle', color: '#2563eb', values: bars(a) },
        { name: 'retrain on a worker', color: '#16a34a', values: bars(b) },
        { name: 'retrain inline', color: '#dc2626', values: bars(c) },
      ],
    }),
  );
  console.log(`\npicture: ${path.relative(process.cwd(), file)}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
