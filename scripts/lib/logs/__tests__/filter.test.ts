import { entryFilter } from '../filter';
import type { FilterOptions } from '../filter';
import { mergeRecords } from '../merge';
import type { Entry } from '../merge';
import { parseLine } from '../parse';

const T0 = Date.parse('2030-01-01T12:00:00.000Z');

function line(fields: Record<string, unknown>): string {
  return JSON.stringify({
    level: 30,
    time: new Date(T0 + ((fields.lamport as number) ?? 0) * 1000).toISOString(),
    ...fields,
  });
}

// One timeline with a bit of everything: three booking nodes, a gateway, MariaDB, a stack trace.
const entries: Entry[] = mergeRecords([
  parseLine(line({ service: 'booking', nodeId: 1, lamport: 1, msg: 'b1 info' }), 'booking-1', 1),
  parseLine(
    line({
      service: 'booking',
      nodeId: 2,
      lamport: 2,
      level: 40,
      msg: 'b2 warn',
      traceId: 'abc',
    }),
    'booking-2',
    1,
  ),
  parseLine('Error: boom', 'booking-2', 2),
  parseLine(line({ service: 'booking', nodeId: 3, lamport: 3, level: 50, msg: 'b3 error' }), 'booking-3', 1),
  parseLine(
    line({ service: 'gateway', lamport: 4, msg: 'gw debug', level: 20, trace_id: 'abc' }),
    'gateway-2',
    1,
  ),
  parseLine('2030-01-01T12:00:04.500Z 0 [Note] mariadb note trace=abc', 'mariadb', 1),
  parseLine(line({ service: 'catalog', lamport: 5, msg: 'catalog info', traceId: 'abcd' }), 'catalog', 1),
]);

const kept = (options: FilterOptions): string[] =>
  entries.filter(entryFilter(options)).map((e) => e.record.msg.split(' trace=')[0]!);

describe('filtering the timeline', () => {
  it('keeps everything when nothing is asked', () => {
    expect(kept({})).toHaveLength(entries.length);
  });

  it('--node 2 keeps booking node 2, the plain lines of its file included', () => {
    expect(kept({ nodes: ['2'] })).toEqual(['b2 warn', 'Error: boom']);
    expect(kept({ nodes: ['booking-2'] })).toEqual(['b2 warn', 'Error: boom']);
  });

  it('--node by file name picks a process without a node id, and several --node add up', () => {
    expect(kept({ nodes: ['gateway-2', '1'] })).toEqual(['b1 info', 'gw debug']);
  });

  it('--service matches the service field, or the file name for plain logs', () => {
    expect(kept({ services: ['gateway', 'mariadb'] })).toEqual([
      'gw debug',
      '2030-01-01T12:00:04.500Z 0 [Note] mariadb note',
    ]);
  });

  it('--level keeps that level and above, and lines with no level', () => {
    expect(kept({ minLevel: 40 })).toEqual(['b2 warn', 'Error: boom', 'b3 error']);
  });

  it('--trace matches traceId or trace_id exactly, and the text of plain lines', () => {
    expect(kept({ trace: 'abc' })).toEqual([
      'b2 warn',
      'gw debug',
      '2030-01-01T12:00:04.500Z 0 [Note] mariadb note',
    ]);
  });

  it('--since and --until bound the wall time, inclusively', () => {
    expect(kept({ sinceMs: T0 + 3000, untilMs: T0 + 4000 })).toEqual(['b3 error', 'gw debug']);
  });

  it('--from-lamport keeps stamps from N on, and the lines placed among them', () => {
    expect(kept({ fromLamport: 4 })).toEqual([
      'gw debug',
      '2030-01-01T12:00:04.500Z 0 [Note] mariadb note',
      'catalog info',
    ]);
  });

  it('combines options: every one must match', () => {
    expect(kept({ services: ['booking'], minLevel: 50 })).toEqual(['Error: boom', 'b3 error']);
  });
});
