import { recommend, recommendPopular, train } from '..';
import type { EventContent, Interaction } from '..';
import { DAY_MS } from '../model';
import { syntheticDataset } from '../synthetic-data';

const NOW = Date.UTC(2026, 0, 1);
const future = [NOW + 7 * DAY_MS];
const past = [NOW - 7 * DAY_MS];

describe('recommend on planted taste groups', () => {
  const data = syntheticDataset({ users: 300, seed: 11 });
  const model = train(data.interactions, data.events);
  const usersOf = (group: number) => [...data.userGroup].filter(([, g]) => g === group).map(([u]) => u);
  const shareOfOwnGroup = (ranker: typeof recommend): number => {
    let own = 0;
    let total = 0;
    for (const [userId, group] of data.userGroup) {
      for (const r of ranker(model, { userId, k: 10, now: data.now })) {
        total++;
        if (data.eventGroup.get(r.eventId) === group) own++;
      }
    }
    return own / total;
  };

  it("users of a group get mostly their group's events in their top 10, unlike the popularity baseline", () => {
    const model10 = shareOfOwnGroup(recommend);
    const popular10 = shareOfOwnGroup(recommendPopular);
    expect(model10).toBeGreaterThan(0.7);
    // Popularity ignores taste: with 5 groups it can only be right about a fraction of the time.
    expect(popular10).toBeLessThan(0.4);
  });

  it('every group is recovered, not only the biggest one', () => {
    const shares = [0, 1, 2, 3, 4].map((group) => {
      const tops = usersOf(group).flatMap((userId) => recommend(model, { userId, k: 10, now: data.now }));
      return tops.filter((r) => data.eventGroup.get(r.eventId) === group).length / tops.length;
    });
    expect(shares.map((share) => share > 0.65)).toEqual([true, true, true, true, true]);
  });

  it('answers with a reason naming an event the user booked', () => {
    const [userId] = usersOf(2);
    const [first] = recommend(model, { userId: userId!, k: 1, now: data.now });
    expect(first!.reason).toMatch(/^(because you booked|similar to) .+/);
  });
});

describe('users we know little or nothing about', () => {
  const events: EventContent[] = [
    { eventId: 'hamlet', title: 'Hamlet', genres: ['Drama'], cities: ['Berlin'], showStarts: future },
    { eventId: 'lear', title: 'King Lear', genres: ['Drama'], cities: ['Berlin'], showStarts: future },
    { eventId: 'jazz', title: 'Jazz Night', genres: ['Jazz'], cities: ['Hamburg'], showStarts: future },
    {
      eventId: 'blues',
      title: 'Blues Night',
      genres: ['Jazz', 'Blues'],
      cities: ['Hamburg'],
      showStarts: future,
    },
    { eventId: 'macbeth', title: 'Macbeth', genres: ['Drama'], cities: ['Munich'], showStarts: future },
  ];
  // jazz is the most booked, then hamlet; nobody booked lear, blues or macbeth.
  const interactions: Interaction[] = [
    ...['a', 'b', 'c', 'd'].map((userId, i) => ({ userId, eventId: 'jazz', at: NOW - DAY_MS + i })),
    ...['a', 'b'].map((userId, i) => ({ userId, eventId: 'hamlet', at: NOW - DAY_MS + 10 + i })),
  ];
  const model = train(interactions, events);

  it('an unknown user gets popular events, most booked first, never an error', () => {
    const top = recommend(model, { userId: 'stranger', k: 2, now: NOW });
    expect(top.map((r) => [r.eventId, r.reason])).toEqual([
      ['jazz', 'popular right now'],
      ['hamlet', 'popular right now'],
    ]);
  });

  it('with a city, an unknown user gets what is popular there first', () => {
    const top = recommend(model, { userId: 'stranger', k: 2, now: NOW, city: 'berlin' });
    expect(top.map((r) => [r.eventId, r.reason])).toEqual([
      ['hamlet', 'popular in Berlin'],
      ['jazz', 'popular right now'],
    ]);
  });

  it('a user with one booking gets events like it before equally popular others, booked or not', () => {
    const plays: EventContent[] = [
      { eventId: 'macbeth', title: 'Macbeth', genres: ['Drama'], showStarts: future },
      { eventId: 'hamlet', title: 'Hamlet', genres: ['Drama'], showStarts: future },
      { eventId: 'rock', title: 'Rock Night', genres: ['Rock'], showStarts: future },
      { eventId: 'lear', title: 'King Lear', genres: ['Drama'], showStarts: future },
      { eventId: 'blues', title: 'Blues Night', genres: ['Blues'], showStarts: future },
    ];
    // hamlet and rock are booked alike (same counts, same times); lear and blues by nobody.
    const booked = train(
      [
        { userId: 'a', eventId: 'hamlet', at: NOW - DAY_MS },
        { userId: 'b', eventId: 'rock', at: NOW - DAY_MS },
      ],
      plays,
    );
    const top = recommend(booked, { userId: 'newcomer', k: 5, now: NOW, history: ['macbeth'] });
    const ids = top.map((r) => r.eventId);
    expect(ids.indexOf('hamlet')).toBeLessThan(ids.indexOf('rock'));
    expect(ids.indexOf('lear')).toBeLessThan(ids.indexOf('blues'));
    expect(top.find((r) => r.eventId === 'lear')!.reason).toBe('similar to Macbeth (same genre: Drama)');
  });

  it('a popular event that is also like the one booked is explained by the booking, not by popularity', () => {
    const concerts: EventContent[] = [
      {
        eventId: 'blue',
        title: 'Blue Note Nights',
        genres: ['Jazz'],
        artists: ['Quartet Azul'],
        showStarts: future,
      },
      {
        eventId: 'sax',
        title: 'Saxophone Sunrise',
        genres: ['Jazz'],
        artists: ['Quartet Azul'],
        showStarts: future,
      },
      {
        eventId: 'amp',
        title: 'Amplifier Storm',
        genres: ['Rock'],
        artists: ['The Fuses'],
        showStarts: future,
      },
      {
        eventId: 'loop',
        title: 'Feedback Loop',
        genres: ['Rock'],
        artists: ['The Fuses'],
        showStarts: future,
      },
    ];
    const pairs = (users: string[], a: string, b: string, at: number) =>
      users.flatMap((userId, i) => [
        { userId, eventId: a, at: at + 2 * i },
        { userId, eventId: b, at: at + 2 * i + 1 },
      ]);
    const concertModel = train(
      [
        ...pairs(['j1', 'j2', 'j3'], 'blue', 'sax', NOW - 2 * DAY_MS),
        ...pairs(['r1', 'r2', 'r3'], 'amp', 'loop', NOW - DAY_MS),
      ],
      concerts,
    );
    const top = recommend(concertModel, { userId: 'fan', k: 3, now: NOW, history: ['blue'] });
    expect(top.map((r) => r.eventId)).toEqual(['sax', 'loop', 'amp']);
    expect(top[0]!.reason).toMatch(/Blue Note Nights/);
    expect(top[1]!.reason).toBe('popular right now');
  });

  it('an empty model still answers (everything scores 0, soonest show first)', () => {
    const empty = train([], events);
    const top = recommend(empty, { userId: 'x', k: 10, now: NOW });
    expect(top).toHaveLength(5);
    expect(top.every((r) => r.score === 0 && r.reason === 'coming up soon')).toBe(true);
  });
});

describe('what is never recommended', () => {
  const events: EventContent[] = [
    { eventId: 'booked', title: 'Booked', genres: ['Rock'], showStarts: future },
    { eventId: 'seen-by-model', title: 'Seen', genres: ['Rock'], showStarts: future },
    { eventId: 'over', title: 'Over', genres: ['Rock'], showStarts: past },
    { eventId: 'no-shows', title: 'No shows', genres: ['Rock'] },
    { eventId: 'later', title: 'Later', genres: ['Rock'], showStarts: [...past, NOW + DAY_MS] },
    { eventId: 'open', title: 'Open', genres: ['Rock'], showStarts: future },
  ];
  // Everyone booked everything, so every event is popular and similar to every other.
  const interactions = ['u1', 'u2', 'u3'].flatMap((userId) =>
    events.map((e, i) => ({ userId, eventId: e.eventId, at: NOW - 30 * DAY_MS + i })),
  );
  const model = train(interactions, events);

  it('events the user booked (given in the request or seen in the stream) and events without a future show', () => {
    const fresh = train(
      [...interactions, { userId: 'me', eventId: 'seen-by-model', at: NOW - DAY_MS }],
      events,
    );
    const ids = recommend(fresh, { userId: 'me', k: 10, now: NOW, history: ['booked'] }).map(
      (r) => r.eventId,
    );
    expect(ids.sort()).toEqual(['later', 'open']);
    expect(
      recommendPopular(fresh, { userId: 'me', k: 10, now: NOW, history: ['booked'] })
        .map((r) => r.eventId)
        .sort(),
    ).toEqual(['later', 'open']);
  });

  it('an event whose last show started exactly now is over', () => {
    const ids = recommend(model, { userId: 'x', k: 10, now: NOW + DAY_MS }).map((r) => r.eventId);
    expect(ids.sort()).toEqual(['booked', 'open', 'seen-by-model']);
  });

  it('candidates given in the request replace the model’s list, with their own show times', () => {
    const candidates = [
      { eventId: 'over', title: 'Over', showStarts: [new Date(NOW + DAY_MS).toISOString()] },
      { eventId: 'open', title: 'Open', showStarts: past },
    ];
    expect(recommend(model, { userId: 'x', k: 10, now: NOW, candidates }).map((r) => r.eventId)).toEqual([
      'over',
    ]);
  });
});
