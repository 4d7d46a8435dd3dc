import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import type { RunningProvider } from '../../src/provider/http/server.ts';
import { SCHEMA } from '../../src/provider/store/schema.ts';
import { Store } from '../../src/provider/store/store.ts';
import { page } from '../helpers/feeds.ts';
import { oracleCheck, xmllintErrors } from '../helpers/oracle.ts';
import {
  diagnosisMessage, get, http, kid, kids, linkOf, parseXml, post, provider, resultsOf, syncPass, testDir, textOf, type El, type TestDir,
} from './helpers.ts';

/** `$linked` (spec 1.3) and the uuid model behind it (spec 1.2; docs/protocol.md §3.11): links, re-points, aliases. */

let dir: TestDir;
let p: RunningProvider;
const C = 'http://schemas.sage.com/crm';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

before(async () => {
  dir = testDir();
  p = await provider(dir, 'linked', { pageSize: 2 });
});
after(async () => {
  await p.close();
  dir.cleanup();
});

const entry = (inner: string, extra = ''): string =>
  `<?xml version="1.0"?>\n<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:http="${NS.http}">${extra}<sdata:payload>${inner}</sdata:payload></entry>`;
/** A link request body: the resource's url and, optionally, a uuid (spec 1.3's POST and PUT bodies). */
const linkBody = (url: string, uuid?: string): string =>
  entry(`<account xmlns="${C}" sdata:url="${url}"${uuid === undefined ? '' : ` sdata:uuid="${uuid}"`}/>`);

/** Creates an account by plain POST (with or without a uuid) and returns its URL. */
async function create(name: string, uuid?: string): Promise<string> {
  const r = await post(`${p.url}/accounts`, entry(`<account xmlns="${C}"${uuid === undefined ? '' : ` sdata:uuid="${uuid}"`}><name>${name}</name></account>`));
  assert.equal(r.status, 201, r.text);
  return r.headers.get('location')!;
}

/** The resource element of an entry's payload, whatever its namespace. */
function accountOf(doc: El): El {
  return kid(doc, NS.sdata, 'payload')!.children[0]!;
}

const uuidAttr = (el: El): string | undefined => el.attrs.get(`{${NS.sdata}}uuid`);

async function uuidOfResource(url: string): Promise<string | undefined> {
  const r = await get(url);
  assert.equal(r.status, 200, r.text);
  return uuidAttr(accountOf(parseXml(r.text)));
}

test('$schema advertises linking on every kind (docs/protocol.md X17)', async () => {
  const s = await get(`${p.url}/$schema`);
  assert.match(s.text, /sme:supportsLinking="true"/);
  assert.match(s.text, /sme:linkedBatchingMode="syncOrAsync"/);
});

test('POST $linked links a resource that had no uuid: 201, Location, the entry with uuid, url and key; no ETag (1.3)', async (t) => {
  const url = await create('Unlinked Ltd');
  assert.equal(await uuidOfResource(url), undefined, 'no uuid before the link (spec 1.2)');
  const r = await post(`${p.url}/accounts/$linked`, linkBody(url));
  assert.equal(r.status, 201, r.text);
  await oracleCheck(t, 'the entry is well-formed for libxml2', ['xmllint'], () => assert.equal(xmllintErrors(r.text), ''));
  assert.equal(r.headers.get('etag'), null);
  const doc = parseXml(r.text);
  assert.equal(kid(doc, NS.http, 'etag'), undefined);
  const acc = accountOf(doc);
  const uuid = uuidAttr(acc)!;
  assert.match(uuid, UUID_V4, 'a real random uuid (spec 1.1)');
  assert.equal(acc.attrs.get(`{${NS.sdata}}url`), url);
  assert.equal(acc.attrs.get(`{${NS.sdata}}key`), /\('(\d+)'\)$/.exec(url)![1]);
  assert.equal(textOf(acc, C, 'name'), 'Unlinked Ltd');
  assert.equal(r.headers.get('location'), `${p.url}/accounts/$linked('${uuid}')`);
  assert.equal(textOf(doc, NS.atom, 'id'), r.headers.get('location'));
  // The resource now shows it, and the link reads back; `?select=` gives the attributes alone.
  assert.equal(await uuidOfResource(url), uuid);
  const one = await get(r.headers.get('location')!);
  assert.equal(one.status, 200);
  assert.equal(one.headers.get('etag'), null);
  assert.equal(uuidAttr(accountOf(parseXml(one.text))), uuid);
  const bare = accountOf(parseXml((await get(`${r.headers.get('location')}?select=`)).text));
  assert.deepEqual([bare.children.length, bare.attrs.get(`{${NS.sdata}}url`)], [0, url]);
  // Linking it again: accepted with no uuid or its own (SHOULD), refused with another (MUST, 409).
  assert.equal((await post(`${p.url}/accounts/$linked`, linkBody(url))).status, 200);
  assert.equal((await post(`${p.url}/accounts/$linked`, linkBody(url, uuid.toUpperCase()))).status, 200);
  const other = await post(`${p.url}/accounts/$linked`, linkBody(url, '11111111-2222-4333-8444-555555555555'));
  assert.equal(other.status, 409);
  assert.match(diagnosisMessage(other.text), /already linked to uuid/);
  assert.match(other.text, /LinkConflict/);
});

test('POST $linked with a uuid assigns that uuid; a uuid another resource holds is refused (409)', async () => {
  const a = await create('A');
  const b = await create('B');
  const r = await post(`${p.url}/accounts/$linked`, linkBody(a, 'AAAA0000-0000-4000-8000-000000000001'));
  assert.equal(r.status, 201, r.text);
  assert.equal(await uuidOfResource(a), 'AAAA0000-0000-4000-8000-000000000001');
  const taken = await post(`${p.url}/accounts/$linked`, linkBody(b, 'aaaa0000-0000-4000-8000-000000000001'));
  assert.equal(taken.status, 409);
  assert.match(diagnosisMessage(taken.text), /already links accounts\('\d+'\)/);
  assert.equal(await uuidOfResource(b), undefined);
});

test('POST $linked names its resource by sdata:url (MUST): missing, foreign, of another kind, unknown, deleted', async () => {
  const noUrl = await post(`${p.url}/accounts/$linked`, entry(`<account xmlns="${C}"/>`));
  assert.equal(noUrl.status, 400);
  assert.match(diagnosisMessage(noUrl.text), /sdata:url/);
  assert.equal((await post(`${p.url}/accounts/$linked`, linkBody('http://elsewhere/sdata/other/crm/-/accounts(\'1\')'))).status, 404);
  assert.equal((await post(`${p.url}/accounts/$linked`, linkBody(`${p.url}/contacts('1')`))).status, 400);
  assert.equal((await post(`${p.url}/accounts/$linked`, linkBody(`${p.url}/accounts`))).status, 400);
  assert.equal((await post(`${p.url}/accounts/$linked`, linkBody(`${p.url}/accounts('999999')`))).status, 404);
  const gone = await create('to delete', 'DEL-1');
  assert.equal((await http('DELETE', gone)).status, 200);
  assert.equal((await post(`${p.url}/accounts/$linked`, linkBody(gone))).status, 410);
  // Any host: the path decides (a provider behind a proxy is reached under another name).
  const other = await create('via another host');
  const path = new URL(other).pathname;
  assert.equal((await post(`${p.url}/accounts/$linked`, linkBody(`https://proxy.example${path}`))).status, 201);
  assert.equal((await get(`${p.url}/accounts/$linked('nope')`)).status, 404);
  assert.equal((await http('PATCH', `${p.url}/accounts/$linked`)).status, 405);
});

test('PUT $linked re-points a uuid; the resource keeps its old uuid as an alias, the one it was taken from is unlinked (1.2)', async () => {
  const x = await create('X', 'W-0001');
  const y = await create('Y', 'U-0001');
  const r = await http('PUT', `${p.url}/accounts/$linked('W-0001')`, linkBody(y, 'W-0001'));
  assert.equal(r.status, 200, r.text);
  const acc = accountOf(parseXml(r.text));
  assert.deepEqual([uuidAttr(acc), acc.attrs.get(`{${NS.sdata}}url`), textOf(acc, C, 'name')], ['W-0001', y, 'Y']);
  assert.equal(await uuidOfResource(y), 'W-0001');
  assert.equal(await uuidOfResource(x), undefined, 'X lost its only uuid: no link any more');
  // The old uuid still names Y (an alias); what is served is the current one.
  const old = await get(`${p.url}/accounts/$linked('U-0001')`);
  assert.equal(old.status, 200);
  assert.deepEqual([uuidAttr(accountOf(parseXml(old.text))), textOf(accountOf(parseXml(old.text)), C, 'name')], ['W-0001', 'Y']);
  // A uuid of the URL that the body contradicts is refused; a body without url too.
  assert.equal((await http('PUT', `${p.url}/accounts/$linked('W-0001')`, linkBody(y, 'OTHER'))).status, 400);
  assert.equal((await http('PUT', `${p.url}/accounts/$linked('W-0001')`, entry(`<account xmlns="${C}"/>`))).status, 400);
  // Re-pointing a uuid nobody holds gives it to the resource (its own becomes an alias).
  assert.equal((await http('PUT', `${p.url}/accounts/$linked('V-0001')`, linkBody(y))).status, 200);
  assert.equal(await uuidOfResource(y), 'V-0001');
  for (const u of ['U-0001', 'W-0001', 'V-0001']) assert.equal(uuidAttr(accountOf(parseXml((await get(`${p.url}/accounts/$linked('${u}')`)).text))), 'V-0001', u);
  // DELETE of an alias: it stops naming Y; DELETE of the uuid: Y has no link, but stays.
  assert.equal((await http('DELETE', `${p.url}/accounts/$linked('U-0001')`)).status, 200);
  assert.equal((await get(`${p.url}/accounts/$linked('U-0001')`)).status, 404);
  assert.equal((await http('DELETE', `${p.url}/accounts/$linked('V-0001')`)).status, 200);
  assert.equal((await get(`${p.url}/accounts/$linked('V-0001')`)).status, 404);
  assert.equal((await get(`${p.url}/accounts/$linked('W-0001')`)).status, 404, 'its aliases went with the link');
  assert.equal(await uuidOfResource(y), undefined);
  assert.equal((await http('DELETE', `${p.url}/accounts/$linked('V-0001')`)).status, 404);
});

test('GET $linked pages sequentially (next) and by index (startIndex, count), with opensearch totals; unlinked resources are not listed', async () => {
  const q = await provider(dir, 'listing', { pageSize: 2 });
  try {
    const urls: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await post(`${q.url}/accounts`, entry(`<account xmlns="${C}"${i === 2 ? '' : ` sdata:uuid="L-${i}"`}><name>n${i}</name></account>`));
      urls.push(r.headers.get('location')!);
    }
    const seen: string[] = [];
    let url: string | undefined = `${q.url}/accounts/$linked`;
    let pages = 0;
    while (url) {
      const f = parseXml((await get(url)).text);
      pages++;
      assert.equal(textOf(f, NS.opensearch, 'totalResults'), '4');
      for (const e of kids(f, NS.atom, 'entry')) seen.push(uuidAttr(accountOf(e))!);
      url = linkOf(f, 'next');
    }
    assert.deepEqual([pages, seen], [2, ['L-0', 'L-1', 'L-3', 'L-4']]);
    const f = parseXml((await get(`${q.url}/accounts/$linked?startIndex=3&count=2`)).text);
    assert.deepEqual(kids(f, NS.atom, 'entry').map((e) => uuidAttr(accountOf(e))), ['L-3', 'L-4']);
    assert.deepEqual([textOf(f, NS.opensearch, 'startIndex'), textOf(f, NS.opensearch, 'itemsPerPage')], ['3', '2']);
    assert.equal(linkOf(f, 'next'), undefined);
    assert.match(linkOf(f, 'previous')!, /startIndex=1&count=2/);
    const bare = parseXml((await get(`${q.url}/accounts/$linked?select=&count=10`)).text);
    assert.ok(kids(bare, NS.atom, 'entry').every((e) => accountOf(e).children.length === 0));
  } finally {
    await q.close();
  }
});

test('$linked/$batch: one result per entry, in order; POST, PUT, GET, DELETE; a conflict fails alone (core 13.3)', async () => {
  const a = await create('batch A');
  const b = await create('batch B', 'BB-1');
  const feed = (entries: string): string => `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:http="${NS.http}"><id>urn:b</id><title/><updated>2020-01-01T00:00:00Z</updated>${entries}</feed>`;
  const op = (method: string, body: string, id = ''): string => `<entry><id>${id}</id><http:httpMethod>${method}</http:httpMethod><sdata:payload>${body}</sdata:payload></entry>`;
  const res = await post(`${p.url}/accounts/$linked/$batch`, feed(
    op('POST', `<account xmlns="${C}" sdata:url="${a}" sdata:uuid="AA-1"/>`) +
    op('POST', `<account xmlns="${C}" sdata:url="${b}" sdata:uuid="CC-1"/>`) +
    op('GET', `<account xmlns="${C}"/>`, `${p.url}/accounts/$linked('AA-1')`) +
    op('PUT', `<account xmlns="${C}" sdata:url="${b}"/>`, `${p.url}/accounts/$linked('DD-1')`) +
    op('DELETE', `<account xmlns="${C}" sdata:uuid="AA-1"/>`)));
  assert.equal(res.status, 200, res.text);
  const r = resultsOf(parseXml(res.text));
  assert.deepEqual(r.map((x) => [x.status, x.method]), [[201, 'POST'], [409, undefined], [200, 'GET'], [200, 'PUT'], [200, 'DELETE']]);
  assert.deepEqual(r[1]!.codes, ['LinkConflict']);
  assert.equal(uuidAttr(r[0]!.payload!), 'AA-1');
  assert.equal(textOf(r[2]!.payload, C, 'name'), 'batch A');
  assert.ok(r.every((x) => x.etag === undefined), 'no ETags on link entries (1.3)');
  assert.equal(await uuidOfResource(a), undefined);
  assert.equal(await uuidOfResource(b), 'DD-1');
  assert.equal(uuidAttr(accountOf(parseXml((await get(`${p.url}/accounts/$linked('BB-1')`)).text))), 'DD-1');
});

test('sync matches a resource by its old uuid and by its new one after a re-point; what it sends is the new one', async () => {
  const t = await provider(dir, 'alias-target', { endpointBase: 'http://localhost/sdata/t/crm/-' });
  const s = await provider(dir, 'alias-source', { endpointBase: 'http://localhost/sdata/s/crm/-' });
  try {
    const tEp = t.endpoint('accounts');
    const r = await post(`${t.url}/accounts`, entry(`<account xmlns="${C}" sdata:uuid="OLD-1"><name>held as OLD-1</name></account>`));
    const url = r.headers.get('location')!;
    assert.equal((await http('PUT', `${t.url}/accounts/$linked('NEW-1')`, linkBody(url))).status, 200);
    const far = 'http://far.example/sdata/far/crm/-/accounts';
    // An entry naming the old uuid (a peer that has not heard of the re-point): it updates the same resource.
    const byOld = resultsOf(parseXml((await post(`${t.url}/accounts/$syncTarget`, page({
      digest: [[far, 10], [tEp, 100]], entries: [{ endpoint: far, tick: 5, uuid: 'OLD-1', body: '<name>via old</name>' }],
    }))).text));
    assert.deepEqual([byOld[0]!.status, byOld[0]!.method], [200, 'PUT']);
    let got = accountOf(parseXml((await get(url)).text));
    assert.deepEqual([uuidAttr(got), textOf(got, 'urn:contract', 'name')], ['new-1', 'via old'], 'stored under the current uuid');
    const byNew = resultsOf(parseXml((await post(`${t.url}/accounts/$syncTarget`, page({
      digest: [[far, 10], [tEp, 100]], entries: [{ endpoint: far, tick: 6, uuid: 'NEW-1', body: '<name>via new</name>' }],
    }))).text));
    assert.deepEqual([byNew[0]!.status, byNew[0]!.method], [200, 'PUT']);
    got = accountOf(parseXml((await get(url)).text));
    assert.equal(textOf(got, 'urn:contract', 'name'), 'via new');
    assert.equal(t.health().kinds['accounts']!.resources, 1, 'no second resource');
    // A deletion by the old uuid deletes it too.
    const del = resultsOf(parseXml((await post(`${t.url}/accounts/$syncTarget`, page({
      digest: [[far, 10], [tEp, 100]], entries: [{ endpoint: far, tick: 7, uuid: 'old-1', deleted: true }],
    }))).text));
    assert.deepEqual([del[0]!.status, del[0]!.method], [200, 'DELETE']);
    assert.deepEqual([t.health().kinds['accounts']!.resources, t.health().kinds['accounts']!.tombstones], [0, 1]);
    // The target, as a source, sends the current uuid.
    await post(`${t.url}/accounts`, entry(`<account xmlns="${C}" sdata:uuid="OLD-2"><name>two</name></account>`)).then(async (c) => {
      assert.equal((await http('PUT', `${t.url}/accounts/$linked('NEW-2')`, linkBody(c.headers.get('location')!))).status, 200);
    });
    await syncPass(t.url, s.url);
    const sent = kids(parseXml((await get(`${s.url}/accounts`)).text), NS.atom, 'entry').map((e) => uuidAttr(accountOf(e)));
    assert.deepEqual(sent, ['NEW-2']);
  } finally {
    await t.close();
    await s.close();
  }
});

test('references to an old uuid stay resolvable: $linked resolves an alias to the resource and its current uuid (1.2)', async () => {
  const q = await provider(dir, 'refs', { kinds: ['accounts', 'orders'] });
  try {
    const acc = (await post(`${q.url}/accounts`, entry(`<account xmlns="${C}" sdata:uuid="ACC-OLD"><name>referenced</name></account>`))).headers.get('location')!;
    const order = (await post(`${q.url}/orders`, entry(`<order xmlns="${C}" sdata:uuid="ORD-1"><account sdata:uuid="ACC-OLD"/></order>`))).headers.get('location')!;
    assert.equal((await http('PUT', `${q.url}/accounts/$linked('ACC-NEW')`, linkBody(acc))).status, 200);
    // The order still says ACC-OLD: the reference resolves to the same account, which now answers as ACC-NEW.
    const ref = kid(kid(kid(parseXml((await get(order)).text), NS.sdata, 'payload'), C, 'order'), C, 'account')!;
    const u = uuidAttr(ref)!;
    assert.equal(u, 'ACC-OLD');
    const resolved = accountOf(parseXml((await get(`${q.url}/accounts/$linked('${u}')`)).text));
    assert.deepEqual([uuidAttr(resolved), resolved.attrs.get(`{${NS.sdata}}url`)], ['ACC-NEW', acc]);
  } finally {
    await q.close();
  }
});

test('a resource without a link is linked when a sync pass sends it: every entry carries a uuid (1.2)', async () => {
  const s = await provider(dir, 'unlinked-source', { endpointBase: 'http://localhost/sdata/us/crm/-' });
  const t = await provider(dir, 'unlinked-target', { endpointBase: 'http://localhost/sdata/ut/crm/-' });
  try {
    const url = (await post(`${s.url}/accounts`, entry(`<account xmlns="${C}"><name>never linked</name></account>`))).headers.get('location')!;
    assert.equal((await get(`${s.url}/accounts/$linked`)).text.includes('never linked'), false);
    const stats = await syncPass(s.url, t.url);
    assert.deepEqual(Object.fromEntries(stats.methods), { POST: 1 });
    const uuid = await uuidOfResource(url);
    assert.match(uuid!, UUID_V4);
    const onT = kids(parseXml((await get(`${t.url}/accounts`)).text), NS.atom, 'entry').map((e) => uuidAttr(accountOf(e)));
    assert.deepEqual(onT, [uuid]);
    assert.equal((await get(`${s.url}/accounts/$linked('${uuid}')`)).status, 200);
    assert.deepEqual(s.checksum('accounts'), t.checksum('accounts'), 'the payloads are identical on both sides');
  } finally {
    await s.close();
    await t.close();
  }
});

test('migration 2: a store from before linking keeps every resource linked; the alias table starts empty', () => {
  const path = dir.db('v1');
  const db = new DatabaseSync(path);
  db.exec(SCHEMA);
  db.exec(`INSERT INTO meta(key, value) VALUES('schema', '1'), ('endpoint_base', 'http://localhost/sdata/hub/crm/-'), ('app', 'hub'), ('contract', 'crm'), ('dataset', '-')`);
  db.exec(`INSERT INTO endpoints(id, norm, url) VALUES(1, 'http://localhost/sdata/hub/crm/-/accounts', 'http://localhost/sdata/hub/crm/-/accounts')`);
  db.exec(`INSERT INTO kinds(id, name, self_ep) VALUES(1, 'accounts', 1)`);
  db.exec(`INSERT INTO digest(kind, ep, tick, stamp, prio) VALUES(1, 1, '01:2', '2020-01-01T00:00:00.000Z', 5)`);
  db.exec(`INSERT INTO resources(kind, uuid, deleted, ep, tick, stamp, user, payload) VALUES(1, 'old-1', 0, 1, '01:1', '2020-01-01T00:00:00.000Z', NULL, '<a sdata:uuid="OLD-1" xmlns:sdata="${NS.sdata}"/>')`);
  db.close();
  const store = new Store({ db: path });
  try {
    const row = store.resources.byUuid(store.kind('accounts')!.id, 'OLD-1')!;
    assert.deepEqual([row.id, row.linked], [1, true]);
    assert.deepEqual(store.links.aliasesOf(row.id), []);
    assert.equal(store.linkedListing.count(store.kind('accounts')!.id), 1);
  } finally {
    store.close();
  }
});
