import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { LamportClock, isLamportStamp } from './lamport';

/*
 * Why a reservation and not "save the counter":
 *
 * The counter must never go backwards across a restart: a stamp this node already sent must never be
 * handed out again, or two events would share (lamport, nodeId) and a restarted node could stamp an
 * effect lower than its own cause. Writing the counter on every tick would put an fsync on every
 * gRPC call. Instead the store keeps a high-water MARK: "stamps up to MARK may have been issued".
 *
 *  - On start, the clock resumes AT the stored mark, so its first stamp is mark + 1: above anything
 *    that could have left the process before the crash.
 *  - While running, the clock keeps the durable mark about one BLOCK ahead of its value: when the
 *    value comes within half a block of the requested mark, it asks the store (in the background) for
 *    value + block. With the default block of 1000, that is one fsync per ~500 stamps, and the write
 *    finishes long before the value catches up, so nobody waits.
 *  - The hard rule: a stamp may leave the process (request or response header, replicated log entry)
 *    only once the durable mark covers it. `whenDurable(stamp)` returns undefined when that already
 *    holds (the normal case, fully synchronous) and a promise when it does not, which happens after a
 *    receive() jumps far ahead or if the disk is slower than the traffic. The interceptors wait on it.
 *  - Restarting skips the unused rest of the last block. That is harmless: Lamport values only have
 *    to increase, not to be dense.
 *
 * Log lines read `now()` and are not gated, so a crash in the few milliseconds between a jump and its
 * reservation can leave log lines stamped above the mark the next run resumes from. Messages and log
 * entries, which is what other nodes act on, are always covered.
 */

/** Where a clock keeps its high-water mark. */
export interface LamportStore {
  /** The highest mark ever reserved; 0 when nothing was ever stored. Rejects when the data is corrupt. */
  load(): Promise<number>;
  /** Durably records that stamps up to `upTo` may be issued. Never lowers the mark. */
  reserve(upTo: number): Promise<void>;
}

/** A stored mark that exists but cannot be trusted: restarting from 0 would reuse issued stamps. */
export class LamportStoreCorruptError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(
      `Lamport mark file ${file} is corrupt (${problem}); refusing to restart the clock from 0, which would reuse ` +
        `stamps this node already issued. Restore the file, or write into it a number above every stamp this node ` +
        `ever issued (for example the highest "lamport" in its logs plus 1000).`,
    );
    this.name = 'LamportStoreCorruptError';
  }
}

/** The file's whole content: the mark in decimal and a newline, so `cat` shows it and an operator can fix it. */
const MARK_FILE = /^([0-9]{1,16})\n?$/;

/**
 * The mark in one small file, replaced atomically: write a temporary file, fsync it, rename it over
 * the old one, fsync the directory. A crash at any point leaves either the old mark or the new one,
 * never a torn or empty file, so a file that does not parse means real damage and is reported.
 */
export class FileLamportStore implements LamportStore {
  /** Highest mark known to be on disk; undefined until read. Guards against ever writing a lower one. */
  private highest: number | undefined;
  /** Writes run one at a time, in call order, so a slow older write cannot land after a newer one. */
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  async load(): Promise<number> {
    const mark = await readMark(this.file);
    this.highest = Math.max(this.highest ?? 0, mark);
    return mark;
  }

  reserve(upTo: number): Promise<void> {
    if (!isLamportStamp(upTo)) return Promise.reject(new RangeError(`not a Lamport stamp: ${String(upTo)}`));
    const write = this.queue.then(() => this.write(upTo));
    // The queue must survive a failed write (disk full now, space freed later); the caller still sees the error.
    this.queue = write.catch(() => undefined);
    return write;
  }

  private async write(upTo: number): Promise<void> {
    this.highest ??= await readMark(this.file);
    if (upTo <= this.highest) return;
    const directory = path.dirname(this.file);
    await mkdir(directory, { recursive: true });
    const temporary = `${this.file}.tmp`;
    const handle = await open(temporary, 'w', 0o644);
    try {
      await handle.writeFile(`${upTo}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.file);
    await syncDirectory(directory);
    this.highest = upTo;
  }
}

async function readMark(file: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    // Missing means a node that never issued a stamp: its first start.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const match = MARK_FILE.exec(text);
  const mark = match ? Number(match[1]) : NaN;
  if (!isLamportStamp(mark)) {
    const shown = text.length > 40 ? `${text.slice(0, 40)}...` : text;
    throw new LamportStoreCorruptError(
      file,
      text.length === 0 ? 'empty' : `content ${JSON.stringify(shown)} is not a mark`,
    );
  }
  return mark;
}

/** Makes the rename itself durable; without it a power cut can bring back the old directory entry. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some filesystems cannot fsync a directory; the rename is then as durable as that platform allows.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw error;
  } finally {
    await handle.close();
  }
}

/** For tests and tools: the mark in memory, with a count of writes to check the batching. */
export class MemoryLamportStore implements LamportStore {
  writes = 0;

  constructor(public mark = 0) {}

  load(): Promise<number> {
    return Promise.resolve(this.mark);
  }

  reserve(upTo: number): Promise<void> {
    if (!isLamportStamp(upTo)) return Promise.reject(new RangeError(`not a Lamport stamp: ${String(upTo)}`));
    this.writes += 1;
    this.mark = Math.max(this.mark, upTo);
    return Promise.resolve();
  }
}

/** Raised to whoever waits on whenDurable() when the store could not record the reservation. */
export class LamportPersistError extends Error {
  constructor(upTo: number, cause: unknown) {
    super(
      `could not persist the Lamport mark ${upTo}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'LamportPersistError';
  }
}

export interface PersistentClockOptions {
  /** How far ahead of the counter a reservation reaches; one store write per about block/2 stamps. */
  block?: number;
}

interface Waiter {
  stamp: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * A LamportClock whose counter survives restarts. tick() and receive() stay synchronous; the store
 * is written in the background, at most one write at a time, each write carrying the newest target
 * (so a burst of requests costs one fsync, not one each).
 */
export class PersistentLamportClock extends LamportClock {
  /** Highest mark the store has confirmed. */
  private durable: number;
  /** Highest mark asked for; a write is in flight (or about to be) while wanted > durable. */
  private wanted: number;
  private writing = false;
  private waiters: Waiter[] = [];
  private readonly block: number;
  private readonly lowWater: number;

  private constructor(
    private readonly store: LamportStore,
    mark: number,
    block: number,
  ) {
    super(mark);
    this.durable = mark;
    this.wanted = mark;
    this.block = block;
    this.lowWater = Math.ceil(block / 2);
  }

  /**
   * Loads the mark and resumes there, then reserves the first block before returning, so the first
   * calls after a start do not wait on the disk. Rejects on a corrupt or unwritable store: a node
   * that cannot keep its clock monotonic should not start.
   */
  static async open(
    store: LamportStore,
    options: PersistentClockOptions = {},
  ): Promise<PersistentLamportClock> {
    const block = options.block ?? 1000;
    if (!Number.isSafeInteger(block) || block < 1)
      throw new RangeError(`Lamport reservation block must be a positive integer, got ${block}`);
    const mark = await store.load();
    if (!isLamportStamp(mark)) throw new RangeError(`Lamport store returned an invalid mark ${String(mark)}`);
    const clock = new PersistentLamportClock(store, mark, block);
    clock.request(clock.ahead(mark));
    await clock.flush();
    return clock;
  }

  /** The highest stamp the store has confirmed; stamps up to it may leave the process. */
  get durableMark(): number {
    return this.durable;
  }

  override whenDurable(stamp: number): Promise<void> | undefined {
    if (stamp <= this.durable) return undefined;
    this.request(stamp);
    return this.waitFor(stamp);
  }

  /** Waits until every reservation asked for so far is on disk (graceful shutdown, tests). */
  flush(): Promise<void> {
    return this.wanted <= this.durable ? Promise.resolve() : this.waitFor(this.wanted);
  }

  protected override advanced(value: number): void {
    if (value + this.lowWater > this.wanted) this.request(this.ahead(value));
  }

  private ahead(value: number): number {
    return Math.min(value + this.block, Number.MAX_SAFE_INTEGER - 1);
  }

  private request(target: number): void {
    if (target <= this.wanted) return;
    this.wanted = target;
    // pump() catches everything it awaits, so nothing here can become an unhandled rejection.
    if (!this.writing) void this.pump();
  }

  private waitFor(stamp: number): Promise<void> {
    return new Promise((resolve, reject) => this.waiters.push({ stamp, resolve, reject }));
  }

  private async pump(): Promise<void> {
    this.writing = true;
    try {
      while (this.wanted > this.durable) {
        const target = this.wanted;
        try {
          await this.store.reserve(target);
        } catch (error) {
          // Nothing new is durable, so nobody waiting can proceed. Forget the request so the next
          // advance or whenDurable() retries (the disk may recover); until then, sends fail closed.
          this.wanted = this.durable;
          const failure = new LamportPersistError(target, error);
          const waiters = this.waiters;
          this.waiters = [];
          for (const waiter of waiters) waiter.reject(failure);
          return;
        }
        this.durable = Math.max(this.durable, target);
        const pending: Waiter[] = [];
        for (const waiter of this.waiters) {
          if (waiter.stamp <= this.durable) waiter.resolve();
          else pending.push(waiter);
        }
        this.waiters = pending;
      }
    } finally {
      this.writing = false;
    }
  }
}

/** The process clock: persisted in `file` when one is configured, in memory otherwise. */
export async function openProcessClock(file: string): Promise<LamportClock> {
  return file === '' ? new LamportClock() : PersistentLamportClock.open(new FileLamportStore(file));
}
