import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import type { RunningProvider } from '../../src/provider/http/server.ts';
import { seedStore } from '../../src/seeder/seed-store.ts';
import { get, http, kid, kids, linkOf, parseXml, post, provider, resultsOf, syncPass, testDir, textOf, type TestDir } from './helpers.ts';

/**
 * Deletions and tombstones both ways, conflicts that a deletion wins and loses, and two providers converging
 * through a small driver (helpers.syncPass: digest, $syncSource, every page to $syncTarget verbatim, results,
 * DELETE of both contexts).
 */

let dir: TestDir;
let a: RunningProvider;
let b: RunningProvider;

before(async () => {
  dir = testDir();
  // A is the system of record (priority 1), B a peer (5).
  await seedStore({ db: dir.db('a'), app: 'hub', contract: 'crm', kind: 'accounts', count: 120, seed: 1, priority: 1 });
  await seedStore({ db: dir.db('b'), app: 'spoke', contract: 'crm', kind: 'accounts', count: 80, seed: 2, priority: 5 });
  a = await provider(dir, 'a', { pageSize: 32 });
  b = await provider(dir, 'b', { pageSize: 32 });
});
after(async () => {
  await a.close();
  await b.close();
  dir.cleanup();
});

/** uuid → local key, from the paged collection feed. */
async function keys(p: RunningProvider): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let url: string | undefined = `${p.url}/accounts?count=50`;
  while (url) {
    const f = parseXml((await get(url)).text);
    for (const e of kids(f, NS.atom, 'entry')) {
      const res = kid(e, NS.sdata, 'payload')!.children[0]!;
      out.set(res.attrs.get(`{${NS.sdata}}uuid`)!, /\('(\d+)'\)$/.exec(textOf(e, NS.atom, 'id')!)![1]!);
    }
    url = linkOf(f, 'next');
  }
  return out;
}

async function edit(p: RunningProvider, key: string, name: string): Promise<void> {
  const body = `<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><sdata:payload><account xmlns="http://schemas.sage.com/crm"><name>${name}</name></account></sdata:payload></entry>`;
  const r = await http('PUT', `${p.url}/accounts('${key}')`, body, { 'if-match': '*' });
  assert.equal(r.status, 200, r.text);
}

async function remove(p: RunningProvider, key: string): Promise<void> {
  assert.equal((await http('DELETE', `${p.url}/accounts('${key}')`)).status, 200);
}

function assertConverged(): void {
  const ca = a.checksum('accounts');
  const cb = b.checksum('accounts');
  assert.deepEqual(ca, cb);
}

test('two providers converge both ways; a second pass transfers nothing', async () => {
  const ab = await syncPass(a.url, b.url);
  assert.equal(ab.entries, 120);
  assert.equal(ab.pages, 4);
  assert.equal(ab.methods.get('POST'), 120);
  const ba = await syncPass(b.url, a.url);
  assert.equal(ba.entries, 80);
  assertConverged();
  assert.equal(a.checksum('accounts').count, 200);
  const again1 = await syncPass(a.url, b.url);
  const again2 = await syncPass(b.url, a.url);
  assert.deepEqual([again1.entries, again2.entries, again1.pages], [0, 0, 1]);
  assert.equal(a.openContexts() + b.openContexts(), 0);
});

test('deletions travel both ways as tombstones; a delete loses a conflict to a stronger edit, another wins one', async () => {
  const ka = await keys(a);
  const kb = await keys(b);
  const uuids = [...ka.keys()].sort();
  const [u1, u2, u3, u4, u5] = uuids as [string, string, string, string, string];
  // u1 deleted on A → A→B deletes it on B.
  await remove(a, ka.get(u1)!);
  let s = await syncPass(a.url, b.url);
  assert.deepEqual([s.entries, s.methods.get('DELETE')], [1, 1]);
  assert.equal(b.health().kinds['accounts']!.tombstones, 1);
  // u2 deleted on B → B→A deletes it on A.
  await remove(b, kb.get(u2)!);
  s = await syncPass(b.url, a.url);
  assert.deepEqual([s.entries, s.methods.get('DELETE')], [1, 1]);
  assertConverged();
  // u3: A (priority 1) deletes while B (priority 5) edits: the deletion wins.
  // u4: B deletes while A edits: A's edit beats B's deletion: the delete loses a conflict.
  await remove(a, ka.get(u3)!);
  await edit(b, kb.get(u3)!, 'edited on B');
  await edit(a, ka.get(u4)!, 'edited on A');
  await remove(b, kb.get(u4)!);
  // And u5 edited on both: A wins.
  await edit(a, ka.get(u5)!, 'A wins');
  await edit(b, kb.get(u5)!, 'B loses');
  s = await syncPass(b.url, a.url);
  // B → A: u3 (B's edit vs A's tombstone: A's priority wins, target keeps the tombstone), u4 (B's delete vs A's edit:
  // target wins), u5 (target wins): three conflicts the target won, nothing applied.
  assert.equal(s.entries, 3);
  assert.equal(s.codes.get('SyncConflictTargetWins'), 3);
  assert.equal(s.methods.size, 0);
  s = await syncPass(a.url, b.url);
  // A → B: A's versions win on B: u3 deleted, u4 re-created from the tombstone (the delete lost), u5 updated.
  assert.equal(s.entries, 3);
  assert.deepEqual(Object.fromEntries(s.methods), { DELETE: 1, POST: 1, PUT: 1 });
  assertConverged();
  const hb = b.health().kinds['accounts']!;
  assert.deepEqual([hb.resources, hb.tombstones], [197, 3]);
  const u4OnB = await get(`${b.url}/accounts('${kb.get(u4)}')`);
  assert.equal(u4OnB.status, 200);
  assert.match(u4OnB.text, /edited on A/);
  assert.equal((await get(`${b.url}/accounts('${kb.get(u3)}')`)).status, 410);
  // Nothing left to move either way.
  assert.deepEqual([(await syncPass(a.url, b.url)).entries, (await syncPass(b.url, a.url)).entries], [0, 0]);
});

test('a delete of a resource the target never had records a tombstone; later versions of it are judged against it', async () => {
  const ep = 'http://far.example/sdata/far/crm/-/accounts';
  const feed = (tick: number, deleted: boolean): string =>
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}"><id>urn:f</id><title/><updated>2020-01-01T00:00:00Z</updated>` +
    `<link rel="next" href="urn:more"/><sync:syncMode>catchUp</sync:syncMode><sync:digest><sync:digestEntry><sync:endpoint>${ep}</sync:endpoint>` +
    `<sync:tick>100</sync:tick><sync:stamp>2020-01-01T00:00:00Z</sync:stamp><sync:conflictPriority>7</sync:conflictPriority></sync:digestEntry></sync:digest>` +
    `<entry><id>urn:x</id><title/><updated>2020-01-01T00:00:00Z</updated><sync:syncState><sync:endpoint>${ep}</sync:endpoint><sync:tick>${tick}</sync:tick>` +
    `<sync:stamp>2020-01-01T00:00:00Z</sync:stamp></sync:syncState><sdata:payload><account xmlns="urn:c" sdata:uuid="FAR-1"${deleted ? ' sdata:isDeleted="true"/>' : '><name>far</name></account>'}</sdata:payload></entry></feed>`;
  const before = b.health().kinds['accounts']!;
  const d = resultsOf(parseXml((await post(`${b.url}/accounts/$syncTarget`, feed(50, true))).text));
  assert.deepEqual([d[0]!.status, d[0]!.method, d[0]!.codes.join()], [200, 'DELETE', 'SyncDeleteUnknown']);
  assert.equal(b.health().kinds['accounts']!.tombstones, before.tombstones + 1);
  // An older live version of the same resource from the same origin: R1 ignores it (the tombstone is newer).
  const old = resultsOf(parseXml((await post(`${b.url}/accounts/$syncTarget`, feed(40, false))).text));
  assert.deepEqual([old[0]!.status, old[0]!.method], [200, undefined]);
  // A newer one re-creates it.
  const newer = resultsOf(parseXml((await post(`${b.url}/accounts/$syncTarget`, feed(60, false))).text));
  assert.deepEqual([newer[0]!.status, newer[0]!.method], [201, 'POST']);
  assert.equal(b.health().kinds['accounts']!.tombstones, before.tombstones);
});
