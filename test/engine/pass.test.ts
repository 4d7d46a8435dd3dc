import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { HttpClient } from '../../src/http/client.ts';
import { Logger, silentLogger } from '../../src/engine/log.ts';
import { runPass, type PassOptions } from '../../src/engine/pass.ts';
import { setDigestEntry } from '../../src/protocol/digest.ts';
import { FakeProvider } from './fake-provider.ts';

const fast = { retries: 5, baseMs: 1, maxMs: 5, maxRetryAfterMs: 20 };

let spool = '';
before(async () => {
  spool = await mkdtemp(join(tmpdir(), 'sdata-pass-'));
});
after(async () => {
  await rm(spool, { recursive: true, force: true });
});

async function pass(src: FakeProvider, tgt: FakeProvider, extra: Partial<PassOptions> = {}) {
  const source = new HttpClient({ retry: fast });
  const target = new HttpClient({ retry: fast });
  try {
    return await runPass({
      kind: 'accounts', sourceBase: src.datasetBase(), targetBase: tgt.datasetBase(), source, target,
      runName: 'test run', runStamp: '2024-01-01T00:00:00Z', chunkEntries: 40, chunkBytes: 1 << 20, maxEntryBytes: 1 << 20,
      spoolDir: spool, log: silentLogger(), poll: { pollMinMs: 0, pollDefaultMs: 1 }, ...extra,
    });
  } finally {
    await source.close();
    await target.close();
  }
}

function appliedOnce(p: FakeProvider): void {
  for (const [t, n] of p.applied) assert.equal(n, 1, `trackingID ${t} applied ${n} times`);
}

describe('a pass between two providers', () => {
  let src: FakeProvider;
  let tgt: FakeProvider;
  beforeEach(async () => {
    src = new FakeProvider({ app: 'src', pageSize: 10 });
    tgt = new FakeProvider({ app: 'tgt', pageSize: 10, priority: 3 });
    await src.start();
    await tgt.start();
  });
  afterEach(async () => {
    await src.stop();
    await tgt.stop();
  });

  it('copies everything, then forwards nothing; contexts deleted; end-of-feed merge once per pass', async () => {
    src.seed('accounts', 205);
    const r = await pass(src, tgt);
    assert.equal(r.error, undefined);
    assert.equal(r.ok, true);
    assert.equal(tgt.checksum('accounts'), src.checksum('accounts'));
    assert.equal(tgt.liveCount('accounts'), 205);
    assert.equal(r.stats.pages, 21);
    assert.equal(r.plan!.chunks, 6);
    assert.equal(r.stats.outcomes.counts.created, 205);
    assert.equal(tgt.merges, 1);
    assert.equal(src.openContexts() + tgt.openContexts(), 0);
    assert.equal(r.contexts.source, 'deleted');
    assert.equal(r.contexts.target.deleted, 6);
    appliedOnce(tgt);
    // The run's name and stamp on every POST, properly encoded (docs/protocol.md A31).
    assert.ok(tgt.log.filter((l) => l.startsWith('POST')).every((l) => l.includes('runName=test%20run&runStamp=2024-01-01T00%3A00%3A00Z&trackingID=')));

    const r2 = await pass(src, tgt);
    assert.equal(r2.ok, true);
    assert.equal(r2.stats.forwarded, 0);
    assert.equal(r2.plan!.chunks, 0, 'nothing to forward and nothing for the merge to move: nothing is POSTed');
    assert.equal(r2.ending, 'none');
    assert.equal(tgt.merges, 1);
    assert.equal(tgt.log.filter((l) => l.startsWith('POST') && l.includes('$syncTarget')).length, 6);
    assert.equal(src.openContexts() + tgt.openContexts(), 0);
    // The other way: the target has nothing the source lacks.
    const r3 = await pass(tgt, src);
    assert.equal(r3.ok, true);
    assert.equal(r3.stats.forwarded, 0);
    assert.equal(src.checksum('accounts'), tgt.checksum('accounts'));
  });

  it('nothing to forward but the merge moves the target digest: one chunk without entries, then nothing (docs/protocol.md X2)', async () => {
    src.seed('accounts', 12);
    assert.equal((await pass(src, tgt)).ending, 'final');
    // The source has seen changes of an endpoint that left no resource here (all overwritten or deleted elsewhere).
    setDigestEntry(src.kind('accounts').digest, { endpoint: 'http://gone.example/sdata/x/c/-/accounts', tick: '40', stamp: '2024-01-01T00:00:00Z', conflictPriority: 7 });
    const r = await pass(src, tgt);
    assert.equal(r.ok, true, r.error?.message);
    assert.deepEqual([r.stats.forwarded, r.plan!.chunks, r.ending, r.stats.outcomes.processed], [0, 1, 'merge-only', 0]);
    assert.equal(tgt.merges, 2);
    assert.equal(tgt.kind('accounts').digest.entries.get('http://gone.example/sdata/x/c/-/accounts')?.tick, '40');
    assert.equal(src.openContexts() + tgt.openContexts(), 0);
    const again = await pass(src, tgt);
    assert.deepEqual([again.plan!.chunks, again.ending], [0, 'none']);
    assert.equal(tgt.merges, 2);
  });

  it('re-chunks 10-entry pages into chunks of 1000 and one 10,000-entry page into chunks of 100, same end state', async () => {
    src.seed('accounts', 2500);
    const a = await pass(src, tgt, { chunkEntries: 1000 });
    assert.equal(a.ok, true);
    assert.equal(a.plan!.chunks, 3);
    assert.equal(tgt.merges, 1);
    const want = src.checksum('accounts');
    assert.equal(tgt.checksum('accounts'), want);

    const src2 = new FakeProvider({ app: 'src', pageSize: 10_000 });
    const tgt2 = new FakeProvider({ app: 'tgt', priority: 3 });
    await src2.start();
    await tgt2.start();
    try {
      src2.seed('accounts', 2500);
      const b = await pass(src2, tgt2, { chunkEntries: 100 });
      assert.equal(b.ok, true);
      assert.equal(b.stats.pages, 1);
      assert.equal(b.plan!.chunks, 25);
      assert.equal(tgt2.merges, 1);
      assert.equal(tgt2.checksum('accounts'), want);
      assert.equal(src2.openContexts() + tgt2.openContexts(), 0);
    } finally {
      await src2.stop();
      await tgt2.stop();
    }
  });

  it('dry run reads and decides but writes nothing to the target', async () => {
    src.seed('accounts', 55);
    const before = tgt.checksum('accounts');
    const r = await pass(src, tgt, { dryRun: true });
    assert.equal(r.ok, true);
    assert.equal(r.stats.forwarded, 55);
    assert.equal(r.plan!.chunks, 2);
    assert.equal(tgt.checksum('accounts'), before);
    assert.deepEqual(tgt.log.filter((l) => !l.startsWith('GET')), []);
    assert.equal(src.openContexts(), 0);
  });

  it('counts per-entry failures without aborting, and can post results to the source', async () => {
    src.seed('accounts', 30);
    src.edit('accounts', 'bad00001-0000-4000-8000-000000000000', '<name>refused</name>');
    const r = await pass(src, tgt, { postResults: true });
    assert.equal(r.ok, true);
    assert.equal(r.stats.outcomes.counts.created, 30);
    assert.equal(r.stats.outcomes.counts.failed, 1);
    assert.equal(r.stats.outcomes.failures[0]!.status, 422);
    assert.match(r.stats.outcomes.failures[0]!.diagnoses[0]!.message, /refused bad00001/);
    assert.equal(src.results.length, 1);
    assert.match(src.results[0]!, /httpStatus>422</);
  });

  it('a whole-chunk rejection ends the pass and releases both contexts', async () => {
    src.seed('accounts', 100);
    let posts = 0;
    tgt.hook = (_q, res, i) => {
      if (i.op === '$syncTarget' && i.body && ++posts === 2) {
        res.writeHead(400).end('<sdata:diagnoses xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:diagnosis><sdata:severity>error</sdata:severity><sdata:sdataCode>ApplicationDiagnosis</sdata:sdataCode><sdata:message>bad feed</sdata:message></sdata:diagnosis></sdata:diagnoses>');
        return true;
      }
      return false;
    };
    const r = await pass(src, tgt);
    assert.equal(r.ok, false);
    assert.equal((r.error as { code?: string }).code, 'SDATA_E_TARGET_REJECTED');
    assert.match(r.error!.message, /chunk 2 .*HTTP 400 \(error ApplicationDiagnosis: bad feed\)/);
    assert.equal(src.openContexts() + tgt.openContexts(), 0);
    assert.equal(tgt.merges, 0, 'no final chunk after a rejection');
    assert.deepEqual(await readdir(spool), []);
  });

  it('splits a chunk the target refuses as too large (413) and keeps the merge on the very last part', async () => {
    src.seed('accounts', 120);
    tgt.o.maxBodyBytes = 9000;
    const r = await pass(src, tgt, { chunkEntries: 60 });
    assert.equal(r.ok, true, r.error?.message);
    assert.ok(r.stats.splits >= 2);
    assert.equal(tgt.checksum('accounts'), src.checksum('accounts'));
    assert.equal(tgt.merges, 1);
    assert.equal(src.openContexts() + tgt.openContexts(), 0);
  });

  it('fails clearly when one entry alone is too large for the target', async () => {
    src.seed('accounts', 3);
    tgt.o.maxBodyBytes = 100;
    const r = await pass(src, tgt);
    assert.equal((r.error as { code?: string }).code, 'SDATA_E_TARGET_REJECTED');
    assert.match(r.error!.message, /single entry/);
    assert.equal(tgt.merges, 0);
    assert.equal(src.openContexts() + tgt.openContexts(), 0);
  });

  it('stops on abort and still releases both contexts', async () => {
    src.seed('accounts', 300);
    const ac = new AbortController();
    let posts = 0;
    tgt.hook = (_q, _r, i) => {
      if (i.op === '$syncTarget' && i.body && ++posts === 2) ac.abort();
      return false;
    };
    const source = new HttpClient({ retry: fast, signal: ac.signal });
    const target = new HttpClient({ retry: fast, signal: ac.signal });
    const r = await runPass({
      kind: 'accounts', sourceBase: src.datasetBase(), targetBase: tgt.datasetBase(), source, target, runName: 'r', runStamp: 's',
      chunkEntries: 40, chunkBytes: 1 << 20, maxEntryBytes: 1 << 20, spoolDir: spool, log: silentLogger(), signal: ac.signal,
      poll: { pollMinMs: 0, pollDefaultMs: 1 },
    });
    await source.close();
    await target.close();
    assert.equal((r.error as { code?: string }).code, 'SDATA_E_ABORTED');
    assert.equal(src.openContexts() + tgt.openContexts(), 0);
    assert.equal(tgt.merges, 0);
  });

  it('--explain: each decision with the target digest entry met, and the target\'s answer for what was sent (a 413 split too)', async () => {
    src.seed('accounts', 20);
    await pass(src, tgt);
    const id = (i: number): string => `r${String(i).padStart(7, '0')}-0000-4000-8000-000000000000`;
    src.edit('accounts', id(3), '<name>edited</name>');
    for (let i = 20; i < 26; i++) src.edit('accounts', id(i), `<name>new ${i}</name>`);
    const lines: string[] = [];
    const log = new Logger('error', 'text', (l) => lines.push(l));
    tgt.o.maxBodyBytes = 2500; // a chunk of 7 entries is too large: halves of 4 and 3, then of 2
    const r = await pass(src, tgt, { explain: new Set([id(3), id(5), id(24), 'nope'].map((u) => u.toLowerCase())), log });
    assert.equal(r.ok, true, r.error?.message);
    assert.ok(r.stats.splits >= 1);
    const byUuid = new Map(r.explained.map((x) => [x.uuid, x]));
    assert.deepEqual([...byUuid.keys()].sort(), [id(3), id(24)].sort(), 'the source sends only what the target lacks: no entry for r5');
    assert.deepEqual([byUuid.get(id(3))!.result?.status, byUuid.get(id(3))!.result?.method], [200, 'PUT']);
    assert.deepEqual([byUuid.get(id(24))!.result?.status, byUuid.get(id(24))!.result?.method], [201, 'POST']);
    // Matched by position, through the split: the fake target echoes the posted entry's id.
    for (const x of byUuid.values()) assert.equal(x.result?.atomId, x.atomId);
    const text = lines.join('');
    assert.match(text, new RegExp(`accounts: explain ${id(24)}: .*syncState \\(http://src\\.example/sdata/src/c/-/accounts, tick \\d+\\); target digest entry \\(http://src\\.example\\S+, tick \\d+\\); forwarded: .*; the target answered HTTP 201 POST`));
    assert.match(text, /accounts: explain nope: no entry of the source feed carries this uuid/);
    assert.match(text, new RegExp(`explain ${id(5)}: no entry`));
    // Without --explain: nothing said, nothing kept.
    const quiet: string[] = [];
    const r2 = await pass(src, tgt, { log: new Logger('error', 'text', (l) => quiet.push(l)) });
    assert.deepEqual([r2.explained, quiet], [[], []]);
  });

  it('does not forward an invalid source entry, reports where it was, and goes on', async () => {
    src.seed('accounts', 12);
    const k = src.kind('accounts');
    const own = k.digest.entries.values().next().value!;
    k.resources.set('no-uuid', { uuid: 'no-uuid', state: { endpoint: own.endpoint, tick: own.tick, stamp: '2024-01-01T00:00:00Z' }, xml: '<account xmlns="urn:contract"><name>no uuid</name></account>' });
    own.tick = String(Number(own.tick) + 1);
    const strict = await pass(src, tgt, { strict: true });
    assert.equal((strict.error as { code?: string }).code, 'SDATA_E_INVALID_ENTRY');
    assert.equal(tgt.merges, 0);
    const r = await pass(src, tgt);
    assert.equal(r.ok, true, r.error?.message);
    assert.equal(r.stats.invalid, 1);
    assert.equal(r.stats.forwarded, 12);
    assert.equal(r.invalid.length, 1);
    assert.match(r.invalid[0]!.reason, /no sdata:uuid/);
    assert.match(r.invalid[0]!.atomId ?? '', /no-uuid/);
    assert.ok(r.invalid[0]!.line > 0);
    assert.equal(tgt.liveCount('accounts'), 12);
    assert.equal(src.openContexts() + tgt.openContexts(), 0);
    // docs/protocol.md X3: the target was not let merge the source digest past the dropped entry…
    assert.equal(r.ending, 'held');
    assert.equal(tgt.merges, 0);
    // …so the next pass asks for it again; later entries of its endpoint wait with it (here: a fix at the source).
    src.edit('accounts', 'r0000003-0000-4000-8000-000000000000', '<name>edited after</name>');
    const r2 = await pass(src, tgt);
    assert.deepEqual([r2.stats.invalid, r2.plan!.held, r2.stats.forwarded, r2.ending], [1, 1, 0, 'held']);
    k.resources.set('no-uuid', { ...k.resources.get('no-uuid')!, xml: '<account xmlns="urn:contract" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" sdata:uuid="f1xed000-0000-4000-8000-000000000000"><name>fixed</name></account>' });
    const r3 = await pass(src, tgt);
    assert.deepEqual([r3.stats.invalid, r3.stats.forwarded, r3.ending], [0, 2, 'final']);
    assert.equal(tgt.merges, 1);
    assert.equal(tgt.liveCount('accounts'), 13);
    assert.match(tgt.kind('accounts').resources.get('r0000003-0000-4000-8000-000000000000')!.xml!, /edited after/);
    assert.ok(tgt.kind('accounts').resources.has('f1xed000-0000-4000-8000-000000000000'));
  });
});
