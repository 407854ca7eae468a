// Preloaded with `node --import` when E2E_SDK=latest (e2e/run.sh --latest): every import or require
// of an SDK the suite tests resolves from e2e/latest/node_modules, where e2e/latest/install.sh put the
// latest published release, instead of the lockfile's pinned version in e2e/node_modules.

import { registerHooks } from 'node:module';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { LATEST_DIR, SDKS_UNDER_TEST } from './sdk.mjs';

const parentURL = pathToFileURL(join(LATEST_DIR, 'package.json')).href;
const isSdk = (specifier) => SDKS_UNDER_TEST.some((name) => specifier === name || specifier.startsWith(`${name}/`));

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (isSdk(specifier)) return nextResolve(specifier, { ...context, parentURL });
    return nextResolve(specifier, context);
  },
});
