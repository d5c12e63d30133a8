import { rmSync } from 'node:fs';
import path from 'node:path';
import { startPrivateEtcd } from './etcd';
import type { PrivateEtcd } from './etcd';
import { freePort } from './processes';
import { StackOpError } from './stack-control';
import type { EtcdInfo, EtcdProcessState } from './stack-control';

/*
 * The stack's private etcd (the booking group's fallback lease): one member on free ports, its data
 * under <dataDir>/etcd, kept across runs like the MariaDB data and wiped with it (MARQUEE_FRESH=1).
 * Chaos kills, pauses, resumes and restarts it through the control API; a restart reuses the same
 * ports and data, so the booking nodes' configured endpoint stays right. Signalled by PID only.
 */

export type StackEtcdMode =
  /** Start a private etcd and point the booking nodes at it (npm start's default). */
  | 'private'
  /** No etcd: the booking nodes run bully + quorum alone (MARQUEE_ETCD_ENDPOINTS empty). */
  | 'off'
  /** Use an etcd somebody else runs. */
  | { readonly endpoints: string };

export class StackEtcd {
  private current: PrivateEtcd | undefined;
  private state: EtcdProcessState = 'stopped';
  /** Operations one at a time: a kill arriving during a restart waits for it. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dataDir: string,
    private readonly logFile: string,
    private readonly ports: { readonly client: number; readonly peer: number },
  ) {}

  /** Starts it (fresh: wipes its data first) and resolves once it serves reads. */
  static async start(options: { dataDir: string; logFile: string; fresh: boolean }): Promise<StackEtcd> {
    if (options.fresh) rmSync(options.dataDir, { recursive: true, force: true });
    const client = await freePort();
    const peer = await freePort();
    const etcd = new StackEtcd(options.dataDir, options.logFile, { client, peer });
    await etcd.launch();
    return etcd;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.ports.client}`;
  }

  info(): EtcdInfo {
    return { endpoint: this.endpoint, pid: this.current?.process.pid, state: this.state };
  }

  kill(): Promise<EtcdInfo> {
    return this.run(async () => {
      const etcd = this.alive('kill');
      this.state = 'killed';
      this.current = undefined;
      await etcd.process.stop('SIGKILL');
    });
  }

  pause(): Promise<EtcdInfo> {
    return this.run(() => {
      const etcd = this.alive('pause');
      if (this.state === 'paused') throw new StackOpError(409, 'etcd is already paused');
      process.kill(etcd.process.pid, 'SIGSTOP');
      this.state = 'paused';
    });
  }

  resume(): Promise<EtcdInfo> {
    return this.run(() => {
      const etcd = this.alive('resume');
      if (this.state !== 'paused') throw new StackOpError(409, `etcd is not paused (it is ${this.state})`);
      process.kill(etcd.process.pid, 'SIGCONT');
      this.state = 'running';
    });
  }

  /** Stops it if it runs, then starts it again on the same ports and data. */
  restart(): Promise<EtcdInfo> {
    return this.run(async () => {
      await this.stopCurrent();
      await this.launch();
    });
  }

  /** Lets an operation in flight finish, then stops it (resumed first if paused). */
  async stop(): Promise<void> {
    await this.queue;
    await this.stopCurrent();
  }

  private async launch(): Promise<void> {
    this.current = await startPrivateEtcd({
      dataDir: this.dataDir,
      clientPort: this.ports.client,
      peerPort: this.ports.peer,
      logFile: this.logFile,
      readyTimeoutMs: 20000,
    });
    this.state = 'running';
    const launched = this.current;
    void launched.process.exited.then(() => {
      // kill() and stop() clear `current` first: only an exit on its own gets here.
      if (this.current !== launched) return;
      this.current = undefined;
      this.state = 'killed';
    });
  }

  private async stopCurrent(): Promise<void> {
    const etcd = this.current;
    this.current = undefined;
    if (etcd) await etcd.stop();
    this.state = 'stopped';
  }

  private alive(op: string): PrivateEtcd {
    if (!this.current) throw new StackOpError(409, `etcd is ${this.state}: cannot ${op} it`);
    return this.current;
  }

  private run(work: () => void | Promise<void>): Promise<EtcdInfo> {
    const result = this.queue.then(async () => {
      await work();
      return this.info();
    });
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/**
 * MARQUEE_ETCD_ENDPOINTS as `npm start` reads it: unset → a private etcd; empty → none (bully +
 * quorum alone); anything else → that etcd (the booking nodes validate the URLs and name the
 * variable when one is bad).
 */
export function etcdModeFromEnv(value: string | undefined): StackEtcdMode {
  if (value === undefined) return 'private';
  if (value.trim() === '') return 'off';
  return { endpoints: value.trim() };
}

/** Where the stack keeps etcd's data, next to MariaDB's. */
export function etcdDataDir(stackDataDir: string): string {
  return path.join(stackDataDir, 'etcd');
}
