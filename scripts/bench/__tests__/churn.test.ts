import { termChanges } from '../churn';

describe('churn bench', () => {
  it('counts every (term, master) pair other than the starting one, once each', () => {
    const start = { term: 4, masterId: 3 };
    const report = {
      elections: [
        { term: 4, masterId: 3 },
        { term: 5, masterId: 3 },
        { term: 5, masterId: 3 },
        { term: 6, masterId: 2 },
        { term: 4, masterId: 3 },
      ],
    };
    expect(termChanges(report, start)).toEqual([
      { term: 5, masterId: 3 },
      { term: 6, masterId: 2 },
    ]);
    expect(termChanges({ elections: [start, start] }, start)).toEqual([]);
  });
});
