import { recommend, train } from '..';
import type { EventContent, Interaction } from '..';
import { similarity } from '../cooccurrence';
import { MAX_GROWTH_EXPONENT } from '../decay';
import { DAY_MS } from '../model';

const NOW = Date.UTC(2026, 0, 1);
const open = (eventId: string): EventContent => ({
  eventId,
  title: eventId.toUpperCase(),
  showStarts: [NOW + DAY_MS],
});

const bookings = (users: string[], events: string[], at: number): Interaction[] =>
  users.flatMap((userId) => events.map((eventId, i) => ({ userId, eventId, at: at + i })));

describe('item-to-item similarity', () => {
  it('is the cosine of the co-booking vectors shrunk by the number of co-bookers (hand computed)', () => {
    // u1 booked A and B, u2 booked A, all at one instant: n_A = 2, n_B = 1, s_AB = 1, one co-booker.
    const model = train(
      [
        { userId: 'u1', eventId: 'A', at: NOW },
        { userId: 'u1', eventId: 'B', at: NOW },
        { userId: 'u2', eventId: 'A', at: NOW },
      ],
      [],
      { shrink: 2 },
    );
    const expected = (1 / Math.sqrt(2)) * (1 / (1 + 2));
    expect(similarity(model.collaborative, 'A', 'B', 2)).toBeCloseTo(expected, 12);
    expect(similarity(model.collaborative, 'B', 'A', 2)).toBeCloseTo(expected, 12);
    expect(model.collaborative.neighbours.get('A')).toEqual([
      { eventId: 'B', similarity: expect.closeTo(expected, 12) },
    ]);
  });

  it('more co-bookers mean less shrinkage: the same cosine from 4 users beats it from 1', () => {
    const few = train(bookings(['u1'], ['A', 'B'], NOW), []);
    const many = train(bookings(['u1', 'u2', 'u3', 'u4'], ['A', 'B'], NOW), []);
    expect(similarity(many.collaborative, 'A', 'B', 2)).toBeGreaterThan(
      similarity(few.collaborative, 'A', 'B', 2),
    );
  });

  it('booking the same event twice counts once', () => {
    const once = train(bookings(['u1', 'u2'], ['A', 'B'], NOW), []);
    const twice = train(
      [...bookings(['u1', 'u2'], ['A', 'B'], NOW), { userId: 'u1', eventId: 'A', at: NOW + 5 }],
      [],
    );
    expect(twice.collaborative.items.get('A')).toEqual(once.collaborative.items.get('A'));
    expect(twice.collaborative.neighbours).toEqual(once.collaborative.neighbours);
  });
});

describe('time decay', () => {
  const halfLifeMs = 30 * DAY_MS;
  const yearAgo = NOW - 365 * DAY_MS;
  // Five people booked A with B a year ago; five others booked A with C last week.
  const interactions = [
    ...bookings(['o1', 'o2', 'o3', 'o4', 'o5'], ['A', 'B'], yearAgo),
    ...bookings(['r1', 'r2', 'r3', 'r4', 'r5'], ['A', 'C'], NOW - 7 * DAY_MS),
  ];
  const events = ['A', 'B', 'C'].map(open);

  it('old co-bookings count less than recent ones with the same counts', () => {
    const model = train(interactions, events, { halfLifeMs });
    const simB = similarity(model.collaborative, 'A', 'B', model.options.shrink);
    const simC = similarity(model.collaborative, 'A', 'C', model.options.shrink);
    expect(simC).toBeGreaterThan(10 * simB);
    expect(model.collaborative.neighbours.get('A')?.map((n) => n.eventId)).toEqual(['C', 'B']);
  });

  it('without decay (a half-life of centuries) the two pairs are equal, so the decay is what orders them', () => {
    const model = train(interactions, events, { halfLifeMs: 1000 * 365 * DAY_MS });
    const simB = similarity(model.collaborative, 'A', 'B', model.options.shrink);
    const simC = similarity(model.collaborative, 'A', 'C', model.options.shrink);
    expect(simB).toBeCloseTo(simC, 3);
  });

  it('popularity decays too: the recently booked event is the popular one for a stranger', () => {
    const model = train(interactions, events, { halfLifeMs });
    expect(recommend(model, { userId: 'stranger', k: 1, now: NOW })[0]).toMatchObject({
      eventId: 'A',
      reason: 'popular right now',
    });
    expect(recommend(model, { userId: 'stranger', k: 3, now: NOW }).map((r) => r.eventId)).toEqual([
      'A',
      'C',
      'B',
    ]);
  });

  it('years of data over a short half-life do not overflow: stored weights are rebased, similarities kept', () => {
    const halfLife = DAY_MS;
    const span = 3 * MAX_GROWTH_EXPONENT * halfLife; // three rebases at least
    const long = [
      ...bookings(['a1', 'a2'], ['X', 'Y'], NOW - span),
      ...bookings(['b1', 'b2'], ['X', 'Y'], NOW - 2 * DAY_MS),
      ...bookings(['b3'], ['X', 'Z'], NOW - DAY_MS),
    ];
    const model = train(long, [], { halfLifeMs: halfLife });
    expect(model.collaborative.anchor).toBeGreaterThan(NOW - span);
    for (const item of model.collaborative.items.values()) expect(Number.isFinite(item.weight)).toBe(true);
    // The recent pairs decide the cosine (shrink 0), exactly as if the ancient ones were never there.
    const recentOnly = train(long.slice(4), [], { halfLifeMs: halfLife });
    expect(similarity(model.collaborative, 'X', 'Y', 0)).toBeCloseTo(
      similarity(recentOnly.collaborative, 'X', 'Y', 0),
      9,
    );
  });

  it('a co-booking that straddles a rebase keeps its (tiny) weight', () => {
    const halfLife = DAY_MS;
    const later = NOW + (MAX_GROWTH_EXPONENT + 100) * halfLife;
    const model = train(
      [
        { userId: 'u1', eventId: 'X', at: NOW }, // 700 half-lives before everything else
        { userId: 'u2', eventId: 'Z', at: later }, // forces a rebase
        { userId: 'u1', eventId: 'Y', at: later + 1 },
        { userId: 'u3', eventId: 'X', at: later + 2 },
        { userId: 'u4', eventId: 'Y', at: later + 3 },
      ],
      [],
      { halfLifeMs: halfLife },
    );
    // u1's X is 2^-700 as heavy as the recent bookings: the pair X–Y is almost nothing.
    const sim = similarity(model.collaborative, 'X', 'Y', 2);
    expect(sim).toBeGreaterThan(0);
    expect(sim).toBeLessThan(1e-50);
  });
});
