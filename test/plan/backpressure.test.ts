import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { SegmentedPlan } from '../../src/plan/parallel.ts';
import { planPage } from '../../src/plan/pipeline.ts';
import { Planner } from '../../src/plan/planner.ts';
import { StreamChunkTarget } from '../../src/plan/targets.ts';
import { NS } from '../../src/protocol/namespaces.ts';

const HEAD = `<?xml version="1.0"?><feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}">` +
  `<sync:syncMode>catchUp</sync:syncMode><sync:digest><sync:digestEntry><sync:endpoint>http://a/x</sync:endpoint>` +
  `<sync:tick>1</sync:tick><sync:stamp>t</sync:stamp><sync:conflictPriority>1</sync:conflictPriority></sync:digestEntry></sync:digest>\n`;

/** A feed of `n` entries (~1 KB each), produced lazily; `produced` counts bytes handed out. */
function lazyFeed(n: number, counter: { produced: number }): Readable {
  let i = 0;
  const filler = 'z'.repeat(900);
  return new Readable({
    highWaterMark: 64 * 1024,
    read() {
      let s = i === 0 ? HEAD : '';
      while (s.length < 64 * 1024 && i < n) {
        s += `<entry><id>e${i}</id><sync:syncState><sync:endpoint>http://a/x</sync:endpoint><sync:tick>${i + 5}</sync:tick><sync:stamp>t</sync:stamp></sync:syncState>` +
          `<sdata:payload><r xmlns="urn:c" sdata:uuid="u${i}"><f>${filler}</f></r></sdata:payload></entry>\n`;
        i++;
      }
      if (i >= n && s.length === 0) return void this.push(null);
      if (i >= n) s += '</feed>\n';
      const b = Buffer.from(s);
      counter.produced += b.length;
      this.push(b);
      if (i >= n) this.push(null);
    },
  });
}

for (const way of ['one pass', 'in pieces on two threads'] as const) {
test(`a slow consumer never makes memory grow (${way}): bytes in flight stay bounded while 40 MB pass`, async () => {
  const counter = { produced: 0 };
  let consumed = 0;
  let maxInFlight = 0;
  const slow = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, cb) {
      consumed += chunk.length;
      setTimeout(cb, 1);
    },
  });
  const target = new StreamChunkTarget(slow);
  const planner = new Planner({ out: target, singleFeed: true, chunkEntries: Infinity, chunkBytes: Infinity });
  const source = lazyFeed(40_000, counter);
  const sample = setInterval(() => {
    maxInFlight = Math.max(maxInFlight, counter.produced - consumed);
  }, 1);
  // Never what keeps the test file alive, even when planning fails before clearInterval.
  sample.unref();
  try {
    if (way === 'one pass') {
      await planPage(source, planner, { source: 'lazy' });
    } else {
      const sp = new SegmentedPlan({ target: undefined, maxEntryBytes: 1 << 24, helpers: 1 });
      try {
        await sp.page(source, planner, 'lazy');
      } finally {
        await sp.close();
      }
    }
    await planner.finish();
  } finally {
    clearInterval(sample);
  }
  await new Promise<void>((r) => slow.end(r));
  assert.equal(planner.stats.forwarded, 40_000);
  assert.ok(counter.produced > 40e6, `produced ${counter.produced}`);
  // Input read-ahead (64 KiB stream buffer + one chunk), one coalescing buffer and the slow stream's queue, and in
  // pieces at most 8 pieces of 64 KiB not yet committed: a small constant, nowhere near the 40 MB that went through.
  const bound = way === 'one pass' ? 1024 * 1024 : 2 * 1024 * 1024;
  assert.ok(maxInFlight < bound, `max bytes in flight ${maxInFlight}`);
  assert.ok(maxInFlight > 0);
});
}
