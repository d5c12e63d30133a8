import type { LogEntry } from './types';

/*
 * The entries a master appended in its term, newest last, in memory: shipping them to slaves then
 * reads no log rows back from MariaDB (each Append to each slave read its entries and the previous
 * entry's term: two queries per slave per batch). Only this master's own appends of its own term go
 * in, and a master never rewrites its log during its term, so a hit is exactly what the log holds.
 * A miss (older entries, a slave far behind) reads the log as before.
 */
export class RecentEntries {
  private entries: LogEntry[] = [];

  constructor(private readonly capacity = 4096) {}

  /** Entries just committed to the log; a gap or overlap with what is held starts over from them. */
  add(appended: readonly LogEntry[]): void {
    const first = appended[0];
    if (first === undefined) return;
    const last = this.entries.at(-1);
    if (last === undefined || first.index !== last.index + 1 || first.term < last.term) this.entries = [];
    this.entries.push(...appended);
    if (this.entries.length > this.capacity) this.entries = this.entries.slice(-this.capacity);
  }

  /** Entries from..to (inclusive), or undefined unless every one of them is held. */
  range(from: number, to: number): LogEntry[] | undefined {
    const first = this.entries[0];
    if (first === undefined || from < first.index || to > first.index + this.entries.length - 1)
      return undefined;
    return this.entries.slice(from - first.index, to - first.index + 1);
  }

  /** The term of the entry at `index`, when it is held. */
  termAt(index: number): number | undefined {
    const first = this.entries[0];
    if (first === undefined) return undefined;
    return this.entries[index - first.index]?.term;
  }
}
