// Small numeric and text helpers of the load tool: percentiles and the results table.

/** The p-th percentile (nearest rank) of an ascending array; NaN when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

const ms = (v) => (Number.isFinite(v) ? String(Math.round(v)) : '-');
const num = (v) => (v === undefined || v === null ? '-' : String(v));

/** The results of one or more runs, one column each, as an aligned text table. */
export function formatTable(results) {
  const kinds = [...new Set(results.flatMap((r) => Object.keys(r.errors)))].sort();
  const rows = [
    ['operations', ...results.map((r) => num(r.ops))],
    ['succeeded', ...results.map((r) => num(r.ok))],
    ['failed', ...results.map((r) => num(r.failed))],
    ...kinds.map((k) => [`  ${k}`, ...results.map((r) => num(r.errors[k] ?? 0))]),
    ['retries (poolgate)', ...results.map((r) => num(r.retries))],
    ['latency p50 (ms, successes)', ...results.map((r) => ms(r.p50))],
    ['latency p95 (ms, successes)', ...results.map((r) => ms(r.p95))],
    ['latency p99 (ms, successes)', ...results.map((r) => ms(r.p99))],
    ['peak active in the gate', ...results.map((r) => num(r.peakActive))],
    ['peak queued in the gate', ...results.map((r) => num(r.peakQueued))],
    ['peak server connections', ...results.map((r) => num(r.peakServer))],
    ['wall time (ms)', ...results.map((r) => ms(r.wallMs))],
  ];
  const header = ['', ...results.map((r) => r.label)];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (row) =>
    row
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join('   ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('   '), ...rows.map(line)].join('\n');
}

/** One alert as the load tool and the demo print it when it fires. */
export function formatAlert(a, label) {
  const why = {
    saturated: `${a.activeConnections}/${a.maxConnections} active for ${Math.round(a.at - a.since)} ms`,
    slow: `average ${Math.round(a.averageMs)} ms over ${a.operations} operations`,
    errors: `${a.failed} of ${a.operations} failed (${(a.errorRate * 100).toFixed(1)}%)`,
    disconnects: `${a.disconnects} connection failures in the window`,
    'queue-timeouts': `${a.queueTimeouts} queue timeouts in the window`,
  }[a.name];
  return `alert (${label}) at ${a.second.toFixed(2)} s: ${a.name} ${a.state}: ${why}`;
}
