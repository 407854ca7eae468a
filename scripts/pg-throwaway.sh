#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on a free loopback port in a temporary folder.
# Prints PGDIR=… and DATABASE_URL=…; stop it with: scripts/pg-throwaway.sh stop "$PGDIR"
#
# With --ssl the server requires nothing but offers TLS (ssl=on) with a certificate for the host
# name `localhost` only, signed by a throwaway CA made with the openssl command; it also prints
# PG_SSL_CA=… (that CA's certificate, for sslrootcert).
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
SSL_OPTS=""
if [ "${1:-}" = --ssl ]; then
  TLS="$DIR/tls"
  mkdir "$TLS"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=Gatehouse throwaway CA" -keyout "$TLS/ca.key" -out "$TLS/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
    -keyout "$TLS/server.key" -out "$TLS/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$TLS/ext"
  openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" -CAcreateserial -days 2 \
    -extfile "$TLS/ext" -out "$TLS/server.crt" 2>/dev/null
  chown -R postgres:postgres "$TLS"
  chmod 600 "$TLS/server.key" "$TLS/ca.key"
  chmod 755 "$TLS"
  SSL_OPTS="-c ssl=on -c ssl_cert_file=$TLS/server.crt -c ssl_key_file=$TLS/server.key"
fi
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 30 start \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 $SSL_OPTS" >/dev/null
echo "PGDIR=$DIR"
echo "DATABASE_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
if [ -n "$SSL_OPTS" ]; then
  echo "PG_SSL_CA=$TLS/ca.crt"
fi
