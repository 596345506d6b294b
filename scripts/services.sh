#!/usr/bin/env bash
# The services the replica tests need, on 127.0.0.1: PostgreSQL (Debian's cluster, started with
# pg_ctlcluster), and the binaries of Redis and HAProxy (the tests start their own instances).
#
#   eval "$(scripts/services.sh start)"   installs what is missing, starts PostgreSQL, and prints
#                                          export PENSIEVE_TEST_POSTGRES_URL=...
#   scripts/services.sh stop               stops the PostgreSQL cluster it started
#
# Needs root (apt-get, pg_ctlcluster). The role and password are for a throwaway test cluster.
set -euo pipefail

PG_ROLE=pensieve
PG_PASSWORD=pensieve-test

log() { echo "services: $*" >&2; }

install_missing() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} ..."
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

pg_cluster() {
  pg_lsclusters --no-header | awk 'NR == 1 { print $1, $2 }'
}

start() {
  install_missing
  local version name
  read -r version name <<<"$(pg_cluster)"
  if [ -z "${version:-}" ]; then
    log "no PostgreSQL cluster found"; exit 1
  fi
  if ! pg_lsclusters --no-header | awk -v v="$version" -v n="$name" '$1 == v && $2 == n { print $4 }' | grep -q online; then
    log "starting PostgreSQL $version/$name ..."
    pg_ctlcluster "$version" "$name" start >&2
  fi
  local port
  port=$(pg_lsclusters --no-header | awk -v v="$version" -v n="$name" '$1 == v && $2 == n { print $3 }')
  runuser -u postgres -- psql -q -p "$port" -v ON_ERROR_STOP=1 >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN
    CREATE ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
SQL
  if ! runuser -u postgres -- psql -p "$port" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_ROLE'" | grep -q 1; then
    runuser -u postgres -- createdb -p "$port" -O "$PG_ROLE" "$PG_ROLE" >&2
  fi
  echo "export PENSIEVE_TEST_POSTGRES_URL=postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$port/$PG_ROLE"
}

stop() {
  local version name
  read -r version name <<<"$(pg_cluster)"
  [ -n "${version:-}" ] && pg_ctlcluster "$version" "$name" stop >&2 || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
