import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { compareEntries, mergeRecords, Placer } from './merge';
import type { Entry } from './merge';
import { parseLine } from './parse';
import { ReorderWindow } from './reorder-window';
import { DirectoryTail } from './tail';

/*
 * The I/O around the pure parts: read a log directory once (the batch timeline), or keep reading it
 * (--follow). The follower reads when the directory watcher says something changed, and on a slow
 * poll besides, because fs.watch misses events on some file systems (network mounts, some container
 * volumes). New lines go through the Placer into the ReorderWindow; a timer releases them when
 * their time is up.
 */

/** Everything in the directory now, merged (see merge.ts for the order). */
export async function readTimeline(dir: string): Promise<Entry[]> {
  const lines = await new DirectoryTail(dir).read('include');
  return mergeRecords(lines.map((line) => parseLine(line.text, line.source, line.seq)));
}

export interface FollowOptions {
  dir: string;
  /** How long each line is held for re-sorting (see reorder-window.ts). */
  windowMs: number;
  /** The safety-net poll besides fs.watch (default 500 ms). */
  pollMs?: number;
  /** Called with released entries, in order. */
  onEntries: (entries: Entry[]) => void;
  /**
   * A read failed (the directory was removed, a permission changed); following goes on, and the
   * same trouble is reported once, not on every poll, until a read succeeds again.
   */
  onError: (error: unknown) => void;
}

export class LogFollower {
  private readonly tail: DirectoryTail;
  private readonly placer = new Placer();
  private readonly window: ReorderWindow<Entry>;
  private readonly watcher: FSWatcher | undefined;
  private readonly poll: NodeJS.Timeout;
  private releaseTimer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private stopped = false;
  private failing = false;

  private constructor(private readonly options: FollowOptions) {
    this.tail = new DirectoryTail(options.dir);
    this.window = new ReorderWindow(options.windowMs, compareEntries);
    this.watcher = this.watchDirectory();
    this.poll = setInterval(() => this.requestRead(), options.pollMs ?? 500);
  }

  /** Starts following: the first read (everything already there) begins at once. */
  static start(options: FollowOptions): LogFollower {
    const follower = new LogFollower(options);
    follower.requestRead();
    return follower;
  }

  /** Lines read and not yet released. */
  get held(): number {
    return this.window.size;
  }

  /** Stops watching and reading, then hands out every held line; nothing runs after it resolves. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.releaseTimer);
    await this.reading;
    this.emit(this.window.drain());
  }

  private watchDirectory(): FSWatcher | undefined {
    try {
      const watcher = watch(this.options.dir, () => this.requestRead());
      watcher.on('error', (error) => {
        watcher.close(); // the poll carries on alone
        this.report(error);
      });
      return watcher;
    } catch (error) {
      this.report(error);
      return undefined;
    }
  }

  // One read at a time; a request during a read means "read once more when done", as the change it
  // reports may have come after the running read passed that file.
  private requestRead(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readOnce().finally(() => {
      this.reading = undefined;
      if (this.readAgain) {
        this.readAgain = false;
        this.requestRead();
      }
    });
  }

  private async readOnce(): Promise<void> {
    try {
      const lines = await this.tail.read('hold');
      this.failing = false;
      const records = lines.map((line) => parseLine(line.text, line.source, line.seq));
      this.window.push(this.placer.place(records), Date.now());
      if (!this.stopped) this.release(); // after stop(), its drain hands these out
    } catch (error) {
      this.report(error);
    }
  }

  private report(error: unknown): void {
    if (!this.failing) this.options.onError(error);
    this.failing = true;
  }

  private release(): void {
    clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    const now = Date.now();
    this.emit(this.window.release(now));
    const next = this.window.nextDueMs();
    if (next !== undefined) this.releaseTimer = setTimeout(() => this.release(), Math.max(0, next - now));
  }

  private emit(entries: Entry[]): void {
    if (entries.length > 0) this.options.onEntries(entries);
  }
}
