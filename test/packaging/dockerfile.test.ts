import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/check-dockerfile.ts', import.meta.url));

test('the Dockerfile builds and starts, replayed step by step outside Docker', () => {
  const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /ok: sdata-sync \d+\.\d+\.\d+ \(node 24\./);
});
