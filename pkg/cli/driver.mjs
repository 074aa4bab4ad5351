// Loads the database driver the user's project already has (`pg`, or `mysql2` for MySQL and
// MariaDB), resolved from the current directory as the project's own code would resolve it, so
// the doctor speaks to the database exactly as the app does and the package needs no
// dependency of its own.

import { createRequire } from 'node:module';
import path from 'node:path';

const HOW = {
  pg: 'npm install pg   (Prisma 7 with @prisma/adapter-pg already brings it)',
  mysql2: 'npm install mysql2',
};

/** Thrown when the driver is not installed; the CLI prints its message and exits with 2. */
export class MissingDriverError extends Error {}

/** `require(name)` from `cwd`'s point of view, or a MissingDriverError saying how to get it. */
export function loadDriver(name, cwd = process.cwd()) {
  const require = createRequire(path.join(cwd, 'poolgate-doctor.cjs'));
  try {
    return require(name);
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(`'${name}'`)) {
      throw new MissingDriverError(
        `poolgate doctor talks to the database through your project's own \`${name}\` package, and none was found from ${cwd}.\nInstall it there (or run the doctor from your app's folder):\n  ${HOW[name]}`,
      );
    }
    throw e;
  }
}
