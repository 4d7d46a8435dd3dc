import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import { canonicalXml, fragmentPayload, payloadDigest, payloadOf } from '../../src/xml/canonical.ts';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import type { EntryRecord } from '../../src/xml/feed-types.ts';
import { page } from '../helpers/feeds.ts';

/**
 * The canonical payload form verify compares (docs/protocol.md X23): pairs that mean the same must give the same
 * digest, pairs that do not must differ. The peer's Canonical XML 2.0 is the oracle in test/peer/canonical.test.ts.
 */

const C = 'http://schemas.sage.com/myContract';
const X = 'http://example.com/ext';
const SD = NS.sdata;
const canon = (xml: string): string => canonicalXml(fragmentPayload(xml));
const digest = (xml: string): string => Buffer.from(payloadDigest(fragmentPayload(xml)), 'base64').toString('hex');
const acc = (inner: string, attrs = ''): string => `<account xmlns="${C}" xmlns:sdata="${SD}" xmlns:xsi="${NS.xsi}" sdata:uuid="aa"${attrs}>${inner}</account>`;

const U1 = '00000000-0000-4000-8000-000000000001';
const U2 = '00000000-0000-4000-8000-000000000002';
const U3 = '00000000-0000-4000-8000-000000000003';
const addr = (u: string, street: string, extra = ''): string => `<address sdata:uuid="${u}"${extra}><street>${street}</street></address>`;

const EQUAL: Array<[what: string, a: string, b: string]> = [
  ['prefixes: default namespace vs a prefix, and where sdata is declared',
    acc('<name>Acme</name>'),
    `<c:account xmlns:c="${C}" xmlns:s="${SD}" s:uuid="aa"><c:name>Acme</c:name></c:account>`],
  ['a namespace declared again on each element vs once',
    acc('<name>Acme</name><city>Paris</city>'),
    `<account xmlns="${C}" xmlns:sdata="${SD}" sdata:uuid="aa"><name xmlns="${C}">Acme</name><c:city xmlns:c="${C}">Paris</c:city></account>`],
  ['attribute order and quotes',
    acc('<name x:a="1" x:b=\'2\' plain="3">N</name>').replace('xmlns:xsi', `xmlns:x="${X}" xmlns:xsi`),
    acc('<name plain="3" x:b="2" x:a="1">N</name>').replace('xmlns:xsi', `xmlns:x="${X}" xmlns:xsi`)],
  ['entity and character references vs the characters', acc('<name>R&amp;D caf&#233; &#x1F600; &lt;x&gt;</name>'), acc('<name>R&amp;D café 😀 &lt;x></name>')],
  ['CDATA vs escaped text', acc('<notes><![CDATA[<b>bold</b> & ]]]]><![CDATA[>]]></notes>'), acc('<notes>&lt;b>bold&lt;/b> &amp; ]]&gt;</notes>')],
  ['comments and processing instructions', acc('<name>Ac<!-- c -->me</name><?pi x?>'), acc('<name>Acme</name>')],
  ['line ends in text: CRLF and CR as LF', acc('<notes>a\r\nb\rc</notes>'), acc('<notes>a\nb\nc</notes>')],
  ['attribute values: literal white space is a space', acc('<name note="a\tb\nc">N</name>'), acc('<name note="a b c">N</name>')],
  ['white space between elements (element-only content)', acc('\n  <name>Acme</name>\n  <city>Paris</city>\n'), acc('<name>Acme</name><city>Paris</city>')],
  ['a self-closing element vs start and end tags', acc('<fax xsi:nil="true"/>'), acc('<fax xsi:nil="true"></fax>')],
  ['xsi:nil 1 vs true; xsi:nil false vs none', acc('<fax xsi:nil="1"/><tel xsi:nil="false">1</tel>'), acc('<fax xsi:nil=" true "/><tel>1</tel>')],
  ['sdata:key, sdata:url, sdata:lookup, sdata:descriptor are local', acc('<name>A</name>', ' sdata:key="42" sdata:url="http://a/accounts(\'42\')"'),
    acc('<name>A</name>', ' sdata:key="K-7" sdata:lookup="http://b/x" sdata:descriptor="Acme"')],
  ['uuid case and padding', acc(`<primaryContact sdata:uuid=" ${U1.toUpperCase()} "/>`), acc(`<primaryContact sdata:uuid="${U1}"/>`)],
  ['isDeleted false written or not', acc('<name>A</name>', ' sdata:isDeleted="false"'), acc('<name>A</name>')],
  ['child list order (by uuid)', acc(`<addresses sdata:deleteMissing="true">${addr(U2, 'b')}${addr(U1, 'a')}</addresses>`),
    acc(`<addresses sdata:deleteMissing="true">${addr(U1, 'a')}${addr(U2, 'b')}</addresses>`)],
  ['a complete list vs the same children unflagged (an incomplete list holding them)',
    acc(`<addresses sdata:deleteMissing="true">${addr(U1, 'a')}</addresses>`), acc(`<addresses>${addr(U1, 'a')}</addresses>`)],
  ['a list child flagged deleted (sdata or sync namespace) is not held',
    acc(`<addresses>${addr(U1, 'a')}${addr(U3, 'gone', ' sdata:isDeleted="true"')}</addresses>`),
    acc(`<addresses xmlns:sy="${NS.sync}">${addr(U3, 'gone', ' sy:isDeleted="1"')}${addr(U1, 'a')}</addresses>`)],
  ['an empty flagged list vs one holding only deleted children', acc('<addresses sdata:deleteMissing="true"/>'),
    acc(`<addresses>${addr(U3, 'x', ' sdata:isDeleted="true"')}</addresses>`)],
  ['white space inside a list', acc(`<addresses sdata:deleteMissing="true">\n  ${addr(U1, 'a')}\n</addresses>`), acc(`<addresses>${addr(U1, 'a')}</addresses>`)],
  ['nested lists sorted at every depth',
    acc(`<contacts>${`<contact sdata:uuid="${U2}"><phones><phone sdata:uuid="${U3}">3</phone><phone sdata:uuid="${U1}">1</phone></phones></contact>`}<contact sdata:uuid="${U1}"/></contacts>`),
    acc(`<contacts><contact sdata:uuid="${U1}"/>${`<contact sdata:uuid="${U2}"><phones><phone sdata:uuid="${U1}">1</phone><phone sdata:uuid="${U3}">3</phone></phones></contact>`}</contacts>`)],
  ['a list child\'s own prefixes do not depend on its position',
    acc(`<addresses><a:address xmlns:a="${C}" sdata:uuid="${U2}"><a:street>b</a:street></a:address>${addr(U1, 'a')}</addresses>`),
    acc(`<addresses>${addr(U1, 'a')}${addr(U2, 'b')}</addresses>`)],
  ['xmlns="" undeclares the default namespace: the same as an unprefixed name without one',
    `<account xmlns="${C}" xmlns:sdata="${SD}" sdata:uuid="aa"><local xmlns="">x</local></account>`,
    `<c:account xmlns:c="${C}" xmlns:sdata="${SD}" sdata:uuid="aa"><local>x</local></c:account>`],
];

const DIFFERENT: Array<[what: string, a: string, b: string]> = [
  ['a text value', acc('<name>Acme</name>'), acc('<name>Acme Ltd</name>')],
  ['leading or trailing white space of a value', acc('<name>Acme</name>'), acc('<name> Acme</name>')],
  ['a leaf of white space vs an empty leaf', acc('<name> </name>'), acc('<name/>')],
  ['xsi:nil vs an empty value', acc('<fax xsi:nil="true"/>'), acc('<fax/>')],
  ['an element\'s namespace', acc('<name>A</name>'), acc(`<name xmlns="${X}">A</name>`)],
  ['an element\'s name', acc('<name>A</name>'), acc('<title>A</title>')],
  ['an attribute value', acc('<name kind="a">A</name>'), acc('<name kind="b">A</name>')],
  ['an attribute\'s namespace', acc(`<name xmlns:x="${X}" x:kind="a">A</name>`), acc('<name kind="a">A</name>')],
  ['an attribute more', acc('<name>A</name>'), acc('<name kind="a">A</name>')],
  ['the order of properties (not a list)', acc('<name>A</name><city>P</city>'), acc('<city>P</city><name>A</name>')],
  ['a missing property', acc('<name>A</name><city>P</city>'), acc('<name>A</name>')],
  ['a changed child in a list', acc(`<addresses>${addr(U1, 'a')}${addr(U2, 'b')}</addresses>`), acc(`<addresses>${addr(U1, 'a')}${addr(U2, 'B')}</addresses>`)],
  ['a list child more', acc(`<addresses>${addr(U1, 'a')}</addresses>`), acc(`<addresses>${addr(U1, 'a')}${addr(U2, 'b')}</addresses>`)],
  ['a reference to another resource', acc(`<primaryContact sdata:uuid="${U1}"/>`), acc(`<primaryContact sdata:uuid="${U2}"/>`)],
  ['a single child flagged deleted (not in a list) vs live', acc(`<name>A</name>${addr(U1, 'a', ' sdata:isDeleted="true"')}`), acc(`<name>A</name>${addr(U1, 'a')}`)],
  ['mixed content keeps its white space', acc('<notes>a <b>x</b> <i>y</i></notes>'), acc('<notes>a <b>x</b><i>y</i></notes>')],
  ['mixed content keeps white space read before its first text', acc('<notes><b>x</b> <i>y</i> tail</notes>'), acc('<notes><b>x</b><i>y</i> tail</notes>')],
  ['the order of a list whose children lack uuids', acc('<tags sdata:deleteMissing="true"><tag>a</tag><tag>b</tag></tags>'), acc('<tags sdata:deleteMissing="true"><tag>b</tag><tag>a</tag></tags>')],
  ['the resource uuid', acc('<name>A</name>'), acc('<name>A</name>').replace('"aa"', '"bb"')],
  ['text with a character reference to a CR vs a line end', acc('<notes>a&#13;b</notes>'), acc('<notes>a\nb</notes>')],
];

describe('canonical payload form (docs/protocol.md X23)', () => {
  for (const [what, a, b] of EQUAL) {
    it(`equal: ${what}`, () => {
      assert.equal(canon(a), canon(b));
      assert.equal(digest(a), digest(b));
    });
  }
  for (const [what, a, b] of DIFFERENT) {
    it(`different: ${what}`, () => {
      assert.notEqual(canon(a), canon(b));
      assert.notEqual(digest(a), digest(b));
    });
  }

  it('writes names unprefixed with the default namespace where it changes, attributes with a0… declared on their element, in order', () => {
    const x = `<c:account xmlns:c="${C}" xmlns:s="${SD}" xmlns:x="${X}" s:uuid="AA" x:b="2" z="&quot;1&#9;" x:a="&lt;"><c:name>R&amp;D &gt; \r</c:name><x:ext/></c:account>`;
    assert.equal(canon(x), `<account xmlns="${C}" xmlns:a0="${X}" xmlns:a1="${SD}" z="&quot;1&#x9;" a0:a="&lt;" a0:b="2" a1:uuid="aa">` +
      `<name>R&amp;D &gt; \n</name><ext xmlns="${X}"></ext></account>`);
  });

  it('white space read before mixed content shows it is mixed stays in its place', () => {
    assert.match(canon(acc('<notes>\n<b>x</b> <i>y</i>\n tail</notes>')), /<notes>\n<b>x<\/b> <i>y<\/i>\n tail<\/notes>/);
  });

  it('the digest is SHA-256 of the canonical UTF-8', async () => {
    const { createHash } = await import('node:crypto');
    const x = acc('<name>Größe 東京 😀</name>');
    assert.equal(digest(x), createHash('sha256').update(Buffer.from(canon(x), 'utf8')).digest('hex'));
  });

  it('reads a payload inside its entry with the bindings the feed and the entry declare above it', () => {
    const body = `<c:name>Acme</c:name>`;
    const feed = page({
      rootAttrs: ` xmlns:c="${C}"`,
      entries: [{ endpoint: 'http://a/x', tick: 1, uuid: 'AA', body }, { endpoint: 'http://a/x', tick: 2, uuid: 'aa', body: '<d:name>Acme</d:name>', entryAttrs: ` xmlns:d="${C}"` }],
    });
    const recs: EntryRecord[] = [];
    const r = new FeedReader({ head: () => undefined, entry: (e) => recs.push(e), end: () => undefined });
    r.pushText(feed);
    r.end();
    assert.equal(recs.length, 2);
    const [a, b] = recs.map((e) => canonicalXml(payloadOf(e)!));
    assert.equal(a, `<account xmlns="urn:contract" xmlns:a0="${SD}" a0:uuid="aa"><name xmlns="${C}">Acme</name></account>`);
    assert.equal(a, b);
  });

  it('an undeclared prefix is an error naming it', () => {
    assert.throws(() => canon('<a:x/>'), /prefix 'a' is not declared/);
  });
});
