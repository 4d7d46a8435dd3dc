import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import type { RunningProvider } from '../../src/provider/http/server.ts';
import { oracleCheck, xmllintErrors } from '../helpers/oracle.ts';
import { allResults, diagnosisMessage, get, http, kid, kids, linkOf, parseXml, post, provider, resultsOf, testDir, textOf, ticksOf, type El, type TestDir } from './helpers.ts';

/** Plain SData access (core 8–10, ETags 9.3), the core 13.3 batch, $syncResults, $schema. */

let dir: TestDir;
let p: RunningProvider;
const SELF = 'http://localhost/sdata/hub/crm/-/accounts';
const C = 'http://schemas.sage.com/crm';

before(async () => {
  dir = testDir();
  p = await provider(dir, 'crud', { pageSize: 3 });
});
after(async () => {
  await p.close();
  dir.cleanup();
});

const entry = (inner: string, extra = ''): string =>
  `<?xml version="1.0"?>\n<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:http="${NS.http}">${extra}<sdata:payload>${inner}</sdata:payload></entry>`;

async function selfTick(): Promise<number> {
  return Number(ticksOf(parseXml((await get(`${p.url}/accounts/$syncDigest`)).text))[SELF]);
}

test('POST creates with the next local tick (docs/protocol.md §3.1); GET gives the entry with an ETag equal to http:etag; PUT needs If-Match, merges properties', async (t) => {
  const t0 = await selfTick();
  const created = await post(`${p.url}/accounts`, entry(`<account xmlns="${C}" sdata:uuid="C-1"><name>Ünïcødé &amp; Co</name><city>Bern</city></account>`));
  assert.equal(created.status, 201, created.text);
  const loc = created.headers.get('location')!;
  assert.match(loc, /\/accounts\('\d+'\)$/);
  const e = parseXml(created.text);
  assert.equal(textOf(kid(e, NS.sync, 'syncState'), NS.sync, 'tick'), String(t0));
  assert.equal(await selfTick(), t0 + 1);
  // A repeated POST of the same uuid is not a conflict (core 8.5): 201 and the stored entry, no new tick.
  const again = await post(`${p.url}/accounts`, entry(`<account xmlns="${C}" sdata:uuid="c-1"><name>other</name></account>`));
  assert.equal(again.status, 201);
  assert.equal(again.headers.get('location'), loc);
  assert.equal(await selfTick(), t0 + 1);
  const g = await get(loc);
  assert.equal(g.status, 200);
  // RFC 9110 §8.8.3: the header is a quoted entity-tag; http:etag carries the same tag bare (docs/protocol.md §5.6).
  const etag = g.headers.get('etag')!;
  assert.equal(`"${textOf(parseXml(g.text), NS.http, 'etag')}"`, etag);
  await oracleCheck(t, 'the GET entry is well-formed for libxml2', ['xmllint'], () => assert.equal(xmllintErrors(g.text), ''));
  const put = entry(`<account xmlns="${C}"><city>Zürich</city></account>`);
  assert.equal((await http('PUT', loc, put)).status, 400);
  const stale = await http('PUT', loc, put, { 'if-match': '"nope"' });
  assert.equal(stale.status, 412);
  assert.equal(stale.headers.get('etag'), etag);
  // If-Match compares strongly (RFC 9110 §13.1.1): the weak form of the current tag does not match.
  assert.equal((await http('PUT', loc, put, { 'if-match': `W/${etag}` })).status, 412);
  const ok = await http('PUT', loc, put, { 'if-match': `"other", ${etag}` });
  assert.equal(ok.status, 200, ok.text);
  const res = kid(kid(parseXml(ok.text), NS.sdata, 'payload'), C, 'account')!;
  assert.deepEqual([textOf(res, C, 'name'), textOf(res, C, 'city')], ['Ünïcødé & Co', 'Zürich']);
  assert.notEqual(ok.headers.get('etag'), etag);
  assert.equal(await selfTick(), t0 + 2);
  // DELETE: a stale If-Match is refused (quoted, or bare as copied from http:etag), none is fine; then 410.
  assert.equal((await http('DELETE', loc, undefined, { 'if-match': etag })).status, 412);
  assert.equal((await http('DELETE', loc, undefined, { 'if-match': etag.slice(1, -1) })).status, 412);
  assert.equal((await http('DELETE', loc)).status, 200);
  assert.equal((await get(loc)).status, 410);
  assert.equal((await get(`${p.url}/accounts('999999')`)).status, 404);
  assert.equal(p.health().kinds['accounts']!.tombstones, 1);
});

test('the collection feed pages with next links; totals and entries are right', async () => {
  for (let i = 0; i < 7; i++) {
    assert.equal((await post(`${p.url}/accounts`, entry(`<account xmlns="${C}"><name>n${i}</name></account>`))).status, 201);
  }
  let url: string | undefined = `${p.url}/accounts`;
  const names: string[] = [];
  let pages = 0;
  while (url) {
    const f = parseXml((await get(url)).text);
    pages++;
    assert.equal(textOf(f, NS.opensearch, 'totalResults'), '7');
    for (const e of kids(f, NS.atom, 'entry')) {
      const res = kid(kid(e, NS.sdata, 'payload'), C, 'account')!;
      // Created without a uuid: no link yet, so no uuid is shown (spec 1.2; linking gives one: linked.test.ts).
      assert.equal(res.attrs.get(`{${NS.sdata}}uuid`), undefined);
      names.push(textOf(res, C, 'name')!);
    }
    url = linkOf(f, 'next');
  }
  assert.equal(pages, 3);
  assert.deepEqual(names, ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
  // Indexed paging (core 6.4): the page that starts at a 1-based position, without a cursor.
  const names2 = (f: El): string[] => kids(f, NS.atom, 'entry').map((e) => textOf(kid(kid(e, NS.sdata, 'payload'), C, 'account'), C, 'name')!);
  const at4 = parseXml((await get(`${p.url}/accounts?startIndex=4&count=2`)).text);
  assert.deepEqual([names2(at4), textOf(at4, NS.opensearch, 'startIndex'), textOf(at4, NS.opensearch, 'itemsPerPage')], [['n3', 'n4'], '4', '2']);
  const next = parseXml((await get(linkOf(at4, 'next')!)).text);
  assert.deepEqual([names2(next), textOf(next, NS.opensearch, 'startIndex')], [['n5', 'n6'], '6']);
  const past = parseXml((await get(`${p.url}/accounts?startIndex=9&count=2`)).text);
  assert.deepEqual([names2(past), linkOf(past, 'next')], [[], undefined]);
});

test('$batch: one result per entry, in order, with status, method, location and ETag; ifMatch mismatch gives 412', async () => {
  const feed = (entries: string): string => `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:http="${NS.http}"><id>urn:b</id><title/><updated>2020-01-01T00:00:00Z</updated>${entries}</feed>`;
  const created = await post(`${p.url}/accounts/$batch`, feed(
    `<entry><id/><http:httpMethod>POST</http:httpMethod><sdata:payload><account xmlns="${C}" sdata:uuid="BATCH-1"><name>b1</name></account></sdata:payload></entry>` +
    `<entry><id/><http:httpMethod>POST</http:httpMethod><sdata:payload><account xmlns="${C}" sdata:uuid="BATCH-2"><name>b2</name></account></sdata:payload></entry>`));
  assert.equal(created.status, 200, created.text);
  const [r1, r2] = resultsOf(parseXml(created.text));
  assert.deepEqual([r1!.status, r1!.method, r2!.status], [201, 'POST', 201]);
  const id1 = r1!.id;
  const id2 = r2!.id;
  const batch = feed(
    `<entry><id>${id1}</id><http:httpMethod>PUT</http:httpMethod><http:ifMatch>${r1!.etag}</http:ifMatch><sdata:payload><account xmlns="${C}"><name>b1 new</name></account></sdata:payload></entry>` +
    `<entry><id>${id2}</id><http:httpMethod>PUT</http:httpMethod><http:ifMatch>stale</http:ifMatch><sdata:payload><account xmlns="${C}"><name>b2 new</name></account></sdata:payload></entry>` +
    `<entry><id>${id2}</id><http:httpMethod>GET</http:httpMethod></entry>` +
    `<entry><id>${id2}</id><http:httpMethod>DELETE</http:httpMethod></entry>` +
    `<entry><id>${SELF}('987654')</id><http:httpMethod>DELETE</http:httpMethod></entry>` +
    `<entry><id/><sdata:payload><account xmlns="${C}"/></sdata:payload></entry>`);
  // Asynchronous with a trackingID (13.5): 202, results at the context, a retry is not applied twice.
  const r = await post(`${p.url}/accounts/$batch?trackingID=batch-1`, batch);
  assert.equal(r.status, 202);
  const loc = r.headers.get('location')!;
  assert.match(loc, /\$batch\('batch-1'\)$/);
  assert.equal((await post(`${p.url}/accounts/$batch?trackingID=batch-1`, batch)).headers.get('location'), loc);
  assert.equal(p.health().appliedTrackingIds['batch-1'], 1);
  const res = await allResults(loc);
  assert.deepEqual(res.map((x) => [x.status, x.method]), [[200, 'PUT'], [412, undefined], [200, 'GET'], [200, 'DELETE'], [404, undefined], [400, undefined]]);
  assert.equal(res[1]!.codes[0], 'BatchEntryFailed');
  assert.equal(res[1]!.etag, res[2]!.etag, 'a 412 tells the current version');
  assert.equal(textOf(res[0]!.payload, C, 'name'), 'b1 new');
  assert.equal((await http('DELETE', loc)).status, 200);
  assert.equal((await get(loc)).status, 410);
});

test('$syncResults stores a streamed result feed (200); a broken one is refused with 400; $schema lists the kinds', async () => {
  const before = p.health().syncResults;
  const feed = `<feed xmlns="${NS.atom}" xmlns:http="${NS.http}"><id>urn:r</id><title/><updated>2020-01-01T00:00:00Z</updated>` +
    '<entry><id>x</id><http:httpStatus>200</http:httpStatus></entry></feed>';
  assert.equal((await post(`${p.url}/accounts/$syncResults?runName=r&runStamp=2020-01-01T00:00:00`, feed)).status, 200);
  assert.equal(p.health().syncResults, before + 1);
  const bad = await post(`${p.url}/accounts/$syncResults`, '<feed xmlns="http://www.w3.org/2005/Atom"><entry></feed>');
  assert.equal(bad.status, 400);
  assert.match(diagnosisMessage(bad.text), /not well-formed/);
  assert.equal(p.health().syncResults, before + 1);
  const schema = parseXml((await get(`${p.url}/$schema`)).text);
  const el = kids(schema, 'http://www.w3.org/2001/XMLSchema', 'element');
  assert.deepEqual(el.map((e) => [e.attrs.get('name'), e.attrs.get(`{${NS.sme}}isSyncSource`), e.attrs.get(`{${NS.sme}}syncOrder`)]), [['accounts', 'true', '1']]);
  // The collection pages by index (X16); sync feeds page by their next links.
  assert.deepEqual(el.map((e) => [e.attrs.get(`{${NS.sme}}canPageIndex`), e.attrs.get(`{${NS.sme}}supportsETag`)]), [['true', 'true']]);
});

test('PUT $syncDigest replaces the digest (POST too, docs/protocol.md A3) but never lets the own tick fall back', async () => {
  const own = await selfTick();
  const other = 'http://other.example/sdata/o/crm/-/accounts';
  const body = `<entry xmlns="${NS.atom}"><payload xmlns="${NS.sdata}"><digest xmlns="${NS.sync}"><digestEntry><endpoint>${other}</endpoint><tick>42</tick><stamp>2020-01-01T00:00:00Z</stamp><conflictPriority>3</conflictPriority></digestEntry>` +
    `<digestEntry><endpoint>${SELF}</endpoint><tick>1</tick><stamp>2020-01-01T00:00:00Z</stamp><conflictPriority>2</conflictPriority></digestEntry></digest></payload></entry>`;
  const r = await http('POST', `${p.url}/accounts/$syncDigest`, body);
  assert.equal(r.status, 200);
  const d = ticksOf(parseXml(r.text));
  assert.equal(d[other], '42');
  assert.equal(d[SELF], String(own));
  const bad = await http('PUT', `${p.url}/accounts/$syncDigest`, body.replace('<tick>42</tick>', '<tick>-4</tick>'));
  assert.equal(bad.status, 400);
});
