// The README's "Quick start" (lib/db.ts and app/api/users/route.ts), exactly as printed there,
// run against the real database with the real Prisma client: GET answers with 20 users, a raw
// query's result, a batch transaction's and the pool's stats, each call taking one slot; POST's
// interactive transaction takes one slot; and 200 concurrent requests against PostgreSQL's 20
// connections all succeed through the gate, which fills to its 15 and never goes past. The blocks are copied out of README.md at test time, so the README cannot
// drift from what is tested; only Next's `@/` path alias is rewritten to a relative import.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { exec } from './helpers.mjs'; // also checks that DATABASE_URL is set

const PRISMA_DIR = fileURLToPath(new URL('..', import.meta.url));
const README = join(PRISMA_DIR, '..', '..', 'README.md');
const APP = join(PRISMA_DIR, '.quickstart');

/** The ```ts blocks of the README's Quick start section whose first line names a file. */
function quickStartFiles() {
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf('## Quick start');
  const end = text.indexOf('\n## ', start + 1);
  assert.ok(start >= 0 && end > start, 'README has a "## Quick start" section');
  const files = {};
  for (const m of text.slice(start, end).matchAll(/```ts\n\/\/ (\S+)\n([\s\S]*?)```/g)) {
    files[m[1]] = m[2];
  }
  assert.deepEqual(Object.keys(files).sort(), ['app/api/users/route.ts', 'lib/db.ts']);
  return files;
}

/** Writes the app: lib/db.ts next to a link to the generated client, as the README assumes. */
function writeApp(files) {
  rmSync(APP, { recursive: true, force: true });
  for (const [path, source] of Object.entries(files)) {
    const file = join(APP, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, source.replaceAll("'@/lib/db'", "'../../../lib/db'"));
  }
  symlinkSync(join(PRISMA_DIR, 'generated'), join(APP, 'lib', 'generated'), 'dir');
}

test('the README quick start type-checks against the generated client (tsc --strict)', {
  timeout: 120_000,
}, async () => {
  writeApp(quickStartFiles());
  try {
    const tsc = join(PRISMA_DIR, 'node_modules', '.bin', 'tsc');
    const r = await exec(
      tsc,
      [
        '--noEmit',
        '--strict',
        '--skipLibCheck',
        '--target',
        'es2022',
        '--lib',
        'es2022,dom',
        '--module',
        'esnext',
        '--moduleResolution',
        'bundler',
        '--allowImportingTsExtensions',
        '--types',
        'node',
        join(APP, 'app/api/users/route.ts'),
      ],
      { timeoutMs: 110_000 },
    );
    assert.equal(r.code, 0, `tsc found errors:\n${r.stdout}${r.stderr}`);
  } finally {
    rmSync(APP, { recursive: true, force: true });
  }
});

test('the README quick start runs on real Prisma 7 and holds a burst under the limit', {
  timeout: 120_000,
}, async () => {
  writeApp(quickStartFiles());
  const route = await import(pathToFileURL(join(APP, 'app/api/users/route.ts')).href);
  const db = await import(pathToFileURL(join(APP, 'lib/db.ts')).href);
  try {
    const res = await route.GET();
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.users.length, 20);
    assert.ok(body.users.every((u) => typeof u.email === 'string'));
    assert.ok(!Number.isNaN(Date.parse(body.now)), 'the raw query answered');
    assert.ok(body.count >= 1000, 'the batch transaction answered');
    assert.equal(typeof body.newest.email, 'string');
    assert.deepEqual(body.pool, {
      activeConnections: 0,
      maxConnections: 15,
      queuedConnections: 0,
      availableConnections: 15,
    });
    const perGet = db.pool.getMetrics().granted;
    assert.equal(perGet, 3, 'findMany, $queryRaw and the batch took one slot each');

    // The interactive transaction of POST: one slot for the whole of it.
    const post = await route.POST(
      new Request('http://localhost/api/users', {
        method: 'POST',
        body: JSON.stringify({ id: 1, name: 'Ada' }),
      }),
    );
    assert.equal(post.status, 200);
    const { user } = await post.json();
    assert.match(user.name, /^Ada \(was .+\)$/);
    assert.equal(db.pool.getMetrics().granted, perGet + 1);

    // 200 requests at once: the gate of 15 keeps the app inside the 17 slots PostgreSQL leaves
    // a normal role (20, minus 3 reserved for superusers).
    const responses = await Promise.all(Array.from({ length: 200 }, () => route.GET()));
    const statuses = responses.map((r) => r.status);
    assert.deepEqual([...new Set(statuses)], [200], `statuses: ${statuses.join(',')}`);
    const m = db.pool.getMetrics();
    assert.equal(m.succeeded, 201 * 3 + 1);
    assert.equal(m.peakActive, 15, 'the burst filled the gate, and never went past it');
    assert.ok(m.peakQueued > 0, 'callers waited in the gate');
    assert.equal(m.failed, 0, 'no attempt failed: the gate kept the app inside its slots');
  } finally {
    db.pool.close();
    await db.prisma.$disconnect();
    rmSync(APP, { recursive: true, force: true });
  }
});
