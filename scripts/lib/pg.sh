# shellcheck shell=bash
# Throwaway PostgreSQL clusters under /tmp, for tests, benches and the demo.
# Source it (after scripts/lib/env.sh if you like), then:
#
#   pg_start NAME PORT MAX_CONNECTIONS   # fresh cluster in /tmp/poolgate-pg-NAME, role+db "app";
#                                        # exports DATABASE_URL (role app) and ADMIN_DATABASE_URL
#   trap 'pg_stop NAME' EXIT             # callers stop their clusters
#   pg_restart NAME                      # fast stop + start, same settings and data
#   pg_stop NAME                         # fast stop, remove the directory (safe to call twice)
#   pg_psql NAME [psql args...]          # psql as superuser postgres on database app
#
# Listens on 127.0.0.1 only, trust auth, fsync off: never for real data.
# We run as root and PostgreSQL refuses to, so the server runs as user postgres.

_pg_log() { printf '[pg] %s\n' "$*" >&2; }

# Highest installed PostgreSQL's bin directory.
_pg_bindir() {
  local d
  d="$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n1)"
  if [[ -z "$d" || ! -x "$d/initdb" ]]; then
    _pg_log "no initdb under /usr/lib/postgresql/*/bin: run scripts/setup"
    return 1
  fi
  printf '%s\n' "$d"
}

# POOLGATE_PORT_OFFSET (default 0) shifts every port and names the directories apart, so two
# checkouts (a worktree beside main, say) can run their tests at the same time.
_pg_dir() { printf '/tmp/poolgate-pg-%s%s\n' "$1" "${POOLGATE_PORT_OFFSET:+-$POOLGATE_PORT_OFFSET}"; }

# Run a command as user postgres (from a directory it can read).
_pg_as_postgres() {
  if [[ $(id -un) == postgres ]]; then
    (cd /tmp && "$@")
  else
    (cd /tmp && runuser -u postgres -- "$@")
  fi
}

# _pg_ctl_start NAME: start the cluster with the settings saved by pg_start.
_pg_ctl_start() {
  local name=$1 dir bindir port max
  dir="$(_pg_dir "$name")"
  bindir="$(_pg_bindir)" || return 1
  port="$(sed -n 's/^port=//p' "$dir/settings")"
  max="$(sed -n 's/^max_connections=//p' "$dir/settings")"
  local opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=$max"
  opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if ! _pg_as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start -o "$opts" >/dev/null; then
    _pg_log "cluster $name failed to start on port $port; last lines of $dir/postgres.log:"
    tail -n 20 "$dir/postgres.log" >&2 || true
    return 1
  fi
}

# _pg_ctl_stop NAME: fast stop if it is running.
_pg_ctl_stop() {
  local dir bindir
  dir="$(_pg_dir "$1")"
  [[ -f "$dir/data/postmaster.pid" ]] || return 0
  bindir="$(_pg_bindir)" || return 1
  _pg_as_postgres "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 \
    || _pg_as_postgres "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 \
    || { _pg_log "could not stop cluster $1"; return 1; }
}

pg_start() {
  if [[ $# -ne 3 ]]; then _pg_log "usage: pg_start NAME PORT MAX_CONNECTIONS"; return 2; fi
  local name=$1 port=$2 max=$3 dir bindir
  [[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || { _pg_log "bad cluster name: $name"; return 2; }
  [[ "$port" =~ ^[0-9]+$ && "$max" =~ ^[0-9]+$ ]] || { _pg_log "PORT and MAX_CONNECTIONS must be numbers"; return 2; }
  port=$((port + ${POOLGATE_PORT_OFFSET:-0}))
  dir="$(_pg_dir "$name")"
  bindir="$(_pg_bindir)" || return 1

  if [[ -e "$dir" ]]; then
    _pg_log "removing old cluster $dir"
    _pg_ctl_stop "$name" || true
    rm -rf "$dir"
  fi
  mkdir -p "$dir"
  printf 'port=%s\nmax_connections=%s\n' "$port" "$max" > "$dir/settings"
  chown postgres:postgres "$dir" 2>/dev/null || true
  chmod 700 "$dir"

  _pg_log "starting cluster $name: 127.0.0.1:$port, max_connections=$max, dir $dir"
  if ! _pg_as_postgres "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C \
      > "$dir/initdb.log" 2>&1; then
    _pg_log "initdb failed:"; cat "$dir/initdb.log" >&2; return 1
  fi
  _pg_ctl_start "$name" || return 1

  "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
      -c "CREATE ROLE app LOGIN NOSUPERUSER" -c "CREATE DATABASE app OWNER app" >/dev/null \
    || { _pg_log "could not create role/database app"; return 1; }

  export DATABASE_URL="postgresql://app@127.0.0.1:$port/app"
  export ADMIN_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/app"
  _pg_log "ready: DATABASE_URL=$DATABASE_URL"
}

pg_restart() {
  if [[ $# -ne 1 ]]; then _pg_log "usage: pg_restart NAME"; return 2; fi
  local dir
  dir="$(_pg_dir "$1")"
  [[ -f "$dir/settings" ]] || { _pg_log "no cluster $1 (start it with pg_start)"; return 1; }
  _pg_log "restarting cluster $1"
  _pg_ctl_stop "$1" || return 1
  _pg_ctl_start "$1"
}

pg_stop() {
  if [[ $# -ne 1 ]]; then _pg_log "usage: pg_stop NAME"; return 2; fi
  local dir
  dir="$(_pg_dir "$1")"
  [[ -e "$dir" ]] || return 0
  _pg_log "stopping cluster $1"
  _pg_ctl_stop "$1" || true
  rm -rf "$dir"
}

pg_psql() {
  if [[ $# -lt 1 ]]; then _pg_log "usage: pg_psql NAME [psql args...]"; return 2; fi
  local name=$1 dir bindir port
  shift
  dir="$(_pg_dir "$name")"
  bindir="$(_pg_bindir)" || return 1
  port="$(sed -n 's/^port=//p' "$dir/settings" 2>/dev/null)"
  [[ -n "$port" ]] || { _pg_log "no cluster $name"; return 1; }
  "$bindir/psql" -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d app "$@"
}
