import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';

/** A process we started; stopped by its PID, never by name. */
export interface ManagedProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/*
 * Children still running, by PID. Should this process end before it stopped them (an uncaught
 * error, process.exit on some path), its 'exit' hook SIGKILLs them: a child left behind gets PID 1
 * as parent and nobody stops it (issue 13: a booking node blocked in Atomics.wait, which runs no
 * signal handler and no timer, outlived `npm start`). The hook must be synchronous: 'exit' runs no
 * more event-loop turns. Only SIGKILL of this process itself escapes it, which is why `npm start`
 * runs under plain `node --import tsx`, not the tsx CLI: on Ctrl-C the CLI SIGKILLs its child when
 * that child does not confirm the signal within about 60 ms, which a busy launcher on two shared
 * cores easily misses.
 */
const running = new Map<number, string>();
let hooked = false;

function reapOnExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const pid of running.keys()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone between its exit and our bookkeeping.
      }
    }
  });
}

/** PIDs of the children startProcess started that have not exited yet (for tests and diagnostics). */
export function runningChildren(): ReadonlyMap<number, string> {
  return running;
}

/** Starts `command` with its stdout/stderr appended to `logFile`. */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): ManagedProcess {
  mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const spawnOptions: SpawnOptions = {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd,
  };
  const child = spawn(command, args, spawnOptions);
  // Both streams into one file, ended once the child's streams have all closed: piping with the
  // default end closed the file when stdout ended, and stderr's next write crashed the launcher
  // ("write after end", seen in bench:flash when a node exited).
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  child.once('close', () => log.end());
  log.on('error', (error) => console.error(`${name}: writing ${options.logFile} failed: ${error.message}`));
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  const pid = child.pid;
  reapOnExit();
  running.set(pid, name);
  void exited.then(() => running.delete(pid));
  return {
    name,
    pid,
    child,
    exited,
    stop: async (signal = 'SIGTERM', graceMs = 10000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(pid, signal);
      } catch {
        return; // already gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resolves once something accepts TCP connections on host:port, or rejects after `timeoutMs`. */
export async function waitForPort(
  host: string,
  port: number,
  timeoutMs: number,
  exited?: Promise<unknown>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited?.then(() => (gone = true));
  while (Date.now() < deadline) {
    if (gone) throw new Error(`process exited before listening on ${host}:${port}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing listened on ${host}:${port} within ${timeoutMs} ms`);
}

/*
 * Ports for the processes a stack or a test starts. Not the kernel's choice (listen on 0): that
 * comes from the ephemeral range, which outgoing connections draw from too, so between our check
 * and the child's bind another socket may take it; and the kernel may hand the same port to two
 * calls in a row, giving two services one port. Instead: a random port below the ephemeral range,
 * never one this process handed out before, checked free by binding it.
 */
const PORT_RANGE = { low: 20_000, high: 32_000 };
const handedOut = new Set<number>();

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port that was free a moment ago and that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_RANGE.low + Math.floor(Math.random() * (PORT_RANGE.high - PORT_RANGE.low));
    if (handedOut.has(port)) continue;
    if (!(await canBind(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found in ${PORT_RANGE.low}-${PORT_RANGE.high} after 200 tries`);
}

/**
 * Calls `onGone` once this process's parent has gone (it was reparented, to PID 1 or a subreaper).
 * `npm start` needs it: npm runs the script through `sh -c`, and a SIGTERM sent to npm stops npm and
 * the shell but never reaches the launcher, which would run on with the whole stack. Polled, since
 * Linux tells a process nothing when its parent dies; the timer does not keep the process alive.
 */
export function whenParentGone(
  onGone: () => void,
  options: { parentPid?: () => number; everyMs?: number } = {},
): { check(): void; stop(): void } {
  const parentPid = options.parentPid ?? (() => process.ppid);
  const original = parentPid();
  let done = false;
  const check = (): void => {
    if (done || parentPid() === original) return;
    done = true;
    clearInterval(timer);
    onGone();
  };
  const timer = setInterval(check, options.everyMs ?? 500);
  timer.unref();
  return {
    check,
    stop: () => {
      done = true;
      clearInterval(timer);
    },
  };
}
