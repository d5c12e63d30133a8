import { NotFoundError } from '../../../common/errors';
import { similarEvents, train, upsertEvent } from '..';
import type { EventContent, Interaction } from '..';
import { DAY_MS } from '../model';
import { syntheticDataset } from '../synthetic-data';

const NOW = Date.UTC(2026, 0, 1);
const soon = [NOW + DAY_MS];

describe('similarEvents', () => {
  const events: EventContent[] = [
    { eventId: 'hamlet', title: 'Hamlet', genres: ['Drama'], cast: ['Lars Eidinger'], showStarts: soon },
    {
      eventId: 'richard',
      title: 'Richard III',
      genres: ['Drama'],
      cast: ['Lars Eidinger'],
      showStarts: soon,
    },
    { eventId: 'tosca', title: 'Tosca', genres: ['Opera'], showStarts: soon },
    { eventId: 'comedy', title: 'Comedy Club', genres: ['Stand-up'], showStarts: soon },
    { eventId: 'faust', title: 'Faust', genres: ['Drama'], showStarts: [NOW - DAY_MS] },
  ];
  // Hamlet is often booked with Tosca (collaborative) though they share no content.
  const interactions: Interaction[] = ['a', 'b', 'c', 'd', 'e', 'f'].flatMap((userId, i) => [
    { userId, eventId: 'hamlet', at: NOW - 5 * DAY_MS + i },
    { userId, eventId: 'tosca', at: NOW - 4 * DAY_MS + i },
  ]);
  const model = train(interactions, events);

  it('blends collaborative neighbours with content: co-booked Tosca and same-cast Richard III both come', () => {
    const similar = similarEvents(model, 'hamlet', 3);
    expect(new Map(similar.slice(0, 2).map((r) => [r.eventId, r.reason]))).toEqual(
      new Map([
        ['tosca', 'often booked with Hamlet'],
        ['richard', 'same cast: Lars Eidinger'],
      ]),
    );
    // Faust shares only the genre, and nobody booked it with Hamlet.
    expect(similar[2]).toMatchObject({ eventId: 'faust', reason: 'same genre: Drama' });
    expect(similar[2]!.score).toBeLessThan(similar[1]!.score);
  });

  it('with `now`, events without a future show are left out; events sharing nothing never appear', () => {
    const ids = similarEvents(model, 'hamlet', 10, { now: NOW }).map((r) => r.eventId);
    expect(ids.sort()).toEqual(['richard', 'tosca']);
  });

  it('a brand-new event nobody booked gets similar events by content', () => {
    upsertEvent(model, {
      eventId: 'macbeth',
      title: 'Macbeth',
      genres: ['Drama'],
      cast: ['Lars Eidinger'],
      showStarts: soon,
    });
    const similar = similarEvents(model, 'macbeth', 2, { now: NOW });
    expect(similar.map((r) => r.eventId)).toEqual(['hamlet', 'richard']);
    expect(similar[0]!.reason).toBe('same cast: Lars Eidinger');
  });

  it('a new event of a planted group is found by the group’s other events', () => {
    const data = syntheticDataset({ users: 200, seed: 3 });
    const synthetic = train(data.interactions, data.events);
    const fresh = data.newEvents[0]!;
    const group = data.eventGroup.get(fresh);
    const similar = similarEvents(synthetic, fresh, 10);
    const sameGroup = similar.filter((r) => data.eventGroup.get(r.eventId) === group).length;
    expect(sameGroup).toBeGreaterThanOrEqual(8);
    // And the other way round: it shows up among the neighbours of its group's booked events.
    const fromGroup = data.events.filter(
      (e) => data.eventGroup.get(e.eventId) === group && !data.newEvents.includes(e.eventId),
    );
    const found = fromGroup.filter((e) =>
      similarEvents(synthetic, e.eventId, 20).some((r) => r.eventId === fresh),
    );
    expect(found.length).toBeGreaterThan(0);
  });

  it('an unknown event is NOT_FOUND (a typed error naming event_id), not an empty answer', () => {
    expect(() => similarEvents(model, 'no-such-event', 5)).toThrow(NotFoundError);
    expect(() => similarEvents(model, 'no-such-event', 5)).toThrow(
      'event_id: event "no-such-event" not found',
    );
  });

  it('an event known only from bookings (no content yet) answers from its co-bookings', () => {
    const bare = train(interactions, []);
    expect(similarEvents(bare, 'hamlet', 5).map((r) => r.eventId)).toEqual(['tosca']);
  });
});
