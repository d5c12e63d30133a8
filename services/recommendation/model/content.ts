import { InvalidArgumentError } from '../../common/errors';
import { optionalString, requiredString } from '../../common/validate';
import { MAX_ID_LENGTH } from './interactions';

/**
 * The content model: each event is a sparse vector of weighted features (genres, cast, artists,
 * venues, cities), TF-IDF style so that a rare artist says more than the genre "Drama", normalised
 * to unit length so that the dot product is the cosine similarity. It needs no bookings, which is
 * why it answers for new events and for users with one or two bookings.
 */

/** What the catalog knows about an event, as the service hands it in. */
export interface EventContent {
  readonly eventId: string;
  readonly title: string;
  readonly genres?: readonly string[];
  /** Movies list their cast, live events their artists (catalog Event.cast / Event.artists). */
  readonly cast?: readonly string[];
  readonly artists?: readonly string[];
  /** Venues and cities of its shows (an event can play in several). */
  readonly venueIds?: readonly string[];
  readonly cities?: readonly string[];
  /** Start of each show: ms since the epoch or an RFC 3339 string. */
  readonly showStarts?: readonly (number | string)[];
}

/** EventContent checked and normalised (show times in ms, sorted), as the model stores it. */
export interface EventInfo {
  readonly eventId: string;
  readonly title: string;
  readonly genres: readonly string[];
  readonly cast: readonly string[];
  readonly artists: readonly string[];
  readonly venueIds: readonly string[];
  readonly cities: readonly string[];
  readonly showStarts: readonly number[];
}

export type FeatureKind = 'genre' | 'cast' | 'artist' | 'venue' | 'city';

/**
 * How much each kind of feature says about taste, before IDF. A shared venue or city says little
 * (everyone in a city goes to its big venues), a shared genre or performer says more.
 */
export const FEATURE_KIND_WEIGHTS: Readonly<Record<FeatureKind, number>> = {
  genre: 1,
  cast: 1,
  artist: 1,
  venue: 0.5,
  city: 0.3,
};

const KIND_FIELDS: readonly [FeatureKind, 'genres' | 'cast' | 'artists' | 'venueIds' | 'cities'][] = [
  ['genre', 'genres'],
  ['cast', 'cast'],
  ['artist', 'artists'],
  ['venue', 'venueIds'],
  ['city', 'cities'],
];

const MAX_LIST = 200;

export type SparseVector = ReadonlyMap<string, number>;

/** Checks an EventContent and returns the form the model stores; `field` prefixes error field names. */
export function normalizeContent(content: EventContent, field = 'event'): EventInfo {
  if (typeof content !== 'object' || content === null)
    throw new InvalidArgumentError(field, 'must be an object');
  const list = (value: unknown, name: string): string[] => {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw new InvalidArgumentError(`${field}.${name}`, 'must be a list');
    if (value.length > MAX_LIST)
      throw new InvalidArgumentError(`${field}.${name}`, `must have at most ${MAX_LIST} items`);
    const seen = new Set<string>();
    const out: string[] = [];
    value.forEach((item, i) => {
      const text = requiredString(item, `${field}.${name}[${i}]`);
      if (!seen.has(featureLabelKey(text))) out.push(text);
      seen.add(featureLabelKey(text));
    });
    return out;
  };
  return {
    eventId: requiredString(content.eventId, `${field}.event_id`, { max: MAX_ID_LENGTH }),
    title: optionalString(content.title, `${field}.title`, { max: 500 }),
    genres: list(content.genres, 'genres'),
    cast: list(content.cast, 'cast'),
    artists: list(content.artists, 'artists'),
    venueIds: list(content.venueIds, 'venue_ids'),
    cities: list(content.cities, 'cities'),
    showStarts: showTimes(content.showStarts, `${field}.show_starts`),
  };
}

function showTimes(value: unknown, field: string): number[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InvalidArgumentError(field, 'must be a list');
  return value
    .map((start: unknown, i) => {
      const ms = typeof start === 'string' ? Date.parse(start) : start;
      if (typeof ms !== 'number' || !Number.isFinite(ms))
        throw new InvalidArgumentError(
          `${field}[${i}]`,
          `must be ms since the epoch or an RFC 3339 time (got ${JSON.stringify(start)})`,
        );
      return ms;
    })
    .sort((a, b) => a - b);
}

/** True when the event has a show starting after `now`: only those can still be booked. */
export function hasFutureShow(event: EventInfo, now: number): boolean {
  const last = event.showStarts[event.showStarts.length - 1];
  return last !== undefined && last > now;
}

function featureLabelKey(label: string): string {
  return label.trim().toLowerCase();
}

function featureKey(kind: FeatureKind, label: string): string {
  return `${kind}:${featureLabelKey(label)}`;
}

/** The distinct feature keys of an event. */
export function featureKeys(event: EventInfo): string[] {
  const keys: string[] = [];
  for (const [kind, fieldName] of KIND_FIELDS)
    for (const label of event[fieldName]) keys.push(featureKey(kind, label));
  return keys;
}

/**
 * Events by id plus how many events carry each feature (for IDF). Vectors depend on those counts, so
 * they are cached here and the cache is dropped whenever an event changes.
 */
export interface ContentIndex {
  readonly events: Map<string, EventInfo>;
  readonly documentFrequency: Map<string, number>;
  vectors: Map<string, SparseVector>;
}

export function emptyContentIndex(): ContentIndex {
  return { events: new Map(), documentFrequency: new Map(), vectors: new Map() };
}

/** Adds an event or replaces its content. */
export function upsertContent(index: ContentIndex, event: EventInfo): void {
  const previous = index.events.get(event.eventId);
  if (previous) for (const key of featureKeys(previous)) bump(index.documentFrequency, key, -1);
  for (const key of featureKeys(event)) bump(index.documentFrequency, key, 1);
  index.events.set(event.eventId, event);
  index.vectors = new Map();
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next <= 0) counts.delete(key);
  else counts.set(key, next);
}

/** The unit-length TF-IDF vector of an event, against the index's document frequencies. */
export function contentVector(index: ContentIndex, event: EventInfo): SparseVector {
  const stored = index.events.get(event.eventId) === event;
  const cached = stored ? index.vectors.get(event.eventId) : undefined;
  if (cached) return cached;
  const total = Math.max(1, index.events.size);
  const vector = new Map<string, number>();
  for (const [kind, fieldName] of KIND_FIELDS) {
    for (const label of event[fieldName]) {
      const key = featureKey(kind, label);
      const df = Math.max(1, index.documentFrequency.get(key) ?? 0);
      vector.set(key, FEATURE_KIND_WEIGHTS[kind] * Math.log(1 + total / df));
    }
  }
  const norm = Math.sqrt([...vector.values()].reduce((sum, w) => sum + w * w, 0));
  if (norm > 0) for (const [key, w] of vector) vector.set(key, w / norm);
  if (stored) index.vectors.set(event.eventId, vector);
  return vector;
}

/** Cosine similarity of two unit vectors. */
export function cosine(a: SparseVector, b: SparseVector): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let dot = 0;
  for (const [key, w] of small) {
    const other = large.get(key);
    if (other !== undefined) dot += w * other;
  }
  return dot;
}

/** Adds `weight` × vector into a running sum (a user's taste profile). */
export function addScaled(sum: Map<string, number>, vector: SparseVector, weight: number): void {
  for (const [key, w] of vector) sum.set(key, (sum.get(key) ?? 0) + weight * w);
}

export function normalized(vector: SparseVector): SparseVector {
  const norm = Math.sqrt([...vector.values()].reduce((sum, w) => sum + w * w, 0));
  if (norm === 0) return vector;
  return new Map([...vector].map(([key, w]) => [key, w / norm]));
}

/**
 * The feature that contributes most to the similarity of two events, as a short phrase for a reason
 * ("same genre: Drama"), or undefined when they share nothing.
 */
export function strongestSharedFeature(
  a: SparseVector,
  b: SparseVector,
  labelsFrom: EventInfo,
): string | undefined {
  let bestKey: string | undefined;
  let best = 0;
  for (const [key, w] of a) {
    const contribution = w * (b.get(key) ?? 0);
    if (contribution > best) {
      best = contribution;
      bestKey = key;
    }
  }
  if (bestKey === undefined) return undefined;
  for (const [kind, fieldName] of KIND_FIELDS) {
    for (const label of labelsFrom[fieldName]) {
      if (featureKey(kind, label) !== bestKey) continue;
      switch (kind) {
        case 'genre':
          return `same genre: ${label}`;
        case 'cast':
          return `same cast: ${label}`;
        case 'artist':
          return `same artist: ${label}`;
        case 'venue':
          return 'same venue';
        case 'city':
          return `also in ${label}`;
      }
    }
  }
  return undefined;
}
