import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SyncBed } from '../harness/bed.ts';
import { calibrate, engineKills, killPoints, providerKill, sigterm, type Calibration, type KillOutcome } from '../harness/crash-cases.ts';

/**
 * Crash convergence, short run: the engine SIGKILLed at 5 moments of successive passes (seeded, by bytes through
 * the proxies), the target and the source SIGKILLed mid-pass and restarted, the engine SIGTERMed at start-up, while
 * the source selects and mid-chunk. After every kill both stores pass integrity_check and a rerun converges.
 * scripts/crash-converge.ts runs the same cases at a larger size, with --points 50 independent kill points too.
 */

let bed: SyncBed;
let cal: Calibration;
before(async () => {
  bed = await SyncBed.create({ entries: 400, pageSize: 50, chunkEntries: 50, engineTimeoutMs: 30_000 });
  cal = await calibrate(bed);
});
after(() => bed?.close());

function assertRecovered(o: KillOutcome): void {
  assert.ok(o.integrity.length > 0 && o.integrity.every((r) => r === 'ok'), `integrity_check: ${o.integrity.join(', ')}`);
  assert.equal(o.stackTraces, 0, o.problems.join('\n'));
  assert.equal(o.exits.at(-1), 0, o.problems.join('\n'));
  assert.equal(o.converged, true, o.problems.join('\n'));
  assert.deepEqual(o.problems, []);
}

describe('the engine SIGKILLed at 5 moments, in 5 successive passes, then run again', () => {
  let o: KillOutcome;
  before(async () => {
    o = await engineKills(bed, cal, killPoints(5, 13, 0.75), 'bytes');
  }, { timeout: 120_000 });

  it('each store passes integrity_check after each kill, and the rerun converges', () => {
    assert.deepEqual(o.exits, [137, 137, 137, 137, 137, 0], [...o.notes, ...o.problems].join('\n'));
    assert.equal(o.integrity.length, 10);
    assertRecovered(o);
  });

  it('leaves no context open once the rerun is done: the rerun DELETEs what the journal says the killed runs left', () => {
    assert.ok(o.openAfterKill && o.openAfterKill.source > 0, `the kills left contexts open for the rerun to delete: ${JSON.stringify(o.openAfterKill)}`);
    assert.deepEqual(o.leftOpen, { source: 0, target: 0 });
    assert.deepEqual(o.journals, [], 'the journal holds nothing open');
  });
});

describe('a provider SIGKILLed mid-pass and restarted on its store', () => {
  it('the target, mid-chunk: the engine rides it out (or exits 5) and the pass converges, no context left open', { timeout: 60_000 }, async () => {
    const o = await providerKill(bed, 'target');
    assertRecovered(o);
    assert.deepEqual(o.leftOpen, { source: 0, target: 0 });
  });

  it('the source, mid-pass: the engine rides it out (or exits 5) and the pass converges, no context left open', { timeout: 60_000 }, async () => {
    const o = await providerKill(bed, 'source');
    assertRecovered(o);
    assert.deepEqual(o.leftOpen, { source: 0, target: 0 });
  });

  describe('the target, mid-chunk, back only after the engine gave up (--retries 0)', () => {
    let o: KillOutcome;
    before(async () => {
      o = await providerKill(bed, 'target', true);
    }, { timeout: 60_000 });

    it('the engine exits 5, and a rerun converges', () => {
      assert.equal(o.exits[0], 5);
      assertRecovered(o);
    });

    it('leaves no context open once the rerun is done, and the journal holds none', () => {
      // The chunk in flight when the target died never got its 202: the target's restart marks its context
      // interrupted (410, its data dropped; not open); one that did is in the journal, which the rerun empties.
      assert.deepEqual(o.leftOpen, { source: 0, target: 0 });
      assert.deepEqual(o.journals, [], 'the journal holds nothing open');
    });
  });
});

describe('the engine SIGTERMed: exit 130, every context it opened released (DELETEs sent), then a rerun converges', () => {
  it('at start-up, while it loads the command (the default action would exit 143)', { timeout: 60_000 }, async () => {
    const o = await sigterm(bed, 'startup');
    assert.equal(o.exits[0], 130, o.problems.join('\n'));
    assert.deepEqual(o.openAfterKill, { source: 0, target: 0 });
    assertRecovered(o);
  });

  it('while the source selects', { timeout: 60_000 }, async () => {
    const o = await sigterm(bed, 'selecting');
    assert.equal(o.exits[0], 130, o.problems.join('\n'));
    assert.ok(o.deletes >= 1, 'the source context was DELETEd');
    assert.deepEqual(o.openAfterKill, { source: 0, target: 0 });
    assertRecovered(o);
  });

  it('mid-chunk', { timeout: 60_000 }, async () => {
    const o = await sigterm(bed, 'mid-chunk');
    assert.equal(o.exits[0], 130, o.problems.join('\n'));
    assert.ok(o.deletes >= 2, 'the chunk and source contexts were DELETEd');
    assert.deepEqual(o.openAfterKill, { source: 0, target: 0 });
    assertRecovered(o);
  });
});
