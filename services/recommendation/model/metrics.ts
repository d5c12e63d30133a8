import { InvalidArgumentError } from '../../common/errors';
import type { Interaction } from './interactions';

/*
 * Offline evaluation: hide each user's latest bookings, train on the rest, and see how many of the
 * hidden ones the top k finds. Splitting per user in time (rather than at random) asks the question
 * the service faces: given what you booked so far, what do you book next? Other users' later
 * bookings stay in training, as in the usual leave-last-out protocol; the model and the popularity
 * baseline see the same data, so their ratio is fair.
 */

export interface SplitOptions {
  /** Share of each user's bookings held out, the latest ones (at least 1). */
  readonly testFraction: number;
  /** Users with fewer bookings than this are kept whole in training and not evaluated. */
  readonly minInteractions: number;
}

export const DEFAULT_SPLIT: SplitOptions = { testFraction: 0.2, minInteractions: 5 };

export interface Split {
  readonly train: Interaction[];
  /** Held-out events per evaluated user (none of them is in that user's training part). */
  readonly test: Map<string, string[]>;
  /** Each evaluated user's training events, oldest first: the history to recommend from. */
  readonly history: Map<string, string[]>;
}

export function splitByUserTime(
  interactions: readonly Interaction[],
  options: Partial<SplitOptions> = {},
): Split {
  const { testFraction, minInteractions } = { ...DEFAULT_SPLIT, ...options };
  if (!(testFraction > 0 && testFraction < 1))
    throw new InvalidArgumentError('testFraction', `must be between 0 and 1 exclusive (got ${testFraction})`);
  const byUser = new Map<string, Interaction[]>();
  for (const interaction of interactions) {
    const list = byUser.get(interaction.userId) ?? [];
    list.push(interaction);
    byUser.set(interaction.userId, list);
  }
  const train: Interaction[] = [];
  const test = new Map<string, string[]>();
  const history = new Map<string, string[]>();
  for (const [userId, list] of byUser) {
    const ordered = [...list].sort((a, b) => a.at - b.at); // stable: equal times keep input order
    if (ordered.length < minInteractions) {
      train.push(...ordered);
      continue;
    }
    const held = Math.max(1, Math.round(testFraction * ordered.length));
    const kept = ordered.slice(0, ordered.length - held);
    train.push(...kept);
    const seen = new Set(kept.map((i) => i.eventId));
    const hidden = [...new Set(ordered.slice(ordered.length - held).map((i) => i.eventId))].filter(
      (id) => !seen.has(id),
    );
    if (hidden.length === 0 || kept.length === 0) continue;
    test.set(userId, hidden);
    history.set(userId, [...seen]);
  }
  return { train, test, history };
}

export interface RankingScores {
  readonly precision: number;
  readonly recall: number;
  readonly ndcg: number;
}

/** Share of the top k that is relevant (missing places count as misses). */
export function precisionAtK(
  recommended: readonly string[],
  relevant: ReadonlySet<string>,
  k: number,
): number {
  return hits(recommended, relevant, k) / k;
}

/** Share of the relevant events found in the top k. */
export function recallAtK(recommended: readonly string[], relevant: ReadonlySet<string>, k: number): number {
  return relevant.size === 0 ? 0 : hits(recommended, relevant, k) / relevant.size;
}

/**
 * Normalised discounted cumulative gain with binary relevance: a hit at place i (from 1) is worth
 * 1 / log2(i + 1), divided by the best possible, all hits first.
 */
export function ndcgAtK(recommended: readonly string[], relevant: ReadonlySet<string>, k: number): number {
  let dcg = 0;
  recommended.slice(0, k).forEach((id, i) => {
    if (relevant.has(id)) dcg += 1 / Math.log2(i + 2);
  });
  let ideal = 0;
  for (let i = 0; i < Math.min(k, relevant.size); i++) ideal += 1 / Math.log2(i + 2);
  return ideal === 0 ? 0 : dcg / ideal;
}

function hits(recommended: readonly string[], relevant: ReadonlySet<string>, k: number): number {
  return recommended.slice(0, k).filter((id) => relevant.has(id)).length;
}

export function scoreRanking(
  recommended: readonly string[],
  relevant: ReadonlySet<string>,
  k: number,
): RankingScores {
  return {
    precision: precisionAtK(recommended, relevant, k),
    recall: recallAtK(recommended, relevant, k),
    ndcg: ndcgAtK(recommended, relevant, k),
  };
}

/** Mean of per-user scores (each user counts once, however many bookings they hid). */
export function meanScores(scores: readonly RankingScores[]): RankingScores {
  const n = scores.length;
  if (n === 0) return { precision: 0, recall: 0, ndcg: 0 };
  const sum = (pick: (s: RankingScores) => number) => scores.reduce((total, s) => total + pick(s), 0) / n;
  return { precision: sum((s) => s.precision), recall: sum((s) => s.recall), ndcg: sum((s) => s.ndcg) };
}
