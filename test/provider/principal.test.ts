import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import { hashPassword } from '../../src/provider/http/password-hash.ts';
import type { RunningProvider } from '../../src/provider/http/server.ts';
import { SCHEMA_VERSION } from '../../src/provider/store/migrations.ts';
import { SCHEMA } from '../../src/provider/store/schema.ts';
import { Store } from '../../src/provider/store/store.ts';
import { seedStore } from '../../src/seeder/seed-store.ts';
import { page as testPage } from '../helpers/feeds.ts';
import { http, kids, parseXml, provider, resultsOf, testDir, type Res, type TestDir } from './helpers.ts';

/**
 * An async context is usable only by the principal that created it (issue 13 point 5): to anyone else it does not
 * exist, and the same trackingID from someone else names a context of their own. The principal is stored with the
 * context (schema step 2), so this holds across restarts.
 */

const ALICE = `Bearer ${'alice-token-0123456789'}`;
const BOB = `Basic ${Buffer.from('bob:bobs password').toString('base64')}`;
const EP = 'http://a.example/sdata/app/c/-/accounts';

let dir: TestDir;
let p: RunningProvider;

before(async () => {
  dir = testDir();
  await seedStore({ db: dir.db('p'), app: 'hub', contract: 'crm', kind: 'accounts', count: 5 });
  p = await provider(dir, 'p', { auth: { tokens: ['alice-token-0123456789'], users: new Map([['bob', hashPassword('bobs password', { N: 1024, r: 8, p: 1 })]]) } });
});
after(async () => {
  await p.close();
  dir.cleanup();
});

const as = (who: string) => ({
  get: (url: string): Promise<Res> => http('GET', url, undefined, { authorization: who }),
  del: (url: string): Promise<Res> => http('DELETE', url, undefined, { authorization: who }),
  post: (url: string, body: string): Promise<Res> => http('POST', url, body, { authorization: who }),
});

async function done(who: string, url: string): Promise<Res> {
  for (let i = 0; i < 200; i++) {
    const r = await as(who).get(url);
    if (r.status !== 202) return r;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`${url}: still 202`);
}

test('$syncTarget: another principal gets 404 for GET and DELETE, and its own context for the same trackingID', async () => {
  const a = as(ALICE);
  const b = as(BOB);
  const pageA = testPage({ digest: [[EP, 10, 5]], entries: [{ endpoint: EP, tick: 1, uuid: 'p-1' }, { endpoint: EP, tick: 2, uuid: 'p-2' }] });
  const r = await a.post(`${p.url}/accounts/$syncTarget?trackingID=shared-1`, pageA);
  assert.equal(r.status, 202, r.text);
  const loc = r.headers.get('location')!;
  assert.equal((await b.get(loc)).status, 404);
  assert.equal((await b.del(loc)).status, 404);
  assert.equal((await b.get(`${loc}?startIndex=1&count=1`)).status, 404);
  // Bob's POST with Alice's trackingID is applied as a context of Bob's; it neither sees nor changes Alice's.
  const pageB = testPage({ digest: [[EP, 10, 5]], entries: [{ endpoint: EP, tick: 3, uuid: 'p-3' }] });
  const rb = await b.post(`${p.url}/accounts/$syncTarget?trackingID=SHARED-1`, pageB);
  assert.equal(rb.status, 202, rb.text);
  assert.equal(p.health().appliedTrackingIds['shared-1'], 2, 'both bodies applied, each once');
  const resB = resultsOf(parseXml((await done(BOB, rb.headers.get('location')!)).text));
  assert.equal(resB.length, 1);
  const resA = resultsOf(parseXml((await done(ALICE, loc)).text));
  assert.equal(resA.length, 2, 'Alice still has her own results');
  // Bob deletes his; Alice's stays.
  assert.equal((await b.del(rb.headers.get('location')!)).status, 200);
  assert.equal((await a.get(loc)).status, 200);
  assert.equal((await a.del(loc)).status, 200);
  assert.equal((await a.get(loc)).status, 410);
  assert.equal((await b.get(loc)).status, 410, 'Bob\'s own context of that name: deleted');
});

test('$syncSource and $batch: the same isolation', async () => {
  const a = as(ALICE);
  const b = as(BOB);
  const digest = (await a.get(`${p.url}/accounts/$syncDigest`)).text;
  const s = await a.post(`${p.url}/accounts/$syncSource?trackingID=src-1`, digest);
  assert.equal(s.status, 202);
  const sloc = s.headers.get('location')!;
  const first = await done(ALICE, sloc);
  assert.equal(first.status, 200);
  assert.equal((await b.get(sloc)).status, 404);
  assert.equal((await b.del(sloc)).status, 404);
  const next = kids(parseXml(first.text), NS.atom, 'link').find((l) => l.attrs.get('rel') === 'first')?.attrs.get('href') ?? sloc;
  assert.equal((await b.get(next)).status, 404);
  const batch = `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:http="${NS.http}"><id>urn:b</id><title/><updated>2020-01-01T00:00:00Z</updated>` +
    `<entry><id/><http:httpMethod>POST</http:httpMethod><sdata:payload><account xmlns="urn:c" sdata:uuid="B-1"><name>b</name></account></sdata:payload></entry></feed>`;
  const r = await a.post(`${p.url}/accounts/$batch?trackingID=batch-x`, batch);
  assert.equal(r.status, 202);
  const bloc = r.headers.get('location')!;
  assert.equal((await b.get(bloc)).status, 404);
  assert.equal((await b.del(bloc)).status, 404);
  assert.equal((await done(ALICE, bloc)).status, 200);
  assert.equal((await a.del(sloc)).status, 200);
  assert.equal((await a.del(bloc)).status, 200);
});

test('schema step 2: a store from before it keeps its contexts (principal \'\') and gets a per-principal trackingID index', () => {
  const path = dir.db('old');
  // A version-1 store, as the previous release left it, with a finished context.
  const db = new DatabaseSync(path);
  db.exec(SCHEMA);
  db.prepare("INSERT INTO meta(key, value) VALUES('schema', '1'), ('endpoint_base', 'http://localhost/sdata/hub/crm/-'), ('app', 'hub'), ('contract', 'crm'), ('dataset', '-')").run();
  db.prepare("INSERT INTO contexts(kind, type, tracking, tracking_raw, status, created, touched, total, info) VALUES(1, 'target', 'old-1', 'OLD-1', 'done', 1, ?, 0, '{}')").run(Date.now());
  db.close();
  const s = new Store({ db: path, kinds: ['accounts'] });
  try {
    const ctx = s.openContexts(60_000);
    const row = ctx.find(1, 'target', '', 'old-1');
    assert.equal(row?.trackingRaw, 'OLD-1');
    assert.equal(row?.principal, '');
    assert.equal(ctx.find(1, 'target', 'user:bob', 'old-1'), undefined);
    // The same trackingID for another principal is a new row, not a unique-index violation.
    assert.equal(ctx.create(1, 'target', 'user:bob', 'old-1', 'done').principal, 'user:bob');
    assert.throws(() => ctx.create(1, 'target', 'user:bob', 'OLD-1', 'done'), /UNIQUE/);
  } finally {
    s.close();
  }
  // Reopened: SCHEMA runs again and must not bring the old index back.
  const again = new Store({ db: path });
  again.close();
  const raw = new DatabaseSync(path, { readOnly: true });
  try {
    const idx = raw.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'contexts_tracking'").get() as { sql: string };
    assert.match(idx.sql, /\(kind, type, principal, tracking\)/);
    assert.equal((raw.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string }).value, String(SCHEMA_VERSION));
  } finally {
    raw.close();
  }
});
