# shellcheck shell=bash
# Throwaway Redis servers under /tmp, for the fleet-lease tests and the load tool.
# Source it, then:
#
#   redis_start NAME PORT    # fresh server on 127.0.0.1:PORT (+ POOLGATE_PORT_OFFSET), no
#                            # persistence, in /tmp/poolgate-redis-NAME[-OFFSET]; exports REDIS_URL
#   redis_stop NAME          # shutdown nosave, remove the directory (safe to call twice)
#   redis_pause NAME         # stop the server but keep its settings (redis_resume restarts it)
#   redis_resume NAME
#
# Debian's redis-server (scripts/setup installs it). Never for real data.

_redis_log() { printf '[redis] %s\n' "$*" >&2; }
_redis_dir() { printf '/tmp/poolgate-redis-%s%s\n' "$1" "${POOLGATE_PORT_OFFSET:+-$POOLGATE_PORT_OFFSET}"; }

_redis_launch() {
  local dir=$1 port
  port="$(cat "$dir/port")"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --daemonize yes --pidfile "$dir/r.pid" --logfile "$dir/r.log" >/dev/null \
    || { _redis_log "redis-server failed to start on $port"; return 1; }
  local i
  for i in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  _redis_log "redis-server on $port did not answer; last lines of $dir/r.log:"
  tail -n 20 "$dir/r.log" >&2 || true
  return 1
}

redis_start() {
  if [[ $# -ne 2 ]]; then _redis_log "usage: redis_start NAME PORT"; return 2; fi
  local name=$1 port=$2 dir
  command -v redis-server >/dev/null || { _redis_log "redis-server not found: run scripts/setup"; return 1; }
  port=$((port + ${POOLGATE_PORT_OFFSET:-0}))
  dir="$(_redis_dir "$name")"
  redis_stop "$name" 2>/dev/null || true
  mkdir -p "$dir"
  echo "$port" > "$dir/port"
  _redis_launch "$dir" || return 1
  export REDIS_URL="redis://127.0.0.1:$port"
  _redis_log "ready: REDIS_URL=$REDIS_URL"
}

redis_pause() {
  local dir port
  dir="$(_redis_dir "$1")"
  [[ -f "$dir/port" ]] || return 0
  port="$(cat "$dir/port")"
  redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
}

redis_resume() {
  _redis_launch "$(_redis_dir "$1")"
}

redis_stop() {
  if [[ $# -ne 1 ]]; then _redis_log "usage: redis_stop NAME"; return 2; fi
  local dir
  dir="$(_redis_dir "$1")"
  [[ -e "$dir" ]] || return 0
  redis_pause "$1"
  rm -rf "$dir"
}
