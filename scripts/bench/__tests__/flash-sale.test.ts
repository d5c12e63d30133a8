import { parseArgs } from '../flash-sale';
import { checkSold, cumulative, drawCount, parseSeatRange, perSecond, pickSeats } from '../lib/sale';

/** A repeatable stand-in for Math.random: the given values in turn, over and over. */
const cycle = (...values: number[]): (() => number) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

describe('flash-sale options', () => {
  it('defaults to 2,000 buyers on 5,000 seats, one to four seats a booking', () => {
    const options = parseArgs([]);
    expect(options).toMatchObject({ buyers: 2000, seats: 5000, seatsPerBooking: { min: 1, max: 4 } });
    expect(options.writeDocs).toBe(false);
  });

  it('reads --flag value and --flag=value alike', () => {
    const options = parseArgs(['--buyers', '300', '--seats=800', '--seats-per-buyer', '2', '--write-docs']);
    expect(options).toMatchObject({
      buyers: 300,
      seats: 800,
      seatsPerBooking: { min: 2, max: 2 },
      writeDocs: true,
    });
  });

  it('refuses more seats than one hall holds, and unknown flags', () => {
    expect(() => parseArgs(['--seats', '5001'])).toThrow(/at most 5000/);
    expect(() => parseArgs(['--buyer', '3'])).toThrow(/unknown argument/);
    expect(() => parseArgs(['--buyers', '0'])).toThrow(/whole number/);
  });
});

describe('seats per booking', () => {
  it('is a number or a range of at most ten (the most one hold takes)', () => {
    expect(parseSeatRange('1..4')).toEqual({ min: 1, max: 4 });
    expect(parseSeatRange('3')).toEqual({ min: 3, max: 3 });
    for (const bad of ['0', '4..1', '1..11', 'two', '1..'])
      expect(() => parseSeatRange(bad)).toThrow(/seats per booking/);
  });

  it('draws every count of the range, ends included', () => {
    const range = { min: 1, max: 4 };
    expect([0, 0.25, 0.5, 0.999].map((r) => drawCount(range, () => r))).toEqual([1, 2, 3, 4]);
  });
});

describe('pickSeats', () => {
  const free = Array.from({ length: 10 }, (_, i) => `S${i}`);

  it('picks distinct seats at random among the free ones', () => {
    const picked = pickSeats(free, 3, () => false, cycle(0.05, 0.05, 0.55, 0.95));
    expect(picked).toEqual(['S0', 'S5', 'S9']);
  });

  it('never picks a seat the buyer knows is taken, even when the draws keep landing on it', () => {
    const taken = new Set(['S0', 'S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7']);
    const picked = pickSeats(free, 4, (s) => taken.has(s), cycle(0));
    expect(picked.sort()).toEqual(['S8', 'S9']);
  });

  it('gives nothing when nothing is left', () => {
    expect(pickSeats([], 2, () => false, Math.random)).toEqual([]);
    expect(pickSeats(free, 2, () => true, Math.random)).toEqual([]);
  });
});

describe('the sale over time', () => {
  const start = 10_000;
  const tallies = [
    { atMs: 10_100, n: 2 },
    { atMs: 10_950, n: 1 },
    { atMs: 12_500, n: 4 },
    { atMs: 99_000, n: 1 },
  ];

  it('sums per whole second, the late ones in the last second', () => {
    expect(perSecond(tallies, start, 3)).toEqual([3, 0, 5]);
  });

  it('draws the running total with one point per step that saw a booking', () => {
    expect(cumulative(tallies.slice(0, 3), start, 1000)).toEqual([
      { t: 0, v: 0 },
      { t: 1, v: 3 },
      { t: 3, v: 7 },
    ]);
  });
});

describe('checkSold', () => {
  const base = { acknowledgedSeats: 10, inDoubtSeats: 0, totalSeats: 12 };

  it('passes when every node sold exactly the acknowledged seats', () => {
    const result = checkSold({
      ...base,
      soldPerNode: new Map([
        [1, 10],
        [2, 10],
        [3, 10],
      ]),
    });
    expect(result.ok).toBe(true);
    expect(result.text).toBe(
      'SOLD seats: node 1 10, node 2 10, node 3 10; seats of acknowledged bookings: 10',
    );
  });

  it('allows the seats in doubt, and no more', () => {
    const doubt = { ...base, inDoubtSeats: 2 };
    expect(
      checkSold({
        ...doubt,
        soldPerNode: new Map([
          [1, 12],
          [2, 12],
        ]),
      }).ok,
    ).toBe(true);
    expect(
      checkSold({
        ...base,
        soldPerNode: new Map([
          [1, 11],
          [2, 11],
        ]),
      }).text,
    ).toMatch(/more SOLD than acknowledged/);
  });

  it('fails when a node lost a sale or the nodes disagree', () => {
    expect(
      checkSold({
        ...base,
        soldPerNode: new Map([
          [1, 9],
          [2, 9],
        ]),
      }).text,
    ).toMatch(/fewer SOLD/);
    expect(
      checkSold({
        ...base,
        soldPerNode: new Map([
          [1, 10],
          [2, 9],
        ]),
      }).text,
    ).toMatch(/disagree/);
    expect(checkSold({ ...base, soldPerNode: new Map() }).ok).toBe(false);
  });
});
