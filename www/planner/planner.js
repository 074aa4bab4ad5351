// The capacity planner page: reads the plan from the URL, runs it through the simulator's wasm
// (crates/poolgate-sim-wasm, built into ./pkg by scripts/build-planner), and draws both sides.
// Every figure comes from the simulator's JSON report; this file only formats and draws.

import init, { presets, runPlan } from './pkg/planner.js';

const $ = (id) => document.getElementById(id);
const form = $('plan');
const status = $('status');
const LIST_KEYS = new Set(['trace', 'samples']);

function setStatus(text, bad = false) {
  status.textContent = text;
  status.classList.toggle('bad', bad);
}

const fmt = (v) => {
  if (v === null || v === undefined) return '–';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
};

/** The form's values as a plan query (lists only for the modes that read them). */
function formQuery() {
  const data = new FormData(form);
  const parts = [];
  for (const [key, raw] of data) {
    const value = String(raw).trim().replace(/\s+/g, '');
    if (value === '') continue;
    if (key === 'trace' && data.get('arrival') !== 'trace') continue;
    if (key === 'samples' && data.get('service') !== 'samples') continue;
    parts.push(`${key}=${encodeURIComponent(value).replace(/%2C/g, ',')}`);
  }
  return parts.join('&');
}

/** Puts a canonical plan query into the form. */
function fillForm(query) {
  const params = new URLSearchParams(query);
  for (const el of form.elements) {
    if (!el.name) continue;
    const v = params.get(el.name);
    if (el.name === 'preset') el.value = v ?? '';
    else if (v !== null) el.value = v;
    else if (LIST_KEYS.has(el.name)) el.value = '';
  }
}

const FIGURES = [
  ['completed', 'completed', (o) => o.completed],
  ['failed', 'failed', (o) => o.failed],
  ['queue-full', '  queue full', (o) => o.errors.queueFull],
  ['queue-timeout', '  queue timeout', (o) => o.errors.queueTimeout],
  ['too-many', '  too many connections', (o) => o.errors.tooManyConnections],
  ['pool-timeout', '  pool timeout', (o) => o.errors.poolTimeout],
  ['retries', 'retries', (o) => o.retries],
  ['wait', 'wait p50 / p99 (ms)', (o) => `${fmt(o.wait.p50)} / ${fmt(o.wait.p99)}`],
  ['latency', 'latency p50 / p99 (ms)', (o) => `${fmt(o.latency.p50)} / ${fmt(o.latency.p99)}`],
  ['peak-active', 'peak connections in use', (o) => o.peakActive],
  ['peak-queued', 'peak waiting', (o) => o.peakQueued],
  ['peak-server', 'peak server connections', (o) => o.peakServer],
  ['wall', 'wall time (ms)', (o) => o.wallMs],
];

function renderFigures(side, o) {
  const dl = $(`side-${side}`).querySelector('.figures');
  dl.replaceChildren(
    ...FIGURES.map(([id, label, get]) => {
      const row = document.createElement('div');
      const dt = document.createElement('dt');
      dt.textContent = label;
      const dd = document.createElement('dd');
      dd.id = `${side}-${id}`;
      const v = get(o);
      dd.textContent = typeof v === 'string' ? v : fmt(v);
      row.append(dt, dd);
      return row;
    }),
  );
}

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** Draws series on a canvas against shared scales. */
function draw(canvas, { spanMs, bucketMs, yMax, lines = [], bars, limit }) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const h = canvas.clientHeight || canvas.height;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const g = canvas.getContext('2d');
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, h);
  const left = 34;
  const bottom = 16;
  const pw = w - left - 6;
  const ph = h - bottom - 6;
  const x = (ms) => left + (ms / spanMs) * pw;
  const y = (v) => 6 + ph - (v / yMax) * ph;
  g.font = '10px system-ui, sans-serif';
  g.fillStyle = css('--dim');
  g.strokeStyle = css('--line');
  g.strokeRect(left, 6, pw, ph);
  g.fillText(fmt(yMax), 2, 14);
  g.fillText('0', 2, 6 + ph);
  const span = spanMs < 2000 ? `${fmt(spanMs)} ms` : `${fmt(spanMs / 1000)} s`;
  g.fillText(span, w - 6 - g.measureText(span).width, h - 3);
  if (bars) {
    const bmax = Math.max(1, ...bars.values);
    g.fillStyle = css('--bad');
    g.globalAlpha = 0.55;
    bars.values.forEach((n, i) => {
      if (n === 0) return;
      const bh = (n / bmax) * ph * 0.9;
      g.fillRect(x(i * bucketMs), 6 + ph - bh, Math.max(1, x(bucketMs) - left), bh);
    });
    g.globalAlpha = 1;
  }
  if (limit !== undefined) {
    g.strokeStyle = css('--bad');
    g.setLineDash([4, 4]);
    g.beginPath();
    g.moveTo(left, y(limit));
    g.lineTo(left + pw, y(limit));
    g.stroke();
    g.setLineDash([]);
  }
  for (const { values, color } of lines) {
    g.strokeStyle = color;
    g.lineWidth = 1.5;
    g.beginPath();
    values.forEach((v, i) => {
      const px = x(i * bucketMs);
      if (i === 0) g.moveTo(px, y(v));
      else g.lineTo(px, y(v));
      g.lineTo(x((i + 1) * bucketMs), y(v));
    });
    g.stroke();
  }
}

function renderCharts(report) {
  const sides = [report.without, report.with];
  const spanMs = Math.max(...sides.map((o) => o.series.active.length * o.series.bucketMs), 1);
  const connMax = Math.max(
    report.recommend.budget,
    ...sides.flatMap((o) => [...o.series.active, ...o.series.server]),
  );
  const waitMax = Math.max(1, ...sides.flatMap((o) => o.series.queued));
  for (const [name, o] of [
    ['without', report.without],
    ['with', report.with],
  ]) {
    const el = $(`side-${name}`);
    const { bucketMs } = o.series;
    draw(el.querySelector('.conns'), {
      spanMs,
      bucketMs,
      yMax: Math.ceil(connMax * 1.1),
      limit: report.recommend.budget,
      lines: [
        { values: o.series.server, color: '#7a4cc2' },
        { values: o.series.active, color: css('--active') },
      ],
    });
    draw(el.querySelector('.waits'), {
      spanMs,
      bucketMs,
      yMax: waitMax,
      bars: { values: o.series.failed },
      lines: [{ values: o.series.queued, color: css('--queued') }],
    });
  }
}

function render(report, ms) {
  renderFigures('without', report.without);
  renderFigures('with', report.with);
  $('side-with').querySelector('.gate-max').textContent = `(maxConnections ${report.with.gateMax})`;
  const r = report.recommend;
  $('rec-max').textContent = fmt(r.maxConnections);
  $('rec-pgmax').textContent = fmt(r.pgMax);
  $('rec-qt').textContent = fmt(r.queueTimeoutMs);
  $('rec-notes').replaceChildren(
    ...r.notes.map((n) => {
      const li = document.createElement('li');
      li.textContent = n;
      return li;
    }),
  );
  $('p99-without').textContent = report.p99.without;
  $('p99-with').textContent = report.p99.with;
  renderCharts(report);
  const ops = report.with.ops;
  setStatus(
    `Simulated ${ops.toLocaleString('en-US')} operations three times (without, with, and the sizing run) in ${ms.toFixed(0)} ms.`,
  );
}

function simulate(query) {
  try {
    const t0 = performance.now();
    const report = JSON.parse(runPlan(query));
    const ms = performance.now() - t0;
    window.planner = { report, ms };
    fillForm(report.query);
    const url = `?${report.query}`;
    history.replaceState(null, '', url);
    $('link').href = url;
    render(report, ms);
    document.body.dataset.state = 'done';
    return report;
  } catch (err) {
    setStatus(`${err.name}: ${err.message}`, true);
    document.body.dataset.state = 'error';
    return undefined;
  }
}

async function main() {
  await init();
  const select = $('in-preset');
  for (const p of JSON.parse(presets())) {
    const opt = document.createElement('option');
    opt.value = p.name;
    opt.textContent = `${p.name} — ${p.about}`;
    select.append(opt);
  }
  select.addEventListener('change', () => {
    if (select.value) simulate(`preset=${select.value}`);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    simulate(formQuery());
  });
  $('run').disabled = false;
  const query = location.search.slice(1);
  simulate(query === '' ? 'preset=supabase-direct' : query);
}

main().catch((err) => {
  setStatus(`could not start the planner: ${err.message}`, true);
  document.body.dataset.state = 'error';
});
