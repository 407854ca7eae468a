#!/usr/bin/env bash
# Runs the three pieces of the React + Convex example together, and stops them all on Ctrl-C:
#   Gatehouse        http://localhost:${GATEHOUSE_PORT:-8080}   (the AuthKit-compatible auth server)
#   convex-numbers   http://127.0.0.1:${CONVEX_PORT:-3210}      (the Rust Convex-protocol backend)
#   the Vite app     http://localhost:${APP_PORT:-5173}          (open this one)
# Data (Gatehouse's store and the numbers) lives in ${DATA_DIR:-examples/react-convex/.data}.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEFAULT_APP_PORT=5173
source "$HERE/../lib/run-common.sh"

prepare_pieces
# The development environment already allows http://localhost:5173/callback and any localhost origin (CORS).
configure_gatehouse

cat >"$HERE/.env.local" <<EOF
VITE_WORKOS_CLIENT_ID=$CLIENT_ID
VITE_WORKOS_REDIRECT_URI=$APP_URL/callback
VITE_WORKOS_API_HOSTNAME=localhost
VITE_WORKOS_API_PORT=$GATEHOUSE_PORT
VITE_WORKOS_API_HTTPS=false
VITE_CONVEX_URL=http://127.0.0.1:$CONVEX_PORT
EOF

run_pieces node node_modules/vite/bin/vite.js --port "$APP_PORT" --strictPort
