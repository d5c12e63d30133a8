import { formatEntry, formatJson, shouldColor } from '../format';
import { mergeRecords } from '../merge';
import type { Entry } from '../merge';
import { parseLine } from '../parse';

const pinoLine = JSON.stringify({
  level: 40,
  time: '2026-11-25T16:55:19.549Z',
  service: 'booking',
  nodeId: 2,
  pid: 10747,
  hostname: 'box',
  component: 'replicator',
  term: 1,
  lamport: 90,
  newTerm: 2,
  reason: 'a slave said so',
  peer: { id: 3 },
  msg: 'replication: stepping down',
});

function entry(text: string, source = 'booking-2'): Entry {
  return mergeRecords([parseLine(text, source, 1)])[0]!;
}

describe('the text line of an entry', () => {
  it('shows stamp, UTC time, padded source, level word, message and the interesting fields, uncoloured', () => {
    expect(formatEntry(entry(pinoLine), { color: false, sourceWidth: 10, utc: true })).toBe(
      'L=90     16:55:19.549  booking-2   WARN   replication: stepping down component=replicator term=1 newTerm=2 reason="a slave said so" peer={"id":3}',
    );
  });

  it('shows a plain line with no stamp, time or level as dashes and blanks', () => {
    expect(formatEntry(entry('    at run (x.ts:1:1)'), { color: false, sourceWidth: 9, utc: true })).toBe(
      'L=-                    booking-2  -          at run (x.ts:1:1)',
    );
  });

  it('keeps a message with newlines on one line', () => {
    const text = JSON.stringify({ lamport: 1, level: 50, msg: 'first\nsecond' });
    expect(formatEntry(entry(text), { color: false, sourceWidth: 9 })).toContain('first\\nsecond');
  });

  it('colours the level word and dims the keys for a terminal', () => {
    const line = formatEntry(entry(pinoLine), { color: true, sourceWidth: 10, utc: true });
    expect(line).toContain('\x1b[33mWARN\x1b[0m   replication');
    expect(line).toContain('\x1b[2mterm=\x1b[0m1');
  });
});

describe('colour', () => {
  it('is on for a terminal only, and off whenever NO_COLOR is set', () => {
    expect(shouldColor(true, {})).toBe(true);
    expect(shouldColor(false, {})).toBe(false);
    expect(shouldColor(undefined, {})).toBe(false);
    expect(shouldColor(true, { NO_COLOR: '1' })).toBe(false);
    expect(shouldColor(true, { NO_COLOR: '' })).toBe(true); // no-color.org: set *and non-empty*
  });
});

describe('the JSON line of an entry', () => {
  it("is the line's own JSON with its source added", () => {
    expect(JSON.parse(formatJson(entry(pinoLine)))).toEqual({ source: 'booking-2', ...JSON.parse(pinoLine) });
  });

  it('wraps a plain line as its message', () => {
    expect(JSON.parse(formatJson(entry('2026-11-25 16:55:14 0 [Note] InnoDB: ready', 'mariadb')))).toEqual({
      source: 'mariadb',
      msg: '2026-11-25 16:55:14 0 [Note] InnoDB: ready',
    });
  });
});
