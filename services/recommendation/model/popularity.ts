import type { EventInfo } from './content';
import { decayDivisor } from './cooccurrence';
import type { Model } from './model';

/*
 * Popularity: the decayed booking weight of each event at `now`, which is what "popular right now"
 * means with a half-life of weeks. It is the answer for a user we know nothing about, and the
 * baseline the blended model must beat. Popularity per city is the same count restricted to events
 * that play there: we know where events play, not where users live.
 */

/** Reads events' decayed popularity at `now` (0 for events nobody booked). */
export function popularityAt(model: Model, now: number): (eventId: string) => number {
  const divisor = decayDivisor(model.collaborative, model.options, now);
  const { items } = model.collaborative;
  return (eventId) => {
    const stored = items.get(eventId)?.weight ?? 0;
    return stored > 0 ? stored / divisor : 0;
  };
}

/** The event's own spelling of `city` when it has a show there (case-insensitive), else undefined. */
export function cityOf(event: EventInfo, city: string): string | undefined {
  const wanted = city.trim().toLowerCase();
  return event.cities.find((c) => c.trim().toLowerCase() === wanted);
}

export function popularReason(event: EventInfo, city: string): string {
  const local = city ? cityOf(event, city) : undefined;
  return local ? `popular in ${local}` : 'popular right now';
}
