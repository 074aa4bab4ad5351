#!/usr/bin/env bash
# Makes tests/prisma runnable: installs its npm dependencies when missing (scripts/setup
# normally has) and generates the Prisma client into generated/ (offline: Prisma 7's CLI would
# otherwise download its schema engine first, which `generate` does not need).
# Used by scripts/load, scripts/test-prisma and scripts/demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ ! -d node_modules/@prisma/adapter-pg || ! -d node_modules/tsx || ! -e node_modules/poolgate ]]; then
  echo "[prepare] installing tests/prisma's npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2 \
    || { echo "[prepare] npm ci failed in tests/prisma: is the npm registry reachable? (scripts/setup installs it too)" >&2; exit 1; }
fi
if [[ ! -f ../../pkg/dist/node.js ]]; then
  echo "[prepare] pkg/dist is missing: build poolgate first with scripts/build" >&2
  exit 1
fi
if [[ ! -f generated/prisma/client.ts || prisma/schema.prisma -nt generated/prisma/client.ts ]]; then
  echo "[prepare] generating the Prisma client (prisma generate)" >&2
  PRISMA_SCHEMA_ENGINE_BINARY=/bin/false PRISMA_HIDE_UPDATE_MESSAGE=1 CHECKPOINT_DISABLE=1 \
    node_modules/.bin/prisma generate >/dev/null \
    || { echo "[prepare] prisma generate failed (see above)" >&2; exit 1; }
fi
