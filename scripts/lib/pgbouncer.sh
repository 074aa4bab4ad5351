# shellcheck shell=bash
# A throwaway PgBouncer (Debian's) in transaction pooling mode in front of a throwaway cluster
# of scripts/lib/pg.sh. Source pg.sh first, then:
#
#   pgbouncer_start NAME PORT CLUSTER POOL_SIZE   # /tmp/poolgate-pgbouncer-NAME on 127.0.0.1:PORT,
#                                                 # at most POOL_SIZE server connections to the
#                                                 # cluster's database app; exports
#                                                 # PGBOUNCER_DATABASE_URL (role app)
#   trap 'pgbouncer_stop NAME' EXIT               # callers stop it (safe to call twice)
#
# Trust auth, 127.0.0.1 only: never for real data. PgBouncer refuses to run as root, so it runs
# as user postgres, like the cluster.

_pgb_log() { printf '[pgbouncer] %s\n' "$*" >&2; }
_pgb_dir() { printf '/tmp/poolgate-pgbouncer-%s%s\n' "$1" "${POOLGATE_PORT_OFFSET:+-$POOLGATE_PORT_OFFSET}"; }
_pgb_bin() {
  if [[ -x /usr/sbin/pgbouncer ]]; then
    printf '/usr/sbin/pgbouncer\n'
  elif command -v pgbouncer >/dev/null; then
    command -v pgbouncer
  else
    _pgb_log "pgbouncer is not installed: run scripts/setup (it installs Debian's pgbouncer)"
    return 1
  fi
}

pgbouncer_start() {
  if [[ $# -ne 4 ]]; then _pgb_log "usage: pgbouncer_start NAME PORT CLUSTER POOL_SIZE"; return 2; fi
  local name=$1 port=$2 cluster=$3 size=$4 dir bin pg_port bindir i
  [[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || { _pgb_log "bad name: $name"; return 2; }
  [[ "$port" =~ ^[0-9]+$ && "$size" =~ ^[0-9]+$ ]] || { _pgb_log "PORT and POOL_SIZE must be numbers"; return 2; }
  port=$((port + ${POOLGATE_PORT_OFFSET:-0}))
  bin="$(_pgb_bin)" || return 1
  pg_port="$(sed -n 's/^port=//p' "$(_pg_dir "$cluster")/settings" 2>/dev/null)"
  [[ -n "$pg_port" ]] || { _pgb_log "no cluster $cluster (start it with pg_start first)"; return 1; }
  dir="$(_pgb_dir "$name")"
  pgbouncer_stop "$name"
  mkdir -p "$dir"
  printf '"app" ""\n"postgres" ""\n' > "$dir/userlist.txt"
  cat > "$dir/pgbouncer.ini" <<INI
[databases]
app = host=127.0.0.1 port=$pg_port dbname=app

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = $size
max_db_connections = $size
reserve_pool_size = 0
min_pool_size = 0
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits,options
admin_users = postgres
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  chown -R postgres:postgres "$dir" 2>/dev/null || true
  _pgb_log "starting pgbouncer $name: 127.0.0.1:$port -> cluster $cluster (127.0.0.1:$pg_port), pool $size, transaction mode"
  if ! _pg_as_postgres "$bin" -d -q "$dir/pgbouncer.ini"; then
    _pgb_log "pgbouncer failed to start; last lines of $dir/pgbouncer.log:"
    tail -n 20 "$dir/pgbouncer.log" >&2 || true
    return 1
  fi
  bindir="$(_pg_bindir)" || return 1
  for ((i = 0; i < 100; i++)); do
    if "$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U app -d app -c 'SELECT 1' >/dev/null 2>&1; then
      export PGBOUNCER_DATABASE_URL="postgresql://app@127.0.0.1:$port/app"
      _pgb_log "ready: PGBOUNCER_DATABASE_URL=$PGBOUNCER_DATABASE_URL"
      return 0
    fi
    sleep 0.1
  done
  _pgb_log "pgbouncer did not answer on 127.0.0.1:$port within 10 s; last lines of $dir/pgbouncer.log:"
  tail -n 20 "$dir/pgbouncer.log" >&2 || true
  return 1
}

pgbouncer_stop() {
  if [[ $# -ne 1 ]]; then _pgb_log "usage: pgbouncer_stop NAME"; return 2; fi
  local dir pid i
  dir="$(_pgb_dir "$1")"
  [[ -e "$dir" ]] || return 0
  pid="$(cat "$dir/pgbouncer.pid" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    _pgb_log "stopping pgbouncer $1 (pid $pid)"
    kill -INT "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
