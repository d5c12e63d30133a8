/** Small statistics for the benchmarks: nearest-rank percentiles over already sorted samples. */

/**
 * The p-th percentile of `sorted` (ascending), nearest rank rounded down: with 20 samples, p50 is the
 * 11th smallest and p99 is the largest. NaN when there are no samples.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface Summary {
  count: number;
  min: number;
  median: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Count, min, median, p90, p99, max and mean of `values` (any order); NaN fields when empty. */
export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    min: sorted[0] ?? NaN,
    median: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
    mean: sorted.length === 0 ? NaN : sorted.reduce((sum, v) => sum + v, 0) / sorted.length,
  };
}
