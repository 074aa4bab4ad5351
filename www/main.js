// poolgate in the browser: a burst of simulated queries through one ConnectionPool, with the
// pool's stats drawn live. No database: each "query" is a setTimeout of about queryMs.
//
// For browser tests: document.body.dataset.state goes loading → ready → running → done
// (or error), and the final figures sit in #done, #succeeded, #errors, #peak-active, #active,
// #queued, #max (plus #queue-timeouts, #other-errors, #wait-p50 … #wall). The last result is
// also on window.poolgateLastResult.
//
// `poolgate` is the package's browser entry (index.html's import map): it fetches and compiles
// the wasm itself before the import resolves. It is imported dynamically below only so that a
// failure to load shows on the page instead of leaving it at "Loading the wasm…".

/** The package's ConnectionPool, once `import('poolgate')` has resolved. */
let ConnectionPool;

const $ = (id) => document.getElementById(id);
const body = document.body;
const params = new URLSearchParams(location.search);

const inputs = {
  maxConnections: $('in-max'),
  burst: $('in-burst'),
  queryMs: $('in-query'),
  queueTimeoutMs: $('in-qt'),
};
// Let the URL prefill the controls: ?maxConnections=5&burst=200&queryMs=40&queueTimeoutMs=500
for (const [name, input] of Object.entries(inputs)) {
  const v = params.get(name);
  if (v !== null && v !== '' && Number.isFinite(Number(v))) input.value = v;
}

const runButton = $('run');
const statusEl = $('status');

function setStatus(text, bad = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle('bad', bad);
}

function readInt(input, min, max) {
  const n = Math.round(Number(input.value));
  if (!Number.isFinite(n)) return min;
  return Math.min(max, Math.max(min, n));
}

const ms = (v) => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(1) : Math.round(v)} ms` : '–');

// ---- live view ----------------------------------------------------------------------------

const canvas = $('timeline');
const ctx = canvas.getContext('2d');

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** Draws active (area, against max) and queued (line, against the burst) over time. */
function drawTimeline(samples, maxConnections, burst, spanMs) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  ctx.clearRect(0, 0, w, h);
  ctx.strokeStyle = cssVar('--line');
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(0, Math.round(h * 0.1) + 0.5);
  ctx.lineTo(w, Math.round(h * 0.1) + 0.5);
  ctx.stroke();
  if (samples.length === 0) return;

  const span = Math.max(spanMs, 1);
  const x = (t) => (t / span) * w;
  const top = h * 0.1;
  const y = (frac) => h - frac * (h - top);

  ctx.fillStyle = cssVar('--active');
  ctx.globalAlpha = 0.35;
  ctx.beginPath();
  ctx.moveTo(0, h);
  for (const s of samples) ctx.lineTo(x(s.t), y(Math.min(1, s.active / maxConnections)));
  ctx.lineTo(x(samples[samples.length - 1].t), h);
  ctx.closePath();
  ctx.fill();
  ctx.globalAlpha = 1;

  ctx.strokeStyle = cssVar('--active');
  ctx.lineWidth = 1.5 * dpr;
  ctx.beginPath();
  samples.forEach((s, i) => {
    const px = x(s.t);
    const py = y(Math.min(1, s.active / maxConnections));
    if (i === 0) ctx.moveTo(px, py);
    else ctx.lineTo(px, py);
  });
  ctx.stroke();

  ctx.strokeStyle = cssVar('--queued');
  ctx.lineWidth = 2 * dpr;
  ctx.beginPath();
  samples.forEach((s, i) => {
    const px = x(s.t);
    const py = y(Math.min(1, s.queued / burst));
    if (i === 0) ctx.moveTo(px, py);
    else ctx.lineTo(px, py);
  });
  ctx.stroke();
}

function showStats(stats, burst, done) {
  $('active').textContent = stats.activeConnections;
  $('max').textContent = stats.maxConnections;
  $('queued').textContent = stats.queuedConnections;
  $('available').textContent = stats.availableConnections;
  const activeFrac = stats.maxConnections > 0 ? stats.activeConnections / stats.maxConnections : 0;
  $('bar-active').style.width = `${Math.min(100, activeFrac * 100)}%`;
  $('bar-active-text').textContent = `${stats.activeConnections} / ${stats.maxConnections}`;
  $('bar-queued').style.width = `${Math.min(100, (stats.queuedConnections / burst) * 100)}%`;
  $('bar-queued-text').textContent = `${stats.queuedConnections}`;
  $('bar-done').style.width = `${Math.min(100, (done / burst) * 100)}%`;
  $('done').textContent = done;
  $('burst-size').textContent = burst;
}

function clearTally() {
  for (const id of [
    'succeeded',
    'queue-timeouts',
    'other-errors',
    'errors',
    'peak-active',
    'peak-queued',
    'wait-p50',
    'wait-p99',
    'hold-p50',
    'hold-p99',
    'wall',
  ]) {
    $(id).textContent = '–';
  }
  $('error-detail').textContent = '';
}

// ---- one burst ----------------------------------------------------------------------------

let pool = null;

async function runBurst() {
  const maxConnections = readInt(inputs.maxConnections, 1, 1000);
  const burst = readInt(inputs.burst, 1, 100000);
  const queryMs = readInt(inputs.queryMs, 0, 60000);
  const queueTimeoutMs = readInt(inputs.queueTimeoutMs, 0, 600000);
  for (const [name, v] of Object.entries({ maxConnections, burst, queryMs, queueTimeoutMs })) {
    inputs[name].value = v;
  }

  pool?.close();
  pool = new ConnectionPool({
    maxConnections,
    maxQueue: Math.max(10000, burst),
    queueTimeoutMs,
  });
  const p = pool;

  body.dataset.state = 'running';
  runButton.disabled = true;
  clearTally();
  setStatus(`Running ${burst} queries of ~${queryMs} ms through ${maxConnections} connections…`);

  let done = 0;
  let succeeded = 0;
  let queueTimeouts = 0;
  const otherErrors = new Map(); // error name -> count
  const samples = [];
  const t0 = performance.now();
  let finished = false;

  // The simulated query: ±50% around queryMs.
  const query = () =>
    new Promise((resolve) => setTimeout(resolve, queryMs * (0.5 + Math.random())));

  const settled = [];
  for (let i = 0; i < burst; i++) {
    settled.push(
      p
        .run(query)
        .then(
          () => {
            succeeded++;
          },
          (e) => {
            if (e?.name === 'QueueTimeoutError') queueTimeouts++;
            else {
              const name = e?.name ?? 'Error';
              otherErrors.set(name, (otherErrors.get(name) ?? 0) + 1);
            }
          },
        )
        .finally(() => {
          done++;
          record(false);
        }),
    );
  }

  // Samples for the timeline come from every settle (at most one per 2 ms) as well as from
  // every frame, so the chart stays true even when frames are rare (background tab, headless).
  let lastSampleT = -Infinity;
  function record(force) {
    const t = performance.now() - t0;
    if (!force && t - lastSampleT < 2) return null;
    lastSampleT = t;
    const stats = p.getPoolStats();
    samples.push({ t, active: stats.activeConnections, queued: stats.queuedConnections });
    return stats;
  }

  const sample = () => {
    const stats = record(true);
    showStats(stats, burst, done);
    $('elapsed').textContent = `· ${Math.round(lastSampleT)} ms`;
    return lastSampleT;
  };

  let frames = 0;
  const frame = () => {
    if (finished) return;
    frames++;
    const t = sample();
    drawTimeline(samples, maxConnections, burst, t);
    requestAnimationFrame(frame);
  };
  sample();
  requestAnimationFrame(frame);

  await Promise.all(settled);
  const wallMs = performance.now() - t0;
  finished = true;

  const t = sample();
  drawTimeline(samples, maxConnections, burst, t);
  const m = p.getMetrics();
  const otherCount = [...otherErrors.values()].reduce((a, b) => a + b, 0);
  const result = {
    burst,
    maxConnections,
    queryMs,
    queueTimeoutMs,
    done,
    succeeded,
    queueTimeouts,
    otherErrors: otherCount,
    errors: queueTimeouts + otherCount,
    wallMs,
    frames,
    samples: samples.length,
    metrics: m,
  };
  window.poolgateLastResult = result;

  $('succeeded').textContent = succeeded;
  $('queue-timeouts').textContent = queueTimeouts;
  $('other-errors').textContent = otherCount;
  $('errors').textContent = result.errors;
  $('peak-active').textContent = m.peakActive;
  $('peak-queued').textContent = m.peakQueued;
  $('wait-p50').textContent = ms(m.wait.p50Ms);
  $('wait-p99').textContent = ms(m.wait.p99Ms);
  $('hold-p50').textContent = ms(m.hold.p50Ms);
  $('hold-p99').textContent = ms(m.hold.p99Ms);
  $('wall').textContent = ms(wallMs);
  $('error-detail').textContent = otherCount
    ? `other errors: ${[...otherErrors].map(([n, c]) => `${n} ×${c}`).join(', ')}`
    : '';

  setStatus(
    `Done: ${succeeded} of ${burst} succeeded, ${result.errors} failed, in ${ms(wallMs)}; ` +
      `never more than ${m.peakActive} of ${maxConnections} connections at once.`,
  );
  runButton.disabled = false;
  canvas.dataset.samples = samples.length;
  canvas.dataset.frames = frames;
  body.dataset.state = 'done';
  return result;
}

// ---- start --------------------------------------------------------------------------------

$('controls').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (body.dataset.state === 'running') return;
  runBurst().catch(fail);
});

function fail(e) {
  console.error(e);
  setStatus(`Error: ${e?.message ?? e}`, true);
  runButton.disabled = false;
  body.dataset.state = 'error';
}

try {
  ({ ConnectionPool } = await import('poolgate'));
  const idle = new ConnectionPool({ maxConnections: readInt(inputs.maxConnections, 1, 1000) });
  showStats(idle.getPoolStats(), readInt(inputs.burst, 1, 100000), 0);
  idle.close();
  drawTimeline([], 1, 1, 1);
  runButton.disabled = false;
  body.dataset.state = 'ready';
  setStatus('Ready. Press “Run burst”.');
  if (params.get('auto') === '1') await runBurst();
} catch (e) {
  fail(e);
}
