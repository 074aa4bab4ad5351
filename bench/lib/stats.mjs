// Small statistics helpers shared by the workers and the driver: median and percentiles
// (linear interpolation between closest ranks) over plain arrays of numbers.

/** Sorted copy of the finite numbers in `values`. */
function sortedFinite(values) {
  return values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
}

/** The p-th percentile (0..100) of `values`, or null when there are none. */
export function percentile(values, p) {
  const s = sortedFinite(values);
  if (s.length === 0) return null;
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

/** The median of `values`, or null when there are none. */
export function median(values) {
  return percentile(values, 50);
}
