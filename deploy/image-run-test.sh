#!/usr/bin/env bash
# Runs the gatehouse binary the way the Dockerfile's image runs it, for machines without a
# Docker daemon: user 65532 (not root), GATEHOUSE_DATA=/data-like folder owned by that user
# (0700), GATEHOUSE_LISTEN=0.0.0.0:<port>, working directory the data folder, `serve` as the
# command, an empty environment otherwise. Checks the quick start answers (/, /health, /ready,
# the JWKS), that `init --json` works as the user, and that SIGTERM stops it cleanly.
#   deploy/image-run-test.sh [path/to/gatehouse]   (default: the newer of target/release and target/debug)
# Needs root (to switch users with setpriv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:-}"
if [[ -z "$BIN" ]]; then
  BIN="$ROOT/target/release/gatehouse"
  DEBUG="$ROOT/target/debug/gatehouse"
  # An old release build beside a fresh debug one would test yesterday's code.
  if [[ ! -x "$BIN" || ( -x "$DEBUG" && "$DEBUG" -nt "$BIN" ) ]]; then BIN="$DEBUG"; fi
  echo "testing $BIN" >&2
fi
[[ -x "$BIN" ]] || { echo "no gatehouse binary at $BIN (cargo build -p gatehouse)" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "run as root (it switches to uid 65532 like the image)" >&2; exit 2; }

WORK="$(mktemp -d)"
chmod 0755 "$WORK"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
install -m 0755 "$BIN" "$WORK/gatehouse"
install -d -o 65532 -g 65532 -m 0700 "$WORK/data"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# The image's process: its user, environment, working directory; `exec`, so $! is gatehouse.
as_image() {
  cd "$WORK/data" && exec env -i GATEHOUSE_DATA="$WORK/data" GATEHOUSE_LISTEN="0.0.0.0:$PORT" \
    setpriv --reuid=65532 --regid=65532 --clear-groups "$WORK/gatehouse" "$@"
}

INIT="$( (as_image init --json) )"
CLIENT_ID="$(printf '%s' "$INIT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')"
(as_image serve) >"$WORK/stdout" 2>"$WORK/stderr" &
PID=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.1
done
check() { # path, expected text
  local body
  body="$(curl -fsS "http://127.0.0.1:$PORT$1")" || { echo "FAIL: GET $1"; cat "$WORK/stderr"; exit 1; }
  [[ "$body" == *"$2"* ]] || { echo "FAIL: GET $1 lacks $2: $body"; exit 1; }
  echo "ok: GET $1"
}
check /health '"ok"'
check /ready '"ready"'
check / "$CLIENT_ID"
check "/sso/jwks/$CLIENT_ID" '"keys"'
check "/user_management/$CLIENT_ID/.well-known/openid-configuration" "http://localhost:$PORT/user_management/$CLIENT_ID"
owner="$(stat -c '%u %a' "$WORK/data/gatehouse.db")"
[[ "$owner" == 65532* ]] || { echo "FAIL: the store is owned by $owner, not the image's user"; exit 1; }
echo "ok: the store belongs to uid 65532 ($owner)"
if grep -q 'sk_test_' "$WORK/stdout" "$WORK/stderr"; then echo "FAIL: an API key reached the output"; exit 1; fi
echo "ok: no API key in the output"
kill -TERM "$PID"
wait "$PID" && echo "ok: SIGTERM stops it cleanly" || { echo "FAIL: exit status $? after SIGTERM"; exit 1; }
