// The uncontended fast path (S2's loop: one operation at a time, limit 10) of two or more builds
// of pkg/dist, in one process, rounds alternating between them, medians over 21 rounds: an A/B
// that holds up on a shared machine better than separate processes do.
//
//   node --expose-gc bench/fastpath-ab.mjs DIST_A DIST_B [...]       # folders holding node.js
//   node --expose-gc bench/fastpath-ab.mjs --variants DIST_A DIST_B  # also the last build with
//       a default operation timeout (the timed path), a 'release' listener, and alerts: true
//
// To get a base build: `git worktree add /tmp/base <commit> && (cd /tmp/base && scripts/build)`,
// then pass /tmp/base/pkg/dist.
const args = process.argv.slice(2);
const withVariants = args[0] === '--variants';
const dists = withVariants ? args.slice(1) : args;
if (dists.length === 0) {
  console.error('usage: node --expose-gc bench/fastpath-ab.mjs [--variants] DIST_A [DIST_B ...]');
  process.exit(2);
}
const mods = await Promise.all(
  dists.map((d) => import(new URL(`file://${d.replace(/\/$/, '')}/node.js`))),
);
const N = 50_000;
const ROUNDS = 21;
const op = async () => {};
const make = (m, extra) =>
  new m.ConnectionPool({ maxConnections: 10, queueTimeoutMs: 60_000, ...extra });
const variants = dists.map((d, i) => ({ name: d, pool: make(mods[i]) }));
if (withVariants) {
  const m = mods.at(-1);
  variants.push({
    name: 'timed path (operationTimeoutMs)',
    pool: make(m, { operationTimeoutMs: 60_000 }),
  });
  const listened = make(m);
  listened.on('release', () => {});
  variants.push({ name: "a 'release' listener", pool: listened });
  variants.push({ name: 'alerts: true', pool: make(m, { alerts: true }) });
}
async function loop(run) {
  for (let i = 0; i < N; i++) await run(op);
}
const bare = (f) => f();
const results = new Map(variants.map((v) => [v.name, []]));
for (const v of variants) await loop((f) => v.pool.run(f)); // warm up
for (let r = 0; r < ROUNDS; r++) {
  for (const v of variants) {
    globalThis.gc?.();
    let t = performance.now();
    await loop(bare);
    const b = performance.now() - t;
    globalThis.gc?.();
    t = performance.now();
    await loop((f) => v.pool.run(f));
    results.get(v.name).push(((performance.now() - t - b) * 1e6) / N);
  }
}
for (const [name, v] of results) {
  v.sort((a, b) => a - b);
  const at = (q) => v[Math.floor(q * (v.length - 1))].toFixed(0);
  console.log(
    `${name}: median ${at(0.5)} ns/op over a bare await (p25 ${at(0.25)}, p75 ${at(0.75)})`,
  );
}
