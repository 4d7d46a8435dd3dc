import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { HttpClient } from '../../src/http/client.ts';
import { silentLogger } from '../../src/engine/log.ts';
import { runPass, type PassOptions } from '../../src/engine/pass.ts';
import { isSdataError } from '../../src/protocol/errors.ts';
import { FakeProvider } from './fake-provider.ts';

const fast = { retries: 5, baseMs: 1, maxMs: 5, maxRetryAfterMs: 20 };
let spool = '';
before(async () => {
  spool = await mkdtemp(join(tmpdir(), 'sdata-faults-'));
});
after(() => rm(spool, { recursive: true, force: true }));

async function pass(src: FakeProvider, tgt: FakeProvider, extra: Partial<PassOptions> = {}) {
  const source = new HttpClient({ retry: fast });
  const target = new HttpClient({ retry: fast });
  try {
    const r = await runPass({
      kind: 'accounts', sourceBase: src.datasetBase(), targetBase: tgt.datasetBase(), source, target,
      runName: 'faults', runStamp: '2024-01-01T00:00:00Z', chunkEntries: 25, chunkBytes: 1 << 20, maxEntryBytes: 1 << 20,
      spoolDir: spool, log: silentLogger(), poll: { pollMinMs: 0, pollDefaultMs: 1 }, ...extra,
    });
    return { r, retries: source.retries + target.retries };
  } finally {
    await source.close();
    await target.close();
  }
}

function assertConverged(src: FakeProvider, tgt: FakeProvider, n: number): void {
  assert.equal(tgt.liveCount('accounts'), n);
  assert.equal(tgt.checksum('accounts'), src.checksum('accounts'));
  for (const [t, k] of tgt.applied) assert.equal(k, 1, `trackingID ${t} applied ${k} times`);
  assert.equal(src.openContexts() + tgt.openContexts(), 0, 'open contexts left');
  assert.equal(tgt.merges, 1);
}

describe('a misbehaving provider', () => {
  let src: FakeProvider;
  let tgt: FakeProvider;
  beforeEach(async () => {
    src = new FakeProvider({ app: 'src', pageSize: 10, polls: 3 });
    tgt = new FakeProvider({ app: 'tgt', priority: 3, polls: 3, resultPageSize: 7 });
    await src.start();
    await tgt.start();
    src.seed('accounts', 100);
  });
  afterEach(async () => {
    await src.stop();
    await tgt.stop();
  });

  it('several 202s with a changing Location and pollingMillis on both sides', async () => {
    src.moveLocation = true;
    tgt.moveLocation = true;
    const { r } = await pass(src, tgt);
    assert.equal(r.ok, true, r.error?.message);
    assertConverged(src, tgt, 100);
    assert.ok(tgt.log.some((l) => /^GET .*\$syncTarget\('c\d+-moved1'\)$/.test(decodeURIComponent(l))));
    assert.ok(tgt.log.some((l) => /^DELETE .*\$syncTarget\('c\d+-moved0'\)$/.test(decodeURIComponent(l))), 'DELETE goes to the latest Location');
  });

  it('synchronous 200 answers from the source and from the target', async () => {
    src.o.syncSource = true;
    tgt.o.syncTarget = true;
    const { r } = await pass(src, tgt);
    assert.equal(r.ok, true, r.error?.message);
    assertConverged(src, tgt, 100);
    assert.equal(r.contexts.source, 'skipped');
    assert.equal(r.contexts.target.synchronous, 4);
    assert.equal(tgt.log.filter((l) => l.startsWith('DELETE')).length, 0);
  });

  it('503 with Retry-After on the digest, the source POST, a poll and a chunk POST', async () => {
    const busy = new Set(['$syncDigest', '$syncSource', '$syncTarget', 'poll']);
    const hook = (_q: unknown, res: import('node:http').ServerResponse, i: { op: string; ctx?: string; body?: Buffer }) => {
      const key = i.ctx ? 'poll' : i.op;
      if (busy.delete(key)) {
        res.writeHead(503, { 'retry-after': '0' }).end();
        return true;
      }
      return false;
    };
    src.hook = hook;
    tgt.hook = hook;
    const { r, retries } = await pass(src, tgt);
    assert.equal(r.ok, true, r.error?.message);
    assert.equal(busy.size, 0);
    assert.ok(retries >= 4);
    assertConverged(src, tgt, 100);
  });

  it('a connection dropped mid-body: a source page, a result page, a chunk upload, a lost 202', async () => {
    let cutPage = true;
    src.truncate = (type, start) => type === 'source' && start === 21 && cutPage && !(cutPage = false);
    let cutResult = true;
    tgt.truncate = (type, start) => type === 'target' && start === 8 && cutResult && !(cutResult = false);
    let cutUpload = 0;
    tgt.preBody = (req, _res, op) => {
      if (op !== '$syncTarget' || ++cutUpload !== 2) return false;
      req.once('data', () => req.socket.destroy());
      return true;
    };
    let lost = 0;
    tgt.dropResponse = (op) => op === '$syncTarget' && ++lost === 3;
    const { r, retries } = await pass(src, tgt);
    assert.equal(r.ok, true, r.error?.message);
    assert.ok(r.stats.resumedPages >= 1);
    assert.ok(retries >= 2);
    assert.equal(cutPage, false);
    assert.equal(cutResult, false);
    assert.equal(r.stats.forwarded, 100, 'each source entry forwarded once');
    assert.equal(r.stats.outcomes.processed, 100, 'each result counted once');
    assert.equal(r.stats.outcomes.counts.created, 100);
    assertConverged(src, tgt, 100);
    // The lost answer's POST was repeated with the same trackingID, and applied once.
    const targetPosts = tgt.log.filter((l) => l.startsWith('POST') && l.includes('$syncTarget'));
    const ids = targetPosts.map((l) => /trackingID=([^&]+)/.exec(l)![1]);
    assert.ok(ids.length > new Set(ids).size, 'a trackingID was re-sent');
  });

  it('a target that keeps dropping chunk uploads ends the pass with its own error, not as a source page cut off', async () => {
    src.seed('accounts', 400); // pages enough that the source is still being read when the sender gives up
    tgt.preBody = (req, _res, op) => {
      if (op !== '$syncTarget') return false;
      req.once('data', () => req.socket.destroy());
      return true;
    };
    const { r } = await pass(src, tgt);
    assert.equal(r.ok, false);
    assert.ok(isSdataError(r.error) && r.error.code === 'SDATA_E_NETWORK', r.error?.message);
    assert.match(r.error.message, /^POST \S+\$syncTarget\?\S+: .+ \(after 5 retries\)$/);
    const gets = src.log.filter((l) => l.startsWith('GET') && l.includes('startIndex'));
    assert.equal(gets.length, new Set(gets).size, 'no source page fetched twice');
    assert.equal(src.openContexts() + tgt.openContexts(), 0, 'open contexts left');
  });

  it('a result page that is not well-formed while the next chunk\'s answer waits unread: exit 3 naming it, no crash, contexts released', async () => {
    // The next chunk's answer is let go unread; undici raises UND_ERR_ABORTED on a body destroyed before its end,
    // and with nobody listening that ended the process (exit 1) before its cleanup: the source context stayed open.
    let broken = false;
    tgt.hook = (q, res, i) => {
      if (broken || !i.ctx || q.method !== 'GET' || !q.url!.includes('startIndex=8')) return false;
      broken = true;
      res.writeHead(200, { 'content-type': 'application/atom+xml; type=feed' }).end('<feed xmlns="http://www.w3.org/2005/Atom"><entry></feed>');
      return true;
    };
    const unhandled: unknown[] = [];
    const onError = (e: unknown): void => void unhandled.push(e);
    process.on('uncaughtException', onError);
    try {
      const { r } = await pass(src, tgt);
      // undici emits the error on the turn after the destroy.
      for (let k = 0; k < 2; k++) await new Promise((res) => setImmediate(res));
      assert.equal(r.ok, false);
      assert.ok(isSdataError(r.error) && r.error.code === 'SDATA_E_MALFORMED', r.error?.message);
      assert.match(r.error.message, /\$syncTarget\('[^']+'\)\?startIndex=8&count=7:1:50: result feed is not well-formed XML: end tag <\/feed> does not match <entry>/);
    } finally {
      process.off('uncaughtException', onError);
    }
    assert.deepEqual(unhandled, []);
    assert.equal(broken, true);
    assert.ok(tgt.log.filter((l) => l.startsWith('POST')).length >= 2, 'the next chunk was posted while the results were read');
    assert.equal(src.openContexts() + tgt.openContexts(), 0, 'open contexts left');
  });

  it('a next page that answers 202 first is polled until ready', async () => {
    let held = 0;
    src.hook = (q, res, i) => {
      if (i.ctx && q.method === 'GET' && q.url!.includes('startIndex=31') && held++ < 2) {
        res.writeHead(202, { 'content-type': 'application/xml' }).end('<tracking xmlns="http://schemas.sage.com/sdata/2008/1"><pollingMillis>1</pollingMillis></tracking>');
        return true;
      }
      return false;
    };
    const { r } = await pass(src, tgt);
    assert.equal(r.ok, true, r.error?.message);
    assert.equal(held, 3);
    assert.equal(r.stats.forwarded, 100);
    assertConverged(src, tgt, 100);
  });
});
