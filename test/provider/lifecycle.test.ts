import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import type { RunningProvider } from '../../src/provider/http/server.ts';
import { seedStore } from '../../src/seeder/seed-store.ts';
import { page as testPage } from '../helpers/feeds.ts';
import { oracleCheck, xmllintErrors } from '../helpers/oracle.ts';
import { until } from '../helpers/until.ts';
import {
  diagnosisMessage, get, http, kid, kids, linkOf, parseXml, pollUntilDone, post, postInHalves, provider, resultsOf, testDir, textOf, ticksOf,
  type TestDir,
} from './helpers.ts';

/** The asynchronous lifecycle (core 11.5, spec 5.2/5.3/5.6), idempotency, and request-level errors. */

let dir: TestDir;
let src: RunningProvider;
let tgt: RunningProvider;
const HUB = 'http://localhost/sdata/hub/crm/-/accounts';
/** Holds the source's selections in their 202 phase while set (the test releases it): no race with a timer. */
let selecting: { promise: Promise<void>; resolve: () => void } | undefined;
function hold(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

before(async () => {
  dir = testDir();
  await seedStore({ db: dir.db('src'), app: 'hub', contract: 'crm', kind: 'accounts', count: 25 });
  src = await provider(dir, 'src', { pageSize: 10, selectGate: () => selecting?.promise ?? Promise.resolve() });
  tgt = await provider(dir, 'tgt', { app: 'spoke', pageSize: 4, maxBodyBytes: 200_000 });
});
after(async () => {
  await src.close();
  await tgt.close();
  dir.cleanup();
});

test('source lifecycle: 202 while selecting, 200 page 1, next links to the end, DELETE, then 410', async (t) => {
  const digest = await get(`${tgt.url}/accounts/$syncDigest`);
  const before = src.openContexts();
  selecting = hold();
  const r = await post(`${src.url}/accounts/$syncSource?trackingID=life-1&runName=t&runStamp=2020-01-01T00:00:00&unknownParam=1`, digest.text);
  assert.equal(r.status, 202);
  const loc = r.headers.get('location')!;
  assert.equal(src.openContexts(), before + 1);
  // The selection is still held: polling answers 202 with tracking and the same Location.
  const poll = await get(loc);
  assert.equal(poll.status, 202);
  assert.equal(parseXml(poll.text).local, 'tracking');
  selecting.resolve();
  selecting = undefined;
  const first = await pollUntilDone(loc);
  assert.equal(first.status, 200);
  // Core 9.3 (checklist 111): every entry carries http:etag, the tag the resource's own ETag header quotes.
  const firstEntries = kids(parseXml(first.text), NS.atom, 'entry');
  assert.ok(firstEntries.every((e) => /^[0-9a-z]{14}$/.test(textOf(e, NS.http, 'etag') ?? '')));
  const key = /\('(\d+)'\)$/.exec(textOf(firstEntries[0], NS.atom, 'id')!)![1];
  assert.equal((await get(`${src.url}/accounts('${key}')`)).headers.get('etag'), `"${textOf(firstEntries[0], NS.http, 'etag')}"`);
  const seen: string[] = [];
  let page = first;
  let pages = 0;
  for (;;) {
    pages++;
    const f = parseXml(page.text);
    assert.equal(textOf(f, NS.atom, 'id'), loc);
    assert.equal(linkOf(f, 'self'), loc);
    assert.equal(textOf(f, NS.opensearch, 'totalResults'), '25');
    // Same digest on every page (a snapshot), and ticks ascend along the feed.
    assert.deepEqual(ticksOf(f), { [HUB]: '26' });
    for (const e of kids(f, NS.atom, 'entry')) seen.push(textOf(kid(e, NS.sync, 'syncState'), NS.sync, 'tick')!);
    if (pages === 1) await oracleCheck(t, 'page 1 is well-formed for libxml2', ['xmllint'], () => assert.equal(xmllintErrors(page.text), ''));
    const next = linkOf(f, 'next');
    if (!next) break;
    assert.equal(kids(f, NS.atom, 'entry').length, 10, 'every page but the last is full');
    page = await get(next);
    assert.equal(page.status, 200);
  }
  assert.equal(pages, 3);
  assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => String(i + 1)));
  // Page 3 asked for by position alone: refused (X16), where it used to serve page 1 again.
  const byIndex = await get(`${loc}?startIndex=21&count=10`);
  assert.equal(byIndex.status, 400);
  assert.match(diagnosisMessage(byIndex.text), /paged by the next links/);
  assert.equal((await get(`${loc}?startIndex=1&count=10`)).status, 200);
  // A page fetched again is the same page.
  const again = await get(loc);
  assert.equal(kids(parseXml(again.text), NS.atom, 'entry').length, 10);
  // A repeated POST with the same trackingID (docs/protocol.md A1: any case of the parameter name) returns the same context.
  const rep = await post(`${src.url}/accounts/$syncSource?TRACKINGID=life-1`, digest.text);
  assert.equal(rep.status, 202);
  assert.equal(rep.headers.get('location'), loc);
  assert.equal(src.openContexts(), before + 1);
  assert.equal((await http('DELETE', loc)).status, 200);
  assert.equal((await get(loc)).status, 410);
  assert.equal((await http('DELETE', loc)).status, 410);
  assert.equal(src.openContexts(), before);
});

test('target lifecycle: 202 + Location, results paged in input order, DELETE, 410; a repeated POST is not applied again', async () => {
  // No trackingID: the source answers synchronously with page 1 (core 11.5).
  const sync = await post(`${src.url}/accounts/$syncSource`, (await get(`${tgt.url}/accounts/$syncDigest`)).text);
  assert.equal(sync.status, 200);
  const pageText = sync.text;
  const srcPage = parseXml(pageText);
  const entries = kids(srcPage, NS.atom, 'entry');
  assert.equal(entries.length, 10);
  const before = tgt.health();
  const r = await post(`${tgt.url}/accounts/$syncTarget?trackingID=T-ONE&runName=t`, pageText);
  assert.equal(r.status, 202);
  const loc = r.headers.get('location')!;
  assert.match(loc, /\$syncTarget\('T-ONE'\)$/);
  // Results: 10 entries over pages of 4 (the provider's page size), in input order.
  let res = await pollUntilDone(loc);
  const all: ReturnType<typeof resultsOf> = [];
  let resultPages = 0;
  for (;;) {
    resultPages++;
    const f = parseXml(res.text);
    assert.equal(textOf(f, NS.opensearch, 'totalResults'), '10');
    all.push(...resultsOf(f));
    const next = linkOf(f, 'next');
    if (!next) break;
    res = await get(next);
  }
  assert.equal(resultPages, 3);
  assert.equal(all.length, 10);
  const inputUuids = entries.map((e) => kid(e, NS.sdata, 'payload')!.children[0]!.attrs.get(`{${NS.sdata}}uuid`));
  const inputTicks = entries.map((e) => textOf(kid(e, NS.sync, 'syncState'), NS.sync, 'tick'));
  assert.deepEqual(all.map((x) => x.state!.tick), inputTicks);
  for (const x of all) {
    assert.equal(x.status, 201);
    assert.equal(x.method, 'POST');
    assert.ok(x.etag);
  }
  // Retried POST, same trackingID (any case): drained, same context, applied once.
  const rep = await post(`${tgt.url}/accounts/$syncTarget?trackingid=t-one`, pageText);
  assert.equal(rep.status, 202);
  assert.equal(rep.headers.get('location'), loc);
  const h = tgt.health();
  assert.equal(h.appliedTrackingIds['t-one'], 1);
  assert.equal(h.kinds['accounts']!.resources, before.kinds['accounts']!.resources + 10);
  assert.equal(inputUuids.length, 10);
  assert.equal((await http('DELETE', loc)).status, 200);
  assert.equal((await get(loc)).status, 410);
  assert.equal((await http('DELETE', loc)).status, 410);
  // The same page posted again under a new trackingID changes nothing: R1 ignores every entry.
  const sumBefore = tgt.checksum('accounts');
  const digestBefore = (await get(`${tgt.url}/accounts/$syncDigest`)).text;
  const twice = await post(`${tgt.url}/accounts/$syncTarget`, pageText);
  assert.equal(twice.status, 200);
  const again = resultsOf(parseXml(twice.text));
  assert.equal(again.length, 10);
  for (const x of again) assert.deepEqual([x.status, x.method, x.codes.join()], [200, undefined, 'SyncIgnored']);
  assert.deepEqual(tgt.checksum('accounts'), sumBefore);
  assert.deepEqual(ticksOf(parseXml((await get(`${tgt.url}/accounts/$syncDigest`)).text)), ticksOf(parseXml(digestBefore)));
});

test('a chunk context found by its trackingID while it applies (an empty-body POST) and DELETEd stays deleted once the chunk is applied', async () => {
  const pageText = (await post(`${src.url}/accounts/$syncSource`, (await get(`${tgt.url}/accounts/$syncDigest`)).text)).text;
  const url = `${tgt.url}/accounts/$syncTarget?trackingID=T-HELD&runName=t`;
  const before = tgt.openContexts();
  // The chunk's first half only: the provider holds the context applying while the rest is awaited.
  let loc = '';
  const held = (async (): Promise<void> => {
    await until(() => tgt.openContexts() === before + 1, { what: 'the chunk context applying' });
    // What the next run of a killed engine does (http/async-op.ts releaseByTrackingId): the same POST, an empty body.
    const probe = await post(url, '');
    assert.equal(probe.status, 202);
    loc = probe.headers.get('location')!;
    assert.match(loc, /\$syncTarget\('T-HELD'\)$/);
    assert.equal((await http('DELETE', loc)).status, 200);
  })();
  assert.equal((await postInHalves(url, pageText, held)).status, 202);
  assert.equal((await get(loc)).status, 410);
  assert.equal(tgt.openContexts(), before);
  // Where no POST of that trackingID left a context, the empty body is refused and nothing is created.
  const none = await post(`${tgt.url}/accounts/$syncTarget?trackingID=T-NEVER`, '');
  assert.equal(none.status, 400);
  assert.equal((await get(`${tgt.url}/accounts/$syncTarget('T-NEVER')`)).status, 404);
  assert.equal(tgt.openContexts(), before);
});

test('request-level errors: 404 unknown app/kind/context, 405 with Allow, 413 over the limit, 400 bad digest; unknown parameters ignored', async () => {
  const kind404 = await get(`${tgt.url}/widgets/$syncDigest`);
  assert.equal(kind404.status, 404);
  assert.equal(textOf(kid(parseXml(kind404.text), NS.sdata, 'diagnosis'), NS.sdata, 'sdataCode'), 'ResourceKindNotFound');
  const app404 = await get(tgt.url.replace('/spoke/', '/nope/') + '/accounts');
  assert.equal(app404.status, 404);
  assert.equal(textOf(kid(parseXml(app404.text), NS.sdata, 'diagnosis'), NS.sdata, 'sdataCode'), 'ApplicationNotFound');
  assert.equal((await get(`${tgt.url}/accounts/$syncTarget('never')`)).status, 404);
  assert.equal((await get(`${tgt.url}/accounts/$syncSource('never')`)).status, 404);
  for (const [method, path, allow] of [
    ['DELETE', '$syncDigest', 'GET, PUT, POST'], ['GET', '$syncResults', 'POST'], ['GET', '$syncTarget', 'POST'],
    ['PUT', '$syncSource', 'POST'], ['PUT', "$syncTarget('x')", 'GET, DELETE'], ['PATCH', '', 'GET, POST'],
  ] as const) {
    const r = await http(method, `${tgt.url}/accounts${path ? `/${path}` : ''}`);
    assert.equal(r.status, 405, `${method} ${path}`);
    assert.equal(r.headers.get('allow'), allow);
    assert.match(diagnosisMessage(r.text), /is not allowed/);
  }
  const big = testPage({ entries: Array.from({ length: 400 }, (_, i) => ({ endpoint: HUB, tick: i + 1, body: `<name>${'x'.repeat(600)}</name>` })) });
  const tooBig = await post(`${tgt.url}/accounts/$syncTarget?trackingID=big`, big);
  assert.equal(tooBig.status, 413);
  assert.equal((await get(`${tgt.url}/accounts/$syncTarget('big')`)).status, 404);
  const badDigest = await post(`${src.url}/accounts/$syncSource?trackingID=bd`, '<entry xmlns="http://www.w3.org/2005/Atom"><title>no digest</title></entry>');
  assert.equal(badDigest.status, 400);
  assert.match(diagnosisMessage(badDigest.text), /no sync:digest/);
  const notXml = await post(`${src.url}/accounts/$syncSource?trackingID=nx`, '<entry>\n  <oops></entry>');
  assert.equal(notXml.status, 400);
  assert.match(diagnosisMessage(notXml.text), /\b2:\d+/);
  const notFeed = await post(`${tgt.url}/accounts/$syncTarget`, '<feed xmlns="http://www.w3.org/2005/Atom"><entry/></feed>');
  assert.equal(notFeed.status, 400);
  assert.match(diagnosisMessage(notFeed.text), /no sync:syncMode/);
  assert.equal((await get(`${tgt.url}/accounts/$syncDigest?whatever=1&count=x`)).status, 200);
});

test('entries that cannot be applied fail one by one (400 + diagnosis) and hold the digest back; the rest apply', async () => {
  const ep = 'http://other.example/sdata/o/crm/-/accounts';
  const body = testPage({
    digest: [[ep, 50, 4]], next: 'urn:more',
    entries: [
      { endpoint: ep, tick: 10, uuid: 'ok-10' },
      { endpoint: ep, tick: 11, noState: true, uuid: 'bad-11' },
      { endpoint: ep, tick: 'x', uuid: 'bad-x' },
      { endpoint: ep, tick: 12, uuid: 'ok-12' },
    ],
  });
  const r = await post(`${tgt.url}/accounts/$syncTarget`, body);
  assert.equal(r.status, 200);
  const res = resultsOf(parseXml(r.text));
  assert.deepEqual(res.map((x) => x.status), [201, 400, 400, 201]);
  assert.equal(res[1]!.codes[0], 'SyncEntryFailed');
  // The failed entries have no usable tick, so nothing caps the digest here; a failure with a tick does:
  const failing = testPage({
    digest: [[ep, 50, 4]],
    entries: [
      { endpoint: ep, tick: 20, uuid: 'ok-20' },
      { endpoint: ep, tick: 21, uuid: 'fail-21', body: '<name>x</name>' },
      { endpoint: ep, tick: 22, uuid: 'ok-22' },
    ],
  }).replace('<entry><id>urn:e:1</id><title>e1</title><updated>2020-01-01T00:00:00Z</updated><sync:syncState>', '<entry><id>urn:e:1</id><title>e1</title><updated>2020-01-01T00:00:00Z</updated><http:httpMethod xmlns:http="http://schemas.sage.com/sdata/http/2008/1">GET</http:httpMethod><sync:syncState>');
  const r2 = await post(`${tgt.url}/accounts/$syncTarget`, failing);
  const res2 = resultsOf(parseXml(r2.text));
  assert.deepEqual(res2.map((x) => x.status), [201, 400, 201]);
  // 20 applied (→ 21), 21 failed: the digest stays at 21 and the end-of-feed merge skips this endpoint (not 50).
  assert.equal(ticksOf(parseXml((await get(`${tgt.url}/accounts/$syncDigest`)).text))[ep], '21');
});

test('contexts expire after the idle TTL (404 afterwards) and the count drops', async () => {
  let now = Date.now();
  const p = await provider(dir, 'ttl', { contextTtlMs: 150, now: () => now });
  try {
    const d = (await get(`${p.url}/accounts/$syncDigest`)).text;
    const r = await post(`${p.url}/accounts/$syncSource?trackingID=exp`, d);
    const loc = r.headers.get('location')!;
    assert.equal((await pollUntilDone(loc)).status, 200);
    assert.equal(p.openContexts(), 1);
    now += 151;
    assert.equal(p.openContexts(), 0);
    assert.equal((await get(loc)).status, 404);
  } finally {
    await p.close();
  }
});

test('entries carrying http:httpMethod (the 5.3 seed): DELETE deletes, POST on a known uuid updates (reported PUT), PUT on an unknown one creates (POST)', async () => {
  const ep = 'http://hinted.example/sdata/h/crm/-/accounts';
  const H = 'xmlns:http="http://schemas.sage.com/sdata/http/2008/1"';
  const hinted = (method: string, tick: number, uuid: string): string => testPage({
    digest: [[ep, 100, 4]], next: 'urn:more', entries: [{ endpoint: ep, tick, uuid, body: `<name>${method} ${tick}</name>` }],
  }).replace('<sync:syncState>', `<http:httpMethod ${H}>${method}</http:httpMethod><sync:syncState>`);
  const run = async (method: string, tick: number, uuid: string): Promise<[number, string | undefined]> => {
    const r = await post(`${tgt.url}/accounts/$syncTarget`, hinted(method, tick, uuid));
    assert.equal(r.status, 200, r.text);
    const [x] = resultsOf(parseXml(r.text));
    return [x!.status, x!.method];
  };
  assert.deepEqual(await run('PUT', 1, 'HINT-1'), [201, 'POST']);
  assert.deepEqual(await run('POST', 2, 'HINT-1'), [200, 'PUT']);
  const before = tgt.health().kinds['accounts']!.tombstones;
  // A DELETE entry may carry the full resource: it still deletes, and the tombstone is a proper deletion payload.
  assert.deepEqual(await run('DELETE', 3, 'HINT-1'), [200, 'DELETE']);
  assert.equal(tgt.health().kinds['accounts']!.tombstones, before + 1);
  // The conflict rules apply to hinted entries too: an older tick from the same origin is ignored.
  assert.deepEqual(await run('POST', 2, 'HINT-1'), [200, undefined]);
});

test('ticks beyond 2^53 and 2^63 stay exact: applied, digested (+1) and selected by range', async () => {
  const ep = 'http://big.example/sdata/b/crm/-/accounts';
  const t53 = '9007199254740993';
  const t90 = '123456789012345678901234567890';
  const body = testPage({
    digest: [[ep, '123456789012345678901234567891', 4]], next: 'urn:more',
    entries: [{ endpoint: ep, tick: t53, uuid: 'BIG-53' }, { endpoint: ep, tick: t90, uuid: 'BIG-90' }],
  });
  const r = await post(`${tgt.url}/accounts/$syncTarget`, body);
  assert.deepEqual(resultsOf(parseXml(r.text)).map((x) => [x.status, x.state!.tick]), [[201, t53], [201, t90]]);
  assert.equal(ticksOf(parseXml((await get(`${tgt.url}/accounts/$syncDigest`)).text))[ep], '123456789012345678901234567891');
  // As a source: a target that has everything from `ep` below t90 gets exactly the t90 resource.
  const own = ticksOf(parseXml((await get(`${tgt.url}/accounts/$syncDigest`)).text));
  const digest = `<entry xmlns="${NS.atom}"><payload xmlns="${NS.sdata}"><digest xmlns="${NS.sync}">` +
    Object.entries(own).map(([e, t]) => `<digestEntry><endpoint>${e}</endpoint><tick>${e === ep ? t90 : t}</tick><stamp>2020-01-01T00:00:00Z</stamp><conflictPriority>5</conflictPriority></digestEntry>`).join('') +
    '</digest></payload></entry>';
  const page = parseXml((await post(`${tgt.url}/accounts/$syncSource`, digest)).text);
  const ticks = kids(page, NS.atom, 'entry').map((e) => textOf(kid(e, NS.sync, 'syncState'), NS.sync, 'tick'));
  assert.deepEqual(ticks, [t90]);
});
