import { seededRandom } from '../../../common/prng';
import { syntheticDataset } from '../synthetic-data';

describe('synthetic dataset', () => {
  it('is the same for the same seed and different for another', () => {
    const a = syntheticDataset({ users: 50, seed: 1 });
    const b = syntheticDataset({ users: 50, seed: 1 });
    const c = syntheticDataset({ users: 50, seed: 2 });
    expect(b.interactions).toEqual(a.interactions);
    expect(b.events).toEqual(a.events);
    expect(c.interactions).not.toEqual(a.interactions);
  });

  it('the PRNG is uniform enough in [0, 1)', () => {
    const random = seededRandom(7);
    const draws = Array.from({ length: 10_000 }, random);
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    const mean = draws.reduce((s, x) => s + x, 0) / draws.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
  });

  it('plants the taste groups: most of a user’s bookings are from their group’s cluster', () => {
    const data = syntheticDataset({ users: 200, seed: 4 });
    const own = data.interactions.filter(
      (i) => data.eventGroup.get(i.eventId) === data.userGroup.get(i.userId),
    );
    expect(own.length / data.interactions.length).toBeGreaterThan(0.6);
    expect(own.length / data.interactions.length).toBeLessThan(0.85);
  });

  it('content follows the groups, new events are never booked, and every event has a future show', () => {
    const data = syntheticDataset({ users: 200, seed: 4 });
    const booked = new Set(data.interactions.map((i) => i.eventId));
    expect(data.newEvents.length).toBe(15);
    for (const id of data.newEvents) expect(booked.has(id)).toBe(false);
    const eventsOf = (group: number) => data.events.filter((e) => data.eventGroup.get(e.eventId) === group);
    // Each group has two genres of its own; every event of the group carries at least one of them.
    expect(eventsOf(0).every((e) => e.genres?.some((g) => g === 'Drama' || g === 'Comedy'))).toBe(true);
    expect(eventsOf(2).every((e) => e.genres?.some((g) => g === 'Opera' || g === 'Ballet'))).toBe(true);
    // ... and some carry a foreign one too: content is a hint, not the truth.
    const foreign = eventsOf(2).filter((e) => e.genres?.some((g) => g !== 'Opera' && g !== 'Ballet')).length;
    expect(foreign).toBeGreaterThan(0);
    expect(foreign / eventsOf(2).length).toBeLessThan(0.3);
    for (const event of data.events) expect(Number(event.showStarts?.[0])).toBeGreaterThan(data.now);
    expect(data.interactions.every((i) => i.at < data.now)).toBe(true);
  });
});
