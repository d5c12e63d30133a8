import { InvalidArgumentError, NotFoundError } from '../../common/errors';
import { optionalString, requiredInt, requiredString, stringList } from '../../common/validate';
import {
  addScaled,
  contentVector,
  cosine,
  hasFutureShow,
  normalizeContent,
  normalized,
  strongestSharedFeature,
} from './content';
import type { EventContent, EventInfo, SparseVector } from './content';
import { MAX_ID_LENGTH } from './interactions';
import { checkNow } from './model';
import type { Model } from './model';
import { cityOf, popularReason, popularityAt } from './popularity';

/*
 * Answers: blends the collaborative, content and popularity scores of each bookable candidate.
 *
 * Each score is scaled to [0, 1] by its maximum over the candidates, then
 *
 *     score = wCollab · collaborative + wContent · content + wPop · popularity
 *     a = m / (m + userConfidence)          how much the user's history (m events) tells us
 *     b = bookers / (bookers + itemConfidence)   how much co-booking evidence the event has
 *     wCollab  = collaborative · a · b
 *     wContent = a · (content + collaborative · coldContent · (1 − b))
 *     wPop     = 1 − a · (collaborative + content)
 *
 * So a user with no history gets popularity; as the history grows, collaborative and content take
 * over; and for an event few have booked (a new one) part of the collaborative share moves to
 * content, so that new events compete on what they are, without a long tail of unbooked look-alikes
 * crowding out what people actually book (the part that does not move is what we do not know).
 * A user's city, when given, multiplies the score of events that do not play there by outOfCity.
 */

export const MAX_K = 100;
/** A user's history beyond this is refused (the service should send the most recent ones). */
export const MAX_HISTORY = 10_000;
const MAX_CANDIDATES = 100_000;
/** Share of the score the personal parts need before the reason names the user's bookings. */
const PERSONAL_REASON_SHARE = 0.25;

export interface RecommendRequest {
  readonly userId: string;
  /** How many recommendations, 1..100. */
  readonly k: number;
  /** Events the user booked (the model adds those it saw in the booking stream). */
  readonly history?: readonly string[];
  /** Current time, ms since the epoch: only events with a show after it are offered. */
  readonly now: number;
  /** Bookable events; defaults to every event the model has content for. */
  readonly candidates?: readonly EventContent[];
  /** The user's city: events with a show there are preferred. */
  readonly city?: string;
}

export interface Recommendation {
  readonly eventId: string;
  readonly score: number;
  /** A short explanation for people ("because you booked Hamlet"). */
  readonly reason: string;
}

export interface SimilarOptions {
  /** When given, only events with a show after it are offered. */
  readonly now?: number;
  /** Events to choose from; defaults to every event the model knows. */
  readonly candidates?: readonly EventContent[];
}

/** What every ranking needs, checked: fields named as in the gRPC request. */
interface Prepared {
  readonly k: number;
  readonly now: number;
  readonly city: string;
  /** Booked events, request's first, then those the model saw; no duplicates. */
  readonly history: readonly string[];
  /** Candidates with a future show that the user has not booked. */
  readonly eligible: readonly EventInfo[];
}

function prepare(model: Model, request: RecommendRequest): Prepared {
  if (typeof request !== 'object' || request === null)
    throw new InvalidArgumentError('request', 'is required');
  const userId = requiredString(request.userId, 'user_id', { max: MAX_ID_LENGTH });
  const k = requiredInt(request.k, 'k', { min: 1, max: MAX_K });
  const now = checkNow(request.now);
  const city = optionalString(request.city, 'city');
  const given = stringList(request.history, 'history', { maxItems: MAX_HISTORY, maxLength: MAX_ID_LENGTH });
  const seen = model.collaborative.users.get(userId)?.map((entry) => entry.eventId) ?? [];
  const history = [...new Set([...given, ...seen])];
  const booked = new Set(history);
  const eligible = candidatesOf(model, request.candidates).filter(
    (event) => !booked.has(event.eventId) && hasFutureShow(event, now),
  );
  return { k, now, city, history, eligible };
}

function candidatesOf(model: Model, candidates: readonly EventContent[] | undefined): EventInfo[] {
  if (candidates === undefined || candidates === null) return [...model.content.events.values()];
  if (!Array.isArray(candidates)) throw new InvalidArgumentError('candidates', 'must be a list');
  if (candidates.length > MAX_CANDIDATES)
    throw new InvalidArgumentError('candidates', `must have at most ${MAX_CANDIDATES} items`);
  const unique = new Map<string, EventInfo>();
  candidates.forEach((content, i) => {
    const event = normalizeContent(content, `candidates[${i}]`);
    unique.set(event.eventId, event);
  });
  return [...unique.values()];
}

/** The stored vector when the model has the event (cached), else one from the given content. */
function vectorOf(model: Model, event: EventInfo): SparseVector {
  return contentVector(model.content, model.content.events.get(event.eventId) ?? event);
}

function titleOf(model: Model, eventId: string): string {
  return model.content.events.get(eventId)?.title || eventId;
}

function nextShow(event: EventInfo, now: number): number {
  return event.showStarts.find((start) => start > now) ?? Infinity;
}

/** The weighted score parts of one candidate (they sum to its score before the city factor). */
interface Parts {
  collaborative: number;
  content: number;
  popularity: number;
}

interface Ranked {
  readonly event: EventInfo;
  readonly score: number;
  /** The next show's start: equal scores go to the sooner show. */
  readonly next: number;
}

/** Best first; then the sooner show, then the smaller id, so answers are stable. */
function topK<T extends Ranked>(ranked: T[], k: number): T[] {
  return ranked
    .sort((a, b) => b.score - a.score || a.next - b.next || (a.event.eventId < b.event.eventId ? -1 : 1))
    .slice(0, k);
}

function maxOf(values: Iterable<number>): number {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  return max;
}

function confidence(count: number, halfAt: number): number {
  return count === 0 ? 0 : count / (count + halfAt);
}

/**
 * Recommendations for a user: never events they booked, never events without a future show. A user
 * the model has never seen gets popular events (in their city first), never an error.
 */
export function recommend(model: Model, request: RecommendRequest): Recommendation[] {
  const { k, now, city, history, eligible } = prepare(model, request);
  const { blend } = model.options;

  // Collaborative: the sum of similarities from each booked event's neighbour list.
  const collaborative = new Map<string, { sum: number; because: string; best: number }>();
  for (const booked of history) {
    for (const { eventId, similarity } of model.collaborative.neighbours.get(booked) ?? []) {
      const entry = collaborative.get(eventId) ?? { sum: 0, because: booked, best: 0 };
      entry.sum += similarity;
      if (similarity > entry.best) {
        entry.best = similarity;
        entry.because = booked;
      }
      collaborative.set(eventId, entry);
    }
  }

  // Content: cosine between the candidate and the sum of the booked events' vectors.
  const profileSum = new Map<string, number>();
  const bookedWithContent: EventInfo[] = [];
  for (const booked of history) {
    const event = model.content.events.get(booked);
    if (!event) continue;
    bookedWithContent.push(event);
    addScaled(profileSum, contentVector(model.content, event), 1);
  }
  const profile = normalized(profileSum);
  const popularityOf = popularityAt(model, now);

  const raw = eligible.map((event) => ({
    event,
    collaborative: collaborative.get(event.eventId)?.sum ?? 0,
    content: profile.size > 0 ? cosine(profile, vectorOf(model, event)) : 0,
    popularity: popularityOf(event.eventId),
  }));
  const maxCollaborative = maxOf(raw.map((r) => r.collaborative));
  const maxContent = maxOf(raw.map((r) => r.content));
  const maxPopularity = maxOf(raw.map((r) => r.popularity));

  const known = history.filter(
    (id) => model.collaborative.items.has(id) || model.content.events.has(id),
  ).length;
  const a = confidence(known, blend.userConfidence);
  const popularityShare = 1 - a * (blend.collaborative + blend.content);
  const ranked = raw.map(({ event, ...r }) => {
    const b = confidence(model.collaborative.items.get(event.eventId)?.users ?? 0, blend.itemConfidence);
    const parts: Parts = {
      collaborative:
        blend.collaborative * a * b * (maxCollaborative > 0 ? r.collaborative / maxCollaborative : 0),
      content:
        a *
        (blend.content + blend.collaborative * blend.coldContent * (1 - b)) *
        (maxContent > 0 ? r.content / maxContent : 0),
      popularity: popularityShare * (maxPopularity > 0 ? r.popularity / maxPopularity : 0),
    };
    const place = city && !cityOf(event, city) ? blend.outOfCity : 1;
    const score = place * (parts.collaborative + parts.content + parts.popularity);
    return { event, score, next: nextShow(event, now), parts };
  });
  return topK(ranked, k).map(({ event, score, parts }) => {
    // Popularity is the largest part for many candidates, so it says least about why this one is
    // here: a personal reason is given whenever the personal parts carry a quarter of the score.
    const personal = parts.collaborative + parts.content;
    let reason: string;
    if (score <= 0) reason = 'coming up soon';
    else if (personal < PERSONAL_REASON_SHARE * (personal + parts.popularity))
      reason = popularReason(event, city);
    else if (parts.collaborative >= parts.content)
      reason = `because you booked ${titleOf(model, collaborative.get(event.eventId)?.because ?? '')}`;
    else reason = similarToReason(model, event, bookedWithContent);
    return { eventId: event.eventId, score, reason };
  });
}

/** "similar to Hamlet (same genre: Drama)": the booked event closest in content, and why. */
function similarToReason(model: Model, event: EventInfo, booked: readonly EventInfo[]): string {
  const vector = vectorOf(model, event);
  let closest: EventInfo | undefined;
  let best = 0;
  for (const candidate of booked) {
    const s = cosine(vector, contentVector(model.content, candidate));
    if (s > best) {
      best = s;
      closest = candidate;
    }
  }
  if (!closest) return 'similar to what you booked';
  const shared = strongestSharedFeature(contentVector(model.content, closest), vector, event);
  return `similar to ${closest.title || closest.eventId}${shared ? ` (${shared})` : ''}`;
}

/**
 * The popularity baseline: the same candidates and exclusions as `recommend`, ranked by decayed
 * popularity alone (city first when given). For offline comparison, and a fallback the service can
 * use when the model is not loaded yet.
 */
export function recommendPopular(model: Model, request: RecommendRequest): Recommendation[] {
  const { k, now, city, eligible } = prepare(model, request);
  const popularityOf = popularityAt(model, now);
  const popularity = eligible.map((event) => popularityOf(event.eventId));
  const max = maxOf(popularity);
  const ranked = eligible.map((event, i) => {
    const place = city && !cityOf(event, city) ? model.options.blend.outOfCity : 1;
    const score = max > 0 ? (place * popularity[i]!) / max : 0;
    return { event, score, next: nextShow(event, now) };
  });
  return topK(ranked, k).map(({ event, score }) => ({
    eventId: event.eventId,
    score,
    reason: score > 0 ? popularReason(event, city) : 'coming up soon',
  }));
}

/**
 * Events like `eventId`: its collaborative neighbours blended with content similarity. The weight of
 * the collaborative part grows with how many people booked the event, so a brand-new event (content
 * only, nobody booked it) is answered by content. Unknown event → NotFoundError (NOT_FOUND).
 */
export function similarEvents(
  model: Model,
  eventId: string,
  k: number,
  options: SimilarOptions = {},
): Recommendation[] {
  const id = requiredString(eventId, 'event_id', { max: MAX_ID_LENGTH });
  const count = requiredInt(k, 'k', { min: 1, max: MAX_K });
  const now = options.now === undefined ? undefined : checkNow(options.now);
  const source = model.content.events.get(id);
  const item = model.collaborative.items.get(id);
  if (!source && !item) throw new NotFoundError('event', id, 'event_id');

  const neighbours = new Map(
    (model.collaborative.neighbours.get(id) ?? []).map((n) => [n.eventId, n.similarity] as const),
  );
  let pool = candidatesOf(model, options.candidates);
  if (options.candidates === undefined) {
    // Events known only from bookings (no content yet) can still be neighbours.
    const withContent = new Set(pool.map((event) => event.eventId));
    for (const neighbour of neighbours.keys())
      if (!withContent.has(neighbour)) pool.push(normalizeContent({ eventId: neighbour, title: '' }));
  }
  pool = pool.filter((event) => event.eventId !== id && (now === undefined || hasFutureShow(event, now)));

  const sourceVector = source ? contentVector(model.content, source) : new Map<string, number>();
  const weight =
    model.options.blend.collaborative * confidence(item?.users ?? 0, model.options.blend.itemConfidence);
  const sourceTitle = titleOf(model, id);
  const ranked: (Ranked & { collaborative: number; content: number; vector: SparseVector })[] = [];
  for (const event of pool) {
    const collaborative = weight * (neighbours.get(event.eventId) ?? 0);
    const vector = vectorOf(model, event);
    const content = (1 - weight) * cosine(sourceVector, vector);
    const score = collaborative + content;
    if (score > 0)
      ranked.push({ event, score, next: nextShow(event, now ?? -Infinity), collaborative, content, vector });
  }
  return topK(ranked, count).map(({ event, score, collaborative, content, vector }) => ({
    eventId: event.eventId,
    score,
    reason:
      collaborative >= content
        ? `often booked with ${sourceTitle}`
        : (strongestSharedFeature(sourceVector, vector, event) ?? 'similar content'),
  }));
}
