import { meanScores, ndcgAtK, precisionAtK, recallAtK, scoreRanking, splitByUserTime } from '../metrics';

describe('ranking metrics on hand-computed examples', () => {
  const relevant = new Set(['a', 'c', 'x']);
  const ranked = ['a', 'b', 'c', 'd'];

  it('precision@k counts hits in the top k over k, missing places as misses', () => {
    expect(precisionAtK(ranked, relevant, 2)).toBe(0.5);
    expect(precisionAtK(ranked, relevant, 4)).toBe(0.5);
    expect(precisionAtK(ranked, relevant, 10)).toBe(0.2);
  });

  it('recall@k counts hits over the relevant set', () => {
    expect(recallAtK(ranked, relevant, 2)).toBeCloseTo(1 / 3, 12);
    expect(recallAtK(ranked, relevant, 3)).toBeCloseTo(2 / 3, 12);
    expect(recallAtK(ranked, new Set(), 3)).toBe(0);
  });

  it('nDCG@k discounts hits by log2(place + 1) and divides by the ideal order', () => {
    // hits at places 1 and 3: DCG = 1 + 1/2; ideal (3 relevant, k = 4) = 1 + 1/log2(3) + 1/2.
    expect(ndcgAtK(ranked, relevant, 4)).toBeCloseTo(1.5 / (1 + 1 / Math.log2(3) + 0.5), 12);
    // k = 2: only the hit at place 1 counts; ideal is two hits.
    expect(ndcgAtK(ranked, relevant, 2)).toBeCloseTo(1 / (1 + 1 / Math.log2(3)), 12);
    expect(ndcgAtK(['a', 'c', 'x'], relevant, 3)).toBeCloseTo(1, 12);
    expect(ndcgAtK(['b', 'd'], relevant, 3)).toBe(0);
  });

  it('means weigh every user once', () => {
    const one = scoreRanking(['a'], new Set(['a']), 1);
    const other = scoreRanking(['b'], new Set(['a']), 1);
    expect(meanScores([one, other])).toEqual({ precision: 0.5, recall: 0.5, ndcg: 0.5 });
    expect(meanScores([])).toEqual({ precision: 0, recall: 0, ndcg: 0 });
  });
});

describe('splitByUserTime', () => {
  const at = (n: number) => 1_000 * n;
  const interactions = [
    // u1: 10 bookings given out of order; the latest two are held out.
    ...[5, 1, 9, 3, 7, 2, 8, 4, 6, 10].map((n) => ({ userId: 'u1', eventId: `e${n}`, at: at(n) })),
    // u2: too few to evaluate, stays whole in training.
    { userId: 'u2', eventId: 'e1', at: at(1) },
    { userId: 'u2', eventId: 'e2', at: at(2) },
    // u3: its latest booking repeats an earlier one, so nothing new is left to find.
    ...[1, 2, 3, 4].map((n) => ({ userId: 'u3', eventId: `e${n}`, at: at(n) })),
    { userId: 'u3', eventId: 'e1', at: at(5) },
  ];

  it("holds out each user's latest bookings and trains on the rest", () => {
    const split = splitByUserTime(interactions, { testFraction: 0.2, minInteractions: 5 });
    expect(split.test.get('u1')).toEqual(['e9', 'e10']);
    expect(split.history.get('u1')).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8']);
    expect(split.test.has('u2')).toBe(false);
    expect(split.test.has('u3')).toBe(false);
    expect(split.train.filter((i) => i.userId === 'u1').map((i) => i.at)).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map(at),
    );
    expect(split.train.filter((i) => i.userId === 'u2')).toHaveLength(2);
    expect(split.train.some((i) => i.userId === 'u1' && (i.eventId === 'e9' || i.eventId === 'e10'))).toBe(
      false,
    );
  });

  it('refuses a test fraction outside (0, 1)', () => {
    expect(() => splitByUserTime(interactions, { testFraction: 1 })).toThrow('testFraction');
  });
});
