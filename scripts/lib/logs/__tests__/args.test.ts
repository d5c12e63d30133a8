import { DEFAULT_WINDOW_MS, UsageError, parseLogsArgs } from '../args';

const NOW = new Date(2030, 0, 2, 15, 30, 0).getTime(); // local time, like the HH:MM form

function usageError(argv: string[]): string {
  try {
    parseLogsArgs(argv, NOW);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
}

describe('logs CLI arguments', () => {
  it('defaults to a one-off read of the default directory with no filter', () => {
    expect(parseLogsArgs([], NOW)).toEqual({
      help: false,
      dir: undefined,
      follow: false,
      json: false,
      windowMs: DEFAULT_WINDOW_MS,
      filter: {},
    });
  });

  it('reads every option', () => {
    const args = parseLogsArgs(
      [
        '--dir=/tmp/x',
        '-f',
        '--window-ms',
        '50',
        '--node',
        '2',
        '--node',
        'gateway-1',
        '--service',
        'catalog',
        '--level',
        'WARN',
        '--trace',
        't-1',
        '--since',
        '5m',
        '--until',
        '15:29',
        '--from-lamport',
        '40',
        '--json',
      ],
      NOW,
    );
    expect(args).toEqual({
      help: false,
      dir: '/tmp/x',
      follow: true,
      json: true,
      windowMs: 50,
      filter: {
        nodes: ['2', 'gateway-1'],
        services: ['catalog'],
        minLevel: 40,
        trace: 't-1',
        sinceMs: NOW - 5 * 60_000,
        untilMs: NOW - 60_000,
        fromLamport: 40,
      },
    });
  });

  it('reads --since as an ISO time too', () => {
    expect(parseLogsArgs(['--since', '2030-01-02T10:00:00Z'], NOW).filter.sinceMs).toBe(
      Date.parse('2030-01-02T10:00:00Z'),
    );
  });

  it('asks for help with -h', () => {
    expect(parseLogsArgs(['-h'], NOW).help).toBe(true);
  });

  it('names an unknown option', () => {
    expect(usageError(['--nodes', '2'])).toBe('unknown option --nodes');
  });

  it('rejects what it cannot read, saying what was wrong', () => {
    expect(usageError(['extra'])).toMatch(/unexpected argument "extra"/);
    expect(usageError(['--dir'])).toMatch(/--dir/);
    expect(usageError(['--level', 'loud'])).toMatch(/--level "loud": not a level/);
    expect(usageError(['--since', 'yesterday-ish'])).toMatch(/--since "yesterday-ish": not a time/);
    expect(usageError(['--from-lamport', '-3'])).toMatch(/--from-lamport/);
    expect(usageError(['--follow', '--window-ms', '1.5'])).toMatch(/--window-ms "1.5": not a whole number/);
    expect(usageError(['--node', 'a b'])).toMatch(/--node "a b"/);
    expect(usageError(['--since', '15:00', '--until', '14:00'])).toMatch(/--since is later than --until/);
    expect(usageError(['--window-ms', '10'])).toMatch(/only applies with --follow/);
  });
});
