import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SyncBed } from '../harness/bed.ts';
import { FAULT_CASES, runFaultCase } from '../harness/fault-cases.ts';

/**
 * The fault harness's short run: every kind of fault once (and every case that shows a known bug, as a todo),
 * between two `serve` processes and the engine as a process, on a small store. scripts/faults.ts runs every case
 * at a larger size.
 */

let bed: SyncBed;
before(async () => {
  bed = await SyncBed.create({ entries: 400, pageSize: 50, chunkEntries: 50, engineTimeoutMs: 30_000 });
});
after(() => bed?.close());

describe('a pass through a misbehaving network converges, or ends with its documented exit code and converges on a rerun', () => {
  for (const c of FAULT_CASES.filter((x) => x.short)) {
    it(c.name, { timeout: 60_000, ...(c.todo ? { todo: c.todo } : {}) }, async () => {
      const o = await runFaultCase(bed, c);
      const why = `${o.problems.join('\n')}\nproxy:\n${o.faults.slice(0, 5).join('\n')}`;
      assert.ok(o.faults.length > 0, 'the proxy applied the fault');
      assert.equal(o.first.exit.code, c.exit, why);
      if (c.message) assert.match(o.first.stderr, c.message);
      assert.equal(o.first.stackTrace || (o.rerun?.stackTrace ?? false), false, why);
      if (o.rerun) assert.equal(o.rerun.exit.code, 0, why);
      assert.equal(o.converged, true, why);
      assert.deepEqual(o.contexts, { source: 0, target: 0 }, 'contexts left open');
      assert.deepEqual(o.appliedTwice, [], 'chunks applied twice');
      assert.deepEqual(o.problems, []);
    });
  }
});
