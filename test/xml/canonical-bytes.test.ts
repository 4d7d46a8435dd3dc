import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import { canonicalXml, fragmentPayload, payloadDigest, payloadOf, type PayloadText } from '../../src/xml/canonical.ts';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import type { EntryRecord } from '../../src/xml/feed-types.ts';
import { ScannedFeedReader } from '../../src/xml/scanned-feed-reader.ts';
import { generatedFeed } from '../helpers/feeds.ts';

/**
 * The canonical form read from a payload's UTF-8 bytes (PayloadText.bytes: what verify's scanner hands over, never
 * decoded) must be the canonical form read from its characters, byte for byte: same text, same digest. The cases are
 * those where bytes and characters part ways: references decoded to non-ASCII characters, trimming (U+00A0 is white
 * space to String.prototype.trim, its UTF-8 ends in the byte A0), case (Latin-1 capitals are UTF-8 lead bytes), order
 * (UTF-16 puts U+E000–U+FFFF after the surrogates of U+10000 and up; UTF-8 and code points do not), and namespaces
 * declared above the payload (the reader's scopes hold characters).
 */

const C = 'http://schemas.sage.com/myContract';
const SD = NS.sdata;

/** The same payload as UTF-8 bytes, one per character, with its offsets in bytes. */
function asBytes(p: PayloadText): PayloadText {
  const before = Buffer.byteLength(p.text.slice(0, p.start));
  return { ...p, text: Buffer.from(p.text, 'utf8').toString('latin1'), start: before, end: before + Buffer.byteLength(p.text.slice(p.start, p.end)), bytes: true };
}

function assertSame(p: PayloadText, what: string): void {
  const b = asBytes(p);
  assert.equal(canonicalXml(b), canonicalXml(p), what);
  assert.equal(payloadDigest(b), payloadDigest(p), what);
}

const acc = (inner: string, attrs = ''): string => `<account xmlns="${C}" xmlns:sdata="${SD}" xmlns:xsi="${NS.xsi}" sdata:uuid="aa"${attrs}>${inner}</account>`;
const U = (n: number): string => `00000000-0000-4000-8000-00000000000${n}`;

const CASES: Array<[what: string, xml: string]> = [
  ['plain non-ASCII text', acc('<name>Größe 東京 😀 Łódź</name>')],
  ['character references to non-ASCII characters, in text and in an attribute', acc('<name note="caf&#233; &#x1F600;">caf&#233; &#x6771;&#x4EAC; &#x1F600;</name>')],
  ['references that Canonical XML escapes again', acc('<notes>&#38; &#60; &#62; &#13; &quot; &apos; &amp;&lt;&gt; a > b</notes>')],
  ['a run of only a referenced space (white space, not text)', acc('<a>&#32;</a><b>x</b>')],
  ['CDATA and comments with non-ASCII text', acc('<notes><![CDATA[<ü> & ]]><!-- é --> ü</notes>')],
  ['xsi:nil ending in U+00A0 (trimmed as characters)', acc('<fax xsi:nil="true\u00a0"/><tel xsi:nil="false\u00a0">1</tel>')],
  ['isDeleted ending in U+00A0', acc(`<addresses><address sdata:uuid="${U(1)}" sdata:isDeleted="true\u00a0"/><address sdata:uuid="${U(2)}"/></addresses>`)],
  ['a uuid with Latin-1 capitals and U+00A0 padding', acc('<primaryContact sdata:uuid="\u00a0ÀÉ-UUID\u00a0"/>')],
  ['a uuid with capitals whose UTF-8 bytes have no case (fullwidth)', acc('<primaryContact sdata:uuid="ＡＢ-1"/>')],
  ['a uuid with Greek and Cyrillic capitals', acc('<primaryContact sdata:uuid="ΩД-1"/>')],
  ['a list sorted by uuids that differ at a supplementary character and U+FFxx',
    acc(`<addresses sdata:deleteMissing="true"><address sdata:uuid="x\uff01"/><address sdata:uuid="x😀"/><address sdata:uuid="x\u00e9"/></addresses>`)],
  ['attributes sorted by namespace URIs that differ the same way',
    acc('<name xmlns:p="urn:x:\uff01" xmlns:q="urn:x:😀" p:a="1" q:a="2">n</name>')],
  ['non-ASCII element names and a non-ASCII namespace declared inside', acc('<ü:größe xmlns:ü="urn:ü">1</ü:größe><straße>2</straße>')],
  ['entities in a namespace declaration', acc('<n xmlns="urn:a&amp;b">1</n>')],
];

describe('the canonical form from UTF-8 bytes is the form from characters (PayloadText.bytes)', () => {
  for (const [what, xml] of CASES) it(what, () => assertSame(fragmentPayload(xml), what));

  it('with prefixes and a default namespace bound above the payload, one of them non-ASCII', () => {
    const xml = '<ü:account sdata:uuid="aa"><ü:name>x</ü:name><other>y</other></ü:account>';
    const p: PayloadText = { ...fragmentPayload(xml), scopes: [{ '': 'urn:dé', sdata: SD }, { ü: 'urn:ünï' }] };
    assertSame(p, 'scopes');
    assert.match(canonicalXml(p), /^<account xmlns="urn:ünï"/);
  });

  it('for every payload of a generated feed: the scanner\'s byte records give the FeedReader\'s digests', () => {
    const { text } = generatedFeed(3000, 11);
    const expected: Array<string | undefined> = [];
    const r = new FeedReader({ head: () => undefined, entry: (e) => void expected.push(digestOf(e)), end: () => undefined });
    r.pushText(text);
    r.end();
    const got: Array<string | undefined> = [];
    let bytes = 0;
    const s = new ScannedFeedReader({ head: () => undefined, entry: (e) => {
      if (e.textBytes === true) bytes++;
      got.push(digestOf(e));
    }, end: () => undefined }, { textBytes: true });
    const buf = Buffer.from(text);
    for (let i = 0; i < buf.length; i += 16_384) s.push(buf.subarray(i, i + 16_384));
    s.end();
    assert.ok(bytes > 2500, `most records scanned as bytes (${bytes})`);
    assert.deepEqual(got, expected);
    // And the same payloads read as characters, then as their bytes.
    for (const p of payloadsOf(text).slice(0, 500)) assertSame(p, 'generated payload');
  });
});

function digestOf(e: EntryRecord): string | undefined {
  const p = payloadOf(e);
  return p === undefined ? undefined : payloadDigest(p);
}

function payloadsOf(text: string): PayloadText[] {
  const out: PayloadText[] = [];
  const r = new FeedReader({ head: () => undefined, entry: (e) => {
    const p = payloadOf(e);
    if (p !== undefined) out.push(p);
  }, end: () => undefined });
  r.pushText(text);
  r.end();
  return out;
}
