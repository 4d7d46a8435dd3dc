import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import { normalizeFragment, rootUuid, rootDeclarations, scanRootTag, storedFragment, tombstoneFragment } from '../../src/provider/fragment.ts';
import { mergeFragment } from '../../src/provider/merge.ts';
import { compactResult, renderResult, ResultRenderer } from '../../src/provider/results.ts';
import { Store } from '../../src/provider/store.ts';
import { decide, type DigestLookup } from '../../src/provider/rules.ts';
import { tickKey, tickOfKey } from '../../src/provider/tick-key.ts';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import type { EntryRecord } from '../../src/xml/feed-types.ts';
import { resourceXml } from '../../src/xml/feed-writer.ts';
import { kid, parseXml } from './helpers.ts';

// ---------------------------------------------------------------------------------------------------------------
// 5.4 rules on the spec's worked examples (2.6, brief §3.7). Endpoints as ids: N1 = 1, N2 = 2, N3 = 3.

const lookup = (rows: Array<[number, number, number]>): DigestLookup => {
  const m = new Map(rows.map(([ep, tick, prio]) => [ep, { tick: String(tick), prio }]));
  return { get: (ep) => m.get(ep) };
};
const N1Digest = lookup([[1, 6, 1], [2, 7, 2], [3, 9, 3]]);
const N2Digest = lookup([[1, 5, 1], [2, 8, 2], [3, 8, 3]]);
const norm = (ep: number): string => `http://n${ep}.example/sdata/a/c/-/accounts`;
const st = (ep: number, tick: number, stamp = '2020-01-01T00:00:00Z') => ({ ep, tick: String(tick), stamp });

test('2.6 case a: same origin, newer tick (R1) applies; an equal or older one is ignored', () => {
  assert.deepEqual(decide(st(1, 5), st(1, 4), N1Digest, N2Digest, norm), { apply: true, rule: 'R1' });
  assert.deepEqual(decide(st(1, 5), st(1, 5), N1Digest, N2Digest, norm), { apply: false, rule: 'R1' });
  assert.deepEqual(decide(st(1, 4), st(1, 5), N1Digest, N2Digest, norm), { apply: false, rule: 'R1' });
});

test('2.6 case b: the source digest has seen the target version (R2: 7 > 6) applies', () => {
  assert.deepEqual(decide(st(1, 5), st(2, 6), N1Digest, N2Digest, norm), { apply: true, rule: 'R2' });
});

test('2.6 case c: 7 is not > 7 and 5 is not > 5, a conflict; N1 priority 1 beats N2 priority 2', () => {
  const v = decide(st(1, 5), st(2, 7), N1Digest, N2Digest, norm);
  assert.equal(v.rule, 'R4');
  assert.equal(v.apply, true);
  assert.equal(v.conflict?.by, 'priority');
});

test('2.6 case d: R2 via N3 (9 > 7) applies', () => {
  assert.deepEqual(decide(st(1, 5), st(3, 7), N1Digest, N2Digest, norm), { apply: true, rule: 'R2' });
});

test('2.6 case e: N3 (priority 3) against N2 (priority 2): the TARGET wins under 5.4 (brief A12)', () => {
  const v = decide(st(3, 8), st(2, 7), N1Digest, N2Digest, norm);
  assert.equal(v.rule, 'R4');
  assert.equal(v.apply, false);
  assert.equal(v.conflict?.winner, 'target');
  assert.equal(v.conflict?.srcPrio, 3);
  assert.equal(v.conflict?.tgtPrio, 2);
});

test('R3: the target digest has seen the source version (strict >)', () => {
  const tgt = lookup([[1, 6, 1], [2, 8, 2]]);
  assert.deepEqual(decide(st(1, 5), st(2, 9), lookup([[1, 6, 1]]), tgt, norm), { apply: false, rule: 'R3' });
  // Equality is not "seen": 5 is not > 5, so this is a conflict, not R3 (the 2014 fix of >= to >).
  assert.equal(decide(st(1, 6), st(2, 9), lookup([[1, 7, 1]]), tgt, norm).rule, 'R4');
});

test('conflict tie-breaks: equal priorities, newer stamp wins; equal stamps, smaller normalised endpoint wins', () => {
  const both = lookup([[1, 1, 4], [2, 1, 4]]);
  const newer = decide(st(2, 9, '2020-01-02T00:00:00Z'), st(1, 9, '2020-01-01T00:00:00Z'), both, both, norm);
  assert.deepEqual([newer.apply, newer.conflict?.by], [true, 'stamp']);
  const older = decide(st(2, 9, '2020-01-01T00:00:00Z'), st(1, 9, '2020-01-02T00:00:00+00:00'), both, both, norm);
  assert.deepEqual([older.apply, older.conflict?.by], [false, 'stamp']);
  // Zone-less stamps are UTC (A38): these are the same instant, so the endpoint decides: n1 < n2, n1 wins.
  const tie = decide(st(2, 9, '2020-01-01T00:00:00'), st(1, 9, '2020-01-01T00:00:00.000Z'), both, both, norm);
  assert.deepEqual([tie.apply, tie.conflict?.by, tie.conflict?.winner], [false, 'endpoint', 'target']);
  const tie2 = decide(st(1, 9), st(2, 9), both, both, norm);
  assert.deepEqual([tie2.apply, tie2.conflict?.winner], [true, 'source']);
});

test('priority lookup falls back to the other digest, then to 9 with a warning', () => {
  const src = lookup([[1, 1, 3]]);
  const tgt = lookup([[2, 1, 2], [5, 0, 1]]);
  // Source state names endpoint 5, known only to the target's digest (priority 1): the source wins.
  const v = decide(st(5, 9), st(2, 3), src, tgt, norm);
  assert.deepEqual([v.conflict?.srcPrio, v.conflict?.winner, v.conflict?.warnings.length], [1, 'source', 0]);
  // Neither digest knows endpoint 7: priority 9 and a warning; the target's 2 wins.
  const w = decide(st(7, 9), st(2, 3), src, tgt, norm);
  assert.deepEqual([w.conflict?.srcPrio, w.conflict?.winner], [9, 'target']);
  assert.match(w.conflict!.warnings[0]!, /no conflictPriority known for http:\/\/n7/);
});

// ---------------------------------------------------------------------------------------------------------------
// Tick keys

test('tick keys order exactly like the numbers, past 2^53 and 2^63', () => {
  const ticks = ['0', '1', '9', '10', '99', '9007199254740992', '9007199254740993', '9223372036854775807', '9223372036854775808',
    '18446744073709551616', '123456789012345678901234567890'];
  const keys = ticks.map(tickKey);
  assert.deepEqual([...keys].sort(), keys);
  for (const t of ticks) assert.equal(tickOfKey(tickKey(t)), t);
  assert.equal(tickKey('5'), '01:5');
  assert.throws(() => tickKey('1'.repeat(100)), /at most 99 digits/);
});

// ---------------------------------------------------------------------------------------------------------------
// Fragments

function recordsOf(feed: string): EntryRecord[] {
  const out: EntryRecord[] = [];
  const r = new FeedReader({ head() {}, entry(e) { out.push(e); }, end() {} }, { requireSyncHead: false });
  r.pushText(feed);
  r.end();
  return out;
}

const OUR_ROOT = `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}" xmlns:http="${NS.http}" xmlns:opensearch="${NS.opensearch}">`;

test('a stored fragment is a fixpoint of relaying: embedded in our own feeds and read back, it is byte-identical', () => {
  const inputs = [
    // prefixed payload, uuid only on sdata:payload (A19), a URL in the text, a prefixed root
    `<feed xmlns="${NS.atom}" xmlns:s="${NS.sdata}" xmlns:c="urn:c"><entry><s:payload s:uuid="U-1"><c:account><c:web>http://x.example/</c:web></c:account></s:payload></entry></feed>`,
    // an empty prefixed root (a deletion) whose prefix is bound on the feed only
    `<feed xmlns="${NS.atom}" xmlns:s="${NS.sdata}" xmlns:c="urn:c"><entry><s:payload><c:account s:uuid="U-2" s:isDeleted="true"/></s:payload></entry></feed>`,
    // no namespace at all for the resource
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><entry><sdata:payload><account xmlns="" sdata:uuid="U-3"><n>a &amp; b &#233; 🚀</n></account></sdata:payload></entry></feed>`,
  ];
  for (const input of inputs) {
    const rec = recordsOf(input)[0]!;
    const first = storedFragment(rec, rec.uuid!)!;
    // Well-formed on its own, with the uuid on the resource element.
    const el = parseXml(first);
    assert.equal(el.attrs.get(`{${NS.sdata}}uuid`), rec.uuid);
    const relayed = recordsOf(`${OUR_ROOT}<entry><sdata:payload>${first}</sdata:payload></entry></feed>`)[0]!;
    assert.equal(storedFragment(relayed, relayed.uuid!), first, input);
  }
});

test('storedFragment skips rescanning what resourceXml tested, with the same result as a full normalisation', () => {
  // The reference: resourceXml, the root's own prefix declared, then normalizeFragment scanning everything.
  const reference = (rec: EntryRecord): string => {
    let f = resourceXml(rec)!;
    const p = scanRootTag(f).qname.includes(':') ? scanRootTag(f).qname.split(':')[0]! : '';
    if (!rootDeclarations(scanRootTag(f)).has(p)) {
      const at = scanRootTag(f).nameEnd;
      f = `${f.slice(0, at)}${p === '' ? ` xmlns="${rec.resourceUri ?? ''}"` : ` xmlns:${p}="${rec.resourceUri ?? ''}"`}${f.slice(at)}`;
    }
    return normalizeFragment(f, undefined, undefined, rec.uuid!);
  };
  const feeds = [
    // inherited prefixes used in the body, in attribute values, in text, and only as URL schemes
    `${OUR_ROOT}<entry><sdata:payload><c:a xmlns:c="urn:c" sdata:uuid="U-1" x="sync:1"><http:b/>opensearch:q http://z</c:a></sdata:payload></entry></feed>`,
    // a declaration value that uses a receiver prefix; the resource redeclares an inherited prefix
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="urn:other" xmlns:k="urn:sync:k"><entry><sdata:payload><k:a sdata:uuid="U-2" xmlns:sync="urn:mine"><sync:x/></k:a></sdata:payload></entry></feed>`,
    // prefix bound on the payload only, uuid on the payload (A19), an empty prefixed root
    `<feed xmlns="${NS.atom}" xmlns:s="${NS.sdata}"><entry><s:payload xmlns:c="urn:c" xmlns:http="urn:h" s:uuid="U-3"><c:a/></s:payload></entry></feed>`,
    // a root whose own prefix is bound only by the feed, 'sync:' straight after the qname
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:c="urn:c" xmlns:sync="${NS.sync}"><entry><sdata:payload><c:a sync:t="1" sdata:uuid="U-4">opensearch:x</c:a></sdata:payload></entry></feed>`,
    // a declaration value that uses an inherited prefix the body does not (inserted by resourceXml, then as the root's own)
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}" xmlns:k="urn:sync:k"><entry><sdata:payload><k:a sdata:uuid="U-6"><k:b/></k:a></sdata:payload></entry></feed>`,
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}" xmlns:k="urn:sync:k"><entry><sdata:payload><k:a sdata:uuid="U-7"/></sdata:payload></entry></feed>`,
    // no namespace at all
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:http="${NS.http}"><entry><sdata:payload><a xmlns="" sdata:uuid="U-5"><n>http:thing xhttp:no</n></a></sdata:payload></entry></feed>`,
  ];
  for (const feed of feeds) {
    const rec = recordsOf(feed)[0]!;
    assert.equal(storedFragment(rec, rec.uuid!), reference(rec), feed);
  }
});

test('normalizeFragment adds the uuid and the declarations a receiver would add; tombstones keep name and uuid', () => {
  const f = normalizeFragment(`<a xmlns="urn:c"><b>see http://x</b><c>sync:thing</c></a>`, undefined, undefined, 'u-9');
  const rt = scanRootTag(f);
  const d = rootDeclarations(rt);
  assert.equal(d.get('sdata'), NS.sdata);
  // A URL is not a use of a prefix named http; a QName-like text may be a use of sync.
  assert.equal(d.get('http'), undefined);
  assert.equal(d.get('sync'), NS.sync);
  assert.equal(rootUuid(rt, d), 'u-9');
  const t = parseXml(tombstoneFragment(f, 'ignored'));
  assert.deepEqual([t.uri, t.local, t.attrs.get(`{${NS.sdata}}uuid`), t.attrs.get(`{${NS.sdata}}isDeleted`), t.children.length], ['urn:c', 'a', 'u-9', 'true', 0]);
  const p = parseXml(tombstoneFragment(`<x:a xmlns:x="urn:x" xmlns:sdata="${NS.sdata}" sdata:uuid="Q"><x:b/></x:a>`, 'q'));
  assert.deepEqual([p.uri, p.local, p.attrs.get(`{${NS.sdata}}uuid`)], ['urn:x', 'a', 'Q']);
});

// ---------------------------------------------------------------------------------------------------------------
// Property-level merge (PUT)

test('merge replaces the named properties, keeps the others byte for byte, appends new ones', () => {
  const stored = `<account xmlns="urn:c" xmlns:sdata="${NS.sdata}" sdata:uuid="U"><name>A</name>\n  <!-- keep --><city>Z</city><tags><t>1</t><t>2</t></tags></account>`;
  const merged = mergeFragment(stored, `<account xmlns="urn:c"><city>Paris</city><tags><t>3</t></tags><vat>x</vat></account>`);
  assert.equal(merged, `<account xmlns="urn:c" xmlns:sdata="${NS.sdata}" sdata:uuid="U"><name>A</name>\n  <!-- keep --><city>Paris</city><tags><t>3</t></tags><vat>x</vat></account>`);
  // An incoming child whose prefix the stored root binds otherwise keeps its meaning.
  const m2 = parseXml(mergeFragment(`<a xmlns="urn:c" xmlns:p="urn:other"><n>1</n></a>`, `<a xmlns="urn:c" xmlns:p="urn:p"><p:n>2</p:n></a>`));
  assert.deepEqual(m2.children.map((c) => [c.uri, c.local, c.text]), [['urn:c', 'n', '1'], ['urn:p', 'n', '2']]);
  const m3 = parseXml(mergeFragment(`<a xmlns="urn:c" k="1"/>`, `<a xmlns="urn:c"><b>1</b></a>`));
  assert.equal(kid(m3, 'urn:c', 'b')?.text, '1');
});

// ---------------------------------------------------------------------------------------------------------------
// Result rendering

test('ResultRenderer renders compact results exactly as renderResult does, and passes full entries through', () => {
  const store = new Store({ db: ':memory:', kinds: ['a_b'], endpointBase: 'http://h/sdata/x&y/crm/-' });
  try {
    const kind = store.kind('a_b')!;
    const other = store.tx(() => store.endpointId('http://other/<sdata>/crm/-/a_b'));
    const rc = { store, kind, serving: 'http://127.0.0.1:1/sdata/x&y/crm/-/a_b', updated: '2024-01-02T03:04:05.000Z' };
    const renderer = new ResultRenderer(rc);
    const stored = [
      compactResult(201, 'POST', 1, kind.selfEp, '7', '2024-01-01T00:00:00Z'),
      compactResult(200, 'PUT', 22, other, '123456789012345678901234567890', '2024-01-01T00:00:00<Z>'),
      compactResult(200, 'DELETE', 333, kind.selfEp, '0', 'x'),
      compactResult(200, undefined, 4444, other, '8', ''),
      compactResult(201, 'POST', 5, other, '9', 's'),
      '<entry><id>full</id></entry>\n',
    ];
    for (const s of stored) assert.equal(renderer.render(s), renderResult(s, rc), s);
    assert.match(renderer.render(stored[0]!), /<http:location>http:\/\/127\.0\.0\.1:1\/sdata\/x&amp;y\/crm\/-\/a_b\('1'\)<\/http:location>/);
  } finally {
    store.close();
  }
});
