#!/usr/bin/env bash
# Runs the three pieces of the Next.js + Convex example together, and stops them all on Ctrl-C:
#   Gatehouse        http://localhost:${GATEHOUSE_PORT:-8080}   (the AuthKit-compatible auth server)
#   convex-numbers   http://127.0.0.1:${CONVEX_PORT:-3210}      (the Rust Convex-protocol backend)
#   the Next.js app  http://localhost:${APP_PORT:-3000}          (open this one; `next build` + `next start`)
# Data (Gatehouse's store and the numbers) lives in ${DATA_DIR:-examples/nextjs-convex/.data}.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEFAULT_APP_PORT=3000
source "$HERE/../lib/run-common.sh"

prepare_pieces
configure_gatehouse

# authkit-nextjs seals its session cookie with this password; it is kept so sessions survive restarts.
COOKIE_PASSWORD_FILE="$DATA_DIR/cookie-password"
[[ -s "$COOKIE_PASSWORD_FILE" ]] || (umask 077 && node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("base64url"))' >"$COOKIE_PASSWORD_FILE")
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

export NEXT_TELEMETRY_DISABLED=1
run_pieces node node_modules/next/dist/bin/next start -p "$APP_PORT" -H 127.0.0.1
