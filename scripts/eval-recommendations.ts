/**
 * Offline evaluation of the recommendation model against the popularity baseline.
 *
 *   npx tsx scripts/eval-recommendations.ts [--ratings path/ratings.csv [--movies path/movies.csv]]
 *       [--users N] [--seed S] [--min-rating R] [--half-life-days D]
 *
 * Without --ratings it runs on the seeded synthetic dataset with planted taste groups
 * (services/recommendation/model/synthetic-data.ts); --users and --seed shape it. With --ratings it
 * reads a MovieLens ratings file (ratings >= --min-rating, default 4, count as bookings; --users
 * keeps the first N users) and optionally movies.csv for titles and genres.
 *
 * Each user's latest 20% of bookings are held out; the model is trained on the rest; precision@10,
 * recall@10 and nDCG@10 of the blended model and of popularity are printed side by side with their
 * ratio. Progress goes to stderr, the table to stdout. Exit code 0, or 1 with a one-line reason.
 */
import { performance } from 'node:perf_hooks';
import { recommend, recommendPopular, train } from '../services/recommendation/model';
import type { EventContent, Interaction, Model } from '../services/recommendation/model';
import { meanScores, scoreRanking, splitByUserTime } from '../services/recommendation/model/metrics';
import type { RankingScores, Split } from '../services/recommendation/model/metrics';
import { readMovieLens } from '../services/recommendation/model/movielens';
import { DAY_MS } from '../services/recommendation/model/model';
import { DEFAULT_SYNTHETIC, syntheticDataset } from '../services/recommendation/model/synthetic-data';

const K = 10;
const USAGE =
  'usage: npx tsx scripts/eval-recommendations.ts [--ratings ratings.csv [--movies movies.csv]] [--users N] [--seed S] [--min-rating R] [--half-life-days D]';

class UsageError extends Error {}

interface Options {
  ratings?: string;
  movies?: string;
  users?: number;
  seed: number;
  minRating: number;
  halfLifeDays?: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { seed: DEFAULT_SYNTHETIC.seed, minRating: 4 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    const number = (min: number): number => {
      const raw = value();
      const n = Number(raw);
      if (!Number.isFinite(n) || n < min)
        throw new UsageError(`${flag} needs a number >= ${min} (got ${raw})`);
      return n;
    };
    if (flag === '--ratings') options.ratings = value();
    else if (flag === '--movies') options.movies = value();
    else if (flag === '--users') options.users = Math.floor(number(1));
    else if (flag === '--seed') options.seed = Math.floor(number(0));
    else if (flag === '--min-rating') options.minRating = number(0);
    else if (flag === '--half-life-days') options.halfLifeDays = number(Number.MIN_VALUE);
    else throw new UsageError(`unknown argument ${JSON.stringify(flag)}`);
  }
  if (options.movies && !options.ratings) throw new UsageError('--movies needs --ratings');
  return options;
}

/** One progress line on stderr: rewritten in place on a terminal, a few lines otherwise. */
function progress(label: string): (done: number, total?: number) => void {
  const tty = process.stderr.isTTY;
  let lastStep = -1;
  let lastWrite = 0;
  return (done, total) => {
    const text = total
      ? `${label}: ${done}/${total} (${Math.floor((100 * done) / total)}%)`
      : `${label}: ${done}`;
    if (tty) {
      const now = performance.now();
      if (now - lastWrite < 100 && done !== total) return;
      lastWrite = now;
      process.stderr.write(`\r${text}\x1b[K${done === total ? '\n' : ''}`);
    } else {
      const step = total ? Math.floor((4 * done) / total) : Math.floor(Math.log10(Math.max(1, done)));
      if (step === lastStep) return;
      lastStep = step;
      process.stderr.write(`${text}\n`);
    }
  };
}

interface Dataset {
  name: string;
  interactions: Interaction[];
  events: EventContent[];
  /** Time the evaluation happens: after every training interaction, before every show. */
  now: number;
  halfLifeDays: number;
}

async function loadDataset(options: Options): Promise<Dataset> {
  if (!options.ratings) {
    const data = syntheticDataset({ seed: options.seed, users: options.users ?? DEFAULT_SYNTHETIC.users });
    return {
      name: `synthetic (seed ${options.seed}, ${data.userGroup.size} users in 5 planted taste groups)`,
      interactions: data.interactions,
      events: data.events,
      now: data.now,
      halfLifeDays: options.halfLifeDays ?? 30,
    };
  }
  const report = progress(`reading ${options.ratings}`);
  const { interactions, movies } = await readMovieLens(options.ratings, options.movies, {
    minRating: options.minRating,
    maxUsers: options.users,
    onLines: (lines) => report(lines),
  });
  const last = interactions.reduce((max, i) => Math.max(max, i.at), 0);
  const now = last + 1;
  // MovieLens movies have no shows: give every movie one after `now` so all are candidates. Movies
  // missing from movies.csv (or all, without it) get content with their id only.
  const known = new Map(movies.map((movie) => [movie.eventId, movie]));
  for (const { eventId } of interactions)
    if (!known.has(eventId)) known.set(eventId, { eventId, title: eventId });
  const events = [...known.values()].map((movie) => ({ ...movie, showStarts: [now + DAY_MS] }));
  return {
    name: `MovieLens ${options.ratings} (ratings >= ${options.minRating})`,
    interactions,
    events,
    now,
    // Ratings span decades and users rate old films: what is "popular now" changes over years.
    halfLifeDays: options.halfLifeDays ?? 3650,
  };
}

function evaluate(
  model: Model,
  split: Split,
  now: number,
): { model: RankingScores; popularity: RankingScores } {
  const report = progress('evaluating users');
  const modelScores: RankingScores[] = [];
  const popularScores: RankingScores[] = [];
  let done = 0;
  for (const [userId, hidden] of split.test) {
    const relevant = new Set(hidden);
    const request = { userId, k: K, history: split.history.get(userId) ?? [], now };
    modelScores.push(
      scoreRanking(
        recommend(model, request).map((r) => r.eventId),
        relevant,
        K,
      ),
    );
    popularScores.push(
      scoreRanking(
        recommendPopular(model, request).map((r) => r.eventId),
        relevant,
        K,
      ),
    );
    report(++done, split.test.size);
  }
  return { model: meanScores(modelScores), popularity: meanScores(popularScores) };
}

function table(result: { model: RankingScores; popularity: RankingScores }): string {
  const rows: [string, keyof RankingScores][] = [
    [`precision@${K}`, 'precision'],
    [`recall@${K}`, 'recall'],
    [`nDCG@${K}`, 'ndcg'],
  ];
  const lines = [
    `${'metric'.padEnd(14)}${'model'.padStart(10)}${'popularity'.padStart(12)}${'ratio'.padStart(9)}`,
  ];
  for (const [label, key] of rows) {
    const m = result.model[key];
    const p = result.popularity[key];
    const ratio = p > 0 ? `${(m / p).toFixed(2)}x` : 'n/a';
    lines.push(
      `${label.padEnd(14)}${m.toFixed(4).padStart(10)}${p.toFixed(4).padStart(12)}${ratio.padStart(9)}`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const options = parseArgs(process.argv.slice(2));
  const data = await loadDataset(options);
  const split = splitByUserTime(data.interactions);
  const heldOut = [...split.test.values()].reduce((sum, ids) => sum + ids.length, 0);
  process.stdout.write(
    `dataset: ${data.name}\n` +
      `  ${data.interactions.length} interactions, ${data.events.length} events; ` +
      `held out the latest 20% of each user's bookings: ${heldOut} bookings of ${split.test.size} users\n`,
  );
  const reports = {
    bookings: progress('training: bookings'),
    neighbours: progress('training: neighbour lists'),
  };
  const started = performance.now();
  const model = train(split.train, data.events, {
    halfLifeMs: data.halfLifeDays * DAY_MS,
    onProgress: (phase, done, total) => reports[phase](done, total),
  });
  const trainedMs = performance.now() - started;
  const evalStarted = performance.now();
  const result = evaluate(model, split, data.now);
  const perUserMs = (performance.now() - evalStarted) / Math.max(1, 2 * split.test.size);
  process.stdout.write(
    `  trained on ${split.train.length} interactions in ${(trainedMs / 1000).toFixed(2)} s; ` +
      `${perUserMs.toFixed(2)} ms per recommendation\n\n${table(result)}\n`,
  );
  const beats = (['precision', 'recall', 'ndcg'] as const).every(
    (key) => result.model[key] > result.popularity[key],
  );
  process.stdout.write(`\nthe model ${beats ? 'beats' : 'does NOT beat'} popularity on every metric\n`);
}

main().catch((error: unknown) => {
  const message =
    error instanceof UsageError
      ? `${error.message}\n${USAGE}`
      : error instanceof Error
        ? error.message
        : String(error);
  process.stderr.write(`eval-recommendations: ${message}\n`);
  process.exitCode = 1;
});
