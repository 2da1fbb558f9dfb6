// Latency figures the benchmarks report: nearest-rank percentiles of one run's measurements.

export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
}

/** p50, p99 (nearest rank: the smallest value at or above that share of all) and the largest. */
export function latencySummary(values: number[]): LatencySummary {
  if (values.length === 0) throw new Error('no measurements');
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1)! };
}
