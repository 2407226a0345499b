#!/usr/bin/env bash
# Prints the URL of a PostgreSQL server the tests can use, and makes sure
# it runs. In order:
#   1. $BLNK_TEST_POSTGRES, if set (it must answer);
#   2. a server on 127.0.0.1:5432 with trust auth for user postgres and a
#      database "test" (what this project's machines run);
#   3. otherwise a throwaway cluster of our own: PostgreSQL from Debian's
#      packages (installed if missing), initialised once under
#      ~/.cache/blnk-test-postgres as the postgres user (the server refuses
#      to run as root), started on a free port, and reused by later runs.
# Idempotent; a second run takes well under a second. Set
# BLNK_TEST_POSTGRES_THROWAWAY=1 to skip step 2.
set -euo pipefail

log() { echo "setup-postgres: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$@" >/dev/null 2>&1 || {
    as_root apt-get -o DPkg::Lock::Timeout=300 update -qq
    as_root apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$@" >/dev/null
  }
}
answers() { command -v psql >/dev/null 2>&1 && PGCONNECT_TIMEOUT=3 psql "$1" -Atqc 'SELECT 1' >/dev/null 2>&1; }

if [ -n "${BLNK_TEST_POSTGRES:-}" ]; then
  command -v psql >/dev/null 2>&1 || apt_install postgresql-client
  answers "$BLNK_TEST_POSTGRES" || { log "BLNK_TEST_POSTGRES does not answer"; exit 1; }
  echo "$BLNK_TEST_POSTGRES"
  exit 0
fi

default="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
if [ -z "${BLNK_TEST_POSTGRES_THROWAWAY:-}" ] && answers "$default"; then
  echo "$default"
  exit 0
fi

# 3. A throwaway cluster.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing postgresql (apt)"
  apt_install postgresql
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir="${XDG_CACHE_HOME:-$HOME/.cache}/blnk-test-postgres"
run_as=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
  run_as=(runuser -u postgres --)
fi
mkdir -p "$dir"
[ "$(id -u)" -eq 0 ] && chown postgres "$dir" && chmod 0700 "$dir"
# The home may not be traversable by the postgres user: keep the cluster
# where it can reach it.
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$dir"; then
  dir=/var/tmp/blnk-test-postgres
  mkdir -p "$dir" && chown postgres "$dir" && chmod 0700 "$dir"
fi
url_of() { echo "postgres://postgres@127.0.0.1:$1/test?sslmode=disable"; }

if [ -f "$dir/port" ] && "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  port=$(cat "$dir/port")
  answers "$(url_of "$port")" && { url_of "$port"; exit 0; }
fi
if [ ! -f "$dir/data/PG_VERSION" ]; then
  log "initialising a throwaway cluster in $dir"
  "${run_as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
fi
port=""
for p in $(seq 55432 55532); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { log "no free port in 55432-55532"; exit 1; }
log "starting it on 127.0.0.1:$port"
"${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
echo "$port" > "$dir/port"
"${run_as[@]}" "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 ||
  "${run_as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres test
url_of "$port"
