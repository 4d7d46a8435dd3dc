import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import { isSdataError } from '../../src/protocol/errors.ts';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import type { EntryRecord, FeedHandler, FeedHead, FeedReaderOptions, FeedTail } from '../../src/xml/feed-types.ts';
import type { XmlLimits } from '../../src/xml/limits.ts';
import { ScannedFeedReader } from '../../src/xml/scanned-feed-reader.ts';
import { brokenCopies, generatedFeed, page, prng, type TestEntry } from '../helpers/feeds.ts';

// The target's reader of posted pages (xml/scanned-feed-reader.ts) must report exactly what the saxes FeedReader
// reports for the same bytes: the same head, the same records field by field (text, offsets, scopes, line:column), the
// same tail, and the same first error at the same line:column. The FeedReader is the oracle; pieces are cut far
// smaller than the default so that every document is scanned in many pieces, and read again where the scanner refuses.

interface Outcome {
  events: unknown[];
  error: string | undefined;
}

class Collect implements FeedHandler {
  readonly events: unknown[] = [];
  head(h: FeedHead): void {
    // Without digestWritten: it comes only when the digest scanner read the digest, which a start tag cut between two
    // pushes leaves to saxes (test/xml/digest-scanner.test.ts checks what it says); the digest itself must agree.
    const { digestWritten: _written, ...said } = h;
    this.events.push(['head', JSON.parse(JSON.stringify(said, (_k, v: unknown) => (v instanceof Map ? [...v] : v))) as unknown]);
  }
  entry(rec: EntryRecord): void {
    this.events.push(['entry', JSON.parse(JSON.stringify(rec)) as unknown]);
  }
  end(tail: FeedTail): void {
    this.events.push(['end', tail]);
  }
}

type Reader = { push(b: Uint8Array): void; end(): void };

function run(make: (h: FeedHandler) => Reader, bytes: Buffer, seed: number, maxRead: number): Outcome {
  const c = new Collect();
  const r = make(c);
  const rnd = prng(seed);
  try {
    for (let at = 0; at < bytes.length;) {
      const n = 1 + Math.floor(rnd() * maxRead);
      r.push(bytes.subarray(at, at + n));
      at += n;
    }
    r.end();
    return { events: c.events, error: undefined };
  } catch (e) {
    if (!isSdataError(e)) throw e;
    return { events: c.events, error: `${e.code} ${e.message}` };
  }
}

/** Both readers agree on `text`, read in uneven pushes; returns the FeedReader's outcome and the pieces scanned. */
function same(text: string | Buffer, opts: FeedReaderOptions = {}, pieces = [200, 1500], seed = 1): Outcome & { scanned: number; read: number } {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const o = { source: 'POST /x', ...opts };
  const want = run((h) => new FeedReader(h, o), bytes, seed, 3000);
  let scanned = 0;
  let read = 0;
  for (const p of pieces) {
    let sr: ScannedFeedReader | undefined;
    const got = run((h) => (sr = new ScannedFeedReader(h, o, p)), bytes, seed + p, p * 2);
    assert.deepEqual(got, want, `pieces of ${p} bytes`);
    scanned += sr!.counts.scanned;
    read += sr!.counts.read;
  }
  return { ...want, scanned, read };
}

const EP = 'http://a.example/sdata/app/c/-/accounts';
const entries = (n: number, f: (i: number) => Partial<TestEntry> = () => ({})): TestEntry[] =>
  Array.from({ length: n }, (_, i) => ({ endpoint: EP, tick: i + 1, ...f(i) }));

describe('ScannedFeedReader = FeedReader', () => {
  it('generated feeds (endpoints, deletions, CDATA, entities, non-ASCII): the same records, most of them scanned', () => {
    for (const seed of [7, 8]) {
      const { text } = generatedFeed(200, seed);
      const r = same(text, {}, [300, 4000, 20000], seed);
      assert.equal(r.events.filter((e) => (e as unknown[])[0] === 'entry').length, 200);
      assert.equal(r.error, undefined);
      assert.ok(r.scanned > 10, `${r.scanned} pieces scanned`);
    }
  });

  it('a body arriving in large chunks: the FeedReader reads the head and the first entry, the scanner the rest', () => {
    // The scanner hands over each resource's bytes (resourceBytes), the FeedReader does not: that tells who read what.
    // Entries of ~1.2 KB, like the engine's: the FeedReader is given 4 KiB at a time until it knows the entry's end tag.
    const text = Buffer.from(page({ entries: entries(120, (i) => ({ body: `<name>${String(i).repeat(1000 / String(i).length | 0)}</name>` })) }));
    for (const first of [text.length, 64 * 1024, 9000]) {
      const byFeedReader: number[] = [];
      let count = 0;
      const h: FeedHandler = {
        head: () => {},
        entry: (rec, bytes) => {
          count++;
          if (bytes === undefined) byFeedReader.push(rec.index);
        },
        end: () => {},
      };
      const r = new ScannedFeedReader(h, { source: 'POST /x', resourceBytes: true, textBytes: true }, 20000);
      r.push(text.subarray(0, first));
      r.push(text.subarray(first));
      r.end();
      assert.equal(count, 120);
      assert.ok(byFeedReader[0] === 0 && byFeedReader.length <= 4, `first push of ${first} bytes: entries ${byFeedReader.join(' ')} read by the FeedReader`);
    }
  });

  it('what the target reads: atom:id, http:httpMethod, stamp and user, isDeleted, prefixes, declarations on the entry, payload and resource', () => {
    const A = `xmlns:a="${NS.atom}"`;
    const variants: Array<Partial<TestEntry>> = [
      { id: ' urn:x:&#49;<![CDATA[ 2 ]]> ' }, { id: '' }, { body: '<name>\u00e9\u4e2d\ud83d\ude00</name><n2 a="\u00fc"/>' },
      { deleted: true }, { entryAttrs: ' xmlns:q="urn:q"', body: '<q:a/>' }, { entryAttrs: ` xmlns:s2="${NS.sdata}"` },
      { entryAttrs: ` ${A}`, id: 'urn:prefixed' }, { body: '<x:y xmlns:x="urn:x">\r\n<z/></x:y>' },
      { uuid: ' 00000000-0000-0000-0000-00000000abcd ' }, { tick: '00012' }, { body: '<note><![CDATA[ </entry> ]]></note><!-- </entry> -->' },
      { body: '<entry><name>a payload element named entry</name></entry>' }, { id: 'urn:a</id><id>urn:b' },
    ];
    const es = entries(60, (i) => variants[i % variants.length]!);
    let text = page({ entries: es });
    // http:httpMethod, sync:user, an empty stamp, sdata:isDeleted="1" written with another prefix, a payload's declarations.
    text = text.replace('<title>e3</title>', `<title>e3</title><h:httpMethod xmlns:h="${NS.http}"> delete </h:httpMethod>`)
      .replace('<title>e5</title>', `<title>e5</title><httpMethod xmlns="${NS.http}">put</httpMethod>`)
      .replace('<sync:stamp>2020-01-01T00:00:00Z</sync:stamp></sync:syncState><sdata:payload><account xmlns="urn:contract" sdata:uuid="00000000-0000-0000-0000-000000000007"',
        '<sync:stamp/><sync:user> someone </sync:user></sync:syncState><sdata:payload xmlns:w="urn:w"><account xmlns="urn:contract" xmlns:d="http://schemas.sage.com/sdata/sync/2008/1" d:isDeleted=" 1 " sdata:uuid="00000000-0000-0000-0000-000000000007"')
      .replace('sdata:uuid="00000000-0000-0000-0000-000000000009"', 'sdata:uuid="00000000-0000-0000-0000-000000000009" xmlns:r="urn:r"');
    const r = same(text, {}, [150, 600, 2500]);
    assert.ok(r.scanned > 5, `${r.scanned} pieces scanned`);
    const recs = r.events.filter((e) => (e as unknown[])[0] === 'entry').map((e) => (e as [string, EntryRecord])[1]);
    assert.equal(r.error, undefined);
    assert.equal(recs.length, 60);
    assert.equal(recs[3]!.httpMethod, 'DELETE');
    assert.equal(recs[5]!.httpMethod, 'PUT');
    assert.equal(recs[7]!.state!.user, 'someone');
    assert.equal(recs[7]!.isDeleted, true);
    // A sync feed with its namespaces bound to other prefixes, the entry element prefixed, CRLF, links after entries.
    let odd = page({ syncPrefix: 'zz', rootAttrs: ' xmlns:q="urn:q"', next: 'http://x/next', entries: entries(40, (i) => variants[[0, 1, 2, 3, 7, 8, 9, 10][i % 8]!]!) });
    odd = odd.replace('<feed xmlns=', '<a:feed xmlns:a="http://www.w3.org/2005/Atom"\n    xmlns=').replace('</feed>', '<link rel="next" href="http://x/n2"/></a:feed>')
      .replaceAll('<entry>', '<a:entry>').replaceAll('</entry>\n', '</a:entry>\r\n');
    const o = same(odd, {}, [120, 900]);
    assert.equal(o.error, undefined);
    assert.ok(o.scanned > 3, `${o.scanned} pieces scanned`);
  });

  it('declarations repeated entry after entry bind what each entry says (a scope is reused only for the same text in the same scope)', () => {
    // Every payload declares the same xmlns:w; the resource's prefix v is bound by every other entry (urn:e0, urn:e2…),
    // else by the feed (urn:feed).
    const text = page({ rootAttrs: ' xmlns:v="urn:feed"', entries: entries(48, (i) => ({ entryAttrs: i % 2 === 0 ? ` xmlns:v="urn:e${i}"` : '', body: '<w:n>x</w:n><v:m/>' })) })
      .replaceAll('<sdata:payload><account xmlns="urn:contract"', '<sdata:payload xmlns:w="urn:w"><v:account').replaceAll('</account>', '</v:account>');
    const r = same(text, {}, [400, 1500, 6000]);
    assert.equal(r.error, undefined);
    assert.ok(r.scanned > 5, `${r.scanned} pieces scanned`);
    const recs = r.events.filter((e) => (e as unknown[])[0] === 'entry').map((e) => (e as [string, EntryRecord])[1]);
    assert.deepEqual(recs.slice(0, 4).map((x) => x.resourceUri), ['urn:e0', 'urn:feed', 'urn:e2', 'urn:feed']);
  });

  it('invalid entries and odd markup are left to the FeedReader, with the same records and positions', () => {
    const text = page({
      entries: entries(80, (i) => [
        { tick: '-4' }, { noState: true }, { uuid: '' }, { body: '<?pi x?>' }, { body: '<a b="&#38;"/>' },
        { endpoint: '' }, { body: '<big>' + 'y'.repeat(3000) + '</big>' }, {}, {}, {},
      ][i % 11]!),
    }).replaceAll('</entry>\n<entry><id>urn:e:3', '</entry>\n<!-- between -->\n<link rel="x" href="y"/><entry><id>urn:e:3');
    const r = same(text, { maxEntryBytes: 2048 }, [150, 700, 5000]);
    assert.equal(r.error, undefined);
    assert.ok(r.scanned > 0 && r.read > 1, `${r.scanned} scanned, ${r.read} read`);
  });

  it('elements of text only inside the resource, in every spelling of their tags: the same records, and the same errors', () => {
    const leaves = [
      '<name>plain</name><n2>caf\u00e9 &amp; &#233; \u{1f600}</n2><empty></empty><x.y-z_1>t</x.y-z_1><t>]]</t><u>]</u>',
      '<a>x</a ><b >y</b><c>z</c\n>', // white space in a tag: walked
      '<deep><d2><d3>t</d3><d3b></d3b></d2>tail<d4>w</d4></deep>',
      '<list sdata:deleteMissing="true"><item sdata:uuid="i1"><v>1</v></item><item sdata:uuid="i2"><v>  </v></item></list>',
      '<q:n xmlns:q="urn:q">prefixed</q:n><n xmlns="urn:d">declared</n><n a="1">attribute</n>',
      `<${'n'.repeat(299)}>long name</${'n'.repeat(299)}>`,
    ];
    const text = page({ entries: entries(44, (i) => ({ body: leaves[i % leaves.length]! })) });
    const limits: XmlLimits = { maxDepth: 40, maxAttributeBytes: 20_000, maxAttributes: 50, maxNameBytes: 300, maxTextBetweenEntries: 30_000 };
    for (const opts of [{}, { limits }]) {
      const r = same(text, opts, [300, 2500]);
      assert.equal(r.error, undefined);
      assert.equal(r.events.filter((e) => (e as unknown[])[0] === 'entry').length, 44);
      assert.ok(r.scanned > 5, `${r.scanned} pieces scanned`);
    }
    const at20 = (body: string): string => page({ entries: entries(30, (i) => ({ body: i === 20 ? body : leaves[i % leaves.length]! })) });
    const bad: Array<[string, RegExp]> = [
      [at20('<a>x</b>'), /./],
      [at20('<a>x]]>y</a>'), /./],
      [at20('<a>&bad;</a>'), /./],
      [at20('<a>&#0;</a>'), /./],
      [at20('<a>x & y</a>'), /./],
      [at20('<q:a>unbound prefix</q:a>'), /./],
      [at20('<a q:b="1">unbound attribute prefix</a>'), /./],
      [at20('<xmlns:a>x</xmlns:a>'), /./],
      [at20('<n xmlns:q="urn:q"><q:a>bound here</q:a></n><q:a>not here</q:a>'), /./],
      [at20(`<${'n'.repeat(301)}>x</${'n'.repeat(301)}>`), /--max-name-bytes/],
      [at20('<a>'.repeat(36) + '<leaf>t</leaf>' + '</a>'.repeat(36)), /--max-depth/],
    ];
    for (const [doc, message] of bad) {
      for (const seed of [1, 2]) {
        const r = same(doc, { limits }, [400, 3000], seed);
        assert.match(r.error ?? '', /^SDATA_E_\w+ POST \/x:\d+:\d+: /);
        assert.match(r.error!, message);
      }
    }
  });

  it('a document broken anywhere fails with the same error at the same place', () => {
    const { text } = generatedFeed(40, 3);
    let failures = 0;
    for (const [k, broken] of brokenCopies(text).entries()) {
      const r = same(broken, {}, [400, 1500], k);
      if (r.error) failures++;
    }
    assert.ok(failures >= 20, `${failures} of 36 corruptions were errors`);
  });

  it('hostile input: the same limit error at the same place', () => {
    const limits: XmlLimits = { maxDepth: 40, maxAttributeBytes: 20_000, maxAttributes: 50, maxNameBytes: 300, maxTextBetweenEntries: 30_000 };
    const base = page({ entries: entries(60) });
    const at40 = (body: string): string => page({ entries: entries(60, (i) => (i === 40 ? { body } : {})) });
    const bad: Array<[string, RegExp]> = [
      [at40('<a>'.repeat(50) + '</a>'.repeat(50)), /--max-depth/],
      [at40(`<x v="${'v'.repeat(20_001)}"/>`), /--max-attribute-bytes/],
      [at40(`<x${Array.from({ length: 60 }, (_, k) => ` a${k}="1"`).join('')}/>`), /--max-attributes/],
      [at40(`<${'n'.repeat(301)}/>`), /--max-name-bytes/],
      [base.replace('</entry>\n<entry><id>urn:e:30', `</entry>\n${' '.repeat(30_001)}<entry><id>urn:e:30`), /--max-text-between-entries/],
      [base.replace('</feed>', `</feed>${' '.repeat(30_001)}`), /--max-text-between-entries/],
      [base.replace('</feed>', `${'<link rel="x" href="y"/>'.repeat(1001)}</feed>`), /atom:link/],
    ];
    for (const [text, message] of bad) {
      for (const seed of [1, 2]) {
        const r = same(text, { limits }, [700, 3000], seed);
        assert.match(r.error ?? '', /^SDATA_E_LIMIT POST \/x:\d+:\d+: /);
        assert.match(r.error!, message);
      }
    }
    const bytes = Buffer.from(base);
    bytes[bytes.indexOf('>n45<') + 3] = 0xff;
    const r = same(bytes, {}, [700, 3000]);
    assert.match(r.error ?? '', /^SDATA_E_ENCODING POST \/x:\d+:\d+: invalid UTF-8 at byte \d+ \(ff/);
  });
});
