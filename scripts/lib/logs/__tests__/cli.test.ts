import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/*
 * scripts/logs.ts as a user runs it, in a child process. `node --import tsx` (as stack.ts starts the
 * services) rather than the tsx wrapper: one process, so the PID we stop is the CLI's own.
 */

const repoRoot = path.join(__dirname, '..', '..', '..', '..');
const script = path.join(repoRoot, 'scripts', 'logs.ts');

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];

function run(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: repoRoot,
    env: { ...process.env, TZ: 'UTC', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const pino = (lamport: number, fields: Record<string, unknown>): string =>
  `${JSON.stringify({ level: 30, time: new Date(Date.UTC(2030, 0, 1, 9, 0, 0) + lamport).toISOString(), lamport, ...fields })}\n`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'marquee-logs-cli-'));
  writeFileSync(
    path.join(dir, 'booking-1.log'),
    pino(1, { service: 'booking', nodeId: 1, pid: 11, msg: 'elected', term: 2 }) +
      pino(5, { service: 'booking', nodeId: 1, pid: 11, level: 40, msg: 'slow commit' }),
  );
  writeFileSync(
    path.join(dir, 'booking-2.log'),
    pino(3, { service: 'booking', nodeId: 2, pid: 12, msg: 'following node 1' }) + 'Error: boom\n',
  );
  writeFileSync(
    path.join(dir, 'gateway-1.log'),
    pino(2, { service: 'gateway', pid: 13, msg: 'POST /api/bookings' }),
  );
});
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run logs', () => {
  it('prints every file merged in Lamport order', async () => {
    const cli = run(['--dir', dir]);
    expect(await cli.exited).toBe(0);
    expect(cli.stdout().split('\n')).toEqual([
      'L=1      09:00:00.001  booking-1  INFO   elected term=2',
      'L=2      09:00:00.002  gateway-1  INFO   POST /api/bookings',
      'L=3      09:00:00.003  booking-2  INFO   following node 1',
      'L=-                    booking-2  -      Error: boom',
      'L=5      09:00:00.005  booking-1  WARN   slow commit',
      '',
    ]);
    expect(cli.stderr()).toBe('');
  });

  it('filters and prints JSON', async () => {
    const cli = run(['--dir', dir, '--json', '--node', '2']);
    expect(await cli.exited).toBe(0);
    const lines = cli
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({ source: 'booking-2', lamport: 3, msg: 'following node 1' }),
      { source: 'booking-2', msg: 'Error: boom' },
    ]);
  });

  it('with --follow prints new lines, and exits 0 on SIGTERM', async () => {
    const cli = run(['--dir', dir, '--follow', '--window-ms', '20', '--level', 'warn']);
    await until('the existing warning', () => cli.stdout().includes('slow commit'));
    appendFileSync(path.join(dir, 'booking-2.log'), pino(9, { level: 50, msg: 'disk full' }));
    writeFileSync(path.join(dir, 'catalog.log'), pino(8, { level: 40, msg: 'catalog warning' }));
    await until(
      'the new lines',
      () => cli.stdout().includes('disk full') && cli.stdout().includes('catalog warning'),
    );
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).not.toContain('elected'); // info, below --level warn
  });

  it('prints usage with --help', async () => {
    const cli = run(['--help']);
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toMatch(/^usage: npm run logs/);
  });

  it('exits 2 with a clear message when the directory is missing', async () => {
    const missing = path.join(dir, 'nope');
    const cli = run(['--dir', missing]);
    expect(await cli.exited).toBe(2);
    expect(cli.stderr()).toContain(`no log directory at ${missing}`);
    expect(cli.stdout()).toBe('');
  });

  it('exits 2 naming an unknown flag', async () => {
    const cli = run(['--dir', dir, '--colour']);
    expect(await cli.exited).toBe(2);
    expect(cli.stderr()).toContain('unknown option --colour');
    expect(cli.stdout()).toBe('');
  });
});
