import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryWriter, type BodyWriter, type ChunkBody } from '../../src/engine/chunk-body.ts';
import type { SpooledChunk } from '../../src/engine/chunk-sender.ts';
import { SpoolTarget } from '../../src/engine/spool.ts';
import { Planner } from '../../src/plan/planner.ts';
import { FeedReader } from '../../src/xml/feed-reader.ts';

const feed = (n: number): string => {
  let s = '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" xmlns:sync="http://schemas.sage.com/sdata/sync/2008/1">' +
    '<sync:syncMode>catchUp</sync:syncMode><sync:digest><sync:digestEntry><sync:endpoint>http://a/x</sync:endpoint><sync:tick>99999</sync:tick><sync:stamp>s</sync:stamp><sync:conflictPriority>1</sync:conflictPriority></sync:digestEntry></sync:digest>';
  for (let i = 0; i < n; i++) {
    s += `<entry><id>e${i}</id><sync:syncState><sync:endpoint>http://a/x</sync:endpoint><sync:tick>${i}</sync:tick><sync:stamp>s</sync:stamp></sync:syncState>` +
      `<sdata:payload><r xmlns="urn:c" sdata:uuid="u${i}">${'x'.repeat(200)}</r></sdata:payload></entry>`;
  }
  return `${s}</feed>`;
};

describe('spool target', () => {
  it('keeps at most one chunk in flight and one in production, sends in order, final last, releases every body', async () => {
    let live = 0;
    let maxLive = 0;
    let released = 0;
    const make = (): BodyWriter => {
      const w = new MemoryWriter();
      const finish = w.finish.bind(w);
      live++;
      maxLive = Math.max(maxLive, live);
      w.finish = async (): Promise<ChunkBody> => {
        const b = await finish();
        const release = b.release.bind(b);
        b.release = async () => {
          live--;
          released++;
          await release();
        };
        return b;
      };
      return w;
    };
    const sent: SpooledChunk[] = [];
    let inFlight = 0;
    const spool = new SpoolTarget(make, async (c) => {
      inFlight++;
      assert.equal(inFlight, 1, 'one chunk at a time');
      // A slow target: the planner must wait instead of piling chunks up.
      await new Promise((r) => setTimeout(r, 2));
      sent.push(c);
      inFlight--;
      // A chunk handed over is the sender's to release (ChunkSender does once its results are counted).
      await c.body.release();
    });
    const planner = new Planner({ out: spool, chunkEntries: 10, chunkBytes: 1 << 20 });
    spool.stats = planner.stats;
    const reader = new FeedReader(planner, { source: 'test' });
    planner.beginPage('test');
    const bytes = Buffer.from(feed(205));
    for (let i = 0; i < bytes.length; i += 512) {
      reader.push(bytes.subarray(i, i + 512));
      const w = planner.ready();
      if (w) await w;
    }
    reader.end();
    await planner.finish();
    await spool.drain();
    assert.equal(sent.length, 21);
    assert.deepEqual(sent.map((c) => c.n), Array.from({ length: 21 }, (_, i) => i + 1));
    assert.deepEqual(sent.map((c) => c.entries), [...Array<number>(20).fill(10), 5]);
    assert.deepEqual(sent.map((c) => c.final), [...Array<boolean>(20).fill(false), true]);
    // Chunk k travelling, k+1 complete and waiting, k+2 begun with the rest of the current input piece (the
    // planner awaits closes between input pieces): a fixed bound, whatever the feed size.
    assert.ok(maxLive <= 3, `bodies alive at once: ${maxLive}`);
    assert.equal(released, 21);
    assert.equal(live, 0);
  });

  it('a failed send stops production: later chunks are refused, the error surfaces once', async () => {
    const spool = new SpoolTarget(() => new MemoryWriter(), async (c) => {
      if (c.n === 2) throw new Error('target down');
    });
    const planner = new Planner({ out: spool, chunkEntries: 10, chunkBytes: 1 << 20 });
    spool.stats = planner.stats;
    const reader = new FeedReader(planner, { source: 'test' });
    planner.beginPage('test');
    await assert.rejects(async () => {
      const bytes = Buffer.from(feed(100));
      for (let i = 0; i < bytes.length; i += 512) {
        reader.push(bytes.subarray(i, i + 512));
        spool.check();
        const w = planner.ready();
        if (w) await w;
      }
    }, /target down/);
    await assert.rejects(spool.drain(), /target down/);
  });
});
