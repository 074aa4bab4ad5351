# shellcheck shell=bash
# Common environment for poolgate's scripts. Source it; don't run it.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
#
# Sets REPO_ROOT and TOOLS_DIR, puts the project's own tools first on PATH
# (.tools/node_modules/.bin for npm's binaryen/wasm-opt, then ~/.cargo/bin for
# rustup, cargo, wasm-bindgen, wasm-pack), and quiets tools that phone home or
# colour their output.

if [[ -z "${POOLGATE_ENV_LOADED:-}" ]]; then
  POOLGATE_ENV_LOADED=1

  REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  TOOLS_DIR="$REPO_ROOT/.tools"
  CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
  export REPO_ROOT TOOLS_DIR CARGO_HOME

  # npm's binaryen first: Debian's wasm-opt (binaryen 108) breaks wasm-bindgen output.
  PATH="$TOOLS_DIR/node_modules/.bin:$CARGO_HOME/bin:$PATH"
  export PATH

  export NEXT_TELEMETRY_DISABLED=1
  export CARGO_TERM_COLOR=never
  export CARGO_TERM_PROGRESS_WHEN=never
  export CARGO_NET_RETRY="${CARGO_NET_RETRY:-3}"
  export NO_UPDATE_NOTIFIER=1
  export npm_config_update_notifier=false
  export npm_config_fund=false
  export npm_config_audit=false
  export CLOUDFLARE_CF_FETCH_ENABLED=false
  export WRANGLER_SEND_METRICS=false
  export PRISMA_HIDE_UPDATE_MESSAGE=1
  export CHECKPOINT_DISABLE=1
  export DEBIAN_FRONTEND=noninteractive
fi

# log MSG...: a progress line on stderr, prefixed with the calling script's name.
log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

# die MSG...: print an error and exit 1.
die() { printf '[%s] ERROR: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# run CMD...: print the command, then run it.
run() { printf '[%s] $ %s\n' "$(basename "$0")" "$*" >&2; "$@"; }

# usage: prints the calling script's leading comment block (its help), without the "# ".
usage() {
  awk 'NR == 1 || /^# shellcheck/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
}
