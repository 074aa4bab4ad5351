// Consumer projects: small apps made fresh for each test under tests/packaging/.consumers/, that
// install the packed poolgate tarball with `npm install` as a user would. They live inside
// tests/packaging so Next.js, React, TypeScript and wrangler resolve from this folder's
// node_modules (pinned in its package-lock.json) instead of being installed again per project.
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './servers.mjs';

const HERE = fileURLToPath(new URL('..', import.meta.url));
export const REPO = join(HERE, '..', '..');
const CONSUMERS = join(HERE, '.consumers');
export const OUT = join(HERE, '.out');
export const BIN = join(HERE, 'node_modules', '.bin');

/** The poolgate tarball that scripts/test-runtimes packed once for every test file. */
export function tarball() {
  const path = process.env.POOLGATE_TARBALL;
  if (!path || !existsSync(path)) {
    throw new Error('POOLGATE_TARBALL is not set: run these tests with scripts/test-runtimes');
  }
  return path;
}

/**
 * Creates `.consumers/NAME` from `files` (path -> text), adds a package.json depending on the
 * tarball and runs `npm install` in it. Returns the project's path.
 */
export async function createConsumer(name, files) {
  const dir = join(CONSUMERS, name);
  rmSync(dir, { recursive: true, force: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  if (!files['package.json']) {
    writeFileSync(
      join(dir, 'package.json'),
      `${JSON.stringify({ name: `consumer-${name}`, private: true }, null, 2)}\n`,
    );
  }
  await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--no-package-lock', '--offline', tarball()],
    { cwd: dir, timeoutMs: 120_000 },
  );
  // A real copy from the tarball, not a link to pkg/ (tests/node_modules has one further up).
  const installed = join(dir, 'node_modules', 'poolgate');
  if (!existsSync(join(installed, 'dist', 'index.js')) || lstatSync(installed).isSymbolicLink()) {
    throw new Error(`${installed}: the tarball was not installed`);
  }
  return dir;
}

/** Removes a consumer project after its test passed (a failed one is kept to look at). */
export function removeConsumer(dir) {
  rmSync(dir, { recursive: true, force: true });
  if (existsSync(CONSUMERS) && readdirSync(CONSUMERS).length === 0)
    rmSync(CONSUMERS, { recursive: true });
}
