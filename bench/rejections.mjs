#!/usr/bin/env node
// What a refused call costs: a pool with one slot held and a full queue refuses N more calls
// with QueueFullError; prints the CPU time per refusal and the stack depth users get.
//
//   node bench/rejections.mjs [DIST]   DIST: a pkg/dist folder (default: this checkout's)
// Compare two builds in one run: node bench/rejections.mjs ../other/pkg/dist
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const dist = resolve(process.argv[2] ?? new URL('../pkg/dist', import.meta.url).pathname);
const { ConnectionPool } = await import(pathToFileURL(`${dist}/node.js`).href);
const N = 90_000;
const ROUNDS = 5;

const pool = new ConnectionPool({ maxConnections: 1, maxQueue: 10, queueTimeoutMs: Infinity });
let release;
const held = pool.run(() => new Promise((r) => (release = r)));
const queued = Array.from({ length: 10 }, () => pool.run(async () => 1));

let sample;
const perRound = [];
for (let round = 0; round < ROUNDS; round++) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    pool
      .run(async () => 1)
      .catch((e) => {
        sample = e;
      });
  }
  await new Promise((r) => setImmediate(r));
  const dt = process.cpuUsage(t0);
  perRound.push(((dt.user + dt.system) / N) * 1000);
}
release();
await held;
await Promise.all(queued);
perRound.sort((a, b) => a - b);
const median = perRound[Math.floor(ROUNDS / 2)];
console.log(
  JSON.stringify({
    dist,
    refusals: N,
    rounds: ROUNDS,
    nsPerRefusalMedian: Math.round(median),
    nsPerRefusalAll: perRound.map(Math.round),
    error: sample?.name,
    stackFrames: (sample?.stack ?? '').split('\n').filter((l) => l.trim().startsWith('at ')).length,
  }),
);
