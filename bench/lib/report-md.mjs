// Renders the aggregated results as Markdown: a header with the machine and run facts, one table
// (contenders as rows, scenario figures as columns, medians over repetitions), poolgate's
// package figures, and short notes on how each figure was measured.

const k = (n) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${Math.round(n / 1e3)}k` : `${Math.round(n)}`;
const fixed = (n, d) => (n === null || n === undefined ? 'n/a' : n.toFixed(d));

function opsCell(m, cell, variant) {
  const planned = variant.planned.ops;
  const note = cell.params.ops !== planned ? ` (at ${k(cell.params.ops)} ops)` : '';
  const failed = m.failures > 0 ? ` [${m.failures} failed]` : '';
  return `${k(m.opsPerSec)}${note}${failed}`;
}

const COLUMNS = [
  { variant: 'S1-limit10', title: 'S1 ops/s, limit 10', cell: opsCell },
  { variant: 'S1-limit100', title: 'S1 ops/s, limit 100', cell: opsCell },
  { variant: 'S2', title: 'S2 ns/op over no limiter', cell: (m) => `${Math.round(m.nsPerOp)}` },
  { variant: 'S3-time', title: 'S3 time / ideal', cell: (m) => `${fixed(m.ratio, 2)}x` },
  {
    variant: 'S3-heap',
    title: 'S3 bytes / queued waiter',
    cell: (m) => `${Math.round(m.bytesPerWaiter)}`,
  },
  {
    variant: 'S4',
    title: 'S4 all settled',
    cell: (m) =>
      m.unsettled > 0
        ? `never: ${Math.round(m.unsettled)} callers left pending`
        : `${fixed(m.settledMs / 1000, 2)} s`,
  },
  {
    variant: 'S4',
    title: 'S4 timeout late p50 / p99',
    cell: (m) =>
      m.timedOut === 0
        ? 'none timed out'
        : `${fixed(m.lateP50Ms, 1)} / ${fixed(m.lateP99Ms, 1)} ms`,
  },
  {
    variant: 'S4',
    title: 'S4 started after timeout / past deadline',
    cell: (m) => `${Math.round(m.startedAfterTimeout)} / ${Math.round(m.startedPastDeadline)}`,
  },
  {
    variant: 'S4',
    title: 'S4 peak running (limit 10)',
    cell: (m) => `${Math.round(m.peakRunning)}`,
  },
  { variant: 'S4', title: 'S4 queue left', cell: (m) => `${Math.round(m.queueLeft)}` },
];

function cellText(cells, column, contender, variant) {
  const cell = cells[column.variant]?.[contender];
  if (!variant || !cell) return '—';
  if (!cell.median) return cell.status;
  return column.cell(cell.median, cell, variant);
}

function packageSection(extras) {
  if (extras.poolgate === 'not run') return ['poolgate was not among the contenders of this run.'];
  if (!extras.sizes)
    return ['poolgate is not built (no `pkg/dist`): cold start and sizes not measured.'];
  const { sizes, coldStart } = extras;
  const kb = (b) => `${(b / 1024).toFixed(1)} KiB`;
  const lines = [
    `- .wasm: ${sizes.wasm.map((w) => `${w.file} ${kb(w.raw)} raw, ${kb(w.gzip)} gzip`).join('; ') || 'none found'}`,
    `- JS files of pkg/dist: ${kb(sizes.jsRaw)} raw, ${kb(sizes.jsGzip)} gzip in all (${sizes.js.length} files: ` +
      `${[...sizes.js]
        .sort((a, b) => b.gzip - a.gzip)
        .map((f) => `${f.file} ${kb(f.gzip)}`)
        .join(', ')} gzip)`,
  ];
  if (coldStart?.error) lines.push(`- cold start: error: ${coldStart.error}`);
  else if (coldStart) {
    lines.push(
      `- cold start: +${coldStart.addedMs.toFixed(1)} ms over a bare node doing one op ` +
        `(medians of ${coldStart.runs} runs: ${coldStart.poolgateMs.toFixed(1)} ms vs ${coldStart.bareMs.toFixed(1)} ms)`,
    );
  }
  return lines;
}

export function renderMarkdown({ meta, variants, contenders, cells, extras, notes }) {
  const byId = Object.fromEntries(variants.map((v) => [v.id, v]));
  const columns = COLUMNS.filter((c) => byId[c.variant]);
  const lines = [
    `# poolgate benchmark results${meta.quick ? ' (--quick smoke run: small sizes, not comparable)' : ''}`,
    '',
    `- date: ${meta.date}; commit: ${meta.commit ?? 'unrecorded'}`,
    `- node: ${meta.node}; CPU: ${meta.cpu} (${meta.cores} cores); ${meta.os}`,
    `- repetitions: ${meta.reps} fresh processes per cell, medians shown; whole run took ${meta.totalSeconds.toFixed(0)} s`,
    `- versions: ${Object.entries(meta.versions)
      .map(([n, v]) => `${n} ${v}`)
      .join(', ')}`,
    '',
    `| contender | ${columns.map((c) => c.title).join(' | ')} |`,
    `| --- | ${columns.map(() => '---:').join(' | ')} |`,
    ...contenders.map(
      (name) =>
        `| ${name} | ${columns.map((c) => cellText(cells, c, name, byId[c.variant])).join(' | ')} |`,
    ),
    '',
    '## poolgate package',
    '',
    ...packageSection(extras),
    '',
    '## How these were measured',
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ];
  return lines.join('\n');
}
