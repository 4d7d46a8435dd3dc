import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { parseDigestDocument } from '../../src/xml/digest-document.ts';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import type { EntryRecord } from '../../src/xml/feed-types.ts';
import { SdataError } from '../../src/protocol/errors.ts';
import { emptyDigest, serializeDigest, setDigestEntry, type Digest } from '../../src/protocol/digest.ts';
import { DIGEST_ENTRY_5_2, EP, PAGE_5_2_CORRECTED } from '../helpers/spec-examples.ts';
import { page, splitStream, prng } from '../helpers/feeds.ts';
import { MemoryChunkTarget, planPages, withoutClock } from '../helpers/plan-text.ts';
import { explainLine } from '../../src/plan/explain.ts';
import { Decider } from '../../src/plan/decide.ts';
import { planPage } from '../../src/plan/pipeline.ts';
import { Planner, type Explained } from '../../src/plan/planner.ts';
import { entriesMeaning, oracleCheck, xmllintErrors } from '../helpers/oracle.ts';

function digest(...entries: Array<[string, string | number]>): Digest {
  const d = emptyDigest();
  for (const [ep, t] of entries) setDigestEntry(d, { endpoint: ep, tick: String(t), stamp: '', conflictPriority: 5 });
  return d;
}

/** Entries of an output document, via our reader (the oracles check meaning separately). */
function entriesOf(xml: string): EntryRecord[] {
  const out: EntryRecord[] = [];
  const r = new FeedReader({ head: () => {}, entry: (e) => out.push(e), end: () => {} });
  r.pushText(xml);
  r.end();
  return out;
}

/** `app:tick` per forwarded entry, `app` being the path segment after /sdata/ (or the host for short URLs). */
const statesOf = (chunks: string[]) => chunks.flatMap((c) => entriesOf(c).map((e) => {
  const u = new URL(e.state!.endpoint);
  return `${u.pathname.split('/')[2] ?? u.host}:${e.state!.tick}`;
}));

test('2.5 worked example: for T={myApp1:5, myApp2:11, sageApp3:8} exactly the versions T lacks go forward', async () => {
  const target = parseDigestDocument(DIGEST_ENTRY_5_2);
  const entries = [
    { endpoint: EP.myApp1, tick: 4 }, { endpoint: EP.myApp1, tick: 5 },
    { endpoint: EP.myApp2, tick: 9 }, { endpoint: EP.myApp2, tick: 10 },
    { endpoint: EP.sageApp3, tick: 7 }, { endpoint: EP.sageApp3, tick: 8 }, { endpoint: EP.sageApp3, tick: 9 },
    { endpoint: 'HTTP://WWW.EXAMPLE.COM/sdata/myApp1/myContract/-/accounts/', tick: 4 }, // same endpoint, other spelling
  ];
  const r = await planPages([page({ entries })], { target });
  assert.deepEqual(statesOf(r.chunks), ['myApp1:5', 'sageApp3:8', 'sageApp3:9']);
  assert.deepEqual([r.stats.read, r.stats.forwarded, r.stats.skipped, r.stats.invalid], [8, 3, 5, 0]);
  // The 5.2 page itself: both of its entries are news to that target.
  const spec = await planPages([PAGE_5_2_CORRECTED], { target });
  assert.equal(spec.stats.forwarded, 2);
});

test('no digest = empty target: everything valid is forwarded', async () => {
  const r = await planPages([page({ entries: [{ endpoint: 'http://a/x', tick: 0 }, { endpoint: 'http://b/y', tick: 9 }] })]);
  assert.equal(r.stats.forwarded, 2);
});

test('ticks beyond 2^53 are compared exactly', async () => {
  const target = digest(['http://a/x', '9007199254740993']);
  const r = await planPages([page({ entries: [
    { endpoint: 'http://a/x', tick: '9007199254740992' }, // < T: skip (as floats they would be equal)
    { endpoint: 'http://a/x', tick: '9007199254740993' }, // = T: forward
    { endpoint: 'http://a/x', tick: '100000000000000000000000' },
  ] })], { target });
  assert.deepEqual(statesOf(r.chunks), ['a:9007199254740993', 'a:100000000000000000000000']);
  assert.equal(r.stats.skipped, 1);
});

test('chunks: bounded by entries, next on all but the last, every chunk a complete sync feed', async () => {
  const entries = Array.from({ length: 25 }, (_, i) => ({ endpoint: 'http://a/x', tick: i }));
  const r = await planPages([page({ entries })], { chunkEntries: 10 });
  assert.equal(r.chunks.length, 3);
  assert.deepEqual(r.chunks.map((c) => entriesOf(c).length), [10, 10, 5]);
  assert.deepEqual(r.finals, [false, false, true]);
  r.chunks.forEach((c, i) => {
    const hasNext = /<link rel="next"/.test(c);
    assert.equal(hasNext, i < 2, `chunk ${i + 1}`);
    assert.match(c, /<sync:syncMode>catchUp<\/sync:syncMode><sync:digest>/);
  });
  assert.deepEqual(statesOf(r.chunks), entries.map((e) => `a:${e.tick}`), 'all entries, in source order');
});

test('chunks: bounded by bytes; an oversize entry goes alone, never split or dropped', async () => {
  const entries = Array.from({ length: 30 }, (_, i) => ({ endpoint: 'http://a/x', tick: i, body: `<n>${'v'.repeat(i === 12 ? 9000 : 200)}</n>` }));
  const bound = 4000;
  const r = await planPages([page({ entries })], { chunkEntries: 1000, chunkBytes: bound });
  const counts = r.chunks.map((c) => entriesOf(c).length);
  assert.equal(counts.reduce((a, b) => a + b), 30);
  r.chunks.forEach((c, i) => {
    const size = Buffer.byteLength(c);
    const n = entriesOf(c).length;
    if (n > 1) assert.ok(size <= bound, `chunk ${i + 1} has ${n} entries and ${size} bytes`);
    else assert.ok(n === 1);
  });
  const alone = r.chunks.find((c) => c.includes('v'.repeat(9000)))!;
  assert.equal(entriesOf(alone).length, 1);
  assert.equal(r.stats.bytesOut, r.chunks.reduce((a, c) => a + Buffer.byteLength(c), 0));
});

test('decisions look a digest up by normalised endpoint, also in a digest whose map has a key not in normal form', () => {
  const d = digest(['http://b.example/y', 10]);
  const odd = { endpoint: 'HTTP://A.EXAMPLE/x/', tick: '10', stamp: '', conflictPriority: 5 };
  d.entries.set(odd.endpoint, odd); // not through setDigestEntry: its key is no endpoint's normalisation
  for (const decider of [new Decider(d), new Decider(digest(['http://b.example/y', 10]))]) {
    assert.equal(decider.decideState('http://b.example/y', '5'), 'skip');
    assert.equal(decider.decideState('HTTP://B.example/y/', '5'), 'skip');
    assert.equal(decider.decideState('http://b.example/y', '10'), 'forward');
    // The odd key names http://a.example/x, which the digest has no entry for under that (normal) key.
    assert.equal(decider.decideState('HTTP://A.EXAMPLE/x/', '5'), 'forward');
    assert.equal(decider.decideState('http://a.example/x', '5'), 'forward');
  }
});

test('chunks: a large head digest is in every chunk, counted in the byte bound (its text made once per page)', async () => {
  const big: Array<[string, number]> = Array.from({ length: 60 }, (_, i) => [`http://host${i}.example/sdata/app/c/-/accounts`, 100 + i]);
  const entries = Array.from({ length: 40 }, (_, i) => ({ endpoint: 'http://a/x', tick: i, body: `<n>${'v'.repeat(300)}</n>` }));
  const bound = 16000;
  const r = await planPages([page({ digest: big, entries })], { chunkEntries: 1000, chunkBytes: bound });
  assert.ok(r.chunks.length > 3, `${r.chunks.length} chunks`);
  const digestText = (c: string): string => c.slice(c.indexOf('<sync:digest>'), c.indexOf('</sync:digest>'));
  for (const [i, c] of r.chunks.entries()) {
    assert.ok(Buffer.byteLength(c) <= bound, `chunk ${i + 1}: ${Buffer.byteLength(c)} bytes`);
    assert.equal(digestText(c), digestText(r.chunks[0]!), `chunk ${i + 1}`);
    assert.equal((digestText(c).match(/<sync:digestEntry>/g) ?? []).length, 60);
  }
  assert.equal(r.stats.bytesOut, r.chunks.reduce((a, c) => a + Buffer.byteLength(c), 0));
});

test("chunk heads carry the page's digest element as written when it says what ours would, and ours otherwise", async () => {
  // Entries out of endpoint order (serializeDigest sorts them), white space between elements, another prefix.
  const eps: Array<[string, number]> = [['http://c.example/x', 30], ['http://a.example/x', 10], ['http://b.example/x', 20]];
  const entries = Array.from({ length: 30 }, (_, i) => ({ endpoint: 'http://a.example/x', tick: i, body: `<n>${'v'.repeat(300)}</n>` }));
  const spaced = (xml: string): string => xml.replace(/<(\w+:)?digestEntry>/g, '\n  <$1digestEntry>');
  for (const syncPrefix of ['sync', 's']) {
    const text = spaced(page({ syncPrefix, digest: eps, entries }));
    const r = await planPages([text], { chunkEntries: 10 });
    assert.equal(r.chunks.length, 3);
    const written = text.slice(text.indexOf(`<${syncPrefix}:digest>`) + syncPrefix.length + 9, text.indexOf(`</${syncPrefix}:digest>`));
    for (const c of r.chunks) {
      // The element's content as the page wrote it, declared where the prefix is not the output's own.
      assert.ok(c.includes(`${syncPrefix === 'sync' ? '<sync:digest>' : `<s:digest xmlns:s="${SYNC}">`}${written}</${syncPrefix}:digest>`), `prefix ${syncPrefix}`);
      assert.equal(serializeDigest(parseDigestDocument(c, 'chunk')), serializeDigest(parseDigestDocument(text, 'page')));
    }
  }
  // A tick written with a leading zero: the digest is ours, canonical and in endpoint order.
  const odd = page({ digest: [['http://c.example/x', '030'], ['http://a.example/x', 10]], entries: entries.slice(0, 3) });
  const r = await planPages([odd], { chunkEntries: 10 });
  const d = parseDigestDocument(odd, 'page');
  assert.ok(r.chunks[0]!.includes(serializeDigest(d)));
  assert.match(serializeDigest(d), /^<sync:digest><sync:origin>[^<]*<\/sync:origin><sync:digestEntry><sync:endpoint>http:\/\/a\.example\/x<\/sync:endpoint><sync:tick>10</);
});

test('chunks never mix pages whose digest or syncMode differ', async () => {
  const p1 = page({ digest: [['http://a/x', 10]], entries: [{ endpoint: 'http://a/x', tick: 1 }, { endpoint: 'http://a/x', tick: 2 }], next: 'n' });
  const p2 = page({ digest: [['http://a/x', 10]], entries: [{ endpoint: 'http://a/x', tick: 3 }], next: 'n' });
  const p3 = page({ digest: [['http://a/x', 12]], entries: [{ endpoint: 'http://a/x', tick: 10 }, { endpoint: 'http://a/x', tick: 11 }] });
  const r = await planPages([p1, p2, p3], { chunkEntries: 100 });
  assert.deepEqual(r.chunks.map((c) => entriesOf(c).length), [3, 2]);
  assert.match(r.chunks[0]!, /<sync:tick>10<\/sync:tick><sync:stamp>/);
  assert.match(r.chunks[1]!, /<sync:digestEntry><sync:endpoint>http:\/\/a\/x<\/sync:endpoint><sync:tick>12</);
  assert.deepEqual(r.finals, [false, true]);
  // A last page with a new digest and nothing to forward still ends the pass with a final (empty) chunk carrying it.
  const p4 = page({ digest: [['http://a/x', 20]], entries: [] });
  const r2 = await planPages([p1, p4], { chunkEntries: 100 });
  assert.deepEqual(r2.chunks.map((c) => entriesOf(c).length), [2, 0]);
  assert.match(r2.chunks[1]!, /<sync:tick>20</);
  assert.deepEqual(r2.finals, [false, true]);
  // syncMode differences split too.
  const r3 = await planPages([p2, page({ mode: 'immediate', digest: [['http://a/x', 10]], entries: [{ endpoint: 'http://a/x', tick: 4 }] })]);
  assert.equal(r3.chunks.length, 2);
  // One output feed cannot carry two digests.
  await assert.rejects(planPages([p1, p3], { singleFeed: true, chunkEntries: Infinity, chunkBytes: Infinity }),
    (e: unknown) => e instanceof SdataError && /page2.*differ/.test(e.message));
});

test('nothing to forward: a chunk without entries only when the merge moves the target digest (docs/protocol.md X2)', async () => {
  // The page's digest knows a.example at 100; this target does not know it: the merge adds it.
  const behind = digest(['http://a/x', 100]);
  const r = await planPages([page({ entries: [{ endpoint: 'http://a/x', tick: 5 }] })], { target: behind });
  assert.equal(r.chunks.length, 1);
  assert.deepEqual(r.finals, [true]);
  assert.equal(r.stats.ending, 'merge-only');
  assert.equal(entriesOf(r.chunks[0]!).length, 0);
  assert.doesNotMatch(r.chunks[0]!, /rel="next"/);
  // A target at or past every tick of the source digest: no chunk at all (a strict target refuses empty feeds).
  for (const tick of [100, 250]) {
    const level = digest(['http://a/x', 100], ['http://a.example/sdata/app/c/-/accounts', tick]);
    const r2 = await planPages([page({ entries: [{ endpoint: 'http://a/x', tick: 5 }] })], { target: level });
    assert.deepEqual([r2.chunks.length, r2.stats.ending, r2.stats.skipped], [0, 'none', 1]);
  }
  // One tick behind: the merge moves it.
  const one = digest(['http://a.example/sdata/app/c/-/accounts', 99]);
  assert.equal((await planPages([page({ entries: [] })], { target: one })).stats.ending, 'merge-only');
  // A single feed (stdout) is always written, empty or not.
  const single = await planPages([page({ entries: [] })], { target: digest(['http://a.example/sdata/app/c/-/accounts', 100]), singleFeed: true, chunkEntries: Infinity, chunkBytes: Infinity });
  assert.deepEqual([single.chunks.length, single.finals, single.stats.ending], [1, [true], 'final']);
});

test('chunk heads: the source feed\'s atom:id, absolute self/first/next links before the first entry (docs/protocol.md X2)', async () => {
  const entries = Array.from({ length: 5 }, (_, i) => ({ endpoint: 'http://a/x', tick: i }));
  const p = page({ entries }).replace('<id>urn:test</id>', '<id>http://src.example/sdata/app/c/-/accounts/$syncSource(\'7\')</id>');
  const r = await planPages([p], { chunkEntries: 2 });
  const id = "http://src.example/sdata/app/c/-/accounts/$syncSource('7')";
  assert.equal(r.chunks.length, 3);
  r.chunks.forEach((c, i) => {
    const head = c.slice(0, c.indexOf('<entry'));
    assert.ok(head.includes(`<id>${id}</id>`), head);
    const links = [...head.matchAll(/<link rel="(\w+)" type="[^"]*" href="([^"]*)"\/>/g)].map((m) => `${m[1]} ${m[2]}`);
    const want = [`self ${id}#chunk-00000${i + 1}`, `first ${id}#chunk-000001`];
    if (i < 2) want.push(`next ${id}#chunk-00000${i + 2}`);
    assert.deepEqual(links, want);
    assert.doesNotMatch(c.slice(c.indexOf('<entry')), /<link/, 'no link after the entries');
    assert.match(head, /<updated>\d{4}-\d\d-\d\dT[^<]+Z<\/updated>/);
  });
  // A source page without a usable id: one fresh urn:uuid for the whole pass.
  const anon = await planPages([p.replace(`<id>${id}</id>`, '<id/>')], { chunkEntries: 2 });
  const ids = new Set(anon.chunks.map((c) => /<id>([^<]*)<\/id>/.exec(c)![1]));
  assert.equal(ids.size, 1);
  assert.match([...ids][0]!, /^urn:uuid:[0-9a-f-]{36}$/);
});

test('an invalid entry holds the merge and its endpoint back for the rest of the pass (docs/protocol.md X3)', async () => {
  const A = 'http://a/x';
  const B = 'http://b/y';
  const entries = [
    { endpoint: A, tick: 1 }, { endpoint: B, tick: 1 },
    { endpoint: A, tick: 2, uuid: '' }, // no uuid: invalid, and A is held back from here
    { endpoint: B, tick: 2 }, { endpoint: A, tick: 3 }, { endpoint: B, tick: 3 }, { endpoint: A, tick: 4 },
  ];
  const r = await planPages([page({ entries })], { chunkEntries: 10 });
  assert.deepEqual(statesOf(r.chunks), ['a:1', 'b:1', 'b:2', 'b:3']);
  assert.deepEqual([r.stats.forwarded, r.stats.invalid, r.stats.held, r.stats.ending], [4, 1, 2, 'held']);
  assert.equal(r.invalid[0]!.endpoint, A);
  // The last chunk keeps its next link: the target does not merge the source digest.
  assert.deepEqual(r.finals, [false]);
  assert.match(r.chunks[0]!, /<link rel="next"/);
  // No state at all: nothing to hold back but the merge; nothing forwarded: nothing written.
  const none = await planPages([page({ entries: [{ endpoint: A, tick: 1, noState: true }] })]);
  assert.deepEqual([none.chunks.length, none.stats.ending, none.invalid[0]!.endpoint], [0, 'held', undefined]);
  // A single feed (stdout) has written its head as final before the invalid entry came: it stays final.
  const single = await planPages([page({ entries })], { singleFeed: true, chunkEntries: Infinity, chunkBytes: Infinity });
  assert.deepEqual([single.finals, single.stats.ending, single.stats.held], [[true], 'final', 2]);
});

test('--explain: the decision on the entries asked about, with the digest entry met and where a forwarded one went', async () => {
  const A = 'http://a/x';
  const u = (i: number): string => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`;
  const entries = [
    { endpoint: A, tick: 3 }, { endpoint: A, tick: 7 }, { endpoint: 'http://b/y', tick: 1 }, { endpoint: A, tick: 8 },
    { endpoint: A, tick: 9, uuid: '' }, { endpoint: A, tick: 10 }, { endpoint: 'http://b/y', tick: 2, uuid: u(6).toUpperCase() },
  ];
  const got: Explained[] = [];
  const out = new MemoryChunkTarget();
  const planner = new Planner({ target: digest([A, 5]), out, chunkEntries: 2, explain: new Set([0, 1, 2, 3, 5, 6].map(u)), onExplain: (x) => got.push(x) });
  await planPage(Readable.from([Buffer.from(page({ entries }))]), planner, { source: 'p1' });
  await planner.finish();
  const decided = got.map((x) => [x.uuid.slice(-2), x.decision, x.digestEntry?.tick, x.chunk, x.position]);
  assert.deepEqual(decided, [
    ['00', 'skip', '5', undefined, undefined],
    ['01', 'forward', '5', 1, 0],
    ['02', 'forward', undefined, 1, 1],
    ['03', 'forward', '5', 2, 0],
    ['05', 'held', '5', undefined, undefined],
    ['06', 'forward', undefined, 2, 1], // uuids compare case-insensitively
  ]);
  assert.match(got[0]!.rule, /^skipped: tick 3 < 5, the target's digest says it has this change/);
  assert.match(got[2]!.rule, /^forwarded: the target's digest has no entry for http:\/\/b\/y/);
  assert.match(got[4]!.rule, /^held back: an earlier entry of http:\/\/a\/x was dropped as invalid/);
  assert.match(explainLine(got[1]!), /^explain 0{8}-0{4}-0{4}-0{4}-0{11}1: p1:\d+:\d+: entry #2 \(urn:e:1\): syncState \(http:\/\/a\/x, tick 7\); target digest entry \(http:\/\/a\/x, tick 5\); forwarded: tick 7 ≥ 5.*; in chunk 1 as entry 1$/);
  // The same chunks as without --explain.
  const plain = await planPages([page({ entries })], { target: digest([A, 5]), chunkEntries: 2 });
  assert.deepEqual(out.chunks.map(withoutClock), plain.chunks.map(withoutClock));
});

test('--strict makes an invalid entry fatal, naming where and which', async () => {
  const p = page({ entries: [{ endpoint: 'http://a/x', tick: 1 }, { endpoint: 'http://a/x', tick: -2, id: 'urn:bad' }] });
  const lenient = await planPages([p]);
  assert.equal(lenient.stats.invalid, 1);
  assert.equal(lenient.invalid[0]!.atomId, 'urn:bad');
  await assert.rejects(planPages([p], { strict: true }),
    (e: unknown) => e instanceof SdataError && e.code === 'SDATA_E_INVALID_ENTRY' && /page1:\d+:\d+: entry #2 \(urn:bad\)/.test(e.message));
});

// --- namespace fidelity, judged by libxml2 and expat ---

const ATOM = 'http://www.w3.org/2005/Atom';
const SYNC = 'http://schemas.sage.com/sdata/sync/2008/1';
const SDATA = 'http://schemas.sage.com/sdata/2008/1';

/** Pages written the way other peers write them: odd prefixes, prefixes rebound per page, default-ns payloads. */
const TRICKY_PAGES = [
  // Page 1: atom under a prefix (no default namespace!), `p` bound to one URI.
  `<?xml version="1.0" encoding="utf-8"?>
<a:feed xmlns:a="${ATOM}" xmlns:s="${SYNC}" xmlns:d="${SDATA}" xmlns:p="urn:first">
<a:link rel="next" href="page2"/><s:syncMode>catchUp</s:syncMode>
<s:digest><s:digestEntry><s:endpoint>http://a/x</s:endpoint><s:tick>50</s:tick><s:stamp>t</s:stamp><s:conflictPriority>1</s:conflictPriority></s:digestEntry></s:digest>
<a:entry><a:id>e1</a:id><s:syncState><s:endpoint>http://a/x</s:endpoint><s:tick>1</s:tick><s:stamp>t</s:stamp></s:syncState>
<d:payload><account d:uuid="u1" p:flag="yes"><name>no namespace here</name><p:extra>first</p:extra></account></d:payload></a:entry>
<a:entry xmlns:p="urn:entry-own"><a:id>e2</a:id><s:syncState><s:endpoint>http://a/x</s:endpoint><s:tick>2</s:tick><s:stamp>t</s:stamp></s:syncState>
<d:payload><p:account d:uuid="u2"><p:name>own binding</p:name></p:account></d:payload></a:entry>
</a:feed>`,
  // Page 2: same prefix `p` bound to another URI; `sync` bound to the sdata URI and vice versa (legal, evil).
  `<?xml version="1.0"?>
<feed xmlns="${ATOM}" xmlns:sync="${SDATA}" xmlns:sdata="${SYNC}" xmlns:p="urn:second">
<sdata:syncMode>catchUp</sdata:syncMode>
<sdata:digest><sdata:digestEntry><sdata:endpoint>http://a/x</sdata:endpoint><sdata:tick>50</sdata:tick><sdata:stamp>t</sdata:stamp><sdata:conflictPriority>1</sdata:conflictPriority></sdata:digestEntry></sdata:digest>
<entry><id>e3</id><sdata:syncState><sdata:endpoint>http://a/x</sdata:endpoint><sdata:tick>3</sdata:tick><sdata:stamp>t</sdata:stamp></sdata:syncState>
<sync:payload><account xmlns="urn:contract" sync:uuid="u3" p:flag="second"><name>déjà vu 中 😀 &amp; <![CDATA[a<b]]></name><!-- kept --><p:x/></account></sync:payload></entry>
</feed>`,
];

test('namespace fidelity: output is well-formed for libxml2 and means for expat what the input meant', async (t) => {
  for (const chunkEntries of [1, 2, 100]) {
    const r = await planPages(TRICKY_PAGES, { chunkEntries });
    assert.equal(r.stats.forwarded, 3);
    await oracleCheck(t, `chunks of ${chunkEntries}: libxml2 and expat`, ['xmllint', 'expat'], () => {
      const inputMeaning = TRICKY_PAGES.flatMap((p) => entriesMeaning(p));
      const outputMeaning: unknown[] = [];
      for (const c of r.chunks) {
        assert.equal(xmllintErrors(c), '', c);
        outputMeaning.push(...entriesMeaning(c));
      }
      assert.deepEqual(outputMeaning, inputMeaning);
    });
  }
});

test('namespace fidelity on the rich feed, through random input splits', async (t) => {
  const p = page({
    rootAttrs: ' xmlns:q="urn:q"',
    entries: [
      { endpoint: 'http://a/x', tick: 1, body: '<q:n q:a="1">é</q:n><m xmlns="urn:other"><k/></m>' },
      { endpoint: 'http://a/x', tick: 2, entryAttrs: ' xmlns:q="urn:shadow"', body: '<q:n>shadowed</q:n>' },
    ],
  });
  const bytes = Buffer.from(p);
  const rnd = prng(7);
  let first: string | undefined;
  for (let n = 0; n < 50; n++) {
    const cuts = Array.from({ length: 8 }, () => 1 + Math.floor(rnd() * (bytes.length - 1)));
    const r = await planPages([splitStream(bytes, cuts)]);
    const out = withoutClock(r.chunks.join(''));
    first ??= out;
    assert.equal(out, first, 'byte-identical output whatever the input chunking');
  }
  await oracleCheck(t, 'the output means for expat what the input meant', ['expat'], () => assert.deepEqual(entriesMeaning(first!), entriesMeaning(p)));
});

test('byte-identical output for every split of a feed with multi-byte characters', async () => {
  const p = page({ entries: [{ endpoint: 'http://a/x', tick: 1, body: '<n>é中😀</n>' }, { endpoint: 'http://a/x', tick: 2, body: '<n>ü</n>' }] });
  const bytes = Buffer.from(p);
  const norm = (s: string[]) => withoutClock(s.join(''));
  const whole = norm((await planPages([bytes])).chunks);
  for (let i = 1; i < bytes.length; i++) {
    assert.equal(norm((await planPages([Readable.from([bytes.subarray(0, i), bytes.subarray(i)])])).chunks), whole, `split at ${i}`);
  }
});
