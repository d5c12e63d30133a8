import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { PersistentState } from './types';

/**
 * Where a node keeps its election term and vote (Ready.persist). The runner writes it before any
 * message of the same Ready leaves and before it acts on the role change: an ack promises a vote and
 * a heartbeat claims a term, and both must survive a crash (election/README.md, the Ready contract).
 */
export interface TermStore {
  /** What the last incarnation saved; { term: 0 } on first boot. Rejects when the data is corrupt. */
  load(): Promise<PersistentState>;
  /** Durably records `state`; resolves only once a crash can no longer lose it. */
  save(state: PersistentState): Promise<void>;
}

/** A term file that exists but cannot be trusted: starting from term 0 could vote twice in a term. */
export class TermStoreCorruptError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(
      `election term file ${file} is corrupt (${problem}); refusing to start from term 0, which could ` +
        `vote twice in a term this node already voted in. Restore the file, or write into it ` +
        `{"term": N} with N above every term in the group's logs.`,
    );
    this.name = 'TermStoreCorruptError';
  }
}

/** The core never lowers its term; a store asked to do so has been handed the wrong state. */
export class TermRegressionError extends Error {
  constructor(from: number, to: number) {
    super(`election term must never go backwards: asked to save term ${to} over ${from}`);
    this.name = 'TermRegressionError';
  }
}

/**
 * {term, votedFor} as one line of JSON, replaced atomically like lamport-store.ts's mark: write a
 * temporary file, fsync it, rename it over the old one, fsync the directory. A crash leaves the old
 * state or the new one, never a torn file, so a file that does not parse means real damage.
 */
export class FileTermStore implements TermStore {
  private highest: number | undefined;
  /** One write at a time, in call order, so an older state can never land after a newer one. */
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  async load(): Promise<PersistentState> {
    const state = await readState(this.file);
    this.highest = Math.max(this.highest ?? 0, state.term);
    return state;
  }

  save(state: PersistentState): Promise<void> {
    const write = this.queue.then(() => this.write(state));
    // The queue must survive a failed write (disk full, then freed); the caller still sees the error.
    this.queue = write.catch(() => undefined);
    return write;
  }

  private async write(state: PersistentState): Promise<void> {
    checkState(state);
    this.highest ??= (await readState(this.file)).term;
    if (state.term < this.highest) throw new TermRegressionError(this.highest, state.term);
    const directory = path.dirname(this.file);
    await mkdir(directory, { recursive: true });
    const temporary = `${this.file}.tmp`;
    const handle = await open(temporary, 'w', 0o644);
    try {
      await handle.writeFile(`${JSON.stringify(toRecord(state))}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.file);
    await syncDirectory(directory);
    this.highest = state.term;
  }
}

/** In memory, with a count of writes; one instance outlives a runner to model a restart in tests. */
export class MemoryTermStore implements TermStore {
  writes = 0;

  constructor(public state: PersistentState = { term: 0 }) {}

  load(): Promise<PersistentState> {
    return Promise.resolve(this.state);
  }

  save(state: PersistentState): Promise<void> {
    try {
      checkState(state);
      if (state.term < this.state.term) throw new TermRegressionError(this.state.term, state.term);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.writes += 1;
    this.state = toRecord(state);
    return Promise.resolve();
  }
}

function toRecord(state: PersistentState): PersistentState {
  // JSON drops an undefined votedFor, so a file never says "votedFor": null.
  return state.votedFor === undefined ? { term: state.term } : { term: state.term, votedFor: state.votedFor };
}

function checkState(state: PersistentState): void {
  if (!Number.isSafeInteger(state.term) || state.term < 0)
    throw new RangeError(`election term must be a non-negative integer (got ${String(state.term)})`);
  if (state.votedFor !== undefined && (!Number.isSafeInteger(state.votedFor) || state.votedFor < 1))
    throw new RangeError(`votedFor must be a node id (got ${String(state.votedFor)})`);
}

async function readState(file: string): Promise<PersistentState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    // Missing means a node that never persisted a term: its first start.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { term: 0 };
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TermStoreCorruptError(file, text.length === 0 ? 'empty' : 'not JSON');
  }
  const record = parsed as { term?: unknown; votedFor?: unknown } | null;
  const state = { term: record?.term, votedFor: record?.votedFor } as PersistentState;
  try {
    checkState(state);
  } catch (error) {
    throw new TermStoreCorruptError(file, (error as Error).message);
  }
  return toRecord(state);
}

/** Makes the rename itself durable; without it a power cut can bring back the old directory entry. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some filesystems cannot fsync a directory; the rename is then as durable as the platform allows.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw error;
  } finally {
    await handle.close();
  }
}
