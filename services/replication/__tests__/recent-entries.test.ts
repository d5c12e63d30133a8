import { RecentEntries } from '../recent-entries';
import type { LogEntry } from '../types';

const entry = (index: number, term = 2): LogEntry => ({
  index,
  term,
  lamport: index,
  op: 'kv.set',
  payload: '{}',
});
const entries = (from: number, to: number, term = 2): LogEntry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));

describe("a master's recent entries in memory", () => {
  it('answers a range only when it holds every entry of it', () => {
    const recent = new RecentEntries();
    recent.add(entries(10, 12));
    recent.add(entries(13, 15));
    expect(recent.range(11, 14)?.map((e) => e.index)).toEqual([11, 12, 13, 14]);
    expect(recent.range(9, 12)).toBeUndefined();
    expect(recent.range(14, 16)).toBeUndefined();
    expect(recent.termAt(15)).toBe(2);
    expect(recent.termAt(9)).toBeUndefined();
    expect(recent.termAt(16)).toBeUndefined();
  });

  it('starts over on a gap, never holding two stretches as one', () => {
    const recent = new RecentEntries();
    recent.add(entries(10, 12));
    recent.add(entries(20, 21));
    expect(recent.range(10, 12)).toBeUndefined();
    expect(recent.range(20, 21)?.map((e) => e.index)).toEqual([20, 21]);
    expect(recent.termAt(11)).toBeUndefined();
  });

  it('keeps only the newest entries up to its capacity', () => {
    const recent = new RecentEntries(4);
    recent.add(entries(1, 3));
    recent.add(entries(4, 6));
    expect(recent.range(3, 6)?.map((e) => e.index)).toEqual([3, 4, 5, 6]);
    expect(recent.range(2, 6)).toBeUndefined();
  });
});
