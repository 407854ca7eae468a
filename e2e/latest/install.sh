#!/usr/bin/env bash
# Installs the latest published release of every SDK the e2e suite uses, beside the pinned lockfiles
# (which stay untouched, so the default run is reproducible):
#   e2e/latest/node_modules            @workos-inc/node, @workos-inc/authkit-js      (package.json here)
#   e2e/latest/<example>/              a copy of examples/<example> whose SDKs are "latest":
#       react-convex                   @workos-inc/authkit-react, @convex-dev/workos, convex
#       nextjs-convex                  @workos-inc/authkit-nextjs, convex
# Run by `e2e/run.sh --latest`; needs npm and Node 22 on PATH (run.sh puts e2e's Node 22 first).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NPM=(npm install --no-package-lock --no-audit --no-fund --loglevel=error)

(cd "$HERE" && "${NPM[@]}")

# copy_example NAME PACKAGE…: examples/NAME without its build output, the named packages set to "latest".
copy_example() {
  local name="$1"; shift
  local dest="$HERE/$name"
  mkdir -p "$dest"
  tar -C "$ROOT/examples/$name" --exclude=node_modules --exclude=.next --exclude=.data --exclude=dist \
    --exclude=.env.local --exclude=package-lock.json -cf - . | tar -C "$dest" -xf -
  node -e '
    const fs = require("fs"); const [file, ...names] = process.argv.slice(1);
    const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
    for (const n of names) { if (!pkg.dependencies?.[n]) throw new Error(`${file} has no dependency ${n}`); pkg.dependencies[n] = "latest"; }
    fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
  ' "$dest/package.json" "$@"
  (cd "$dest" && "${NPM[@]}")
}
copy_example react-convex @workos-inc/authkit-react @convex-dev/workos convex
if [[ -d "$ROOT/examples/nextjs-convex" ]]; then
  copy_example nextjs-convex @workos-inc/authkit-nextjs convex
fi

echo "latest SDKs:"
# Read each package.json from disk: some packages (authkit-nextjs, @convex-dev/workos) do not export it.
node -e '
  const fs = require("fs"); const path = require("path");
  const show = (dir, names) => { for (const n of names) {
    const file = path.join(dir, "node_modules", n, "package.json");
    const where = path.relative(process.argv[1], dir) || "e2e/latest";
    console.log(`  ${n}@${fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")).version : "(not installed)"}  (${where})`);
  } };
  const d = process.argv[1];
  show(d, ["@workos-inc/node", "@workos-inc/authkit-js"]);
  show(path.join(d, "react-convex"), ["@workos-inc/authkit-react", "@workos-inc/authkit-js", "@convex-dev/workos", "convex"]);
  if (fs.existsSync(path.join(d, "nextjs-convex"))) show(path.join(d, "nextjs-convex"), ["@workos-inc/authkit-nextjs", "@workos-inc/node", "convex", "next"]);
' "$HERE"
