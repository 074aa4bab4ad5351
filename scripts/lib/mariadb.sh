# shellcheck shell=bash
# Throwaway MariaDB servers under /tmp (Debian's mariadb-server), for the doctor's MySQL tests.
# Source it, then:
#
#   mariadb_start NAME PORT MAX_CONNECTIONS   # fresh server in /tmp/poolgate-mariadb-NAME on
#                                             # 127.0.0.1:PORT; user app (password given by
#                                             # MARIADB_APP_PASSWORD, default "app") owns database
#                                             # app; exports MYSQL_DATABASE_URL and
#                                             # MYSQL_ADMIN_DATABASE_URL (root, no password)
#   trap 'mariadb_stop NAME' EXIT             # callers stop their servers (safe to call twice)
#   mariadb_sql NAME [mariadb args...]        # the mariadb client as root
#
# Listens on 127.0.0.1 only, no data kept: never for real data. Runs as user mysql.

_mdb_log() { printf '[mariadb] %s\n' "$*" >&2; }
_mdb_dir() { printf '/tmp/poolgate-mariadb-%s%s\n' "$1" "${POOLGATE_PORT_OFFSET:+-$POOLGATE_PORT_OFFSET}"; }

mariadb_start() {
  if [[ $# -ne 3 ]]; then _mdb_log "usage: mariadb_start NAME PORT MAX_CONNECTIONS"; return 2; fi
  local name=$1 port=$2 max=$3 dir i pw
  [[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || { _mdb_log "bad name: $name"; return 2; }
  [[ "$port" =~ ^[0-9]+$ && "$max" =~ ^[0-9]+$ ]] || { _mdb_log "PORT and MAX_CONNECTIONS must be numbers"; return 2; }
  [[ -x /usr/sbin/mariadbd ]] || { _mdb_log "mariadb-server is not installed: run scripts/setup"; return 1; }
  port=$((port + ${POOLGATE_PORT_OFFSET:-0}))
  dir="$(_mdb_dir "$name")"
  mariadb_stop "$name"
  mkdir -p "$dir"
  chown mysql:mysql "$dir"
  _mdb_log "starting MariaDB $name: 127.0.0.1:$port, max_connections=$max, dir $dir"
  if ! (cd /tmp && mariadb-install-db --no-defaults --datadir="$dir/data" --user=mysql \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1); then
    _mdb_log "mariadb-install-db failed:"; tail -n 20 "$dir/install.log" >&2; return 1
  fi
  (cd /tmp && runuser -u mysql -- /usr/sbin/mariadbd --no-defaults --datadir="$dir/data" \
    --port="$port" --bind-address=127.0.0.1 --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" \
    --log-error="$dir/error.log" --max-connections="$max" --skip-name-resolve \
    --innodb-buffer-pool-size=16M --innodb-log-file-size=8M </dev/null >/dev/null 2>&1 &)
  for ((i = 0; i < 300; i++)); do
    if mariadb --no-defaults -h 127.0.0.1 -P "$port" -u root -e 'SELECT 1' >/dev/null 2>&1; then
      break
    fi
    sleep 0.1
  done
  if ((i == 300)); then
    _mdb_log "MariaDB did not answer on 127.0.0.1:$port within 30 s; last lines of $dir/error.log:"
    tail -n 20 "$dir/error.log" >&2 || true
    return 1
  fi
  printf 'port=%s\n' "$port" >"$dir/settings"
  pw="${MARIADB_APP_PASSWORD:-app}"
  # The password goes in through a file, not the command line, and is quoted for SQL.
  printf "CREATE DATABASE app; CREATE USER 'app'@'%%' IDENTIFIED BY '%s'; GRANT ALL ON app.* TO 'app'@'%%';\n" \
    "${pw//\'/\'\'}" >"$dir/init.sql"
  mariadb --no-defaults -h 127.0.0.1 -P "$port" -u root <"$dir/init.sql" \
    || { _mdb_log "could not create user/database app"; return 1; }
  rm -f "$dir/init.sql"
  export MYSQL_DATABASE_URL="mysql://app:$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$pw")@127.0.0.1:$port/app"
  export MYSQL_ADMIN_DATABASE_URL="mysql://root@127.0.0.1:$port/app"
  _mdb_log "ready: MariaDB on 127.0.0.1:$port (user app, database app)"
}

mariadb_stop() {
  if [[ $# -ne 1 ]]; then _mdb_log "usage: mariadb_stop NAME"; return 2; fi
  local dir pid i
  dir="$(_mdb_dir "$1")"
  [[ -e "$dir" ]] || return 0
  pid="$(cat "$dir/mysqld.pid" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    _mdb_log "stopping MariaDB $1 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

mariadb_sql() {
  if [[ $# -lt 1 ]]; then _mdb_log "usage: mariadb_sql NAME [mariadb args...]"; return 2; fi
  local name=$1 port
  shift
  port="$(sed -n 's/^port=//p' "$(_mdb_dir "$name")/settings" 2>/dev/null)"
  [[ -n "$port" ]] || { _mdb_log "no MariaDB $name"; return 1; }
  mariadb --no-defaults -h 127.0.0.1 -P "$port" -u root "$@"
}
