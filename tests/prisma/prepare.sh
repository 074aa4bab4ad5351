#!/usr/bin/env bash
# Makes tests/prisma runnable: installs its npm dependencies when missing (scripts/setup
# normally has) and generates the Prisma client into generated/ (offline: Prisma 7's CLI would
# otherwise download its schema engine first, which `generate` does not need). The client is
# generated again whenever the schema or the lock file (so the Prisma version) changes.
# Used by scripts/load, scripts/test-prisma and scripts/demo.
set -euo pipefail
# shellcheck source=scripts/lib/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/env.sh"
cd "$REPO_ROOT/tests/prisma"

if [[ ! -d node_modules/@prisma/adapter-pg || ! -d node_modules/tsx || ! -d node_modules/typescript || ! -e node_modules/poolgate ]]; then
  log "installing tests/prisma's npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >&2 \
    || die "npm ci failed in tests/prisma: is the npm registry reachable? (scripts/setup installs it too)"
fi
[[ -f "$REPO_ROOT/pkg/dist/node.js" ]] || die "pkg/dist is missing: build poolgate first with scripts/build"

stamp="$(cat prisma/schema.prisma package-lock.json | sha256sum | cut -d' ' -f1)"
if [[ ! -f generated/prisma/client.ts || "$(cat generated/.stamp 2>/dev/null)" != "$stamp" ]]; then
  log "generating the Prisma client (prisma generate)"
  PRISMA_SCHEMA_ENGINE_BINARY=/bin/false node_modules/.bin/prisma generate >/dev/null \
    || die "prisma generate failed (see above)"
  printf '%s\n' "$stamp" > generated/.stamp
fi
