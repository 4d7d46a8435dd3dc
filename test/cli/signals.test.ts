import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { spawnBin } from '../harness/processes.ts';

/**
 * A signal while the bin loads its command (the preload sends it at the import of src/cli/main.ts, the moment
 * Node's default action used to end the process with 143). Commands that handle signals get it once they run;
 * the others keep the default action. `run` is covered end to end in test/reliability/crash.test.ts.
 */

const PRELOAD = fileURLToPath(new URL('../harness/signal-preload.mjs', import.meta.url));
const atLoad = (signal: NodeJS.Signals) => ({ nodeArgs: ['--import', PRELOAD], env: { HARNESS_SIGNAL_AT_LOAD: signal } });

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdata-signals-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('serve: a SIGTERM while it starts lets it start, then close the store cleanly (exit 0)', async () => {
  const p = spawnBin(['serve', '--db', join(dir, 'served.db'), '--port', '0'], atLoad('SIGTERM'));
  const x = await p.exited;
  assert.deepEqual(x, { code: 0, signal: null }, p.stderr());
  assert.match(p.stdout(), /^http:\/\/127\.0\.0\.1:\d+\/sdata\/hub\/crm\/-$/m);
  assert.match(p.stderr(), /SIGTERM: finishing in-flight requests[\s\S]*stopped, database closed/);
});

test('gen, which has no signal handling: a SIGTERM while it loads still ends it by the default action', async () => {
  // A million entries (~1.2 GB) would take seconds: it must not get far.
  const p = spawnBin(['gen', '1000000'], atLoad('SIGTERM'));
  const x = await p.exited;
  assert.deepEqual(x, { code: 143, signal: 'SIGTERM' }, p.stderr());
});
