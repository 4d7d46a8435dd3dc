import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { oracleSuite, oracleTest } from '../helpers/oracle.ts';
import { NS } from '../../src/protocol/namespaces.ts';
import { page } from '../helpers/feeds.ts';
import { startPeer, type Peer, type PeerState } from '../helpers/peer.ts';
import { DIGEST_ENTRY_5_2, EP, PAGE_5_2_CORRECTED } from '../helpers/spec-examples.ts';
import { kid, kids, linkOf, parseXml, textOf, type El } from '../provider/helpers.ts';

/**
 * The independent peer (test/peer/sdata_peer.py) against the spec's worked examples, over HTTP: if it did not
 * follow the spec, the interop tests run against it would prove nothing. Responses are read with saxes, not with
 * the peer's expat.
 */

const FEED = 'application/atom+xml; type=feed';
const ENTRY = 'application/atom+xml; type=entry';
const RUN = 'runName=peer%20test&runStamp=2020-01-01T00%3A00%3A00Z';

interface Res {
  status: number;
  headers: Headers;
  text: string;
}

async function req(method: string, url: string, body?: string, type = FEED): Promise<Res> {
  const r = await fetch(url, { method, ...(body === undefined ? {} : { body, headers: { 'content-type': type } }) });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

/** GET until the context stops answering 202; bounded. */
async function ready(url: string): Promise<Res> {
  for (let i = 0; i < 100; i++) {
    const r = await req('GET', url);
    if (r.status !== 202) return r;
    assert.equal(kid(parseXml(r.text), NS.sdata, 'pollingMillis')?.local, 'pollingMillis', 'a 202 carries sdata:tracking');
  }
  throw new Error(`${url}: still 202 after 100 polls`);
}

interface Result {
  status: number;
  method: string | undefined;
  codes: string[];
  location: string | undefined;
}

function results(text: string): Result[] {
  return kids(parseXml(text), NS.atom, 'entry').map((e) => ({
    status: Number(textOf(e, NS.http, 'httpStatus')),
    method: textOf(e, NS.http, 'httpMethod'),
    codes: kids(e, NS.sdata, 'diagnosis').map((d) => textOf(d, NS.sdata, 'applicationCode') ?? ''),
    location: textOf(e, NS.http, 'location'),
  }));
}

function ticks(s: PeerState, kind = 'accounts'): Record<string, string> {
  return Object.fromEntries(s.kinds[kind]!.digest.map((d) => [d.endpoint, d.tick]));
}

function resource(s: PeerState, uuid: string, kind = 'accounts') {
  return s.kinds[kind]!.resources.find((r) => r.uuid.toLowerCase() === uuid.toLowerCase());
}

function feedEntries(f: El): Array<[uuid: string, endpoint: string, tick: string, deleted: boolean]> {
  return kids(f, NS.atom, 'entry').map((e) => {
    const st = kid(e, NS.sync, 'syncState');
    const res = kid(e, NS.sdata, 'payload')!.children[0]!;
    return [res.attrs.get(`{${NS.sdata}}uuid`)!, textOf(st, NS.sync, 'endpoint')!, textOf(st, NS.sync, 'tick')!, res.attrs.get(`{${NS.sdata}}isDeleted`) === 'true'];
  });
}

const digestTicks = (f: El): Record<string, string> =>
  Object.fromEntries(kids(kid(f, NS.sync, 'digest'), NS.sync, 'digestEntry').map((d) => [textOf(d, NS.sync, 'endpoint')!, textOf(d, NS.sync, 'tick')!]));

/** A target digest that knows no endpoint: the source selects everything (docs/protocol.md §3.2). */
const EMPTY_DIGEST = `<entry xmlns="${NS.atom}"><id>urn:t</id><title/><updated>2020-01-01T00:00:00Z</updated><payload xmlns="${NS.sdata}"><digest xmlns="${NS.sync}"/></payload></entry>`;

oracleTest('the peer starts on an ephemeral port, says where in one JSON line, serves, and exits 0 on SIGTERM', ['expat'], async () => {
  const p = await startPeer({ app: 'lifecycle', kinds: [{ name: 'accounts' }, { name: 'contacts', isSyncSource: false }] });
  try {
    assert.match(p.url, /^http:\/\/127\.0\.0\.1:\d+\/sdata\/lifecycle\/myContract\/-$/);
    assert.equal(p.endpoint('contacts'), 'http://localhost/sdata/lifecycle/myContract/-/contacts');
    const d = await req('GET', `${p.url}/contacts/$syncDigest`);
    assert.equal(d.headers.get('content-type'), ENTRY);
    assert.deepEqual(digestTicks(kid(parseXml(d.text), NS.sdata, 'payload')!), { [p.endpoint('contacts')]: '1' });
    assert.equal((await req('GET', `${p.url}/nope/$syncDigest`)).status, 404);
    const schema = parseXml((await req('GET', `${p.url}/$schema`)).text);
    const flags = kids(schema, 'http://www.w3.org/2001/XMLSchema', 'element').map((e) => [e.attrs.get('name'), e.attrs.get(`{${NS.sme}}isSyncSource`), e.attrs.get(`{${NS.sme}}syncOrder`)]);
    assert.deepEqual(flags, [['accounts', 'true', '1'], ['contacts', 'false', '2']]);
  } finally {
    assert.equal(await p.stop(), 0);
  }
}, { timeout: 30_000 });

const NATURAL = '74926A0D-D2C0-4daa-9986-47C833691569';
const CHEMICAL = 'C4411795-9943-4cf4-8705-51A74C9F0ACC';

oracleSuite('the peer as a source: spec 5.2 selection, paging, the context lifecycle', ['expat'], { timeout: 30_000 }, () => {
  let p: Peer;
  before(async () => {
    p = await startPeer({ app: 'myApp1', endpointBase: 'http://www.example.com/sdata/myApp1/myContract/-', pageSize: 2, polls: 1 });
  });
  after(() => p?.stop());

  test('selects the 5.2 entries from a snapshot, pages with absolute links and totals, DELETE then 410', async () => {
    await p.load({
      digest: [{ endpoint: EP.myApp1, tick: 6, conflictPriority: 2 }, { endpoint: EP.myApp2, tick: 10, conflictPriority: 1 }, { endpoint: EP.sageApp3, tick: 10, conflictPriority: 3 }],
      resources: [
        { uuid: 'a-4', state: { endpoint: EP.myApp1, tick: 4 } },
        { uuid: NATURAL, state: { endpoint: EP.myApp1, tick: 5 }, name: 'Natural Goods Ltd.' },
        { uuid: 'b-9', state: { endpoint: EP.myApp2, tick: 9 } },
        { uuid: 'c-7', state: { endpoint: EP.sageApp3, tick: 7 } },
        { uuid: CHEMICAL, state: { endpoint: EP.sageApp3, tick: 8 }, name: 'Chemical Brothers Inc.' },
        { uuid: 'c-9', state: { endpoint: EP.sageApp3, tick: 9 }, deleted: true },
      ],
    });
    const started = await req('POST', `${p.url}/accounts/$syncSource?trackingID=T-5-2&${RUN}`, DIGEST_ENTRY_5_2, ENTRY);
    assert.equal(started.status, 202, started.text);
    const ctx = started.headers.get('location')!;
    assert.equal(ctx, `${p.url}/accounts/$syncSource('T-5-2')`);
    assert.equal(parseXml(started.text).local, 'tracking');
    // A change after the POST belongs to the next pass (docs/protocol.md §3.2 snapshot): myApp1 tick 6, above the feed's digest.
    assert.equal((await p.edit({ uuid: 'late', name: 'after the POST' })).state.tick, '6');

    const seen: ReturnType<typeof feedEntries> = [];
    let res = await ready(ctx);
    for (let n = 1; ; n++) {
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('content-type'), FEED);
      const f = parseXml(res.text);
      assert.equal(textOf(f, NS.atom, 'id'), ctx);
      assert.equal(linkOf(f, 'first'), ctx);
      assert.match(linkOf(f, 'self')!, /^http:\/\/127\.0\.0\.1:\d+\//);
      assert.equal(textOf(f, NS.opensearch, 'totalResults'), '3');
      assert.equal(textOf(f, NS.opensearch, 'startIndex'), String(2 * n - 1));
      assert.equal(textOf(f, NS.opensearch, 'itemsPerPage'), '2');
      assert.equal(textOf(f, NS.sync, 'syncMode'), 'catchUp');
      assert.deepEqual(digestTicks(f), { [EP.myApp1]: '6', [EP.myApp2]: '10', [EP.sageApp3]: '10' }, 'every page repeats the digest of the selection');
      seen.push(...feedEntries(f));
      const next = linkOf(f, 'next');
      if (!next) break;
      assert.match(next, /^http:\/\/127\.0\.0\.1:\d+\/.*startIndex=3&count=2$/);
      res = await req('GET', next);
    }
    assert.deepEqual(seen, [
      [NATURAL, EP.myApp1, '5', false],
      [CHEMICAL, EP.sageApp3, '8', false],
      ['c-9', EP.sageApp3, '9', true],
    ]);
    const indexed = parseXml((await req('GET', `${ctx}?startIndex=2&count=1`)).text);
    assert.deepEqual(feedEntries(indexed).map((e) => e[0]), [CHEMICAL]);

    assert.equal((await req('DELETE', ctx)).status, 200);
    assert.equal((await req('DELETE', ctx)).status, 410);
    assert.equal((await req('GET', ctx)).status, 410);
    assert.deepEqual((await p.state()).openContexts, []);
  });

  test('without indexed paging: cursor next links, startIndex refused, sme:canPageIndex="false"', async () => {
    await p.reset();
    await p.config({ indexedPaging: false });
    try {
      for (const n of ['x1', 'x2', 'x3']) await p.edit({ uuid: n });
      const schema = parseXml((await req('GET', `${p.url}/$schema`)).text);
      const el = kids(schema, 'http://www.w3.org/2001/XMLSchema', 'element').find((e) => e.attrs.get('name') === 'accounts')!;
      assert.equal(el.attrs.get(`{${NS.sme}}canPageIndex`), 'false');
      assert.equal(el.attrs.get(`{${NS.sme}}isSyncSource`), 'true');
      const started = await req('POST', `${p.url}/accounts/$syncSource?trackingID=T-cursor&${RUN}`, EMPTY_DIGEST, ENTRY);
      const ctx = started.headers.get('location')!;
      const next = linkOf(parseXml((await ready(ctx)).text), 'next')!;
      assert.doesNotMatch(next, /startIndex/);
      assert.equal(feedEntries(parseXml((await req('GET', next)).text)).length, 1);
      assert.equal((await req('GET', `${ctx}?startIndex=3&count=2`)).status, 400);
      assert.equal((await req('DELETE', ctx)).status, 200);
    } finally {
      await p.reset();
    }
  });
});

const MY2 = 'http://www.example.com/sdata/myApp2/myContract/-';
const TARGET_5_2 = [
  { endpoint: EP.myApp1, tick: 5, conflictPriority: 2 },
  { endpoint: EP.myApp2, tick: 11, conflictPriority: 1 },
  { endpoint: EP.sageApp3, tick: 8, conflictPriority: 3 },
];

oracleSuite('the peer as a target: spec 5.5 digest, 5.8 contiguity, trackingID, strict checks', ['expat'], { timeout: 30_000 }, () => {
  let p: Peer;
  before(async () => {
    p = await startPeer({ app: 'myApp2', endpointBase: MY2, polls: 1 });
  });
  after(() => p?.stop());

  test('5.5: per entry tick + 1; the end-of-feed merge only on a page without next; states stored unchanged', async () => {
    await p.reset();
    await p.load({ digest: TARGET_5_2 });
    const first = await req('POST', `${p.url}/accounts/$syncTarget?${RUN}`, PAGE_5_2_CORRECTED);
    assert.equal(first.status, 200, first.text); // no trackingID: synchronous (docs/protocol.md A25)
    assert.deepEqual(results(first.text).map((r) => [r.status, r.method, !!r.location]), [[201, 'POST', true], [201, 'POST', true]]);
    let s = await p.state();
    assert.deepEqual(ticks(s), { [MY2 + '/accounts']: '11', [EP.myApp1]: '6', [EP.sageApp3]: '9' }, 'the page has a next link: no merge yet');
    assert.deepEqual(resource(s, CHEMICAL)!.state, { endpoint: EP.sageApp3, tick: '8', stamp: '2008-10-30T13:27:19.207Z' });
    assert.match(resource(s, NATURAL)!.canonical!, />Natural Goods Ltd\.</);

    const last = PAGE_5_2_CORRECTED.replace(/<link rel="next"[^>]*\/>/, '');
    const again = await req('POST', `${p.url}/accounts/$syncTarget?${RUN}`, last);
    assert.deepEqual(results(again.text).map((r) => [r.status, r.method, r.codes]), [[200, 'PUT', ['SyncIgnored']], [200, 'PUT', ['SyncIgnored']]], 'R1: the same ticks again change nothing');
    s = await p.state();
    assert.deepEqual(ticks(s), { [MY2 + '/accounts']: '11', [EP.myApp1]: '6', [EP.sageApp3]: '10' }, 'the 5.5 table: {6, 11, 10}');
  });

  test('5.8: an immediate entry that follows on is applied without the merge; a gap is 400 with nothing applied', async () => {
    const start = [{ endpoint: EP.myApp1, tick: 6, conflictPriority: 2 }, { endpoint: EP.myApp2, tick: 11, conflictPriority: 1 }, { endpoint: EP.sageApp3, tick: 10, conflictPriority: 3 }];
    const src: Array<[string, number, number]> = [[EP.myApp1, 8, 2], [EP.myApp2, 11, 1], [EP.sageApp3, 15, 3]];
    await p.reset();
    await p.load({ digest: start });
    const ok = await req('POST', `${p.url}/accounts/$syncTarget?${RUN}`, page({ mode: 'immediate', digest: src, entries: [{ endpoint: EP.myApp1, tick: 6, uuid: 'imm-6' }] }));
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ticks(await p.state()), { [EP.myApp1]: '7', [EP.myApp2]: '11', [EP.sageApp3]: '10' }, 'sageApp3 15 is not merged');

    const fine = { endpoint: EP.myApp1, tick: 6, uuid: 'fine' };
    const gaps = [
      ['the 5.8 example: tick 7 when the target expects 6', [{ endpoint: EP.myApp1, tick: 7, uuid: 'imm-7' }]],
      ['tick 8 after 6, the first entry fine', [fine, { endpoint: EP.myApp1, tick: 8, uuid: 'imm-8' }]],
      ['an endpoint the target has no entry for', [fine, { endpoint: 'http://other.example/sdata/o/c/-/accounts', tick: 1, uuid: 'imm-x' }]],
    ] as const;
    for (const [what, entries] of gaps) {
      await p.reset();
      await p.load({ digest: start });
      const before = await p.state();
      const gap = await req('POST', `${p.url}/accounts/$syncTarget?${RUN}`, page({ mode: 'immediate', digest: src, entries: [...entries] }));
      assert.equal(gap.status, 400, what);
      assert.equal(parseXml(gap.text).local, 'diagnoses');
      const after = await p.state();
      assert.deepEqual([ticks(after), after.kinds.accounts!.resources], [ticks(before), []], `${what}: the whole request refused`);
    }
  });

  test('a failed entry holds its endpoint back (docs/protocol.md §3.9.4); ticks beyond 2^53 stay exact; docs/protocol.md A7/A8/A19 leniency', async () => {
    const E = 'http://e.example/sdata/e/c/-/accounts';
    const F = 'http://f.example/sdata/f/c/-/accounts';
    await p.reset();
    await p.load({ digest: [{ endpoint: E, tick: 5, conflictPriority: 5 }, { endpoint: F, tick: 1, conflictPriority: 5 }] });
    // e6 is invalid but keeps its syncState: no sdata:uuid on its resource element.
    const feed = page({
      digest: [[E, 10, 5], [F, '9007199254740995', 5]],
      entries: [
        { endpoint: E, tick: 5, uuid: 'e5' },
        { endpoint: E, tick: 6, uuid: 'NOUUID' },
        { endpoint: E, tick: 7, uuid: 'e7' },
        { endpoint: F, tick: '9007199254740993', uuid: 'f-big' },
      ],
    }).replace(' sdata:uuid="NOUUID"', '');
    const r = await req('POST', `${p.url}/accounts/$syncTarget?${RUN}`, feed);
    assert.deepEqual(results(r.text).map((x) => x.status), [201, 400, 201, 201]);
    const s = await p.state();
    assert.deepEqual(ticks(s), { [E]: '6', [F]: '9007199254740995' }, 'E held at the failed tick, no merge for E; F merged exactly');
    assert.deepEqual(resource(s, 'f-big')!.state.tick, '9007199254740993');
    assert.ok(s.violations.some((v) => v.code === 'invalid-entry'));

    // docs/protocol.md A19 (uuid on sdata:payload), A8 (sync:isDeleted), A7 (an http:httpMethod hint is not obeyed).
    const odd = page({ digest: [[E, 10, 5]], entries: [{ endpoint: E, tick: 8, uuid: 'on-payload' }, { endpoint: E, tick: 9, uuid: 'e5' }] })
      .replace('<sdata:payload><account xmlns="urn:contract" sdata:uuid="on-payload"', '<sdata:payload sdata:uuid="on-payload"><account xmlns="urn:contract"')
      .replace('<title>e0</title>', '<title>e0</title><http:httpMethod xmlns:http="http://schemas.sage.com/sdata/http/2008/1">DELETE</http:httpMethod>')
      .replace('sdata:uuid="e5"><name>n1</name></account>', 'sdata:uuid="e5" xmlns:sy="http://schemas.sage.com/sdata/sync/2008/1" sy:isDeleted="true"/>');
    const o = await req('POST', `${p.url}/accounts/$syncTarget?${RUN}`, odd);
    assert.deepEqual(results(o.text).map((x) => [x.status, x.method]), [[201, 'POST'], [200, 'DELETE']]);
    const s2 = await p.state();
    assert.equal(resource(s2, 'on-payload')!.deleted, false, 'the DELETE hint is not obeyed');
    assert.equal(resource(s2, 'e5')!.deleted, true);
    const notes = s2.log.at(-1)!.notes.map((n) => n.code);
    assert.ok(notes.includes('uuid-on-payload') && notes.includes('httpmethod-hint'), JSON.stringify(notes));
    assert.ok(!s2.log.at(-1)!.violations.includes('invalid-entry'));
  });

  test('trackingID: 202 + Location; the same POST again is the same context, applied once; results paged; DELETE then 410', async () => {
    await p.reset();
    await p.config({ resultPageSize: 2 });
    const X = 'http://x.example/sdata/x/c/-/accounts';
    const body = page({ digest: [[X, 4, 5]], entries: [1, 2, 3].map((t) => ({ endpoint: X, tick: t, uuid: `t-${t}` })) });
    const url = `${p.url}/accounts/$syncTarget?trackingID=TT-1&${RUN}`;
    const a = await req('POST', url, body);
    assert.equal(a.status, 202);
    const loc = a.headers.get('location')!;
    assert.equal(loc, `${p.url}/accounts/$syncTarget('TT-1')`);
    const ticksAfterFirst = ticks(await p.state());
    const b = await req('POST', url, body);
    assert.equal(b.headers.get('location'), loc, 'core 11.6: the same context');
    let s = await p.state();
    assert.deepEqual(ticks(s), ticksAfterFirst);
    assert.deepEqual(s.log.at(-1)!.notes.map((n) => n.code), ['retry']);
    const other = await req('POST', url, body.replace('<name>n0</name>', '<name>changed</name>'));
    assert.equal(other.headers.get('location'), loc);
    s = await p.state();
    assert.deepEqual(s.log.at(-1)!.violations, ['tracking-reused']);
    assert.match(resource(s, 't-1')!.canonical!, /:name>n0</, 'a reused trackingID never starts new work');

    const first = await ready(loc);
    const f1 = parseXml(first.text);
    assert.deepEqual(results(first.text).map((r) => r.status), [201, 201]);
    const next = linkOf(f1, 'next')!;
    assert.match(next, /^http:\/\/127\.0\.0\.1:\d+\//);
    const second = await req('GET', next);
    assert.deepEqual(results(second.text).map((r) => r.status), [201]);
    assert.equal(linkOf(parseXml(second.text), 'next'), undefined);
    assert.equal((await req('DELETE', loc)).status, 200);
    assert.equal((await req('GET', loc)).status, 410);
    assert.equal((await req('DELETE', loc)).status, 410);
    assert.deepEqual((await p.state()).openContexts, []);
  });

  test('strict checks: recorded always; with strict on, refused with 400 + sdata:diagnoses and nothing applied', async () => {
    await p.reset();
    const empty = page({ entries: [] });
    const lax = await req('POST', `${p.url}/accounts/$syncTarget`, empty, 'text/xml');
    assert.equal(lax.status, 200);
    const codes = (await p.state()).log.at(-1)!.violations;
    assert.deepEqual([...codes].sort(), ['content-type', 'empty-feed', 'missing-link', 'missing-link', 'missing-run']);
    // Not well-formed (expat stops early): 400 + diagnoses, and the connection is not left with unread bytes.
    const broken = await req('POST', `${p.url}/accounts/$syncTarget?${RUN}`, `<feed xmlns="${NS.atom}"><<${'x'.repeat(200_000)}</feed>`);
    assert.equal(broken.status, 400);
    assert.match(textOf(kid(parseXml(broken.text), NS.sdata, 'diagnosis'), NS.sdata, 'message')!, /not well-formed/);
    assert.deepEqual((await p.state()).log.at(-1)!.violations, ['not-well-formed']);

    await p.reset();
    await p.config({ strict: true });
    try {
      const X = 'http://x.example/sdata/x/c/-/accounts';
      const feed = page({ digest: [[X, 2, 5]], next: 'chunk-2.xml', entries: [{ endpoint: X, tick: 1, uuid: 's-1' }] });
      const refused = await req('POST', `${p.url}/accounts/$syncTarget?${RUN}`, feed);
      assert.equal(refused.status, 400);
      const d = parseXml(refused.text);
      assert.equal(d.local, 'diagnoses');
      assert.ok(kids(d, NS.sdata, 'diagnosis').some((x) => /relative/.test(textOf(x, NS.sdata, 'message') ?? '')));
      const s = await p.state();
      assert.deepEqual(s.kinds.accounts!.resources, []);
      assert.deepEqual([...new Set(s.violations.map((v) => v.code))].sort(), ['missing-link', 'relative-href']);
    } finally {
      await p.reset();
    }
  });
});

const N = (i: number): string => `http://www.example.com/sdata/N${i}/myContract/-/accounts`;

oracleSuite('the peer as a target: spec 2.6 cases a-e and the 2.3 rows (conflict detection and resolution)', ['expat'], { timeout: 30_000 }, () => {
  let p: Peer;
  before(async () => {
    p = await startPeer({ app: 'N2', endpointBase: 'http://www.example.com/sdata/N2/myContract/-' });
  });
  after(() => p?.stop());

  interface Case {
    name: string;
    /** Priorities of N1, N2, N3 in both digests (2.6: 1, 2, 3). */
    prios?: [number, number, number];
    local?: { endpoint: string; tick: number; stamp?: string; deleted?: boolean };
    incoming: { endpoint: string; tick: number; deleted?: boolean };
    status: number;
    method: string;
    code?: string;
    applied: boolean;
  }
  const cases: Case[] = [
    { name: 'a: R1, 5 > 4', local: { endpoint: N(1), tick: 4 }, incoming: { endpoint: N(1), tick: 5 }, status: 200, method: 'PUT', applied: true },
    { name: 'b: R2, source digest N2=7 > 6', local: { endpoint: N(2), tick: 6 }, incoming: { endpoint: N(1), tick: 5 }, status: 200, method: 'PUT', applied: true },
    { name: 'c: R4, N1 priority 1 beats N2 priority 2', local: { endpoint: N(2), tick: 7 }, incoming: { endpoint: N(1), tick: 5 }, status: 200, method: 'PUT', code: 'SyncConflictSourceWins', applied: true },
    { name: 'd: R2, source digest N3=9 > 7', local: { endpoint: N(3), tick: 7 }, incoming: { endpoint: N(1), tick: 5 }, status: 200, method: 'PUT', applied: true },
    { name: 'e: R4, N2 priority 2 beats N3 priority 3: the target wins (docs/protocol.md A12)', local: { endpoint: N(2), tick: 7 }, incoming: { endpoint: N(3), tick: 8 }, status: 200, method: 'PUT', code: 'SyncConflictTargetWins', applied: false },
    { name: 'R3: target digest N3=8 > 7', local: { endpoint: N(2), tick: 7 }, incoming: { endpoint: N(3), tick: 7 }, status: 200, method: 'PUT', code: 'SyncIgnored', applied: false },
    { name: '2.3 equal priorities, the source stamp newer', prios: [2, 2, 3], local: { endpoint: N(2), tick: 7, stamp: '2019-06-01T00:00:00Z' }, incoming: { endpoint: N(1), tick: 5 }, status: 200, method: 'PUT', code: 'SyncConflictSourceWins', applied: true },
    { name: '2.3 equal priorities, the target stamp newer', prios: [2, 2, 3], local: { endpoint: N(2), tick: 7, stamp: '2021-06-01T00:00:00Z' }, incoming: { endpoint: N(1), tick: 5 }, status: 200, method: 'PUT', code: 'SyncConflictTargetWins', applied: false },
    { name: 'equal priority and instant (other spelling): the smaller URL, N1, wins', prios: [2, 2, 3], local: { endpoint: N(2), tick: 7, stamp: '2020-01-01T00:00:00.000+00:00' }, incoming: { endpoint: N(1), tick: 5 }, status: 200, method: 'PUT', code: 'SyncConflictSourceWins', applied: true },
    { name: 'equal priority and stamp: the smaller URL, N2 (target), wins over N3', prios: [1, 2, 2], local: { endpoint: N(2), tick: 7, stamp: '2020-01-01T00:00:00Z' }, incoming: { endpoint: N(3), tick: 8 }, status: 200, method: 'PUT', code: 'SyncConflictTargetWins', applied: false },
    { name: 'a delete of a live resource', local: { endpoint: N(1), tick: 4 }, incoming: { endpoint: N(1), tick: 5, deleted: true }, status: 200, method: 'DELETE', applied: true },
    { name: 'a delete of an unknown uuid: success and a tombstone', incoming: { endpoint: N(1), tick: 5, deleted: true }, status: 200, method: 'DELETE', applied: true },
    { name: 'an update of a tombstone the source wins: re-created', local: { endpoint: N(1), tick: 4, deleted: true }, incoming: { endpoint: N(1), tick: 5 }, status: 201, method: 'POST', applied: true },
    { name: 'an unknown uuid: created with it', incoming: { endpoint: N(1), tick: 5 }, status: 201, method: 'POST', applied: true },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const [p1, p2, p3] = c.prios ?? [1, 2, 3];
      await p.reset();
      await p.load({
        digest: [{ endpoint: N(1), tick: 5, conflictPriority: p1 }, { endpoint: N(2), tick: 8, conflictPriority: p2 }, { endpoint: N(3), tick: 8, conflictPriority: p3 }],
        resources: c.local ? [{ uuid: 'r', state: { endpoint: c.local.endpoint, tick: c.local.tick, stamp: c.local.stamp ?? '2020-01-01T00:00:00Z' }, deleted: c.local.deleted ?? false, name: 'local' }] : [],
      });
      const feed = page({
        digest: [[N(1), 6, p1], [N(2), 7, p2], [N(3), 9, p3]],
        entries: [{ endpoint: c.incoming.endpoint, tick: c.incoming.tick, uuid: 'r', deleted: c.incoming.deleted ?? false, body: '<name>incoming</name>' }],
      });
      const r = await req('POST', `${p.url}/accounts/$syncTarget?${RUN}`, feed);
      assert.equal(r.status, 200, r.text);
      const [res] = results(r.text);
      assert.deepEqual([res!.status, res!.method], [c.status, c.method]);
      if (c.code) assert.ok(res!.codes.includes(c.code), `${res!.codes.join(", ")} includes ${c.code}`);
      const stored = resource(await p.state(), 'r')!;
      const want = c.applied ? c.incoming : c.local!;
      assert.deepEqual([stored.state.endpoint, stored.state.tick, stored.deleted], [want.endpoint, String(want.tick), want.deleted ?? false]);
      if (!stored.deleted) assert.match(stored.canonical!, c.applied ? />incoming</ : />local</);
    });
  }
});
