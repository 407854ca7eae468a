// Which SDK releases this run tests: the lockfile's (default) or the latest published ones
// (E2E_SDK=latest, set by `e2e/run.sh --latest`; lib/sdk-latest.mjs redirects the imports).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const E2E_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const LATEST = process.env.E2E_SDK === 'latest';
export const LATEST_DIR = join(E2E_DIR, 'latest');
/** The packages e2e/latest/ installs at their latest release (the examples' own SDKs: see e2e/latest/install.sh). */
export const SDKS_UNDER_TEST = ['@workos-inc/node', '@workos-inc/authkit-js'];

/** The version of `name` this run uses (from e2e/latest/ with E2E_SDK=latest, else from e2e/). */
export function sdkVersion(name) {
  const require = createRequire(join(LATEST && SDKS_UNDER_TEST.includes(name) ? LATEST_DIR : E2E_DIR, 'package.json'));
  return JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;
}

/** The major version of `name` this run uses. */
export const sdkMajor = (name) => Number(sdkVersion(name).split('.')[0]);
