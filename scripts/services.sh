#!/usr/bin/env bash
# Start PostgreSQL and MariaDB for the test suite if they are not running, and Redis for
# bench/peers.py's Celery (its smoke test is in tests/process/test_bench_smoke.py).
# Installs them from Debian's packages when they are missing and we are root.
set -uo pipefail

log() { printf 'services: %s\n' "$*"; }

install_pkgs() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing $*"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    log "cannot install $* (not root or no apt-get)"
  fi
}

wait_for() { # name, check command…
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then log "$name is up"; return 0; fi
    sleep 0.5
  done
  log "$name did not come up"; return 1
}

postgres_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping; }
mariadb_up() { mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -uroot ping; }

if ! command -v pg_isready >/dev/null; then install_pkgs postgresql; fi
if ! postgres_up; then
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
  wait_for PostgreSQL postgres_up
else
  log "PostgreSQL is up"
fi

if ! command -v mariadb-admin >/dev/null; then install_pkgs mariadb-server; fi
if ! mariadb_up; then
  log "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  wait_for MariaDB mariadb_up
else
  log "MariaDB is up"
fi
if ! command -v redis-server >/dev/null; then install_pkgs redis-server; fi
if ! redis_up; then
  log "starting Redis"
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no || true
  wait_for Redis redis_up
else
  log "Redis is up"
fi
exit 0
