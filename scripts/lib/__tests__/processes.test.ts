import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startProcess, whenParentGone } from '../processes';

const repoRoot = path.join(__dirname, '..', '..', '..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead, only not yet reaped by its (new) parent.
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function dead(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return !alive(pid);
}

const stubborn = "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000);";

/** Waits until the child says its SIGTERM handler is installed. */
async function ready(logFile: string): Promise<void> {
  const said = (): boolean => {
    try {
      return readFileSync(logFile, 'utf8').includes('ready');
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 200 && !said(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
}

describe('processes a launcher starts', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'marquee-processes-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps logging what a child writes to stderr after its stdout closed (the launcher crashed on it)', async () => {
    const logFile = path.join(dir, 'half-closed.log');
    const child = startProcess(
      'half-closed',
      'bash',
      ['-c', 'echo out; exec 1>&-; sleep 0.2; echo err >&2'],
      {
        logFile,
      },
    );
    expect(await child.exited).toBe(0);
    // The log is written once the child's streams closed; stderr's line is there, nothing crashed.
    for (let i = 0; i < 100 && !readFileSync(logFile, 'utf8').includes('err'); i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(readFileSync(logFile, 'utf8')).toBe('out\nerr\n');
  });

  it('stop() SIGKILLs a child that ignores SIGTERM once the grace is over', async () => {
    const logFile = path.join(dir, 'stubborn.log');
    const child = startProcess('stubborn', process.execPath, ['-e', stubborn], { logFile });
    try {
      await ready(logFile);
      await child.stop('SIGTERM', 200);
      expect(child.child.signalCode).toBe('SIGKILL');
    } finally {
      if (alive(child.pid)) process.kill(child.pid, 'SIGKILL');
    }
  });

  it('a launcher that exits without stopping its children takes them with it (no orphan under PID 1)', async () => {
    const launcher = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'fixtures', 'leaky-launcher.ts'), dir],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    launcher.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => launcher.once('exit', resolve));
    const pid = Number(output.trim());
    try {
      expect(code).toBe(0);
      expect(pid).toBeGreaterThan(0);
      expect(await dead(pid)).toBe(true);
    } finally {
      if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 30_000);

  it('npm start runs the launcher under plain node (the tsx CLI SIGKILLs a child slow to confirm Ctrl-C), in place of the shell (which passes no SIGTERM on)', () => {
    const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(manifest.scripts.start).toBe('exec node --import tsx scripts/start.ts');
  });
});

describe('whenParentGone', () => {
  it('calls back once when the parent PID changes (reparented to PID 1), and not before', () => {
    let parent = 4242;
    const calls: string[] = [];
    const watch = whenParentGone(() => calls.push('gone'), { parentPid: () => parent });
    try {
      watch.check();
      expect(calls).toEqual([]);
      parent = 1;
      watch.check();
      watch.check();
      expect(calls).toEqual(['gone']);
    } finally {
      watch.stop();
    }
  });
});
