import { comparisonTable, describeOutage, loadWindow } from '../lib/etcd-compare';
import { summarize } from '../lib/stats';

describe('bench:failover with and without etcd', () => {
  it('a load window counts completions and failures inside it, and the longest stretch without a completion', () => {
    const completions = [50, 120, 180, 700, 760, 1100];
    const failures = [
      { at: 90, code: 'UNAVAILABLE' },
      { at: 400, code: 'DEADLINE_EXCEEDED' },
      { at: 450, code: 'UNAVAILABLE' },
      { at: 500, code: 'UNAVAILABLE' },
      { at: 1200, code: 'UNAVAILABLE' },
    ];
    expect(loadWindow(completions, failures, 100, 1000)).toEqual({
      durationMs: 900,
      bookings: 4,
      longestGapMs: 520,
      failures: 3,
      failureCodes: 'UNAVAILABLE 2, DEADLINE_EXCEEDED 1',
    });
  });

  it('puts the two runs side by side with the ratio of the medians', () => {
    const rows = (values: number[]) => [{ name: 'first write acknowledged', summary: summarize(values) }];
    const table = comparisonTable(
      { mode: 'etcd', rows: rows([400, 500, 600]) },
      { mode: 'bully', rows: rows([200, 250, 300]) },
    );
    expect(table).toHaveLength(3);
    expect(table[2]).toMatch(
      /first write acknowledged .*500 ms \|\s+600 ms \|\s+250 ms \|\s+300 ms \|\s+2\.00× \|$/,
    );
  });

  it('says whether etcd going away changed the master or the term', () => {
    const w = { durationMs: 5000, bookings: 50, longestGapMs: 300, failures: 0, failureCodes: '' };
    const same = {
      before: w,
      down: w,
      after: w,
      termBefore: 7,
      termAfter: 7,
      masterBefore: 3,
      masterAfter: 3,
    };
    expect(describeOutage(same).at(-1)).toBe('master node 3 in term 7 throughout: no election');
    expect(describeOutage({ ...same, termAfter: 8, masterAfter: 2 }).at(-1)).toBe(
      'master node 3 term 7 → node 2 term 8',
    );
  });
});
