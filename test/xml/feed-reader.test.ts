import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import { resourceScope, type EntryRecord, type FeedHead, type FeedTail } from '../../src/xml/feed-types.ts';
import { resourceXml } from '../../src/xml/feed-writer.ts';
import { SdataError } from '../../src/protocol/errors.ts';
import { NS } from '../../src/protocol/namespaces.ts';
import { PAGE_5_2_CORRECTED, PAGE_5_2_PUBLISHED, STRAY_LINE, EP } from '../helpers/spec-examples.ts';
import { page, prng } from '../helpers/feeds.ts';

interface Collected { head?: FeedHead; entries: EntryRecord[]; tail?: FeedTail; maxBuffered: number }

function read(input: string | Uint8Array, cuts: number[] = [], opts: { maxEntryBytes?: number; requireSyncHead?: boolean } = {}): Collected {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const out: Collected = { entries: [], maxBuffered: 0 };
  const r = new FeedReader({ head: (h) => (out.head = h), entry: (e) => out.entries.push(e), end: (t) => (out.tail = t) }, { source: 'in.xml', ...opts });
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    if (c <= prev) continue;
    r.push(bytes.subarray(prev, c));
    out.maxBuffered = Math.max(out.maxBuffered, r.bufferedChars);
    prev = c;
  }
  r.end();
  return out;
}

function sdataErr(code: string, re?: RegExp) {
  return (e: unknown) => e instanceof SdataError && e.code === code && (!re || re.test(e.message));
}

test('5.2 as published (stray </payload>) is rejected at its line:column', () => {
  assert.throws(() => read(PAGE_5_2_PUBLISHED), (e: unknown) => {
    assert.ok(e instanceof SdataError);
    assert.equal(e.code, 'SDATA_E_MALFORMED');
    assert.equal(e.details.line, STRAY_LINE);
    assert.match(e.message, new RegExp(`^in\\.xml:${STRAY_LINE}:\\d+: not well-formed XML`));
    return true;
  });
});

test('5.2 corrected: head, links, both entries with their states and uuids', () => {
  const r = read(PAGE_5_2_CORRECTED);
  assert.equal(r.head?.syncMode, 'catchUp');
  assert.equal(r.head?.digest?.entries.size, 3);
  assert.equal(r.entries.length, 2);
  const [a, b] = r.entries as [EntryRecord, EntryRecord];
  assert.equal(a.atomId, '');
  assert.equal(a.uuid, '74926A0D-D2C0-4daa-9986-47C833691569');
  assert.deepEqual(a.state, { endpoint: EP.myApp1, tick: '5', stamp: '2008-10-30T14:55:43.281Z' });
  assert.equal(b.uuid, 'C4411795-9943-4cf4-8705-51A74C9F0ACC');
  assert.equal(b.state?.endpoint, EP.sageApp3);
  assert.equal(b.state?.tick, '8');
  assert.equal(a.invalid, undefined);
  assert.equal(b.invalid, undefined);
  assert.ok(a.text?.startsWith('<entry>') && a.text.endsWith('</entry>'));
  // The href the spec wraps across two lines (docs/protocol.md A32) comes back as one URL.
  assert.equal(r.tail?.next, "http://www.example.com/sdata/myApp1/myContract/-/accounts/$syncSource('DD052E5C-BFAD-4ffa-8D54-D696E4959497')?startIndex=11&count=10");
  // The resource fragment is self-contained: it keeps the sdata binding it uses.
  const res = resourceXml(b)!;
  assert.match(res, /^<account xmlns:sdata="http:\/\/schemas\.sage\.com\/sdata\/2008\/1" sdata:uuid="C4411795/);
});

const RICH = page({
  digest: [['http://a.example/sdata/app/c/-/accounts', 50], ['http://b.example/sdata/app/c/-/accounts', 70]],
  next: 'http://src/next?x=1&amp;y=2',
  entries: [
    { endpoint: 'http://a.example/sdata/app/c/-/accounts', tick: 1, body: '<name>Crème brûlée — 中文 😀 &amp; &lt;tag&gt; &#x1F600;</name><note><![CDATA[<not a tag> & ]]]]><![CDATA[>]]></note><!-- c -->' },
    { endpoint: 'http://b.example/sdata/app/c/-/accounts', tick: 2, deleted: true },
    { endpoint: 'http://a.example/sdata/app/c/-/accounts', tick: 3, entryAttrs: ' xmlns:x="urn:x"', body: '<x:y x:attr="v">ÿ</x:y><lines sdata:deleteMissing="true"><line sdata:uuid="11111111-0000-0000-0000-000000000001"/></lines>' },
    { endpoint: 'http://b.example/sdata/app/c/-/accounts', tick: '18446744073709551617', body: '<v xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>' },
  ],
});

function summary(c: Collected): unknown {
  return {
    head: { mode: c.head?.syncMode, n: c.head?.digest?.entries.size, bindings: c.head?.bindings },
    entries: c.entries.map((e) => ({ ...e, scopes: resourceScope(e) })),
    tail: c.tail,
  };
}

test('splitting the input at every byte boundary gives identical records', () => {
  const bytes = Buffer.from(RICH);
  const whole = summary(read(bytes));
  for (let i = 1; i < bytes.length; i++) {
    assert.deepEqual(summary(read(bytes, [i])), whole, `split at byte ${i}`);
  }
});

test('thousands of random multi-way splits (incl. inside UTF-8 sequences) give identical records', () => {
  const bytes = Buffer.from(RICH);
  const whole = summary(read(bytes));
  const rnd = prng(42);
  for (let n = 0; n < 2000; n++) {
    const k = 1 + Math.floor(rnd() * 40);
    const cuts = Array.from({ length: k }, () => 1 + Math.floor(rnd() * (bytes.length - 1))).sort((a, b) => a - b);
    assert.deepEqual(summary(read(bytes, cuts)), whole, `cuts ${cuts.join(',')}`);
  }
  // One byte at a time.
  assert.deepEqual(summary(read(bytes, Array.from({ length: bytes.length }, (_, i) => i))), whole);
});

test('records carry what the decision needs: deletions, exact big ticks, own declarations', () => {
  const r = read(RICH);
  assert.equal(r.entries.length, 4);
  assert.equal(r.entries[1]!.isDeleted, true);
  assert.equal(r.entries[3]!.state?.tick, '18446744073709551617');
  assert.deepEqual(r.entries[2]!.ownDecls, ['x']);
  assert.equal(r.tail?.next, 'http://src/next?x=1&y=2');
});

test('a truncated document is refused', () => {
  const bytes = Buffer.from(RICH);
  assert.throws(() => read(bytes.subarray(0, bytes.length - 20)), sdataErr('SDATA_E_MALFORMED', /in\.xml:\d+:\d+/));
  assert.throws(() => read(''), sdataErr('SDATA_E_NOT_SYNC_FEED', /no root/));
});

test('wrong root and missing head are refused', () => {
  assert.throws(() => read('<entry xmlns="http://www.w3.org/2005/Atom"/>'), sdataErr('SDATA_E_NOT_SYNC_FEED', /root element is <entry>/));
  assert.throws(() => read('<feed/>'), sdataErr('SDATA_E_NOT_SYNC_FEED', /expected atom:feed/));
  const noDigest = RICH.replace(/<sync:digest>.*<\/sync:digest>/s, '');
  assert.throws(() => read(noDigest), sdataErr('SDATA_E_NOT_SYNC_FEED', /no sync:digest/));
  const noMode = RICH.replace(/<sync:syncMode>.*<\/sync:syncMode>/, '');
  assert.throws(() => read(noMode), sdataErr('SDATA_E_NOT_SYNC_FEED', /no sync:syncMode/));
  assert.throws(() => read(RICH.replace('>catchUp<', '>sometimes<')), sdataErr('SDATA_E_NOT_SYNC_FEED', /sometimes/));
  // A feed without entries is judged at its end, and the message still says where that is.
  assert.throws(() => read('<feed xmlns="http://www.w3.org/2005/Atom">\n<id>x</id>\n</feed>\n'), sdataErr('SDATA_E_NOT_SYNC_FEED', /^in\.xml:4:0: not a sync feed/));
});

test('entries without syncState, with negative or non-integer ticks, or without uuid are invalid, not fatal', () => {
  const x = page({
    entries: [
      { endpoint: 'http://a/x', tick: 1, noState: true },
      { endpoint: 'http://a/x', tick: -4 },
      { endpoint: 'http://a/x', tick: '1.5' },
      { endpoint: 'http://a/x', tick: 7 },
    ],
  }).replace('sdata:uuid="00000000-0000-0000-0000-000000000003"', '');
  const r = read(x);
  assert.deepEqual(r.entries.map((e) => e.invalid), [
    'no sync:syncState',
    "sync:tick '-4' is not a non-negative integer",
    "sync:tick '1.5' is not a non-negative integer",
    'no sdata:uuid on the payload resource',
  ]);
});

test('elements and attributes in no namespace are not sync:, sdata: or their meaning, even in the first entry', () => {
  const feed = `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}">`;
  const entry = (state: string, resource: string): string => `<entry>${state}<sdata:payload>${resource}</sdata:payload></entry>`;
  const plain = '<syncState xmlns=""><endpoint>http://a/x</endpoint><tick>1</tick></syncState>';
  const good = '<sync:syncState><sync:endpoint>http://a/x</sync:endpoint><sync:tick>1</sync:tick></sync:syncState>';
  const r = read(`${feed}${entry(plain, '<a xmlns="" sdata:uuid="u1"/>')}${entry(good, '<a xmlns="" uuid="u2" isDeleted="true"/>')}</feed>`, [], { requireSyncHead: false });
  assert.deepEqual(r.entries.map((e) => [e.state, e.uuid, e.isDeleted, e.invalid]), [
    [undefined, 'u1', false, 'no sync:syncState'],
    [{ endpoint: 'http://a/x', tick: '1', stamp: '' }, undefined, false, 'no sdata:uuid on the payload resource'],
  ]);
});

test('a DOCTYPE with entity declarations is refused and nothing is expanded', () => {
  const evil = `<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>` + RICH.replace(/^<\?xml[^>]*>\n/, '').replace('<name>n', '<name>&b;n');
  assert.throws(() => read(evil), sdataErr('SDATA_E_DOCTYPE', /DOCTYPE/));
  assert.throws(() => read(`<!DOCTYPE feed SYSTEM "file:///etc/passwd">${RICH.replace(/^<\?xml[^>]*>\n/, '')}`), sdataErr('SDATA_E_DOCTYPE'));
});

test('other encodings are refused with a clear message', () => {
  assert.throws(() => read(RICH.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')), sdataErr('SDATA_E_ENCODING', /ISO-8859-1/));
  const bad = Buffer.from(RICH);
  const at = bad.indexOf('Crème') + 3;
  bad[at] = 0xff;
  assert.throws(() => read(bad), sdataErr('SDATA_E_ENCODING', /invalid UTF-8/));
  assert.throws(() => read(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<', 'utf16le')])), sdataErr('SDATA_E_ENCODING', /UTF-16/));
});

test('an entry over the cap is invalid, and is never held whole', () => {
  const big = 'x'.repeat(200_000);
  const x = page({ entries: [{ endpoint: 'http://a/x', tick: 1 }, { endpoint: 'http://a/x', tick: 2, body: `<blob>${big}</blob>` }, { endpoint: 'http://a/x', tick: 3 }] });
  const bytes = Buffer.from(x);
  const cuts = Array.from({ length: Math.ceil(bytes.length / 4096) }, (_, i) => i * 4096);
  const r = read(bytes, cuts, { maxEntryBytes: 50_000 });
  assert.deepEqual(r.entries.map((e) => e.invalid === undefined), [true, false, true]);
  assert.match(r.entries[1]!.invalid!, /larger than the 50000-byte limit/);
  assert.equal(r.entries[1]!.text, undefined);
  assert.ok(r.maxBuffered <= 50_000 + 4096, `buffered ${r.maxBuffered}`);
  // Multi-byte text: fewer characters than the cap, more bytes than it, still refused.
  const wide = page({ entries: [{ endpoint: 'http://a/x', tick: 1, body: `<b>${'中'.repeat(20_000)}</b>` }] });
  assert.match(read(wide, [], { maxEntryBytes: 50_000 }).entries[0]!.invalid!, /larger than/);
});

test('outside entries the reader holds at most a partial tag', () => {
  const entries = Array.from({ length: 300 }, (_, i) => ({ endpoint: 'http://a/x', tick: i, body: `<name>${'n'.repeat(500)}</name>` }));
  const bytes = Buffer.from(page({ entries }));
  const cuts = Array.from({ length: Math.ceil(bytes.length / 1000) }, (_, i) => i * 1000);
  const r = read(bytes, cuts);
  assert.equal(r.entries.length, 300);
  assert.ok(r.maxBuffered < 2000, `buffered ${r.maxBuffered}`);
});
