/*
 * The hold-back buffer of --follow. Lines of different files reach the reader at different moments
 * (each process writes when it writes; the reader notices a little later), so printing each line as
 * soon as it is read would print a cause after its effect whenever the effect's file happened to be
 * read first. Each item is held for `windowMs` after it arrived, and the held items stay sorted: an
 * item read late but sorting earlier gets printed before the ones it precedes.
 *
 * The trade-off: every line shows up `windowMs` late, and an item arriving more than `windowMs`
 * after something it sorts before was already printed comes out of order; it is printed anyway (as
 * soon as its own time is up), never dropped. A longer window buys order with latency.
 *
 * Pure: the caller says what time it is.
 */
export class ReorderWindow<T> {
  // Sorted by `compare`; equal items keep their arrival order.
  private readonly held: { item: T; dueMs: number }[] = [];

  constructor(
    private readonly windowMs: number,
    private readonly compare: (a: T, b: T) => number,
  ) {}

  get size(): number {
    return this.held.length;
  }

  /** Items that arrived now, in any order. */
  push(items: readonly T[], nowMs: number): void {
    if (items.length === 0) return;
    const dueMs = nowMs + this.windowMs;
    for (const item of items) this.held.push({ item, dueMs });
    // One sort per batch, not one insertion per item: the first read of a directory can be a million
    // lines. Array.prototype.sort is stable and fast on the already sorted runs this mostly is.
    this.held.sort((a, b) => this.compare(a.item, b.item));
  }

  /**
   * The items whose time is up, in order, together with every held item that sorts before one of
   * them: holding those longer could only print them after something they precede.
   */
  release(nowMs: number): T[] {
    let last = -1;
    this.held.forEach((h, index) => {
      if (h.dueMs <= nowMs) last = index;
    });
    return this.held.splice(0, last + 1).map((h) => h.item);
  }

  /** When the next item's time is up (undefined: nothing held). */
  nextDueMs(): number | undefined {
    let next: number | undefined;
    for (const h of this.held) if (next === undefined || h.dueMs < next) next = h.dueMs;
    return next;
  }

  /** Everything held, in order: for stopping. */
  drain(): T[] {
    return this.held.splice(0).map((h) => h.item);
  }
}
