import { seededRandom } from '../../common/prng';
import type { EventContent } from './content';
import type { Interaction } from './interactions';
import { DAY_MS } from './model';

/*
 * A generated booking history with PLANTED taste groups, to check that the model finds structure
 * that is known to be there. Users fall into groups; each group has its own cluster of events whose
 * genres, artists and (mostly) city are the group's; a user books mostly from their group's cluster
 * (the popular ones more often), some global hits everyone books, and some random noise. A few
 * events per group have content and shows but no bookings: the cold-start case.
 * Deterministic for a seed: a small PRNG, never Math.random.
 */

export interface SyntheticOptions {
  readonly seed: number;
  readonly users: number;
  readonly groups: number;
  readonly eventsPerGroup: number;
  /** Events everyone likes whatever their group. */
  readonly hits: number;
  /** Events per group with content but no bookings. */
  readonly newEventsPerGroup: number;
  readonly minBookings: number;
  readonly maxBookings: number;
  /** Shares of a user's bookings from their group's cluster and from the hits; the rest is noise. */
  readonly groupShare: number;
  readonly hitShare: number;
  /** Bookings happen over this many days before `now`. */
  readonly days: number;
  readonly now: number;
}

export const DEFAULT_SYNTHETIC: SyntheticOptions = {
  seed: 42,
  users: 1000,
  groups: 5,
  eventsPerGroup: 40,
  hits: 15,
  newEventsPerGroup: 3,
  minBookings: 8,
  maxBookings: 40,
  groupShare: 0.7,
  hitShare: 0.15,
  days: 180,
  now: Date.UTC(2026, 0, 1),
};

export interface SyntheticDataset {
  readonly interactions: Interaction[];
  readonly events: EventContent[];
  /** The planted truth: group of each user, and of each event (-1 for the global hits). */
  readonly userGroup: ReadonlyMap<string, number>;
  readonly eventGroup: ReadonlyMap<string, number>;
  /** Events nobody booked (they have content and future shows). */
  readonly newEvents: readonly string[];
  readonly now: number;
}

const GENRES = [
  'Drama',
  'Comedy',
  'Jazz',
  'Blues',
  'Opera',
  'Ballet',
  'Rock',
  'Metal',
  'Stand-up',
  'Cabaret',
  'Thriller',
  'Horror',
  'Folk',
  'Country',
];
const CITIES = ['Berlin', 'Hamburg', 'Munich', 'Cologne'];

export function syntheticDataset(overrides: Partial<SyntheticOptions> = {}): SyntheticDataset {
  const o: SyntheticOptions = { ...DEFAULT_SYNTHETIC, ...overrides };
  const random = seededRandom(o.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const events: EventContent[] = [];
  const eventGroup = new Map<string, number>();
  const showsAfter = (): number[] => [o.now + Math.ceil(random() * 60) * DAY_MS];
  const venueIn = (city: string): string => `venue-${city.toLowerCase()}-${1 + Math.floor(random() * 2)}`;

  const makeEvent = (eventId: string, group: number): void => {
    const own =
      group >= 0 ? [GENRES[(2 * group) % GENRES.length]!, GENRES[(2 * group + 1) % GENRES.length]!] : GENRES;
    const genres = new Set([pick(own)]);
    if (random() < 0.4) genres.add(pick(own));
    if (random() < 0.15) genres.add(pick(GENRES)); // content is a hint, not the truth
    const artistPool = group >= 0 ? `g${group}` : 'star';
    const artists = new Set([`artist-${artistPool}-${Math.floor(random() * 8)}`]);
    if (random() < 0.5) artists.add(`artist-${artistPool}-${Math.floor(random() * 8)}`);
    const city = group >= 0 && random() < 0.6 ? CITIES[group % CITIES.length]! : pick(CITIES);
    events.push({
      eventId,
      title: `${[...genres][0]} night ${eventId}`,
      genres: [...genres],
      artists: [...artists],
      venueIds: [venueIn(city)],
      cities: [city],
      showStarts: showsAfter(),
    });
    eventGroup.set(eventId, group);
  };

  const clusters: string[][] = [];
  for (let g = 0; g < o.groups; g++) {
    const cluster: string[] = [];
    for (let i = 0; i < o.eventsPerGroup; i++) {
      makeEvent(`e-g${g}-${i}`, g);
      cluster.push(`e-g${g}-${i}`);
    }
    clusters.push(cluster);
  }
  const hits: string[] = [];
  for (let i = 0; i < o.hits; i++) {
    makeEvent(`e-hit-${i}`, -1);
    hits.push(`e-hit-${i}`);
  }
  const bookable = [...clusters.flat(), ...hits];
  const newEvents: string[] = [];
  for (let g = 0; g < o.groups; g++)
    for (let i = 0; i < o.newEventsPerGroup; i++) {
      makeEvent(`e-new-g${g}-${i}`, g);
      newEvents.push(`e-new-g${g}-${i}`);
    }

  // Within a cluster some events are far more popular than others (Zipf-like), as in real sales.
  const zipf = (items: readonly string[]): string => {
    const weights = items.map((_, rank) => 1 / Math.pow(rank + 1, 0.7));
    let r = random() * weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < items.length; i++) {
      r -= weights[i]!;
      if (r <= 0) return items[i]!;
    }
    return items[items.length - 1]!;
  };

  const interactions: Interaction[] = [];
  const userGroup = new Map<string, number>();
  const start = o.now - o.days * DAY_MS;
  for (let u = 0; u < o.users; u++) {
    const userId = `u-${u}`;
    const group = u % o.groups;
    userGroup.set(userId, group);
    const wanted = o.minBookings + Math.floor(random() * (o.maxBookings - o.minBookings + 1));
    const booked = new Set<string>();
    for (let tries = 0; booked.size < wanted && tries < wanted * 20; tries++) {
      const r = random();
      const cluster = clusters[group]!;
      booked.add(
        r < o.groupShare ? zipf(cluster) : r < o.groupShare + o.hitShare ? zipf(hits) : pick(bookable),
      );
    }
    for (const eventId of booked)
      interactions.push({ userId, eventId, at: start + Math.floor(random() * o.days * DAY_MS) });
  }
  interactions.sort((a, b) => a.at - b.at);
  return { interactions, events, userGroup, eventGroup, newEvents, now: o.now };
}
