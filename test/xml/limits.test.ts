// The limits of src/xml/limits.ts in every reader, at their edges: one under the limit reads, one over it is
// refused with SDATA_E_LIMIT (or SDATA_E_TOO_LARGE for whole documents) naming the limit, its value and its flag, at
// the place it was crossed; an entry over the cap is skipped and the rest read. Inputs are built in code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSdataError } from '../../src/protocol/errors.ts';
import { parseDigestDocument } from '../../src/xml/digest-document.ts';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import type { EntryRecord, FeedReaderOptions } from '../../src/xml/feed-types.ts';
import { DEFAULT_LIMITS, MAX_DIAGNOSES, MAX_DIGEST_BYTES, type XmlLimits } from '../../src/xml/limits.ts';
import { ResultScanner } from '../../src/xml/result-scanner.ts';
import type { ResultEntry, ResultTail } from '../../src/xml/result-types.ts';
import { parseSchemaKinds } from '../../src/xml/schema-kinds.ts';
import { parseTracking } from '../../src/xml/tracking-reader.ts';
import { page, prng } from '../helpers/feeds.ts';

const EP = 'http://a.example/sdata/app/c/-/accounts';
const entries = (n: number, body: (i: number) => string | undefined = () => undefined) =>
  Array.from({ length: n }, (_, i) => ({ endpoint: EP, tick: i + 1, body: body(i) }));

/** Reads a document with the FeedReader in chunks of random sizes (seeded); the entries, or the error. */
function read(doc: string | Uint8Array, opts: FeedReaderOptions = {}, seed = 1): { entries: EntryRecord[]; error: unknown } {
  const bytes = typeof doc === 'string' ? Buffer.from(doc) : doc;
  const got: EntryRecord[] = [];
  const r = new FeedReader({ head() {}, entry: (e) => got.push(e), end() {} }, { source: 'in.xml', ...opts });
  const rnd = prng(seed);
  try {
    for (let i = 0; i < bytes.length;) {
      const n = 1 + Math.floor(rnd() * 9000);
      r.push(bytes.subarray(i, i + n));
      i += n;
    }
    r.end();
    return { entries: got, error: undefined };
  } catch (e) {
    return { entries: got, error: e };
  }
}

/** The error must be a limit's: code, the flag, and a position. */
function limitError(e: unknown, flag: string, code = 'SDATA_E_LIMIT'): string {
  assert.ok(isSdataError(e), `expected an SdataError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  if (flag) assert.match(e.message, new RegExp(`\\(raise it with ${flag}\\)$`));
  return e.message;
}

const L = (o: Partial<XmlLimits>): Partial<XmlLimits> => o;

describe('FeedReader: limits on every element and attribute', () => {
  it('depth: as deep as the limit reads, one more is refused at that element (its name just read)', () => {
    // feed, entry, payload, account: 4 levels before the body.
    const nest = (n: number): string => '<d>'.repeat(n) + '</d>'.repeat(n);
    assert.equal(read(page({ entries: entries(3, (i) => (i === 1 ? nest(6) : undefined)) }), { limits: L({ maxDepth: 10 }) }).error, undefined);
    const doc = page({ entries: entries(3, (i) => (i === 1 ? nest(7) : undefined)) });
    const { error } = read(doc, { limits: L({ maxDepth: 10 }) });
    assert.match(limitError(error, '--max-depth'), /^in\.xml:\d+:\d+: element <d> nested 11 deep exceeds the limit of 10 levels/);
    // The position is just after the eleventh element's name (and the character that ends it).
    const line = doc.split('\n').findIndex((l) => l.includes('<d><d>')) + 1;
    const col = doc.split('\n')[line - 1]!.indexOf('<d>'.repeat(7)) + 7 * 3;
    assert.deepEqual([(error as { details: { line: number } }).details.line, (error as { details: { column: number } }).details.column], [line, col]);
    // Every reading, however chunked, stops there.
    for (const seed of [2, 3, 4]) assert.equal((read(doc, { limits: L({ maxDepth: 10 }) }, seed).error as Error).message, (error as Error).message);
    // The default is 256, and a payload 200,000 deep is refused after 256.
    const deep = page({ entries: entries(1, () => nest(200_000)) });
    assert.match(limitError(read(deep).error, '--max-depth'), /nested 257 deep exceeds the limit of 256 levels/);
  });

  it('attributes per element, namespace declarations included', () => {
    const attrs = (n: number): string => `<x${Array.from({ length: n }, (_, k) => ` a${k}="${k}"`).join('')}/>`;
    assert.equal(read(page({ entries: entries(2, () => attrs(8)) }), { limits: L({ maxAttributes: 8 }) }).error, undefined);
    assert.match(limitError(read(page({ entries: entries(2, () => attrs(9)) }), { limits: L({ maxAttributes: 8 }) }).error, '--max-attributes'),
      /the number of attributes on one element exceeds the limit of 8 /);
    const decls = `<x${Array.from({ length: 9 }, (_, k) => ` xmlns:p${k}="urn:${k}"`).join('')}/>`;
    limitError(read(page({ entries: entries(2, () => decls) }), { limits: L({ maxAttributes: 8 }) }).error, '--max-attributes');
  });

  it('an attribute value: its bytes, exactly, once read; and while it is still being read', () => {
    const limits = L({ maxAttributeBytes: 1000 });
    const withValue = (v: string): string => page({ entries: entries(2, (i) => (i === 1 ? `<x v="${v}"/>` : undefined)) });
    // 500 two-byte characters are 1000 bytes: the limit itself.
    assert.equal(read(withValue('é'.repeat(500)), { limits }).error, undefined);
    assert.match(limitError(read(withValue(`${'é'.repeat(500)}x`), { limits }).error, '--max-attribute-bytes'),
      /the value of attribute v exceeds the limit of 1000 bytes/);
    // A value that has not ended is refused where a slice of input ends, whatever the chunks.
    const long = withValue('v'.repeat(300_000));
    const first = limitError(read(long, { limits }).error, '--max-attribute-bytes');
    assert.match(first, /an attribute value being read exceeds the limit of 1000 bytes/);
    for (const seed of [5, 6]) assert.equal((read(long, { limits }, seed).error as Error).message, first);
  });

  it('names: an element name, an attribute name, a name still being read, an entity reference', () => {
    const limits = L({ maxNameBytes: 64 });
    const body = (b: string): string => page({ entries: entries(2, (i) => (i === 1 ? b : undefined)) });
    assert.equal(read(body(`<${'n'.repeat(64)} ${'a'.repeat(64)}="1"/>`), { limits }).error, undefined);
    assert.match(limitError(read(body(`<${'n'.repeat(65)}/>`), { limits }).error, '--max-name-bytes'), /element name n+… exceeds the limit of 64 bytes/);
    assert.match(limitError(read(body(`<x ${'a'.repeat(65)}="1"/>`), { limits }).error, '--max-name-bytes'), /attribute name a+… exceeds the limit of 64 bytes/);
    // Multi-byte: 33 two-byte characters are 66 bytes.
    limitError(read(body(`<${'é'.repeat(33)}/>`), { limits }).error, '--max-name-bytes');
    assert.match(limitError(read(body(`<${'n'.repeat(200_000)}/>`), { limits }).error, '--max-name-bytes'), /the element name being read exceeds/);
    assert.match(limitError(read(body(`<x ${'a'.repeat(200_000)}="1"/>`), { limits }).error, '--max-name-bytes'), /the attribute name being read exceeds/);
    assert.match(limitError(read(body(`<x>&${'e'.repeat(200_000)};</x>`), { limits }).error, '--max-name-bytes'), /the entity reference name being read exceeds/);
  });

  it('text between entries, in the head, before and after the root: between two tags, at most the limit', () => {
    const limits = L({ maxTextBetweenEntries: 100 });
    const base = page({ entries: entries(3) });
    const between = (s: string): string => base.replace('</entry>\n', `</entry>${s}`);
    // The page's own white space is far below the limit; 100 characters are allowed, 101 are not.
    assert.equal(read(between(' '.repeat(99)), { limits }).error, undefined);
    const msg = limitError(read(between(' '.repeat(101)), { limits }).error, '--max-text-between-entries');
    assert.match(msg, /text between entries \(or in the feed head\) exceeds the limit of 100 characters/);
    // Comments and processing instructions count; so does text in the head and around the root.
    limitError(read(between(`<!--${'c'.repeat(100)}-->`), { limits }).error, '--max-text-between-entries');
    limitError(read(between(`<?pi ${'c'.repeat(100)}?>`), { limits }).error, '--max-text-between-entries');
    limitError(read(base.replace('<title>t</title>', `<title>${'t'.repeat(101)}</title>`), { limits }).error, '--max-text-between-entries');
    limitError(read(base.replace('<?xml version="1.0" encoding="UTF-8"?>\n', `<?xml version="1.0" encoding="UTF-8"?>${' '.repeat(101)}`), { limits }).error, '--max-text-between-entries');
    limitError(read(`${base}${' '.repeat(101)}`, { limits }).error, '--max-text-between-entries');
    // Captured head text (atom:id) cannot add up past it across child elements either.
    const pieces = `<id>${`${'i'.repeat(60)}<b/>`.repeat(3)}</id>`;
    limitError(read(base.replace('<id>urn:test</id>', pieces), { limits }).error, '--max-text-between-entries');
    // 100 MB of it is refused after the limit, not read to its end (a slice past it at most).
    const r = new FeedReader({ head() {}, entry() {}, end() {} }, { source: 'in.xml' });
    r.push(Buffer.from(base.slice(0, base.indexOf('</entry>') + 8)));
    const space = Buffer.alloc(64 * 1024, ' ');
    let pushed = 0;
    assert.throws(() => {
      for (; pushed < 100e6; pushed += space.length) r.push(space);
    }, (e: unknown) => /--max-text-between-entries/.test(limitError(e, '--max-text-between-entries')));
    assert.ok(pushed <= DEFAULT_LIMITS.maxTextBetweenEntries + 2 * space.length, `${pushed} bytes taken`);
  });

  it('the head: at most MAX_FEED_LINKS feed links, a digest of at most MAX_DIGEST_BYTES', () => {
    const links = Array.from({ length: 1001 }, (_, i) => `<link rel="x${i}" href="h"/>`).join('');
    limitError(read(page({ entries: entries(1) }).replace('<title>t</title>', links)).error, '');
    const entry = '<sync:digestEntry><sync:endpoint>http://e.example/x</sync:endpoint><sync:tick>1</sync:tick></sync:digestEntry>';
    const big = page({ entries: entries(1) }).replace('</sync:digest>', `${entry.repeat(Math.ceil(MAX_DIGEST_BYTES / entry.length) + 1)}</sync:digest>`);
    limitError(read(big).error, '', 'SDATA_E_TOO_LARGE');
  });

  it('a DOCTYPE is refused as soon as one is being read, not at its end', () => {
    const r = new FeedReader({ head() {}, entry() {}, end() {} }, { source: 'in.xml' });
    assert.throws(() => {
      r.push(Buffer.from('<!DOCTYPE feed [<!ENTITY x "'));
      for (let i = 0; i < 100; i++) r.push(Buffer.alloc(64 * 1024, 'x'));
    }, (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_DOCTYPE');
  });
});

describe('FeedReader: the entry cap counts every byte of an entry', () => {
  it('an attribute value, a comment, a CDATA section over the cap: that entry is skipped, the others read', () => {
    for (const body of [`<x v="${'v'.repeat(300_000)}"/>`, `<!--${'c'.repeat(300_000)}-->`, `<![CDATA[${'c'.repeat(300_000)}]]>`, `<?pi ${'p'.repeat(300_000)}?>`]) {
      const r = read(page({ entries: entries(3, (i) => (i === 1 ? body : undefined)) }), { maxEntryBytes: 100_000 });
      assert.equal(r.error, undefined);
      assert.deepEqual(r.entries.map((e) => e.invalid === undefined), [true, false, true], body.slice(0, 10));
      assert.match(r.entries[1]!.invalid!, /entry is larger than the 100000-byte limit/);
      assert.equal(r.entries[1]!.atomId, 'urn:e:1');
    }
  });
});

describe('ResultScanner: the same limits', () => {
  const HEAD = '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" xmlns:http="http://schemas.sage.com/sdata/http/2008/1">\n';
  const entry = (i: number, inner = ''): string => `<entry><id>urn:r:${i}</id><http:httpStatus>200</http:httpStatus>${inner}</entry>\n`;
  const doc = (inner: (i: number) => string = () => '', n = 3): string => `${HEAD}${Array.from({ length: n }, (_, i) => entry(i, inner(i))).join('')}</feed>\n`;

  function scan(text: string | Uint8Array, opts: { limits?: Partial<XmlLimits>; maxEntryBytes?: number } = {}, seed = 1): { entries: ResultEntry[]; tail: ResultTail | undefined; error: unknown } {
    const bytes = typeof text === 'string' ? Buffer.from(text) : text;
    const got: ResultEntry[] = [];
    const s = new ResultScanner((e) => got.push(e), { source: 'res.xml', ...opts });
    const rnd = prng(seed);
    try {
      for (let i = 0; i < bytes.length;) {
        const n = 1 + Math.floor(rnd() * 20000);
        s.push(bytes.subarray(i, i + n));
        i += n;
      }
      return { entries: got, tail: s.end(), error: undefined };
    } catch (e) {
      return { entries: got, tail: undefined, error: e };
    }
  }

  it('depth, names, attributes (counted only in tags long enough to break a limit), attribute values', () => {
    const limits = L({ maxDepth: 10, maxNameBytes: 64, maxAttributes: 8, maxAttributeBytes: 1000 });
    const at = (body: string): string => doc((i) => (i === 1 ? `<sdata:payload><x>${body}</x></sdata:payload>` : ''));
    // feed, entry, payload, x: 4 levels before these.
    assert.equal(scan(at('<a><b><c><d><e><f/></e></d></c></b></a>'), { limits }).error, undefined);
    limitError(scan(at('<a><b><c><d><e><f><g/></f></e></d></c></b></a>'), { limits }).error, '--max-depth');
    limitError(scan(at(`<${'n'.repeat(65)}/>`), { limits }).error, '--max-name-bytes');
    limitError(scan(at(`<y ${'a'.repeat(65)}="1"/>`), { limits }).error, '--max-name-bytes');
    limitError(scan(at(`<y${Array.from({ length: 9 }, (_, k) => ` a${k}="1"`).join('')}/>`), { limits }).error, '--max-attributes');
    assert.equal(scan(at(`<y v="${'é'.repeat(500)}"/>`), { limits }).error, undefined);
    limitError(scan(at(`<y v="${'é'.repeat(500)}x"/>`), { limits }).error, '--max-attribute-bytes');
  });

  it('a construct that does not end for long is read on once, and refused as it grows past a limit', () => {
    const at = (body: string): string => doc((i) => (i === 1 ? `<sdata:payload><x>${body}</x></sdata:payload>` : ''));
    // Legitimately long: a 900 KB attribute value, a 2 MB comment in an entry, read exactly as saxes would.
    for (const body of [`<y v="${'v'.repeat(900_000)}"/>`, `<!--${'c'.repeat(2_000_000)}-->`, `<![CDATA[${'c'.repeat(2_000_000)}]]>`]) {
      const r = scan(at(body));
      assert.equal(r.error, undefined, String(r.error));
      assert.deepEqual(r.entries.map((e) => e.atomId), ['urn:r:0', 'urn:r:1', 'urn:r:2']);
    }
    assert.match(limitError(scan(at(`<y v="${'v'.repeat(3_000_000)}"/>`)).error, '--max-attribute-bytes'), /attribute value being read/);
    assert.match(limitError(scan(at(`<y${' a=""'.repeat(100_000)}/>`)).error, '--max-attributes'), /number of attributes/);
    assert.match(limitError(scan(at(`<${'n'.repeat(200_000)}/>`)).error, '--max-name-bytes'), /element name being read/);
    assert.match(limitError(scan(at(`<!--${'c'.repeat(3_000_000)}-->`), { maxEntryBytes: 1_000_000 }).error, '--max-entry-bytes'), /a comment longer than an entry may be/);
    // Outside entries, a comment is text between entries.
    const between = `${HEAD}${entry(0)}<!--${'c'.repeat(2_000_000)}-->${entry(1)}</feed>`;
    assert.match(limitError(scan(between).error, '--max-text-between-entries'), /a comment between entries/);
  });

  it('text between entries, and captured text, bounded', () => {
    limitError(scan(`${HEAD}${entry(0)}${' '.repeat(1_100_000)}${entry(1)}</feed>`).error, '--max-text-between-entries');
    assert.equal(scan(`${HEAD}${entry(0)}${' '.repeat(1_000_000)}${entry(1)}</feed>`).error, undefined);
    const message = `<http:httpMessage>${'m'.repeat(300_000)}</http:httpMessage>`;
    limitError(scan(doc((i) => (i === 1 ? message : '')), { maxEntryBytes: 200_000 }).error, '--max-entry-bytes');
    // A '&' that ends no reference within a name's length is not held back with the text after it.
    assert.equal(scan(doc((i) => (i === 1 ? `<sdata:payload><x>&${'a'.repeat(2_000_000)} </x></sdata:payload>` : ''))).error, undefined);
  });

  it(`at most ${MAX_DIAGNOSES} diagnoses are kept per entry`, () => {
    const d = '<sdata:diagnosis><sdata:severity>error</sdata:severity><sdata:message>m</sdata:message></sdata:diagnosis>';
    const r = scan(doc((i) => (i === 1 ? d.repeat(MAX_DIAGNOSES + 20) : '')));
    assert.equal(r.error, undefined);
    assert.equal(r.entries[1]!.diagnoses.length, MAX_DIAGNOSES);
  });
});

describe('documents read whole: size, and the default limits', () => {
  const nest = (n: number): string => '<d>'.repeat(n) + '</d>'.repeat(n);
  const DIGEST = '<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"><digestEntry><endpoint>http://a/x</endpoint><tick>3</tick></digestEntry>';
  it('a digest document', () => {
    assert.equal(parseDigestDocument(`${DIGEST}</digest>`).entries.size, 1);
    assert.throws(() => parseDigestDocument(`${DIGEST}${nest(300)}</digest>`), (e: unknown) => /nested 257 deep/.test(limitError(e, '--max-depth')));
    assert.throws(() => parseDigestDocument(`${DIGEST}${' '.repeat(MAX_DIGEST_BYTES)}</digest>`), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_TOO_LARGE');
  });
  it('a schema, tracking and diagnoses (lenient: nothing read)', () => {
    const schema = (inner: string): string => `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">${inner}</xs:schema>`;
    assert.deepEqual(parseSchemaKinds(schema('')), []);
    assert.throws(() => parseSchemaKinds(schema(nest(300))), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_LIMIT');
    const attrs = (n: number): string => `<x${Array.from({ length: n }, (_, k) => ` a${k}=""`).join('')}/>`;
    const tracking = (before: string): string => `<tracking xmlns="http://schemas.sage.com/sdata/2008/1">${before}<pollingMillis>7</pollingMillis></tracking>`;
    assert.deepEqual(parseTracking(tracking(attrs(1024))), { pollingMillis: 7 });
    // Reading stops at the element over the limit: what comes after it is not read.
    assert.deepEqual(parseTracking(tracking(attrs(1025))), {});
  });
});
