// Hostile input from a peer, through `run` (a source page) and `push` (a target's result feed), as users run them:
// the bin, its heap flags. Tiny servers (FakeProvider with a hook) stream the inputs of test/helpers/hostile.ts
// while the child reads them; the child refuses each with the limit and its flag (or skips the one bad entry), in
// bounded memory, and ends: a reader that went on would hold the test until its timeout.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { runCliMeasured } from '../helpers/cli.ts';
import { HOSTILE, plainEntry, RSS_BOUND_KIB, type Hostile } from '../helpers/hostile.ts';
import { FakeProvider } from './fake-provider.ts';

function stream(res: ServerResponse, h: Hostile): void {
  res.writeHead(200, { 'content-type': 'application/atom+xml; type=feed' });
  // The reader may hang up at any point: that ends the stream and the generator.
  pipeline(Readable.from(h.feed(1), { objectMode: false }), res).catch(() => undefined);
}

describe('run and push refuse hostile input from a peer in bounded memory', () => {
  const src = new FakeProvider({ app: 'src' });
  const tgt = new FakeProvider({ app: 'tgt', syncTarget: true });
  let dir = '';
  let chunk = '';
  /** What the source answers a $syncSource POST with, and the target a $syncTarget POST (else they behave). */
  let sourcePage: Hostile | undefined;
  let resultFeed: Hostile | undefined;
  before(async () => {
    await Promise.all([src.start(), tgt.start()]);
    src.seed('accounts', 1);
    dir = await mkdtemp(join(tmpdir(), 'sdata-hostile-'));
    chunk = join(dir, 'chunk.xml');
    // One ordinary chunk for push to send; the answer is what is hostile.
    await writeFile(chunk, `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sync="http://schemas.sage.com/sdata/sync/2008/1" xmlns:sdata="http://schemas.sage.com/sdata/2008/1">` +
      `<sync:syncMode>catchUp</sync:syncMode><sync:digest/>\n${plainEntry(1)}</feed>\n`);
    src.hook = (req, res, i) => {
      if (sourcePage === undefined || i.op !== '$syncSource' || req.method !== 'POST') return false;
      stream(res, sourcePage);
      return true;
    };
    tgt.hook = (req, res, i) => {
      if (resultFeed === undefined || i.op !== '$syncTarget' || req.method !== 'POST') return false;
      stream(res, resultFeed);
      return true;
    };
  });
  after(async () => {
    await Promise.all([src.stop(), tgt.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  for (const h of HOSTILE) {
    it(`run, a source page: ${h.name}`, async () => {
      sourcePage = h;
      resultFeed = undefined;
      const r = await runCliMeasured(['run', '--source', src.datasetBase(), '--target', tgt.datasetBase(), '--kind', 'accounts', '--progress', 'none',
        '--retries', '0', ...(h.flags ?? [])], []);
      // An entry skipped (exit 0 for plan) makes the pass partial.
      assert.equal(r.code, h.exit === 0 ? 8 : h.exit, r.stderr);
      assert.match(r.stderr, h.message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.ok(r.maxRssKiB < RSS_BOUND_KIB, `peak RSS ${r.maxRssKiB} KiB`);
    });
    it(`push, a result feed: ${h.name}`, async () => {
      sourcePage = undefined;
      resultFeed = h;
      const want = h.result ?? h;
      const r = await runCliMeasured(['push', tgt.datasetBase() + '/accounts', chunk, '--retries', '0', ...(h.flags ?? [])], []);
      assert.equal(r.code, want.exit, r.stderr);
      assert.match(r.stderr, want.message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.ok(r.maxRssKiB < RSS_BOUND_KIB, `peak RSS ${r.maxRssKiB} KiB`);
    });
  }
});
