import { Placer, StampsByWallTime, compareEntries, mergeRecords } from '../merge';
import type { Entry } from '../merge';
import { parseLine } from '../parse';
import type { LogRecord } from '../parse';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** A pino line of `source` with Lamport stamp `lamport`, written `ms` after T0. */
function stamped(
  source: string,
  seq: number,
  lamport: number,
  ms: number,
  msg = `${source} L${lamport}`,
): LogRecord {
  return parseLine(
    JSON.stringify({ level: 30, time: new Date(T0 + ms).toISOString(), lamport, msg }),
    source,
    seq,
  );
}

const msgs = (entries: readonly Entry[]): string[] => entries.map((e) => e.record.msg);

describe('merging logs in Lamport order', () => {
  it('interleaves three files by stamp, whatever order they are read in', () => {
    const booking1 = [
      stamped('booking-1', 1, 1, 0),
      stamped('booking-1', 2, 4, 30),
      stamped('booking-1', 3, 7, 60),
    ];
    const booking2 = [
      stamped('booking-2', 1, 2, 10),
      stamped('booking-2', 2, 5, 40),
      stamped('booking-2', 3, 8, 70),
    ];
    const gateway1 = [
      stamped('gateway-1', 1, 3, 20),
      stamped('gateway-1', 2, 6, 50),
      stamped('gateway-1', 3, 9, 80),
    ];
    const expected = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    for (const files of [
      [booking1, booking2, gateway1],
      [gateway1, booking2, booking1],
    ])
      expect(mergeRecords(files.flat()).map((e) => e.record.lamport)).toEqual(expected);
  });

  it('puts a cause before its effect even when the effect has the earlier wall time (clock skew)', () => {
    const send = stamped('booking-1', 1, 10, 500, 'sending AppendEntries');
    const receive = stamped('booking-2', 1, 11, 100, 'applied entry'); // node 2's wall clock runs behind
    expect(msgs(mergeRecords([receive, send]))).toEqual(['sending AppendEntries', 'applied entry']);
  });

  it('breaks a tie of stamps by wall time, then by source name, then by file order', () => {
    const records = [
      stamped('gateway-1', 1, 5, 20, 'gateway later'),
      stamped('booking-2', 1, 5, 10, 'booking-2 same time'),
      stamped('booking-1', 1, 5, 10, 'booking-1 first'),
      stamped('booking-1', 2, 5, 10, 'booking-1 second'),
    ];
    expect(msgs(mergeRecords(records))).toEqual([
      'booking-1 first',
      'booking-1 second',
      'booking-2 same time',
      'gateway later',
    ]);
  });

  it('places a line with a wall time but no stamp after every stamped line written before it', () => {
    const records = [
      stamped('booking-1', 1, 3, 0),
      stamped('booking-1', 2, 40, 300),
      stamped('booking-2', 1, 20, 100),
      stamped('booking-2', 2, 25, 250),
      parseLine(`${new Date(T0 + 200).toISOString()} [Warning] slow query`, 'mariadb', 1),
    ];
    // Written at +200 ms: after L3 (+0) and L20 (+100), the highest stamp by then; before L25 (+250).
    expect(mergeRecords(records).map((e) => e.record.lamport ?? 'mariadb')).toEqual([
      3,
      20,
      'mariadb',
      25,
      40,
    ]);
  });

  it('keeps an unstamped line with no time (a stack trace) right after the line before it in its file', () => {
    const records = [
      stamped('booking-1', 1, 7, 100, 'handling Book'),
      parseLine('TypeError: boom', 'booking-1', 2),
      parseLine('    at handler (book.ts:1:1)', 'booking-1', 3),
      stamped('booking-1', 4, 9, 200, 'restarted'),
      stamped('booking-2', 1, 7, 150, 'booking-2 at the same stamp'),
      stamped('booking-2', 2, 8, 160, 'booking-2 next'),
    ];
    expect(msgs(mergeRecords(records))).toEqual([
      'handling Book',
      'TypeError: boom',
      '    at handler (book.ts:1:1)',
      'booking-2 at the same stamp',
      'booking-2 next',
      'restarted',
    ]);
  });

  it('puts the first lines of a file with neither stamp nor time at the start', () => {
    const records = [stamped('booking-1', 1, 1, 0, 'stamped'), parseLine('starting up', 'nginx', 1)];
    expect(msgs(mergeRecords(records))).toEqual(['starting up', 'stamped']);
  });

  it('remembers where a file left off between reads, so a continuation read later still follows its line', () => {
    const placer = new Placer();
    const first = placer.place([
      stamped('booking-1', 1, 12, 100, 'crashing'),
      stamped('booking-2', 1, 13, 90),
    ]);
    const later = placer.place([parseLine('Error: out of memory', 'booking-1', 2)]);
    const all = [...first, ...later].sort(compareEntries);
    expect(msgs(all)).toEqual(['crashing', 'Error: out of memory', 'booking-2 L13']);
  });
});

describe('the highest stamp by a wall time', () => {
  it('answers for any time, whatever order stamps were added in', () => {
    const stamps = new StampsByWallTime();
    stamps.add(300, 9);
    stamps.add(100, 4);
    stamps.add(200, 2);
    expect([50, 100, 199, 200, 300, 999].map((t) => stamps.at(t))).toEqual([0, 4, 4, 4, 9, 9]);
  });

  it('folds forgotten points into one maximum that later answers keep', () => {
    const stamps = new StampsByWallTime();
    for (const [t, l] of [
      [100, 5],
      [200, 8],
      [300, 6],
      [400, 11],
    ] as const)
      stamps.add(t, l);
    stamps.forgetBefore(250);
    expect([0, 250, 300, 400].map((t) => stamps.at(t))).toEqual([8, 8, 8, 11]);
    stamps.add(500, 3);
    expect(stamps.at(500)).toBe(11);
  });
});
