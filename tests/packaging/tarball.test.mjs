// What `npm install poolgate` brings: the packed tarball's file list (nothing missing, nothing
// stray), its README (whose Quick start is the repository README's, word for word), both
// licence files (the same as the repository's), and the metadata npm shows (repository,
// homepage, bugs, license).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, tarball } from './lib/consumer.mjs';
import { run } from './lib/servers.mjs';

const EXPECTED_FILES = [
  'LICENSE-APACHE',
  'LICENSE-MIT',
  'README.md',
  'bin/poolgate.mjs',
  'cli/doctor.mjs',
  'cli/driver.mjs',
  'cli/findings.mjs',
  'cli/mysql.mjs',
  'cli/postgres.mjs',
  'cli/url.mjs',
  'dist/alerts.js',
  'dist/bare.js',
  'dist/browser.js',
  'dist/classify.js',
  'dist/context.js',
  'dist/defaults.js',
  'dist/edge.js',
  'dist/errors.js',
  'dist/events.js',
  'dist/fleet/lease.js',
  'dist/fleet/script.js',
  'dist/fleet/stores.js',
  'dist/index.js',
  'dist/node.cjs',
  'dist/node.js',
  'dist/options.js',
  'dist/otel.js',
  'dist/pool.js',
  'dist/poolgate_bg.wasm',
  'dist/prisma.js',
  'dist/protocol.js',
  'dist/sizing.js',
  'dist/wasm.js',
  'dist/workerd.js',
  'package.json',
  'types/bare.d.ts',
  'types/index.d.ts',
  'types/otel.d.ts',
  'types/wasm-module.d.ts',
];

/** `tar -xOf tarball package/PATH`: one file's text, read straight from the tarball. */
async function fromTarball(path) {
  const { stdout } = await run('tar', ['-xzOf', tarball(), `package/${path}`], {
    timeoutMs: 30_000,
  });
  return stdout;
}

function quickStart(text) {
  const begin = text.indexOf('<!-- quickstart:begin');
  const end = text.indexOf('<!-- quickstart:end -->');
  assert.ok(begin >= 0 && end > begin, 'a quickstart:begin/end region');
  return text.slice(begin, end);
}

test('the tarball holds the package, its README and both licences, and nothing else', async () => {
  const { stdout } = await run('tar', ['-tzf', tarball()], { timeoutMs: 30_000 });
  const files = stdout
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''))
    .sort();
  // A new file in pkg/src is fine (it is copied to dist/); list it here on purpose.
  assert.deepEqual(files, EXPECTED_FILES);

  const readme = await fromTarball('README.md');
  assert.match(readme, /^# poolgate\n/);
  assert.match(readme, /npm install poolgate/);
  assert.match(readme, /## API in one screen/);
  assert.match(readme, /https:\/\/github\.com\/poolgate\/poolgate/);
  const rootReadme = readFileSync(join(REPO, 'README.md'), 'utf8');
  assert.equal(
    quickStart(readme),
    quickStart(rootReadme),
    "pkg/README.md's Quick start (quickstart:begin/end) must be README.md's: copy the region over",
  );

  for (const licence of ['LICENSE-MIT', 'LICENSE-APACHE']) {
    const text = await fromTarball(licence);
    assert.equal(
      text,
      readFileSync(join(REPO, licence), 'utf8'),
      `${licence} as in the repository`,
    );
  }
  assert.match(await fromTarball('LICENSE-MIT'), /^MIT License\n/);
  assert.match(await fromTarball('LICENSE-APACHE'), /Apache License\s+Version 2\.0, January 2004/);

  const pkg = JSON.parse(await fromTarball('package.json'));
  assert.equal(pkg.license, 'MIT OR Apache-2.0');
  assert.equal(pkg.repository.url, 'git+https://github.com/poolgate/poolgate.git');
  assert.equal(pkg.repository.directory, 'pkg');
  assert.equal(pkg.homepage, 'https://github.com/poolgate/poolgate#readme');
  assert.equal(pkg.bugs.url, 'https://github.com/poolgate/poolgate/issues');
  assert.equal(pkg.exports['./poolgate_bg.wasm?module'], undefined, 'no ?module subpath offered');
  for (const [entry, target] of Object.entries(pkg.exports)) {
    if (entry === './package.json') continue;
    assert.equal(typeof target.types, 'string', `${entry} has types`);
    assert.ok(
      files.includes(target.types.replace(/^\.\//, '')),
      `${entry}: ${target.types} shipped`,
    );
  }
});
