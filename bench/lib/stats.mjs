// Order statistics for latency samples.

/** The q-quantile (0..1) of `samples` by the nearest-rank method; NaN when empty. */
export function quantile(samples, q) {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile ${q} is outside 0..1`);
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}

export const median = (samples) => quantile(samples, 0.5);
export const p99 = (samples) => quantile(samples, 0.99);

/** Element-wise sum of two equally long sample lists (acquire + release = one cycle). */
export function addSamples(a, b) {
  if (a.length !== b.length) throw new RangeError(`sample lists differ in length: ${a.length} and ${b.length}`);
  return a.map((x, i) => x + b[i]);
}
