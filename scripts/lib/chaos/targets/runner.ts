import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

/*
 * How the Compose and Kubernetes targets run docker and kubectl: every command is an argv array
 * handed to a CommandRunner, so the unit tests check exactly what would run (with a fake runner) and
 * nothing in a test ever starts docker or kubectl. Long-running helpers (port forwards, log
 * followers) are Supervised: started again when they exit, until stopped.
 */

export interface RunResult {
  /** The exit code; 127 when the program could not be started at all. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the command's standard input (e.g. a manifest for `kubectl apply -f -`). */
  input?: string;
  timeoutMs?: number;
}

export interface BackgroundProcess {
  /** Resolves when the process has exited (or could not start). */
  readonly exited: Promise<void>;
  stop(): void;
}

export interface CommandRunner {
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Starts a long-running command; its standard output is appended to `outputFile` when given. */
  spawn(argv: readonly string[], options?: { outputFile?: string }): BackgroundProcess;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult,
  ) {
    // The first line usually says what went wrong, the last what to do (kubectl, docker).
    const lines = (result.stderr.trim() || result.stdout.trim()).split('\n').filter((l) => l.trim() !== '');
    const said = [...new Set([lines[0], lines.at(-1)])].filter((l) => l !== undefined).join(' … ');
    super(`\`${argv.join(' ')}\` failed (exit ${result.code})${said ? `: ${said}` : ''}`);
    this.name = 'CommandError';
  }
}

/** Runs a command and returns its standard output; a non-zero exit throws a CommandError. */
export async function runChecked(
  runner: CommandRunner,
  argv: readonly string[],
  options?: RunOptions,
): Promise<string> {
  const result = await runner.run(argv, options);
  if (result.code !== 0) throw new CommandError(argv, result);
  return result.stdout;
}

/** The real runner: child processes, no shell. */
export class ProcessRunner implements CommandRunner {
  run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const [file, ...args] = argv;
    return new Promise((resolve) => {
      const child = spawn(file!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.on('error', (error) => {
        clearTimeout(timer);
        resolve({ code: 127, stdout: '', stderr: `${file}: ${error.message}` });
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({
          code: code ?? (signal ? 128 : 1),
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8') + (signal ? `\nkilled by ${signal}` : ''),
        });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input ?? '');
    });
  }

  spawn(argv: readonly string[], options: { outputFile?: string } = {}): BackgroundProcess {
    const [file, ...args] = argv;
    const output = options.outputFile === undefined ? 'ignore' : openSync(options.outputFile, 'a');
    const child = spawn(file!, args, { stdio: ['ignore', output, 'ignore'] });
    if (typeof output === 'number') closeSync(output);
    const exited = new Promise<void>((resolve) => {
      child.on('error', () => resolve());
      child.on('exit', () => resolve());
    });
    return { exited, stop: () => void child.kill('SIGTERM') };
  }
}

/**
 * Keeps a command running: started again `backoffMs` after it exits (a port forward dies with its
 * pod, `docker logs --follow` ends with its container), until stop(). `argv(lastExit)` is asked at
 * every start with the time the previous run ended, so a log follower that starts again asks only
 * for what came after (nothing written twice, nothing lost while it was restarting).
 */
export class Supervised {
  private current: BackgroundProcess | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastExit: Date | undefined;

  constructor(
    private readonly runner: CommandRunner,
    private readonly argv: (lastExit: Date | undefined) => readonly string[],
    private readonly options: { outputFile?: string; backoffMs?: number; now?: () => Date } = {},
  ) {}

  start(): void {
    if (this.stopped) return;
    const child = this.runner.spawn(this.argv(this.lastExit), { outputFile: this.options.outputFile });
    this.current = child;
    void child.exited.then(() => {
      if (this.stopped || this.current !== child) return;
      this.lastExit = (this.options.now ?? (() => new Date()))();
      this.timer = setTimeout(() => this.start(), this.options.backoffMs ?? 500);
      this.timer.unref();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const child = this.current;
    this.current = undefined;
    if (child) {
      child.stop();
      await child.exited;
    }
  }
}
