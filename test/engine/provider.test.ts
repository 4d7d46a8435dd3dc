import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpClient } from '../../src/http/client.ts';
import { silentLogger } from '../../src/engine/log.ts';
import { runPass, type PassOptions } from '../../src/engine/pass.ts';
import { kindOrder, runKinds } from '../../src/engine/run.ts';
import { startProvider, type RunningProvider } from '../../src/provider/http/server.ts';
import { seedStore } from '../../src/seeder/seed-store.ts';
import { contractNamespace } from '../../src/protocol/namespaces.ts';

/** The first test: a full pass between two reference providers, real sockets, real SQLite files. */
describe('passes between two reference providers', () => {
  let dir = '';
  let a: RunningProvider;
  let b: RunningProvider;
  const client = new HttpClient({ retry: { retries: 3, baseMs: 5, maxMs: 50 } });
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdata-e2e-'));
    await seedStore({ db: join(dir, 'a.db'), app: 'crm', contract: 'crm', kind: 'accounts', count: 2500, priority: 1, endpointBase: 'http://crm.example/sdata/crm/crm/-' });
    a = await startProvider({ db: join(dir, 'a.db'), pageSize: 100 });
    b = await startProvider({ db: join(dir, 'b.db'), app: 'erp', contract: 'crm', kinds: ['accounts'], priority: 5, pageSize: 100, endpointBase: 'http://erp.example/sdata/erp/crm/-' });
  });
  after(async () => {
    await client.close();
    await a?.close();
    await b?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const pass = (from: RunningProvider, to: RunningProvider, extra: Partial<PassOptions> = {}) => runPass({
    kind: 'accounts', sourceBase: from.url, targetBase: to.url, source: client, target: client,
    runName: 'provider test', runStamp: new Date().toISOString(), chunkEntries: 400, chunkBytes: 8 << 20, maxEntryBytes: 16 << 20,
    spoolDir: dir, log: silentLogger(), ...extra,
  });

  const appliedOnce = (p: RunningProvider): void => {
    for (const [t, n] of Object.entries(p.health().appliedTrackingIds)) assert.equal(n, 1, `trackingID ${t} applied ${n} times`);
  };

  it('copies everything (uuids and payload digests equal), a second pass forwards nothing, no context left open', async () => {
    const r = await pass(a, b);
    assert.equal(r.error, undefined);
    assert.equal(r.stats.forwarded, 2500);
    assert.equal(r.stats.outcomes.counts.created, 2500);
    assert.equal(r.plan!.chunks, 7);
    const ca = a.checksum('accounts');
    assert.equal(ca.count, 2500);
    assert.deepEqual(b.checksum('accounts'), ca);
    assert.equal(a.openContexts() + b.openContexts(), 0);
    assert.equal(r.contexts.source, 'deleted');
    assert.equal(r.contexts.target.deleted, 7);
    appliedOnce(b);

    const again = await pass(a, b);
    assert.equal(again.error, undefined);
    assert.equal(again.stats.forwarded, 0);
    const back = await pass(b, a);
    assert.equal(back.error, undefined);
    assert.equal(back.stats.forwarded, 0);
    assert.equal(a.openContexts() + b.openContexts(), 0);
  });

  it('edits on both sides, a real conflict, passes both ways: both converge and the next passes are empty', async () => {
    const ns = contractNamespace('crm');
    const put = async (p: RunningProvider, key: number, name: string): Promise<void> => {
      const res = await client.request({
        method: 'PUT', url: `${p.url}/accounts('${key}')`, headers: { 'content-type': 'application/atom+xml; type=entry', 'if-match': '*' },
        body: () => `<entry xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:payload><account xmlns="${ns}"><name>${name}</name></account></sdata:payload></entry>`,
      });
      assert.equal(res.statusCode, 200, await res.body.text());
    };
    const keyOf = (p: RunningProvider, uuid: string): number => p.store.resources.byUuid(p.store.kind('accounts')!.id, uuid)!.id;
    const uuidAt = (p: RunningProvider, key: number): string => p.store.resources.byId(p.store.kind('accounts')!.id, key)!.uuid;
    const u1 = uuidAt(a, 1);
    const u2 = uuidAt(a, 2);
    await put(a, 1, 'changed at the source');
    await put(a, 2, 'source side of a conflict');
    await put(b, keyOf(b, u2), 'target side of a conflict');
    await put(b, keyOf(b, uuidAt(a, 3)), 'changed at the target');
    const del = await client.request({ method: 'DELETE', url: `${b.url}/accounts('${keyOf(b, uuidAt(a, 4))}')` });
    assert.equal(del.statusCode, 200);
    await del.body.dump();

    const ab = await pass(a, b);
    assert.equal(ab.error, undefined);
    assert.equal(ab.stats.forwarded, 2);
    // a has priority 1 (lower wins): the source's side of the conflict wins at b.
    assert.equal(ab.stats.outcomes.counts.updated, 2);
    const ba = await pass(b, a);
    assert.equal(ba.error, undefined);
    assert.equal(ba.stats.outcomes.counts.updated, 1);
    assert.equal(ba.stats.outcomes.counts.deleted, 1);
    assert.equal(ba.stats.outcomes.counts.conflictsTargetWon + ba.stats.outcomes.counts.ignored, ba.stats.forwarded - 2);
    assert.deepEqual(b.checksum('accounts'), a.checksum('accounts'));
    assert.equal(a.checksum('accounts').count, 2499);
    void u1;
    for (const [f, t] of [[a, b], [b, a]] as const) {
      const r = await pass(f, t);
      assert.equal(r.stats.forwarded, 0, 'converged: nothing left to send');
    }
    assert.equal(a.openContexts() + b.openContexts(), 0);
    appliedOnce(a);
    appliedOnce(b);
  });

  it('10-entry pages re-chunked by 1000 and one 10,000-entry page chunked by 100 give the same state', async () => {
    const want = a.checksum('accounts');
    const fresh = (name: string): Promise<RunningProvider> => startProvider({
      db: join(dir, `${name}.db`), app: name, contract: 'crm', kinds: ['accounts'], endpointBase: `http://${name}.example/sdata/${name}/crm/-`,
    });
    // The same source store served with other page sizes (a second connection to the SQLite file).
    const src10 = await startProvider({ db: join(dir, 'a.db'), pageSize: 10 });
    const src10k = await startProvider({ db: join(dir, 'a.db'), pageSize: 10_000 });
    const small = await fresh('small');
    const big = await fresh('big');
    try {
      const r1 = await pass(src10, small, { chunkEntries: 1000 });
      assert.equal(r1.error, undefined);
      assert.equal(r1.stats.pages, 250);
      assert.equal(r1.plan!.chunks, 3);
      const r2 = await pass(src10k, big, { chunkEntries: 100 });
      assert.equal(r2.error, undefined);
      assert.equal(r2.stats.pages, 1);
      assert.equal(r2.plan!.chunks, 25);
      assert.deepEqual(small.checksum('accounts'), want);
      assert.deepEqual(big.checksum('accounts'), want);
      assert.equal(small.openContexts() + big.openContexts() + src10.openContexts() + src10k.openContexts(), 0);
    } finally {
      await Promise.all([src10.close(), src10k.close(), small.close(), big.close()]);
    }
  });
});

describe('a run of several kinds between reference providers', () => {
  it('finds the kinds in $schema (sme:syncOrder) and runs them in that order, one after another however many may run at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sdata-kinds-'));
    const client = new HttpClient();
    const base = { app: 'crm', contract: 'crm', priority: 1, endpointBase: 'http://crm.example/sdata/crm/crm/-' };
    await seedStore({ db: join(dir, 'a.db'), ...base, kind: 'contacts', count: 120 });
    await seedStore({ db: join(dir, 'a.db'), ...base, kind: 'accounts', count: 80 });
    const a = await startProvider({ db: join(dir, 'a.db'), kinds: ['contacts', 'accounts'] });
    const b = await startProvider({ db: join(dir, 'b.db'), app: 'erp', contract: 'crm', kinds: ['contacts', 'accounts'], endpointBase: 'http://erp.example/sdata/erp/crm/-' });
    try {
      const waves = await kindOrder({ source: client, sourceBase: a.url, target: client, targetBase: b.url, log: silentLogger() });
      assert.deepEqual(waves, [['contacts'], ['accounts']]);
      // --kind selects, the schemas order.
      assert.deepEqual(await kindOrder({ source: client, sourceBase: a.url, target: client, targetBase: b.url, given: ['accounts', 'contacts'], log: silentLogger() }), waves);
      const r = await runKinds({
        kinds: waves.flat(), waves, concurrency: 2, sourceBase: a.url, targetBase: b.url, source: client, target: client, runName: 'kinds',
        runStamp: new Date().toISOString(), chunkEntries: 50, chunkBytes: 1 << 20, maxEntryBytes: 1 << 20, spoolDir: dir, log: silentLogger(),
      });
      assert.deepEqual(r.passes.map((p) => [p.kind, p.ok, p.stats.forwarded]), [['contacts', true, 120], ['accounts', true, 80]]);
      assert.ok(r.passes[0]!.stats.endedMs! <= r.passes[1]!.stats.startedMs, 'accounts began after contacts ended');
      assert.deepEqual(b.checksum('contacts'), a.checksum('contacts'));
      assert.deepEqual(b.checksum('accounts'), a.checksum('accounts'));
      assert.equal(a.openContexts() + b.openContexts(), 0);
    } finally {
      await client.close();
      await a.close();
      await b.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a reference target with a small body limit', () => {
  it('answers 413 to big chunks; the engine splits them and the end state is the same', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sdata-413-'));
    const client = new HttpClient();
    await seedStore({ db: join(dir, 'a.db'), app: 'crm', contract: 'crm', kind: 'accounts', count: 900, priority: 1, endpointBase: 'http://crm.example/sdata/crm/crm/-' });
    const a = await startProvider({ db: join(dir, 'a.db') });
    const b = await startProvider({ db: join(dir, 'b.db'), app: 'erp', contract: 'crm', kinds: ['accounts'], endpointBase: 'http://erp.example/sdata/erp/crm/-', maxBodyBytes: 200_000 });
    try {
      const r = await runPass({
        kind: 'accounts', sourceBase: a.url, targetBase: b.url, source: client, target: client, runName: '413', runStamp: new Date().toISOString(),
        chunkEntries: 450, chunkBytes: 8 << 20, maxEntryBytes: 1 << 20, spoolDir: dir, log: silentLogger(),
      });
      assert.equal(r.error, undefined);
      assert.ok(r.stats.splits >= 4, `splits ${r.stats.splits}`);
      assert.equal(r.stats.outcomes.counts.created, 900);
      assert.deepEqual(b.checksum('accounts'), a.checksum('accounts'));
      assert.equal(a.openContexts() + b.openContexts(), 0);
      const again = await runPass({
        kind: 'accounts', sourceBase: a.url, targetBase: b.url, source: client, target: client, runName: '413', runStamp: new Date().toISOString(),
        chunkEntries: 450, chunkBytes: 8 << 20, maxEntryBytes: 1 << 20, spoolDir: dir, log: silentLogger(),
      });
      assert.equal(again.stats.forwarded, 0, 'the digest merge happened on the very last part');
    } finally {
      await client.close();
      await a.close();
      await b.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
