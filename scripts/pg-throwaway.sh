#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on a free loopback port in a temporary folder.
# Prints PGDIR=… and DATABASE_URL=…; stop it with: scripts/pg-throwaway.sh stop "$PGDIR"
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
if [ "${1:-}" = stop ]; then
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$2/data" -m immediate -w stop >/dev/null
  rm -rf "$2"
  exit 0
fi
DIR=$(mktemp -d -t gatehouse-pg.XXXXXX)
chown postgres:postgres "$DIR"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
runuser -u postgres -- "$PGBIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 30 start \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >/dev/null
echo "PGDIR=$DIR"
echo "DATABASE_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
