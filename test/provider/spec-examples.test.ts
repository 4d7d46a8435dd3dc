import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import type { RunningProvider } from '../../src/provider/http/server.ts';
import { page as testPage } from '../helpers/feeds.ts';
import { oracleCheck, xmllintErrors } from '../helpers/oracle.ts';
import { DIGEST_ENTRY_5_2, EP, PAGE_5_2_CORRECTED, PAGE_5_2_PUBLISHED, STRAY_LINE } from '../helpers/spec-examples.ts';
import {
  CONTRACT, diagnosisMessage, digestEntryXml, get, http, kid, kids, linkOf, parseXml, pollUntilDone, post, provider, resultsOf,
  setupStore, testDir, textOf, ticksOf, type TestDir,
} from './helpers.ts';

/** The spec's worked examples, over HTTP against running providers (docs/protocol.md §3.2, §3.6, §3.7, §3.9; spec 2.5, 2.6, 5.5, 5.8). */

const base = (ep: string): string => ep.replace(/\/accounts$/, '');
let dir: TestDir;
const running: RunningProvider[] = [];

before(() => {
  dir = testDir();
});
after(async () => {
  for (const p of running) await p.close();
  dir.cleanup();
});

async function start(name: string, app: string, contract = 'myContract'): Promise<RunningProvider> {
  const p = await provider(dir, name, { app, contract, pageSize: 10 });
  running.push(p);
  return p;
}

function uuidsOf(feedText: string): string[] {
  const f = parseXml(feedText);
  return kids(f, NS.atom, 'entry').map((e) => kid(e, NS.sdata, 'payload')!.children[0]!.attrs.get(`{${NS.sdata}}uuid`)!);
}

test('2.5 / 5.2 selection: for T = {5, 11, 8} and S = {6, 10, 10} the source sends myApp1 tick 5 and sageApp3 tick 8 only', async (t) => {
  setupStore(dir.db('sel'), {
    app: 'myApp1', endpointBase: base(EP.myApp1),
    digest: [[EP.myApp1, 6, 2], [EP.myApp2, 10, 1], [EP.sageApp3, 10, 3]],
    resources: [
      { uuid: 'a1-4', endpoint: EP.myApp1, tick: 4 },
      { uuid: 'a1-5', endpoint: EP.myApp1, tick: 5 },
      { uuid: 'a2-9', endpoint: EP.myApp2, tick: 9 },
      { uuid: 'a3-7', endpoint: EP.sageApp3, tick: 7 },
      { uuid: 'a3-8', endpoint: EP.sageApp3, tick: 8, deleted: true },
    ],
  });
  const p = await start('sel', 'myApp1');
  const r = await post(`${p.url}/accounts/$syncSource?trackingID=DD052E5C-BFAD-4ffa-8D54-D696E4959497&runName=Full%20CRM%20to%20ERP&runStamp=2009-10-14T08:51:02`, DIGEST_ENTRY_5_2);
  assert.equal(r.status, 202);
  assert.equal(r.headers.get('location'), `${p.url}/accounts/$syncSource('DD052E5C-BFAD-4ffa-8D54-D696E4959497')`);
  const tracking = parseXml(r.text);
  assert.deepEqual([tracking.uri, tracking.local], [NS.sdata, 'tracking']);
  assert.ok(Number(textOf(tracking, NS.sdata, 'pollingMillis')) > 0);
  const page = await pollUntilDone(r.headers.get('location')!);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type')!, /application\/atom\+xml; type=feed/);
  const feed = parseXml(page.text);
  assert.equal(textOf(feed, NS.sync, 'syncMode'), 'catchUp');
  assert.deepEqual(ticksOf(feed), { [EP.myApp1]: '6', [EP.myApp2]: '10', [EP.sageApp3]: '10' });
  assert.equal(textOf(feed, NS.opensearch, 'totalResults'), '2');
  const entries = kids(feed, NS.atom, 'entry');
  const got = entries.map((e) => {
    const s = kid(e, NS.sync, 'syncState')!;
    return `${textOf(s, NS.sync, 'endpoint')} ${textOf(s, NS.sync, 'tick')}`;
  }).sort();
  assert.deepEqual(got, [`${EP.myApp1} 5`, `${EP.sageApp3} 8`]);
  // The sageApp3 change is a deletion: a tombstone goes out as sdata:isDeleted with its syncState.
  assert.deepEqual(uuidsOf(page.text).sort(), ['a1-5', 'a3-8']);
  const del = entries.map((e) => kid(e, NS.sdata, 'payload')!.children[0]!).find((x) => x.attrs.get(`{${NS.sdata}}uuid`) === 'a3-8')!;
  assert.equal(del.attrs.get(`{${NS.sdata}}isDeleted`), 'true');
  assert.equal(linkOf(feed, 'next'), undefined);
  await oracleCheck(t, 'the page is well-formed for libxml2', ['xmllint'], () => assert.equal(xmllintErrors(page.text), ''));
  assert.equal((await http('DELETE', r.headers.get('location')!)).status, 200);
});

test('2.6 cases a–e over HTTP: apply, apply, conflict won by the source, apply, conflict won by the TARGET (docs/protocol.md A12)', async () => {
  const N = (n: number): string => `http://n${n}.example/sdata/app${n}/c/-/accounts`;
  setupStore(dir.db('n2'), {
    app: 'app2', contract: 'c', endpointBase: base(N(2)),
    digest: [[N(1), 5, 1], [N(2), 8, 2], [N(3), 8, 3]],
    resources: [
      { uuid: 'case-a', endpoint: N(1), tick: 4 },
      { uuid: 'case-b', endpoint: N(2), tick: 6 },
      { uuid: 'case-c', endpoint: N(2), tick: 7 },
      { uuid: 'case-d', endpoint: N(3), tick: 7 },
      { uuid: 'case-e', endpoint: N(2), tick: 7, name: 'N2 version' },
    ],
  });
  const p = await start('n2', 'app2', 'c');
  const targetDigest = digestEntryXml([[N(1), 5, 1], [N(2), 8, 2], [N(3), 8, 3]]);
  const cases: Array<[string, string, number, number | undefined, string | undefined]> = [
    ['case-a', N(1), 5, 200, 'PUT'],
    ['case-b', N(1), 5, 200, 'PUT'],
    ['case-c', N(1), 5, 200, 'PUT'],
    ['case-d', N(1), 5, 200, 'PUT'],
    ['case-e', N(3), 8, 200, undefined],
  ];
  for (const [uuid, ep, tick, status, method] of cases) {
    // Each case starts from the 2.6 digests: reset N2's digest (PUT $syncDigest), post one entry, no end-of-feed merge.
    assert.equal((await http('PUT', `${p.url}/accounts/$syncDigest`, targetDigest)).status, 200);
    const body = testPage({
      digest: [[N(1), 6, 1], [N(2), 7, 2], [N(3), 9, 3]], next: 'urn:more',
      entries: [{ endpoint: ep, tick, uuid, body: `<name>from ${ep}</name>` }],
    });
    const r = await post(`${p.url}/accounts/$syncTarget`, body);
    assert.equal(r.status, 200, r.text);
    const [res] = resultsOf(parseXml(r.text));
    assert.equal(res!.status, status, uuid);
    assert.equal(res!.method, method, uuid);
    if (uuid === 'case-e') {
      assert.ok(res!.codes.includes('SyncConflictTargetWins'), res!.codes.join());
      // The target's version stays, and comes back in the result entry.
      assert.equal(textOf(res!.payload, CONTRACT, 'name'), 'N2 version');
      assert.deepEqual(res!.state, { endpoint: N(2), tick: '7' });
    } else {
      assert.deepEqual(res!.state, { endpoint: ep, tick: String(tick) });
    }
  }
  const check = await get(`${p.url}/accounts/$checksum`);
  assert.equal((JSON.parse(check.text) as { count: number }).count, 5);
});

test('5.5 digest table: {5, 11, 8} + entries (myApp1 5), (sageApp3 8) gives {6, 11, 9}, then the last page merges to {6, 11, 10}', async () => {
  setupStore(dir.db('t55'), {
    app: 'myApp2', endpointBase: base(EP.myApp2),
    digest: [[EP.myApp1, 5, 2], [EP.myApp2, 11, 1], [EP.sageApp3, 8, 3]],
  });
  const p = await start('t55', 'myApp2');
  // The spec's page 1 (with its next link): per-entry updates only.
  const r1 = await post(`${p.url}/accounts/$syncTarget?trackingId=B2419115-DD2E-4d5a-9E8E-90E012AFE89C&runName=Full%20CRM%20to%20ERP`, PAGE_5_2_CORRECTED);
  assert.equal(r1.status, 202, r1.text);
  // trackingId spelled as 5.3 spells it (docs/protocol.md A1): the context is still found by its id.
  const loc = r1.headers.get('location')!;
  assert.match(loc, /\$syncTarget\('B2419115-DD2E-4d5a-9E8E-90E012AFE89C'\)$/);
  const res = resultsOf(parseXml((await pollUntilDone(loc)).text));
  assert.deepEqual(res.map((x) => [x.status, x.method]), [[201, 'POST'], [201, 'POST']]);
  let d = ticksOf(parseXml((await get(`${p.url}/accounts/$syncDigest`)).text));
  assert.deepEqual(d, { [EP.myApp1]: '6', [EP.myApp2]: '11', [EP.sageApp3]: '9' });
  // The last page (no next link) carries the same digest: the end-of-feed merge takes the max.
  const last = PAGE_5_2_CORRECTED.replace(/<link rel="next"[^>]*\/>/s, '');
  assert.ok(!last.includes('rel="next"'));
  const r2 = await post(`${p.url}/accounts/$syncTarget`, last);
  assert.equal(r2.status, 200);
  assert.deepEqual(resultsOf(parseXml(r2.text)).map((x) => [x.status, x.method]), [[200, undefined], [200, undefined]]);
  d = ticksOf(parseXml((await get(`${p.url}/accounts/$syncDigest`)).text));
  assert.deepEqual(d, { [EP.myApp1]: '6', [EP.myApp2]: '11', [EP.sageApp3]: '10' });
});

test('the published 5.2 page (stray </payload>, docs/protocol.md A4) is refused with 400 naming line and column', async () => {
  const p = await start('bad', 'myApp2');
  const r = await post(`${p.url}/accounts/$syncTarget?trackingID=bad-1`, PAGE_5_2_PUBLISHED);
  assert.equal(r.status, 400);
  assert.match(diagnosisMessage(r.text), new RegExp(`:${STRAY_LINE}:\\d+: not well-formed XML`));
  // The failed POST leaves no context behind.
  assert.equal((await get(`${p.url}/accounts/$syncTarget('bad-1')`)).status, 404);
});

test('5.8 immediate: {6, 11, 10} + tick 7 is a gap (400, nothing applied); + tick 6 gives {7, 11, 10}, sageApp3 15 not merged', async () => {
  setupStore(dir.db('t58'), {
    app: 'myApp2', endpointBase: base(EP.myApp2),
    digest: [[EP.myApp1, 6, 1], [EP.myApp2, 11, 2], [EP.sageApp3, 10, 3]],
  });
  const p = await start('t58', 'myApp2');
  const feed = (tick: number, more: Array<{ endpoint: string; tick: number; uuid: string }> = []): string => testPage({
    mode: 'immediate',
    digest: [[EP.myApp1, tick + 1, 1], [EP.myApp2, 11, 2], [EP.sageApp3, 15, 3]],
    entries: [{ endpoint: EP.myApp1, tick, uuid: `imm-${tick}` }, ...more],
  });
  const gap = await post(`${p.url}/accounts/$syncTarget?runName=immediate`, feed(7));
  assert.equal(gap.status, 400);
  assert.match(diagnosisMessage(gap.text), /gap: this target expects tick 6/);
  // A valid first entry followed by a gap: the whole request is refused, the first entry is not applied either.
  const mixed = await post(`${p.url}/accounts/$syncTarget`, feed(6, [{ endpoint: EP.myApp1, tick: 9, uuid: 'imm-9' }]));
  assert.equal(mixed.status, 400);
  // An endpoint the target has never recorded counts as a gap (docs/protocol.md §3.4): a catch-up pass must come first.
  const unknown = await post(`${p.url}/accounts/$syncTarget`, feed(6, [{ endpoint: 'http://other.example/sdata/x/c/-/accounts', tick: 1, uuid: 'imm-x' }]));
  assert.equal(unknown.status, 400);
  assert.match(diagnosisMessage(unknown.text), /has no entry for http:\/\/other\.example/);
  let health = p.health();
  assert.equal(health.kinds['accounts']!.resources, 0);
  assert.equal(health.openContexts, 0);
  assert.deepEqual(ticksOf(parseXml((await get(`${p.url}/accounts/$syncDigest`)).text)), { [EP.myApp1]: '6', [EP.myApp2]: '11', [EP.sageApp3]: '10' });
  // The contiguous entry applies; the digest moves per entry only.
  const ok = await post(`${p.url}/accounts/$syncTarget`, feed(6));
  assert.equal(ok.status, 200);
  assert.deepEqual(resultsOf(parseXml(ok.text)).map((x) => [x.status, x.method]), [[201, 'POST']]);
  assert.deepEqual(ticksOf(parseXml((await get(`${p.url}/accounts/$syncDigest`)).text)), { [EP.myApp1]: '7', [EP.myApp2]: '11', [EP.sageApp3]: '10' });
  // A duplicate (tick below the expected one) is not a gap: R1 ignores it.
  const dup = await post(`${p.url}/accounts/$syncTarget`, feed(6));
  assert.equal(dup.status, 200);
  assert.deepEqual(resultsOf(parseXml(dup.text)).map((x) => [x.status, x.method, x.codes.join()]), [[200, undefined, 'SyncIgnored']]);
  health = p.health();
  assert.equal(health.kinds['accounts']!.resources, 1);
});
