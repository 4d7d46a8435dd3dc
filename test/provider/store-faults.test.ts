import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import type { RunningProvider } from '../../src/provider/http/server.ts';
import { seedStore } from '../../src/seeder/seed-store.ts';
import { page } from '../helpers/feeds.ts';
import { runCli } from '../helpers/cli.ts';
import { allResults, firstDiagnosis, get, http, post, provider, testDir, type TestDir } from './helpers.ts';
import { integrityCheck } from '../helpers/sqlite.ts';
import { startServe } from '../helpers/serve.ts';

/**
 * A store that cannot write (store/faults.ts) answers with a diagnosis, applies nothing half-way, keeps its digest
 * behind its data, releases the request's context, and works again once the cause is gone, without a restart.
 */

let dir: TestDir;
before(() => {
  dir = testDir();
});
after(() => dir.cleanup());

const SRC = 'http://a.example/sdata/app/c/-/accounts';
const N = 1500;
const uuidOf = (i: number): string => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
/** ~1.5 MB: six transactions of ~256 KiB of body. */
const PAGE = page({
  digest: [[SRC, N + 1, 5]],
  entries: Array.from({ length: N }, (_, i) => ({ endpoint: SRC, tick: i + 1, uuid: uuidOf(i), body: `<name>${'n'.repeat(900)}${i}</name>` })),
});


/** The target's digest tick for SRC, and its resources. */
function state(p: RunningProvider): { tick: string | undefined; resources: number } {
  const h = p.health().kinds['accounts']!;
  return { tick: h.digest.find((d) => d.endpoint === SRC)?.tick, resources: h.resources };
}

const ENTRY = `<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><sdata:payload><account xmlns="urn:c"><name>x</name></account></sdata:payload></entry>`;
/** A $batch of 200 creates of ~5 KB: more than the store has room for. */
const BATCH = `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:http="${NS.http}">` +
  `<entry><http:httpMethod>POST</http:httpMethod><sdata:payload><account xmlns="urn:c"><name>${'b'.repeat(5000)}</name></account></sdata:payload></entry>`.repeat(200) +
  '</feed>';

test('a full store (507): the page applies up to the failed transaction, digest with it, no context left; with space back the same POST completes', async () => {
  const path = dir.db('full');
  const p = await provider(dir, 'full', { app: 'spoke', kinds: ['accounts'], maxDbMiB: 1 });
  try {
    const url = `${p.url}/accounts/$syncTarget?trackingID=full-1`;
    const r = await post(url, PAGE, { 'content-type': 'application/atom+xml' });
    assert.equal(r.status, 507, r.text);
    assert.equal(r.headers.get('retry-after'), null, 'a full disk is not a matter of seconds');
    const d = firstDiagnosis(r.text);
    assert.equal(d.severity, 'fatal');
    assert.equal(d.code, 'SDATA_E_STORE_FULL');
    assert.match(d.message, /^POST \/sdata\/spoke\/crm\/-\/accounts\/\$syncTarget: this provider's store is full \(SQLITE_FULL: database or disk is full\)/);
    assert.ok(!d.message.includes(dir.dir), 'the diagnosis does not name server files');
    const m = /its first (\d+) entries were applied and committed, each with its digest update .*; none after them was$/.exec(d.message);
    assert.ok(m, d.message);
    const applied = Number(m[1]);
    assert.ok(applied > 0 && applied < N, `${applied} applied`);
    // Exactly the committed prefix, and the digest right behind it (never ahead): entries 1..applied, tick applied + 1.
    assert.deepEqual(state(p), { tick: String(applied + 1), resources: applied });
    assert.equal(p.checksum('accounts').count, applied);
    assert.equal(integrityCheck(path), 'ok');
    // The context is released: nothing open, nothing to GET.
    assert.equal(p.openContexts(), 0);
    assert.equal((await get(`${p.url}/accounts/$syncTarget('full-1')`)).status, 404);

    // Every other write path says the same; reads still work.
    const crud = await post(`${p.url}/accounts`, ENTRY.replace('<name>x</name>', `<name>${'c'.repeat(1_500_000)}</name>`));
    assert.equal(crud.status, 507, crud.text);
    assert.equal(firstDiagnosis(crud.text).code, 'SDATA_E_STORE_FULL');
    const batch = await post(`${p.url}/accounts/$batch`, BATCH);
    assert.equal(batch.status, 507, batch.text);
    assert.match(firstDiagnosis(batch.text).message, /^POST \S+\$batch: this provider's store is full/);
    assert.equal((await get(`${p.url}/accounts?count=5`)).status, 200);
    assert.equal((await get(`${p.url}/$health`)).status, 200);
    assert.deepEqual(state(p), { tick: String(applied + 1), resources: applied });
    assert.equal(integrityCheck(path), 'ok');

    // Space returns (the quota is lifted: a disk freed elsewhere), no restart: the same POST applies the rest.
    p.store.setMaxDbMiB(undefined);
    const again = await post(url, PAGE, { 'content-type': 'application/atom+xml' });
    assert.equal(again.status, 202, again.text);
    const results = await allResults(again.headers.get('location')!);
    assert.equal(results.length, N);
    assert.ok(results.slice(0, applied).every((x) => x.status === 200 && x.codes.includes('SyncIgnored')), 'the committed prefix is a no-op (R1)');
    assert.ok(results.slice(applied).every((x) => x.status === 201), 'the rest is created');
    assert.deepEqual(state(p), { tick: String(N + 1), resources: N });
    assert.equal(p.health().appliedTrackingIds['full-1'], 1);
    assert.equal((await http('DELETE', again.headers.get('location')!)).status, 200);
    assert.equal(p.openContexts(), 0);
    assert.equal(integrityCheck(path), 'ok');
  } finally {
    await p.close();
  }
  assert.equal(integrityCheck(path), 'ok');
});

test('an entry the store has no room for fails the request as a full store, not as that entry (which would write on after the rollback)', async () => {
  const path = dir.db('big-entry');
  const p = await provider(dir, 'big-entry', { app: 'spoke', kinds: ['accounts'], maxDbMiB: 1 });
  try {
    const big = `<name>${'g'.repeat(2_000_000)}</name>`;
    const sync = await post(`${p.url}/accounts/$syncTarget`, page({ digest: [[SRC, 3, 5]], entries: [{ endpoint: SRC, tick: 1, uuid: uuidOf(1) }, { endpoint: SRC, tick: 2, uuid: uuidOf(2), body: big }] }));
    assert.equal(sync.status, 507, sync.text);
    assert.equal(firstDiagnosis(sync.text).code, 'SDATA_E_STORE_FULL');
    // The first entry was committed with the body's first ~256 KiB; the big one fills the store in a later transaction.
    assert.match(firstDiagnosis(sync.text).message, /its first entry was applied and committed/);
    const batch = await post(`${p.url}/accounts/$batch`, `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:http="${NS.http}">` +
      `<entry><http:httpMethod>POST</http:httpMethod><sdata:payload><account xmlns="urn:c">${big}</account></sdata:payload></entry></feed>`);
    assert.equal(batch.status, 507, batch.text);
    assert.equal(firstDiagnosis(batch.text).code, 'SDATA_E_STORE_FULL');
    assert.deepEqual(state(p), { tick: '2', resources: 1 });
    assert.equal(p.openContexts(), 0);
  } finally {
    await p.close();
  }
  assert.equal(integrityCheck(path), 'ok');
});

test('a store locked by another process (503 + Retry-After): nothing applied, context released; the retried POST applies once; a DELETE holds', async () => {
  const path = dir.db('busy');
  const p = await provider(dir, 'busy', { app: 'spoke', kinds: ['accounts'], busyTimeoutMs: 30 });
  const other = new DatabaseSync(path);
  try {
    const body = page({ digest: [[SRC, 11, 5]], entries: Array.from({ length: 10 }, (_, i) => ({ endpoint: SRC, tick: i + 1, uuid: uuidOf(i) })) });
    const url = `${p.url}/accounts/$syncTarget?trackingID=busy-1`;
    other.exec('BEGIN IMMEDIATE');
    const r = await post(url, body);
    assert.equal(r.status, 503, r.text);
    assert.equal(r.headers.get('retry-after'), '2');
    const d = firstDiagnosis(r.text);
    assert.equal(d.severity, 'transient');
    assert.equal(d.code, 'SDATA_E_STORE_BUSY');
    assert.match(d.message, /^this provider's store is locked by another connection \(SQLITE_BUSY: database is locked\) beyond its 30 ms busy timeout: another process is writing to the database file; try again later$/);
    other.exec('ROLLBACK');
    assert.equal(state(p).resources, 0);
    assert.equal(p.openContexts(), 0);
    const again = await post(url, body);
    assert.equal(again.status, 202, again.text);
    assert.equal((await allResults(again.headers.get('location')!)).filter((x) => x.status === 201).length, 10);
    assert.equal(p.health().appliedTrackingIds['busy-1'], 1);
    // A DELETE the store cannot write now still deletes the context for its consumer (written by a later sweep).
    other.exec('BEGIN IMMEDIATE');
    assert.equal((await http('DELETE', again.headers.get('location')!)).status, 200);
    assert.equal((await get(again.headers.get('location')!)).status, 410);
    assert.equal(p.openContexts(), 0);
    other.exec('ROLLBACK');
  } finally {
    other.close();
    await p.close();
  }
});

test('a corrupt page met at run time answers 500 with SDATA_E_STORE_CORRUPT; the rest of the store still serves', async () => {
  const path = dir.db('corrupt');
  await seedStore({ db: path, app: 'hub', contract: 'crm', kind: 'accounts', count: 2000 });
  // Overwrite pages in the last third of the file (resource rows and their indexes); the small tables read at
  // startup (meta, kinds, endpoints, digest, contexts) were created first and live at its start.
  const bytes = readFileSync(path);
  const pageSize = 4096;
  const pages = bytes.length / pageSize;
  for (let pg = Math.floor((pages * 2) / 3); pg < pages - 1; pg += 7) bytes.fill(0x55, pg * pageSize, (pg + 1) * pageSize);
  writeFileSync(path, bytes);
  const p = await provider(dir, 'corrupt');
  try {
    const r = await get(`${p.url}/accounts/$checksum`);
    assert.equal(r.status, 500, r.text);
    const d = firstDiagnosis(r.text);
    assert.equal(d.code, 'SDATA_E_STORE_CORRUPT');
    assert.match(d.message, /this provider's store is corrupt \(SQLITE_CORRUPT\S*: database disk image is malformed\): restore it from a backup/);
    assert.equal((await get(`${p.url}/$schema`)).status, 200);
  } finally {
    await p.close();
  }
});

test('sdata-sync run against a target whose store fills up: exit 9, a message naming the target and its full disk, every context released', async () => {
  const srcDb = dir.db('run-src');
  await seedStore({ db: srcDb, app: 'hub', contract: 'crm', kind: 'accounts', count: 3000 });
  const src = await provider(dir, 'run-src', { pageSize: 500 });
  const tgtDb = dir.db('run-tgt');
  const tgt = await startServe(['--db', tgtDb, '--app', 'spoke', '--kinds', 'accounts', '--max-db-mib', '1']);
  try {
    const r = await runCli(['run', '--source', src.url, '--target', tgt.url, '--kind', 'accounts', '--chunk-entries', '500', '--quiet']);
    assert.equal(r.code, 9, r.stderr);
    assert.match(r.stderr, /accounts: the target's disk is full: it could not store accounts chunk \d+ \(500 entries\) and no later chunk was sent: POST http:\/\/127\.0\.0\.1:\d+\/sdata\/spoke\/crm\/-\/accounts\/\$syncTarget\?\S+: unexpected status: HTTP 507 Insufficient Storage: that provider's disk is full \(.*store is full.*\); free space there/);
    assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
    assert.equal(src.openContexts(), 0, 'the source context was deleted');
    const h = JSON.parse((await get(`${tgt.url}/$health`)).text) as { openContexts: number; kinds: { accounts: { resources: number; digest: Array<{ endpoint: string; tick: string }> } } };
    assert.equal(h.openContexts, 0, 'no target context left');
    // What the target holds is what its digest says: the committed prefix of the source's feed (ticks 1..n).
    const n = h.kinds.accounts.resources;
    assert.ok(n > 0 && n < 3000, `${n} resources`);
    assert.equal(h.kinds.accounts.digest.find((x) => x.endpoint.endsWith('/sdata/hub/crm/-/accounts'))?.tick, String(n + 1));
  } finally {
    tgt.child.kill('SIGTERM');
    const end = await tgt.exited;
    await src.close();
    assert.equal(end.code, 0, tgt.stderr());
  }
  assert.equal(integrityCheck(tgtDb), 'ok');
});
