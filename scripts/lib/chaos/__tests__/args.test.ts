import { USAGE, UsageError, parseArgs } from '../args';

describe('chaos CLI arguments', () => {
  it('reads commands, nodes and options with their defaults', () => {
    expect(parseArgs(['status'])).toEqual({
      command: 'status',
      cycles: 3,
      workers: 2,
      pauseMs: 1500,
      dataDir: '.data/local',
      outDir: '.data/chaos',
    });
    expect(parseArgs(['soak', '--cycles', '5', '--pause-ms=800'])).toMatchObject({
      command: 'soak',
      cycles: 5,
      workers: 4,
      pauseMs: 800,
    });
    expect(parseArgs(['partition', '2', '--workers', '0'])).toMatchObject({ node: 2, workers: 0 });
    expect(parseArgs(['heal'])).not.toHaveProperty('node');
    expect(parseArgs(['heal', '3']).node).toBe(3);
    expect(parseArgs(['pause-master', '--ms', '2000']).pauseMs).toBe(2000);
    expect(parseArgs(['restart', '1', '--data-dir', '/tmp/x']).dataDir).toBe('/tmp/x');
  });

  it('etcd commands take no node; kill-etcd and pause-etcd watch for --ms (default 5000)', () => {
    expect(parseArgs(['kill-etcd'])).toMatchObject({ command: 'kill-etcd', pauseMs: 5000, workers: 2 });
    expect(parseArgs(['pause-etcd', '--ms', '800']).pauseMs).toBe(800);
    expect(parseArgs(['restart-etcd', '--workers', '0'])).toMatchObject({
      command: 'restart-etcd',
      workers: 0,
    });
    expect(() => parseArgs(['kill-etcd', '1'])).toThrow('kill-etcd: unexpected argument "1"');
    expect(() => parseArgs(['restart-etcd', '--ms', '5'])).toThrow('--ms does not apply to restart-etcd');
  });

  it.each([
    [[], 'no command given'],
    [['explode'], 'unknown command "explode"'],
    [['partition'], 'partition: which node?'],
    [['restart', 'three'], 'node: must be an integer >= 1, got "three"'],
    [['kill-master', '3'], 'kill-master: unexpected argument "3"'],
    [['heal', '1', '2'], 'heal: unexpected argument "2"'],
    [['soak', '--cycles', '0'], '--cycles: must be an integer >= 1, got "0"'],
    [['soak', '--cycles'], '--cycles needs a value'],
    [['soak', '--fast'], 'unknown option --fast'],
    [['status', '--cycles', '2'], '--cycles does not apply to status'],
  ])('%j is refused: %s', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  it('the usage text lists every command', () => {
    for (const command of [
      'status',
      'kill-master',
      'pause-master',
      'partition',
      'heal',
      'restart',
      'soak',
      'kill-etcd',
      'pause-etcd',
      'restart-etcd',
    ])
      expect(USAGE).toContain(`  ${command}`);
  });
});
