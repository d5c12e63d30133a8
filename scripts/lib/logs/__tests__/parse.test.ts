import { Writable } from 'node:stream';
import pino from 'pino';
import { LamportClock, lamportLogMixin } from '../../../../services/common/lamport';
import { parseLine, sourceOf } from '../parse';

/** Lines exactly as services/common/logger.ts configures pino (isoTime, base fields, the Lamport mixin). */
function pinoLines(write: (logger: pino.Logger) => void): string[] {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const clock = new LamportClock(41);
  const logger = pino(
    {
      mixin: lamportLogMixin(clock),
      base: { service: 'booking', nodeId: 2, pid: 1234 },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    sink,
  );
  write(logger);
  return lines;
}

describe('parsing a pino JSON line', () => {
  it('reads the Lamport stamp the mixin adds, the ISO wall time, the level and the fields', () => {
    const [line] = pinoLines((logger) =>
      logger.child({ component: 'election' }).warn({ term: 5 }, 'election: master in term 5'),
    );
    const record = parseLine(line!, 'booking-2', 7);
    expect(record).toMatchObject({
      source: 'booking-2',
      seq: 7,
      text: line,
      lamport: 41,
      level: 40,
      msg: 'election: master in term 5',
      service: 'booking',
      nodeId: 2,
    });
    expect(record.wallMs).toBe(Date.parse(JSON.parse(line!).time));
    expect(record.fields).toMatchObject({ component: 'election', term: 5 });
  });

  it('takes epoch-millisecond times and level words too', () => {
    const record = parseLine('{"time":1700000000123,"level":"error","msg":"x"}', 'gateway-1', 1);
    expect(record).toMatchObject({ wallMs: 1700000000123, level: 50, lamport: undefined });
  });

  it('keeps a stamp only when it is a valid Lamport stamp', () => {
    for (const lamport of [-1, 1.5, '12', null])
      expect(parseLine(JSON.stringify({ lamport, msg: 'm' }), 'catalog', 1).lamport).toBeUndefined();
    expect(parseLine(JSON.stringify({ lamport: 0, msg: 'm' }), 'catalog', 1).lamport).toBe(0);
  });

  it('names the service after the file when the line has no service field', () => {
    expect(parseLine('{"msg":"m"}', 'gateway-2', 1).service).toBe('gateway');
  });
});

describe('parsing a line that is not pino JSON', () => {
  it("reads a MariaDB line's local wall time and bracketed level, and gives it no stamp", () => {
    const text = '2026-11-25 16:55:14 0 [Warning] Could not increase number of max_open_files';
    expect(parseLine(text, 'mariadb', 3)).toEqual({
      source: 'mariadb',
      seq: 3,
      text,
      wallMs: new Date(2026, 10, 25, 16, 55, 14).getTime(),
      level: 40,
      msg: text,
      service: 'mariadb',
    });
  });

  it("reads an nginx error line's time and level", () => {
    const record = parseLine('2026/11/25 16:55:14 [error] 12#0: *3 connect() failed', 'nginx-error', 1);
    expect(record.wallMs).toBe(new Date(2026, 10, 25, 16, 55, 14).getTime());
    expect(record.level).toBe(50);
  });

  it('reads an ISO time with an offset', () => {
    expect(parseLine('2026-11-25T16:55:14.250+0100 started', 'x', 1).wallMs).toBe(
      Date.parse('2026-11-25T15:55:14.250Z'),
    );
  });

  it("reads the time of an access line of the front door's log format, to the millisecond", () => {
    const line =
      '2026-11-25T20:19:18.863+00:00 127.0.0.1 "GET /api/events HTTP/1.1" 200 335 0.013 ' +
      'upstream=127.0.0.1:8081 200 trace=b00963fbddd86871a58f8590b773919e';
    expect(parseLine(line, 'nginx-access', 1).wallMs).toBe(Date.parse('2026-11-25T20:19:18.863Z'));
  });

  it('leaves time and level unknown for a stack trace line', () => {
    const record = parseLine('    at Server.listen (node:net:1:1)', 'booking-1', 9);
    expect(record).toMatchObject({ msg: '    at Server.listen (node:net:1:1)', service: 'booking' });
    expect(record.wallMs).toBeUndefined();
    expect(record.level).toBeUndefined();
    expect(record.fields).toBeUndefined();
  });

  it('shows a malformed JSON line raw instead of throwing', () => {
    const text = '{"level":30,"time":"2026-11-25T16:55:19.549Z","lamport":9';
    expect(parseLine(text, 'booking-3', 4)).toEqual({
      source: 'booking-3',
      seq: 4,
      text,
      msg: text,
      service: 'booking',
      wallMs: undefined,
      level: undefined,
    });
  });

  it('treats JSON that is not an object as text', () => {
    expect(parseLine('[1,2]', 'x', 1).fields).toBeUndefined();
    expect(parseLine('null', 'x', 1).fields).toBeUndefined();
  });
});

it('names a source after its file without .log', () => {
  expect(sourceOf('booking-2.log')).toBe('booking-2');
  expect(sourceOf('nginx.error.log')).toBe('nginx.error');
});
