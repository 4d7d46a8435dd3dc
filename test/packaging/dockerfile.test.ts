import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/check-dockerfile.ts', import.meta.url));

/**
 * The Dockerfile, replayed without a Docker engine (scripts/check-dockerfile.ts): both stages built, the image
 * checked, and its containers run with a read-only root as the image's user. ~18 s once the replay's layer cache
 * holds the two `npm ci` steps (they rerun only when package.json or package-lock.json change); ~115 s cold on our
 * loaded 2-core VM (load average 12), most of it the build stage's `npm ci` of every dev dependency. Hence a bound
 * of its own above npm test's 120 s default.
 */
test('the Dockerfile builds, and its image serves, syncs and plans with a read-only root, replayed step by step outside Docker', { timeout: 300_000 }, () => {
  const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', timeout: 290_000 });
  assert.equal(r.status, 0, r.stderr.split('\n').slice(-40).join('\n'));
  assert.match(r.stderr, /check-dockerfile: FROM \$\{NODE_IMAGE\} AS build\n/);
  assert.match(r.stderr, /check-dockerfile: COPY --from=build \/src\/dist \.\/dist\n/);
  assert.match(r.stderr, /check-dockerfile: USER node\n/);
  assert.match(r.stderr, /image: sdata-sync \d+\.\d+\.\d+ \(node 24\./);
  assert.match(r.stderr, /serve hub: healthy \(HEALTHCHECK exit 0\)/);
  assert.match(r.stderr, /run hub → erp → hub: converged, 420 accounts each/);
  assert.match(r.stderr, /gen \| plan: 2000 entries/);
  assert.match(r.stderr, /ok: the image builds and runs/);
});
