/**
 * In-process cache for hot catalog reads (GetEvent, GetShow, ListShows, SearchEvents).
 *
 * Invalidation is deliberately blunt: every write through this process clears everything, because
 * working out which search pages a write affects is where caches go wrong, and catalog writes are
 * rare next to reads. A write is therefore visible to the next read once it has returned.
 *
 * The generation counter closes the one race that remains: a read that started before a write, and
 * read the old row, must not put that old value back after the write cleared the cache. Another
 * catalog replica's writes are only bounded by the TTL.
 */
export interface CacheStats {
  hits: number;
  misses: number;
  size: number;
}

export class ReadCache {
  private readonly entries = new Map<string, { value: unknown; expiresAt: number }>();
  private generation = 0;
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  /** The cached value for `key`, or `load()`'s result, cached when it is not undefined. */
  async getOrLoad<T>(key: string, load: () => Promise<T>): Promise<T> {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > this.now()) {
      this.hits += 1;
      return entry.value as T;
    }
    this.misses += 1;
    if (entry) this.entries.delete(key);
    const generation = this.generation;
    const value = await load();
    if (value !== undefined && this.ttlMs > 0 && generation === this.generation) {
      // Map keeps insertion order, so the first key is the oldest entry.
      if (this.entries.size >= this.maxEntries)
        this.entries.delete(this.entries.keys().next().value as string);
      this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
    }
    return value;
  }

  clear(): void {
    this.generation += 1;
    this.entries.clear();
  }

  stats(): CacheStats {
    return { hits: this.hits, misses: this.misses, size: this.entries.size };
  }
}
