import type { LogRecord } from './parse';

/*
 * The ordering rule of the merged timeline.
 *
 * Lines sort by (Lamport stamp, wall time, source, line number). Why the stamp first: every process
 * stamps each line with its Lamport clock (lamportLogMixin), and the clock ticks on every gRPC send
 * and receive. If line x happened-before line y (earlier in the same process, or logged before a
 * message whose receipt led, directly or through other messages, to y), then stamp(x) < stamp(y)
 * (Lamport's clock condition), or the two share a stamp within one process, where the wall time and
 * line number keep them in the order they were written. So the timeline never shows an effect
 * before its cause. The converse does not hold: lines with no causal link (concurrent ones) come out
 * in an order the stamps happen to give, which may disagree with their wall times; read wall times
 * going backwards between two nodes as "these were independent", not as a clock bug.
 *
 * Wall time, then source name, break ties between equal stamps only so that every run prints the
 * same order; they claim nothing about causality.
 *
 * A line without a stamp (MariaDB's log, a stack trace on stderr, a process with no clock) cannot
 * take part in that order, so it is placed:
 *  - when it has a wall time of its own: right after the highest stamp any line written at or
 *    before that wall time carries, i.e. after every stamped line written before it;
 *  - otherwise: right after the line before it in the same file, which it continues (the lines
 *    of a stack trace stay together, under the last thing the process logged);
 *  - the first lines of a file with neither: at the very start (stamp 0, wall time 0).
 * Lines of one file keep their file order among themselves as long as the file's own stamps and
 * times do not go backwards.
 *
 * (scripts/lib/chaos/timeline.ts also merges node log lines, but sorts by wall time first: its
 * failover figures are wall-clock durations. The two orders differ on purpose, so nothing is shared.)
 */

/** A record and where it sits: `lamport` and `wallMs` are its sort key, its own or borrowed. */
export interface Entry {
  record: LogRecord;
  lamport: number;
  wallMs: number;
}

export function compareEntries(a: Entry, b: Entry): number {
  if (a.lamport !== b.lamport) return a.lamport - b.lamport;
  if (a.wallMs !== b.wallMs) return a.wallMs - b.wallMs;
  if (a.record.source !== b.record.source) return a.record.source < b.record.source ? -1 : 1;
  return a.record.seq - b.record.seq;
}

/** The highest Lamport stamp among stamped lines written at or before a wall time. */
export class StampsByWallTime {
  // Sorted by wall time; `highest[i]` is the largest stamp among points[0..i] and everything forgotten.
  private points: { wallMs: number; lamport: number }[] = [];
  private highest: number[] = [];
  private sorted = true;
  private forgotten = 0;

  add(wallMs: number, lamport: number): void {
    const last = this.points[this.points.length - 1];
    if (last !== undefined && wallMs < last.wallMs) this.sorted = false;
    this.points.push({ wallMs, lamport });
    if (this.sorted)
      this.highest.push(Math.max(this.highest[this.highest.length - 1] ?? this.forgotten, lamport));
  }

  /** 0 when no stamped line is that old. */
  at(wallMs: number): number {
    this.sort();
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]!.wallMs <= wallMs) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? this.forgotten : this.highest[lo - 1]!;
  }

  /**
   * Folds the points older than `wallMs` into one number, so following a log for hours stays in
   * bounded memory. A later question about a time before that answers with the folded maximum: the
   * line lands after everything forgotten, slightly later than it should.
   */
  forgetBefore(wallMs: number): void {
    this.sort();
    const keep = this.points.findIndex((p) => p.wallMs >= wallMs);
    const cut = keep < 0 ? this.points.length : keep;
    if (cut === 0) return;
    this.forgotten = this.highest[cut - 1]!;
    this.points = this.points.slice(cut);
    this.highest = this.highest.slice(cut);
  }

  private sort(): void {
    if (this.sorted) return;
    this.points.sort((a, b) => a.wallMs - b.wallMs); // stable: equal times keep their arrival order
    let max = this.forgotten;
    this.highest = this.points.map((p) => (max = Math.max(max, p.lamport)));
    this.sorted = true;
  }
}

/**
 * Gives records their place (see the rule at the top). Records come in batches, each in file order
 * per source; it remembers each source's last place between batches, so a continuation line read in
 * a later batch still follows its line. In one batch the stamped lines are all counted before any
 * unstamped line is placed, so reading a whole directory at once places them exactly.
 */
export class Placer {
  private readonly stamps = new StampsByWallTime();
  private readonly last = new Map<string, { lamport: number; wallMs: number }>();
  private newestMs = -Infinity;

  /** @param memoryMs how far back in wall time stamps are remembered individually (see forgetBefore). */
  constructor(private readonly memoryMs = 60_000) {}

  place(records: readonly LogRecord[]): Entry[] {
    for (const { lamport, wallMs } of records) {
      if (wallMs !== undefined) this.newestMs = Math.max(this.newestMs, wallMs);
      if (lamport !== undefined && wallMs !== undefined) this.stamps.add(wallMs, lamport);
    }
    const entries = records.map((record) => {
      const before = this.last.get(record.source);
      const place =
        record.lamport !== undefined
          ? { lamport: record.lamport, wallMs: record.wallMs ?? before?.wallMs ?? 0 }
          : record.wallMs !== undefined
            ? { lamport: this.stamps.at(record.wallMs), wallMs: record.wallMs }
            : (before ?? { lamport: 0, wallMs: 0 });
      this.last.set(record.source, place);
      return { record, ...place };
    });
    this.stamps.forgetBefore(this.newestMs - this.memoryMs);
    return entries;
  }
}

/** Every record of a whole read, placed and sorted: the batch timeline. */
export function mergeRecords(records: readonly LogRecord[]): Entry[] {
  return new Placer().place(records).sort(compareEntries);
}
