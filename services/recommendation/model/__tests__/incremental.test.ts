import { applyInteraction, recommend, retireEndedEvents, similarEvents, train, upsertEvent } from '..';
import type { EventContent, Interaction, Model } from '..';
import { similarity } from '../cooccurrence';
import { DAY_MS } from '../model';
import { seededRandom } from '../../../common/prng';
import { syntheticDataset } from '../synthetic-data';

const HOUR_MS = 60 * 60 * 1000;

/** The synthetic stream with some bookings cancelled an hour later, in time order. */
function streamWithCancellations(seed: number): {
  stream: Interaction[];
  events: EventContent[];
  now: number;
} {
  const data = syntheticDataset({ users: 80, seed });
  const random = seededRandom(seed + 1);
  const cancels = data.interactions
    .filter(() => random() < 0.05)
    .map((i) => ({ userId: i.userId, eventId: i.eventId, at: i.at + HOUR_MS, weight: -1 }));
  const stream = [...data.interactions, ...cancels].sort((a, b) => a.at - b.at);
  return { stream, events: data.events, now: data.now };
}

/** Largest relative difference of two numbers (0 when both are 0). */
function relative(x: number, y: number): number {
  const scale = Math.max(Math.abs(x), Math.abs(y));
  return scale === 0 ? 0 : Math.abs(x - y) / scale;
}

function expectSameModel(incremental: Model, full: Model, users: readonly string[], now: number): void {
  const { collaborative: a } = incremental;
  const { collaborative: b } = full;
  const bookers = (m: Model) => new Map([...m.collaborative.items].map(([id, item]) => [id, item.users]));
  expect(bookers(incremental)).toEqual(bookers(full));
  const lists = (m: Model) =>
    new Map([...m.collaborative.neighbours].map(([id, list]) => [id, list.map((n) => n.eventId)]));
  expect(lists(incremental)).toEqual(lists(full));
  // Numbers are compared in one sweep (thousands of expect calls would dominate the run time).
  let worst = 0;
  for (const [id, item] of b.items) worst = Math.max(worst, relative(a.items.get(id)!.weight, item.weight));
  for (const [id, list] of b.neighbours)
    list.forEach(
      (n, i) => (worst = Math.max(worst, relative(a.neighbours.get(id)![i]!.similarity, n.similarity))),
    );
  for (const userId of users) {
    const mine = recommend(incremental, { userId, k: 10, now });
    const theirs = recommend(full, { userId, k: 10, now });
    expect(mine.map((r) => [r.eventId, r.reason])).toEqual(theirs.map((r) => [r.eventId, r.reason]));
    mine.forEach((r, i) => (worst = Math.max(worst, relative(r.score, theirs[i]!.score))));
  }
  expect(worst).toBeLessThan(1e-9);
}

describe('incremental updates equal a full retrain on the same interactions', () => {
  const { stream, events, now } = streamWithCancellations(5);
  const cut = Math.floor(stream.length * 0.7);
  const users = ['u-0', 'u-1', 'u-2', 'u-3', 'u-4', 'u-42', 'u-79', 'nobody'];

  it.each([
    ['default neighbour lists', 100],
    // Short lists make most updates hit the "sunk to the end of a full list" rescan path.
    ['short neighbour lists', 5],
  ])('with %s, bookings and cancellations included', (_name, neighbours) => {
    const incremental = train(stream.slice(0, cut), events, { neighbours });
    for (const interaction of stream.slice(cut)) applyInteraction(incremental, interaction);
    expectSameModel(incremental, train(stream, events, { neighbours }), users, now);
  });

  it('a model built from nothing by applyInteraction alone equals train', () => {
    const incremental = train([], events, { neighbours: 10 });
    for (const interaction of stream) applyInteraction(incremental, interaction);
    expectSameModel(incremental, train(stream, events, { neighbours: 10 }), users, now);
  });

  it('the streams really did cancel something (so the cancellation path was exercised)', () => {
    const cancelled = stream.filter((i) => (i.weight ?? 1) < 0).length;
    expect(cancelled).toBeGreaterThan(25);
    const withoutCancels = train(
      stream.filter((i) => (i.weight ?? 1) > 0),
      events,
    );
    const all = train(stream, events);
    const count = (m: Model) =>
      [...m.collaborative.items.values()].reduce((sum, item) => sum + item.users, 0);
    expect(count(withoutCancels) - count(all)).toBe(cancelled);
  });
});

describe('single updates move the model the right way', () => {
  const NOW = Date.UTC(2026, 0, 1);
  const events: EventContent[] = ['A', 'B', 'C', 'D'].map((eventId) => ({
    eventId,
    title: `Event ${eventId}`,
    showStarts: [NOW + DAY_MS],
  }));
  const base: Interaction[] = [
    ...['u1', 'u2', 'u3'].flatMap((userId, i) => [
      { userId, eventId: 'A', at: NOW - 10 * DAY_MS + i },
      { userId, eventId: 'B', at: NOW - 10 * DAY_MS + 10 + i },
    ]),
    { userId: 'u4', eventId: 'A', at: NOW - 9 * DAY_MS },
    { userId: 'u4', eventId: 'C', at: NOW - 9 * DAY_MS + 1 },
  ];

  it('new co-bookings of A and C raise their similarity and lift C for a user who booked A', () => {
    const model = train(base, events);
    const before = similarity(model.collaborative, 'A', 'C', model.options.shrink);
    expect(similarEvents(model, 'A', 3).map((r) => r.eventId)[0]).toBe('B');
    for (const userId of ['n1', 'n2', 'n3', 'n4', 'n5']) {
      applyInteraction(model, { userId, eventId: 'A', at: NOW - DAY_MS });
      applyInteraction(model, { userId, eventId: 'C', at: NOW - DAY_MS + 1 });
    }
    expect(similarity(model.collaborative, 'A', 'C', model.options.shrink)).toBeGreaterThan(before);
    expect(similarEvents(model, 'A', 3).map((r) => r.eventId)[0]).toBe('C');
  });

  it('a cancellation undoes its booking, also where others co-booked the same pair', () => {
    const withU2 = [...base, { userId: 'u2', eventId: 'D', at: NOW - 2 * DAY_MS }];
    const model = train(withU2, events);
    const untouched = train(withU2, events);
    applyInteraction(model, { userId: 'u1', eventId: 'D', at: NOW - DAY_MS });
    expect(model.collaborative.items.get('D')?.users).toBe(2);
    applyInteraction(model, { userId: 'u1', eventId: 'D', at: NOW, weight: -1 });
    expect(model.collaborative.users).toEqual(untouched.collaborative.users);
    for (const [id, item] of untouched.collaborative.items) {
      expect(model.collaborative.items.get(id)?.users).toBe(item.users);
      expect(model.collaborative.items.get(id)!.weight).toBeCloseTo(item.weight, 12);
    }
    for (const [a, b] of [
      ['A', 'D'],
      ['B', 'D'],
      ['A', 'B'],
    ])
      expect(similarity(model.collaborative, a!, b!, 2)).toBeCloseTo(
        similarity(untouched.collaborative, a!, b!, 2),
        12,
      );
    expect(model.collaborative.neighbours.get('D')!.map((n) => n.eventId)).toEqual(
      untouched.collaborative.neighbours.get('D')!.map((n) => n.eventId),
    );
  });

  it('a booking made twice needs two cancellations; a cancellation of nothing changes nothing', () => {
    const model = train(base, events);
    applyInteraction(model, { userId: 'u1', eventId: 'A', at: NOW, weight: 2 }); // already booked: counts once
    applyInteraction(model, { userId: 'u1', eventId: 'A', at: NOW, weight: -1 });
    expect(model.collaborative.items.get('A')?.users).toBe(4);
    applyInteraction(model, { userId: 'u1', eventId: 'A', at: NOW, weight: -1 });
    expect(model.collaborative.items.get('A')?.users).toBe(3);
    applyInteraction(model, { userId: 'ghost', eventId: 'B', at: NOW, weight: -1 });
    expect(model.collaborative.items.get('B')?.users).toBe(3);
  });

  it('a new event upserted into a live model is recommendable at once, by content', () => {
    const model = train(base, [
      ...events.slice(0, 3),
      { eventId: 'D', title: 'Event D', genres: ['Opera'], showStarts: [NOW + DAY_MS] },
    ]);
    upsertEvent(model, { eventId: 'E', title: 'Event E', genres: ['Opera'], showStarts: [NOW + 2 * DAY_MS] });
    expect(similarEvents(model, 'D', 5).map((r) => r.eventId)).toEqual(['E']);
    const ids = recommend(model, { userId: 'fan', k: 5, now: NOW, history: ['D'] }).map((r) => r.eventId);
    expect(ids).toContain('E');
  });
});

describe('events whose shows are over', () => {
  const NOW = Date.UTC(2026, 0, 1);
  const show = (eventId: string, at: number): EventContent => ({ eventId, title: eventId, showStarts: [at] });
  const interactions: Interaction[] = ['u1', 'u2', 'u3'].flatMap((userId, i) => [
    { userId, eventId: 'old', at: NOW - 20 * DAY_MS + i },
    { userId, eventId: 'ended', at: NOW - 19 * DAY_MS + i },
    { userId, eventId: 'coming', at: NOW - 18 * DAY_MS + i },
  ]);
  const events = [show('old', NOW - 10 * DAY_MS), show('ended', NOW - DAY_MS), show('coming', NOW + DAY_MS)];

  it('are retired from neighbour lists (so they cannot crowd out bookable ones), and come back with new shows', () => {
    const model = train(interactions, events, { neighbours: 1 });
    expect(model.collaborative.neighbours.get('old')?.map((n) => n.eventId)).toEqual(['ended']);
    retireEndedEvents(model, NOW);
    expect(model.collaborative.neighbours.get('old')?.map((n) => n.eventId)).toEqual(['coming']);
    expect(model.collaborative.neighbours).toEqual(
      train(interactions, events, { neighbours: 1, now: NOW }).collaborative.neighbours,
    );
    upsertEvent(model, show('ended', NOW + 5 * DAY_MS));
    retireEndedEvents(model, NOW);
    expect(model.collaborative.neighbours.get('old')?.map((n) => n.eventId)).toEqual(['ended']);
  });
});
