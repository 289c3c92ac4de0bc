#!/usr/bin/env bash
# Runs COMMAND with a throwaway PostgreSQL cluster:
#
#   tests/scripts/with_postgres.sh COMMAND [ARGS...]
#
# Starts a cluster of Debian's `postgresql` package (the newest version under
# /usr/lib/postgresql/*/bin, else pg_ctl on PATH) in a temporary folder, listening on a free
# port of 127.0.0.1 only (trust authentication, superuser `pkgtrust`, settings for speed, not
# durability), runs COMMAND with
#
#   PKGTRUST_TEST_POSTGRES       a libpq connection string:
#                                host=127.0.0.1 port=PORT user=pkgtrust dbname=postgres
#   PKGTRUST_TEST_POSTGRES_DATA  the data folder
#   PKGTRUST_TEST_POSTGRES_PORT  the port
#   PKGTRUST_TEST_POSTGRES_CTL   a command that restarts the server (pg_ctl restart -m fast,
#                                waiting until it accepts connections again)
#
# and stops the cluster and removes the folder afterwards, also when COMMAND fails or the
# script is interrupted (SIGINT, SIGTERM: the signal is passed on to COMMAND first). Exits
# with COMMAND's exit status (128 + the signal's number when interrupted).
#
# When PKGTRUST_TEST_POSTGRES is already set, nothing is started: COMMAND runs with it.
# PostgreSQL refuses to run as root: as root, the cluster runs as the system user
# `pkgtrust-pg` (created when missing).
# shellcheck disable=SC2317  # cleanup, on_signal and stop_server run from traps
set -euo pipefail

readonly PG_USER=pkgtrust-pg
readonly START_ATTEMPTS=5
readonly READY_SECONDS=30

usage() {
  echo "usage: $0 COMMAND [ARGS...]" >&2
  echo "  runs COMMAND with \$PKGTRUST_TEST_POSTGRES naming a throwaway PostgreSQL cluster" >&2
  exit 2
}

die() {
  echo "with_postgres.sh: $*" >&2
  exit 1
}

[[ $# -gt 0 ]] || usage

# Nested use: the outer run's cluster serves.
if [[ -n "${PKGTRUST_TEST_POSTGRES:-}" ]]; then
  exec "$@"
fi

find_bindir() {
  local dir newest=""
  # Newest version first: 9.6 < 10 < 15 < 16 by version sort.
  newest=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$newest" && -x "/usr/lib/postgresql/$newest/bin/pg_ctl" ]]; then
    echo "/usr/lib/postgresql/$newest/bin"
    return 0
  fi
  if dir=$(command -v pg_ctl 2>/dev/null); then
    dirname "$(readlink -f "$dir")"
    return 0
  fi
  return 1
}

BINDIR=$(find_bindir) ||
  die "no PostgreSQL server found (looked for /usr/lib/postgresql/*/bin/pg_ctl and pg_ctl on PATH); install it with: apt-get install postgresql"
for tool in initdb pg_ctl postgres; do
  [[ -x "$BINDIR/$tool" ]] || die "$BINDIR/$tool is missing"
done
PG_ISREADY="$BINDIR/pg_isready"
[[ -x "$PG_ISREADY" ]] || PG_ISREADY=$(command -v pg_isready) || die "pg_isready not found"

# As root, PostgreSQL's commands run as an unprivileged user.
if [[ $(id -u) -eq 0 ]]; then
  if ! getent passwd "$PG_USER" >/dev/null; then
    # Another run may create it at the same moment: only a user still missing is an error.
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER" 2>/dev/null ||
      getent passwd "$PG_USER" >/dev/null || die "could not create the system user $PG_USER"
  fi
  as_pg() { runuser -u "$PG_USER" -- "$@"; }
else
  as_pg() { "$@"; }
fi

# --- the temporary folder and the cleanup ------------------------------------------------

tmp=""
datadir=""
child=""
server_started=0

# A process that exists and has not exited (kill -0 also succeeds on a zombie).
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ -n "$stat" && "${stat%% *}" != Z ]]
}

stop_server() {
  [[ -n "$datadir" && -f "$datadir/postmaster.pid" ]] || return 0
  local pid
  pid=$(head -n 1 "$datadir/postmaster.pid" 2>/dev/null || true)
  (cd "$tmp" && as_pg "$BINDIR/pg_ctl" stop -D "$datadir" -m immediate -w -t 30 -s) >/dev/null 2>&1 || true
  # pg_ctl gave up or the pid file was stale: make sure that postmaster is gone.
  if [[ "$pid" =~ ^[0-9]+$ ]] && running "$pid" &&
    [[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" == "$(readlink -f "$BINDIR/postgres")" ]]; then
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do running "$pid" || break; sleep 0.1; done
  fi
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  # COMMAND is still running when a signal arrived before it finished.
  if [[ -n "$child" ]] && running "$child"; then
    kill -TERM "$child" 2>/dev/null
    for _ in $(seq 50); do running "$child" || break; sleep 0.1; done
    kill -KILL "$child" 2>/dev/null
    wait "$child" 2>/dev/null
  fi
  stop_server
  [[ -n "$tmp" && -d "$tmp" ]] && rm -rf -- "$tmp"
  exit "$rc"
}

on_signal() {
  local name=$1 number=$2
  trap - INT TERM
  if [[ -n "$child" ]] && running "$child"; then
    kill -"$name" "$child" 2>/dev/null
    # Give COMMAND a moment to finish on its own; cleanup() then insists.
    for _ in $(seq 30); do running "$child" || break; sleep 0.1; done
  fi
  exit $((128 + number))
}

trap cleanup EXIT
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM

base="${TMPDIR:-/tmp}"
tmp=$(mktemp -d "$base/pkgtrust-pg.XXXXXX") || die "could not create a folder under $base"
if [[ $(id -u) -eq 0 ]]; then
  chown "$PG_USER:" "$tmp"
  # $TMPDIR may sit below a folder the unprivileged user cannot enter (/root/...).
  if ! runuser -u "$PG_USER" -- test -w "$tmp" 2>/dev/null; then
    rmdir "$tmp"
    tmp=$(mktemp -d /tmp/pkgtrust-pg.XXXXXX) || die "could not create a folder under /tmp"
    chown "$PG_USER:" "$tmp"
    echo "with_postgres.sh: $PG_USER cannot reach $base; using $tmp" >&2
  fi
fi
chmod 0700 "$tmp"
datadir="$tmp/data"
log="$tmp/postgres.log"

# The socket path must fit in sun_path (107 bytes): $tmp/.s.PGSQL.PORT.
[[ ${#tmp} -le 90 ]] || die "the folder $tmp is too long for a unix socket path; set TMPDIR to a shorter one"

# --- the cluster -------------------------------------------------------------------------

# The unprivileged user may not be able to enter the caller's folder: run from $tmp.
if ! (cd "$tmp" && as_pg "$BINDIR/initdb" -D "$datadir" -A trust -U pkgtrust --no-sync -E UTF8 --locale=C \
  >"$tmp/initdb.log" 2>&1); then
  echo "with_postgres.sh: initdb failed:" >&2
  tail -n 30 "$tmp/initdb.log" >&2
  exit 1
fi

# Trust on loopback only (the server listens on nothing else) and on its own socket.
as_pg tee "$datadir/pg_hba.conf" >/dev/null <<'EOF'
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
EOF

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
  else
    echo $((20000 + RANDOM % 40000))
  fi
}

# Settings go into postgresql.conf (the last line of a setting wins), so a restart keeps them.
# PKGTRUST_TEST_POSTGRES_DURABLE=1 keeps PostgreSQL's durable defaults (fsync, synchronous
# commits) for benchmarks; tests trade durability for speed.
settings() {
  cat <<EOF

# with_postgres.sh: a throwaway cluster
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = '$tmp'
max_connections = 200
EOF
  if [[ "${PKGTRUST_TEST_POSTGRES_DURABLE:-0}" != 1 ]]; then
    printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n'
  fi
}

port=""
for attempt in $(seq "$START_ATTEMPTS"); do
  port=$(free_port)
  [[ "$port" =~ ^[0-9]+$ ]] || die "could not pick a free port (got '$port')"
  settings "$port" | as_pg tee -a "$datadir/postgresql.conf" >/dev/null
  rm -f "$log"  # each attempt's log on its own: only this attempt's "could not bind" counts
  if (cd "$tmp" && as_pg "$BINDIR/pg_ctl" start -D "$datadir" -l "$log" -w -t "$READY_SECONDS" -s) \
    >"$log.attempt" 2>&1; then
    server_started=1
    break
  fi
  stop_server  # a server that came up too slowly for -t
  if grep -q -e 'could not bind' -e 'Address already in use' "$log" 2>/dev/null && [[ $attempt -lt $START_ATTEMPTS ]]; then
    echo "with_postgres.sh: could not listen on 127.0.0.1:$port; trying another port" >&2
    continue
  fi
  break
done
if [[ $server_started -ne 1 ]]; then
  echo "with_postgres.sh: PostgreSQL did not start (port $port, data $datadir); the end of its log:" >&2
  cat "$log.attempt" >&2 2>/dev/null
  tail -n 30 "$log" >&2 2>/dev/null || true
  exit 1
fi
rm -f "$log.attempt"

ready=0
for _ in $(seq $((READY_SECONDS * 10))); do
  if "$PG_ISREADY" -q -h 127.0.0.1 -p "$port" -U pkgtrust -d postgres; then
    ready=1
    break
  fi
  sleep 0.1
done
if [[ $ready -ne 1 ]]; then
  echo "with_postgres.sh: PostgreSQL did not accept connections on 127.0.0.1:$port within ${READY_SECONDS} s; the end of its log:" >&2
  tail -n 30 "$log" >&2 || true
  exit 1
fi

# The restart helper tests run mid-run: the same user, data folder and log; it returns when
# the server accepts connections again.
restart="$tmp/pg-restart"
if [[ $(id -u) -eq 0 ]]; then
  run_as="runuser -u $PG_USER --"
else
  run_as=""
fi
cat >"$restart" <<EOF
#!/usr/bin/env bash
# Restarts the with_postgres.sh cluster in $datadir (pg_ctl restart -m fast).
set -euo pipefail
cd '$tmp'
if ! $run_as '$BINDIR/pg_ctl' restart -D '$datadir' -m fast -w -t $READY_SECONDS -l '$log' -s; then
  echo "pg-restart: pg_ctl restart failed; the end of the log:" >&2
  tail -n 30 '$log' >&2
  exit 1
fi
for _ in \$(seq $((READY_SECONDS * 10))); do
  '$PG_ISREADY' -q -h 127.0.0.1 -p $port -U pkgtrust -d postgres && exit 0
  sleep 0.1
done
echo "pg-restart: PostgreSQL does not accept connections on 127.0.0.1:$port" >&2
exit 1
EOF
chmod 0755 "$restart"

export PKGTRUST_TEST_POSTGRES="host=127.0.0.1 port=$port user=pkgtrust dbname=postgres"
export PKGTRUST_TEST_POSTGRES_DATA="$datadir"
export PKGTRUST_TEST_POSTGRES_PORT="$port"
export PKGTRUST_TEST_POSTGRES_CTL="$restart"

# In the background, so that a signal reaches the traps at once (a foreground command would
# delay them until it ends). A background job of a script would start with SIGINT and
# SIGQUIT ignored and stdin on /dev/null: the subshell restores both signals and stdin is
# passed on explicitly, so COMMAND runs as it would in the foreground.
(
  trap - EXIT INT QUIT TERM
  exec "$@"
) <&0 &
child=$!
set +e
wait "$child"
rc=$?
set -e
child=""
exit "$rc"
