import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { NODE } from '../helpers/cli.ts';

/**
 * A short run of scripts/load.ts (issue 13 point 7): a few seconds of every operation from 8 clients on one `serve`
 * whose concurrency limit (4) is below the client count: no error, each operation done, the 503s of the limit
 * retried, the server's peak RSS within its 200 MB budget. The full run (64 clients, 30 s) is in the README.
 */
const LOAD = fileURLToPath(new URL('../../scripts/load.ts', import.meta.url));

test('load: 8 clients for 3 s on one serve, every operation, no error', { timeout: 120_000 }, async (t) => {
  const { stdout } = await promisify(execFile)(NODE, [LOAD, '--seconds', '3', '--clients', '8', '--max-concurrent', '4', '--seed-count', '200', '--json'], { maxBuffer: 1 << 20 })
    .catch((e: { stdout?: string; stderr?: string; message: string }) => assert.fail(`load.ts failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`));
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { errors: number; busy503: number; requests: number; peakRssMB: number; ops: Record<string, { count: number }> };
  t.diagnostic(`${r.requests} requests, ${r.busy503} 503s, server peak RSS ${r.peakRssMB} MB`);
  assert.equal(r.errors, 0);
  assert.deepEqual(Object.keys(r.ops).sort(), ['batch', 'create', 'delete', 'digest', 'get', 'list', 'syncTarget DELETE', 'syncTarget POST', 'syncTarget poll', 'syncTarget results', 'update']);
  for (const [op, o] of Object.entries(r.ops)) assert.ok(o.count > 0, op);
  assert.ok(r.peakRssMB <= 200, `peak RSS ${r.peakRssMB} MB`);
});
