// Hostile input from a peer, through `run` (a source page) and `push` (a target's result feed), as users run them:
// the bin, its heap flags. Tiny servers (FakeProvider with a hook) stream the inputs of test/helpers/hostile.ts
// while the child reads them; the child refuses each with the limit and its flag (or skips the one bad entry), in
// bounded memory, and ends: a reader that went on would hold the test until its timeout.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCliMeasured } from '../helpers/cli.ts';
import { HOSTILE, hostilePeers, plainFeed, RSS_BOUND_KIB } from '../helpers/hostile.ts';
import { FakeProvider } from './fake-provider.ts';

describe('run and push refuse hostile input from a peer in bounded memory', () => {
  const src = new FakeProvider({ app: 'src' });
  const tgt = new FakeProvider({ app: 'tgt', syncTarget: true });
  let dir = '';
  let chunk = '';
  const peers = hostilePeers(src, tgt, 1);
  before(async () => {
    await Promise.all([src.start(), tgt.start()]);
    src.seed('accounts', 1);
    dir = await mkdtemp(join(tmpdir(), 'sdata-hostile-'));
    chunk = join(dir, 'chunk.xml');
    // One ordinary chunk for push to send; the answer is what is hostile.
    await writeFile(chunk, plainFeed(1));
  });
  after(async () => {
    await Promise.all([src.stop(), tgt.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  for (const h of HOSTILE) {
    it(`run, a source page: ${h.name}`, async () => {
      peers.set(h, undefined);
      const r = await runCliMeasured(['run', '--source', src.datasetBase(), '--target', tgt.datasetBase(), '--kind', 'accounts', '--progress', 'none',
        '--retries', '0', ...(h.flags ?? [])], []);
      // An entry skipped (exit 0 for plan) makes the pass partial.
      assert.equal(r.code, h.exit === 0 ? 8 : h.exit, r.stderr);
      assert.match(r.stderr, h.message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.ok(r.maxRssKiB < RSS_BOUND_KIB, `peak RSS ${r.maxRssKiB} KiB`);
    });
    it(`push, a result feed: ${h.name}`, async () => {
      peers.set(undefined, h);
      const want = h.result ?? h;
      const r = await runCliMeasured(['push', tgt.datasetBase() + '/accounts', chunk, '--retries', '0', ...(h.flags ?? [])], []);
      assert.equal(r.code, want.exit, r.stderr);
      assert.match(r.stderr, want.message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.ok(r.maxRssKiB < RSS_BOUND_KIB, `peak RSS ${r.maxRssKiB} KiB`);
    });
  }
});
