import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestKey, serializeDigest, type Digest } from '../../src/protocol/digest.ts';
import { NS } from '../../src/protocol/namespaces.ts';
import { pageTexts, resolveFeedOptions } from '../../src/gen/synthetic-feed.ts';
import { parseDigestDocument } from '../../src/xml/digest-document.ts';
import { isAscii, scanDigest, type DigestScanLimits } from '../../src/xml/digest-scanner.ts';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import type { EntryRecord, FeedHead, FeedReaderOptions } from '../../src/xml/feed-types.ts';
import { MAX_DIGEST_BYTES } from '../../src/xml/limits.ts';

// The digest scanner reads a digest's content where it is written the plain way, and declines everything else; what it
// reads must be what saxes reads (the oracle: the same readers with the scanner off), with the same positions after it.

const LIMITS = { maxText: Infinity, maxNameBytes: 1024, depthLeft: 100 };

/** The scanner on a digest's content, as the readers call it (ASCII only). */
function scanDigestContent(content: string, prefix: string, limits: DigestScanLimits): Digest | undefined {
  return isAscii(content) ? scanDigest(Buffer.from(content, 'latin1'), prefix, limits)?.digest : undefined;
}

interface Shape {
  prefix?: string;
  /** Between elements. */
  sep?: string;
  entries?: number;
  origin?: boolean;
  prio?: boolean;
}

/** The content of a digest element (between its tags). */
function content({ prefix = 'sync', sep = '', entries = 3, origin = true, prio = true }: Shape = {}): string {
  const q = prefix ? `${prefix}:` : '';
  const el = (local: string, text: string): string => `<${q}${local}>${text}</${q}${local}>`;
  let s = origin ? `${sep}${el('origin', 'http://src.example/sdata/app/c/-/accounts')}` : '';
  for (let k = 0; k < entries; k++) {
    s += `${sep}<${q}digestEntry>${sep}${el('endpoint', ` http://ep${k}.example/sdata/app/c/-/accounts `)}${sep}${el('tick', `${k * 7 + 1}`)}` +
      `${sep}${el('stamp', '2024-05-01T00:00:00.000Z')}${prio ? `${sep}${el('conflictPriority', ` ${k % 3} `)}` : ''}${sep}</${q}digestEntry>`;
  }
  return `${s}${sep}`;
}

/** A `$syncDigest` entry holding `inner` as its digest's content; `after` follows the digest element. */
function doc(inner: string, prefix = 'sync', after = ''): string {
  const q = prefix ? `${prefix}:` : '';
  const decl = prefix ? ` xmlns:${prefix}="${NS.sync}"` : '';
  const open = prefix ? `<${q}digest>` : `<digest xmlns="${NS.sync}">`;
  return `<?xml version="1.0" encoding="utf-8"?>\n<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"${decl}>\n  <id>http://x.example/$syncDigest</id>\n` +
    `  <sdata:payload>${open}${inner}</${q}digest>${after}</sdata:payload>\n</entry>\n`;
}

/** What a digest says, and its endpoints as written. */
const said = (d: Digest): unknown => [digestKey(d), [...d.entries.values()].map((e) => e.endpoint)];

/** The outcome of a parse: what it read, or its error's code and message. */
function outcome(f: () => Digest): unknown {
  try {
    return said(f());
  } catch (e) {
    const x = e as { code?: string; message: string };
    return { code: x.code, message: x.message };
  }
}

const both = (xml: string): [unknown, unknown] => [outcome(() => parseDigestDocument(xml, 'd.xml')), outcome(() => parseDigestDocument(xml, 'd.xml', false))];

describe('digest scanner', () => {
  const plain: Array<[string, Shape]> = [
    ['one line', {}], ['LF and indentation', { sep: '\n    ' }], ['CR LF', { sep: '\r\n  ' }], ['lone CR', { sep: '\r' }], ['tabs', { sep: '\t' }],
    ['no prefix', { prefix: '' }], ['another prefix', { prefix: 'x.y-z' }], ['no origin, no conflictPriority', { origin: false, prio: false }],
    ['no entries', { entries: 0 }], ['400 entries', { entries: 400, sep: '\n' }],
  ];

  it('reads the plain forms, as saxes does', () => {
    for (const [name, shape] of plain) {
      const inner = content(shape);
      const d = scanDigestContent(inner, shape.prefix ?? 'sync', LIMITS);
      assert.ok(d, `${name}: taken`);
      const xml = doc(inner, shape.prefix);
      assert.deepEqual(said(d), outcome(() => parseDigestDocument(xml, 'd.xml', false)), name);
      assert.deepEqual(outcome(() => parseDigestDocument(xml, 'd.xml')), said(d), name);
    }
  });

  it('a document with characters beyond ASCII around its digest: the digest scanned from bytes, as saxes reads it', () => {
    // An all-ASCII document is scanned as a slice of its text; any other character anywhere sends it the bytes way.
    const inner = content({ entries: 5, sep: '\n  ' });
    for (const xml of [doc(inner, 'sync', '<!-- 😀 après -->'), doc(inner, 'sync').replace('<id>', '<title>Übersicht 同期</title><id>')]) {
      const [fast, oracle] = both(xml);
      assert.deepEqual(fast, oracle);
      assert.equal((fast as unknown[])[0], digestKey(parseDigestDocument(doc(inner), 'd.xml')));
      // An error after the digest is placed where saxes alone places it, past a multi-byte character or not.
      const broken = `${xml.slice(0, xml.indexOf('</sdata:payload>'))}<x></sdata:payload>`;
      assert.deepEqual(...both(broken));
    }
  });

  it('declines anything else, and the document reads as saxes reads it', () => {
    const base = content({ entries: 2 });
    const edits: Array<[string, string]> = [
      ['a comment', base.replace('<sync:digestEntry>', '<!-- c --><sync:digestEntry>')],
      ['CDATA', base.replace('>1<', '><![CDATA[1]]><')],
      ['a reference', base.replace('accounts ', 'accounts?a=1&amp;b=2 ')],
      ['a character reference', base.replace('>1<', '>&#49;<')],
      ['non-ASCII', base.replace('ep0', 'épée')],
      ['an attribute', base.replace('<sync:tick>', '<sync:tick a="1">')],
      ['white space in a tag', base.replace('</sync:tick>', '</sync:tick >')],
      ['an empty-element tag', base.replace(/<sync:conflictPriority>[^<]*<\/sync:conflictPriority>/, '<sync:conflictPriority/>')],
      ['an unknown child', base.replace('<sync:tick>', '<sync:other>z</sync:other><sync:tick>')],
      ['an element of another namespace', base.replace('<sync:tick>', '<sdata:x>z</sdata:x><sync:tick>')],
      ['another prefix for the namespace', base.replace('<sync:tick>1</sync:tick>', '<s2:tick xmlns:s2="http://schemas.sage.com/sdata/sync/2008/1">1</s2:tick>')],
      ['text in an entry', base.replace('<sync:tick>', 'loose<sync:tick>')],
      ['another order', base.replace(/(<sync:endpoint>[^<]*<\/sync:endpoint>)(<sync:tick>[^<]*<\/sync:tick>)/, '$2$1')],
      ['a nested entry', base.replace('<sync:tick>', '<sync:digestEntry><sync:tick>')],
      [']]> in text', base.replace('2024-05-01', ']]>2024-05-01')],
      ['a mismatched end tag', base.replace('</sync:tick>', '</sync:tock>')],
      ['a bad tick', base.replace('>1<', '>-5<')],
      ['no endpoint', base.replace(/<sync:endpoint>[^<]*<\/sync:endpoint>/, '')],
      ['a bad conflictPriority', base.replace('> 0 <', '>high<')],
      ['a control character', base.replace('accounts ', 'accounts\u0001 ')],
      ['a line break in a text', base.replace('>1<', '>\r\n1<')],
      ['> in a text', base.replace('accounts ', 'accounts> ')],
      ['an unclosed entry', base.replace(/<\/sync:digestEntry>$/, '')],
    ];
    for (const [name, inner] of edits) {
      assert.equal(scanDigestContent(inner, 'sync', LIMITS), undefined, `${name}: declined`);
      const [fast, oracle] = both(doc(inner));
      assert.deepEqual(fast, oracle, name);
    }
  });

  it('gives the element as written where it says what serializeDigest writes, and only there', () => {
    const q = (prefix: string): string => (prefix ? `${prefix}:` : '');
    const el = (prefix: string, local: string, text: string): string => `<${q(prefix)}${local}>${text}</${q(prefix)}${local}>`;
    /** Entries written as serializeDigest writes them (canonical values, origin first, entries in endpoint order). */
    const canonical = (prefix: string, sep: string, order = [0, 1, 2]): string =>
      `${sep}${el(prefix, 'origin', 'http://src.example/sdata/app/c/-/accounts')}` + order.map((k) =>
        `${sep}<${q(prefix)}digestEntry>${el(prefix, 'endpoint', `http://ep${k}.example/sdata/app/c/-/accounts`)}${el(prefix, 'tick', String(k * 70))}` +
        `${el(prefix, 'stamp', '2024-05-01T00:00:00.000Z')}${el(prefix, 'conflictPriority', String(k - 1))}</${q(prefix)}digestEntry>`).join('') + sep;
    /** The digest a document holding `written` (inside an element binding the sync prefix, as a feed's root does) says. */
    const text = (written: readonly Uint8Array[]): string => Buffer.concat(written).toString('utf8');
    const reread = (written: readonly Uint8Array[]): Digest => parseDigestDocument(`<r xmlns:sync="${NS.sync}">${text(written)}</r>`, 'w.xml', false);
    for (const prefix of ['sync', '', 'x.y-z']) {
      for (const sep of ['', '\n    ', '\r\n\t']) {
        const inner = canonical(prefix, sep);
        const r = scanDigest(Buffer.from(inner, 'latin1'), prefix, LIMITS);
        assert.ok(r?.written !== undefined, `prefix '${prefix}', separator ${JSON.stringify(sep)}: written`);
        assert.equal(serializeDigest(reread(r.written)), serializeDigest(r.digest), `prefix '${prefix}': says the same`);
        if (prefix === 'sync' && sep === '') assert.equal(text(r.written), serializeDigest(r.digest), 'one line: exactly what serializeDigest writes');
      }
    }
    // Entries in another order: the same digest, written in the page's order.
    const r = scanDigest(Buffer.from(canonical('sync', '\n', [2, 0, 1]), 'latin1'), 'sync', LIMITS)!;
    assert.ok(r.written !== undefined);
    assert.equal(serializeDigest(reread(r.written)), serializeDigest(r.digest));
    // Anything serializeDigest writes otherwise: the digest still, no text.
    const base = canonical('sync', '');
    const otherwise: Array<[string, string]> = [
      ['an endpoint with spaces', base.replace('>http://ep1', '> http://ep1')],
      ['a stamp with a space', base.replace('.000Z<', '.000Z <')],
      ['an origin with a space', base.replace('>http://src', '> http://src')],
      ['a tick with a leading zero', base.replace('>70<', '>070<')],
      ['a tick with a plus sign', base.replace('>70<', '>+70<')],
      ['a tick with a space', base.replace('>70<', '>70 <')],
      ['a conflictPriority with a leading zero', base.replace('>1</sync:conflictPriority>', '>01</sync:conflictPriority>')],
      ['a conflictPriority with a space', base.replace('>1</sync:conflictPriority>', '> 1</sync:conflictPriority>')],
      ['no conflictPriority (written as 9)', base.replace('<sync:conflictPriority>1</sync:conflictPriority>', '')],
      ['an endpoint twice', base.replace('http://ep2.', 'http://ep1.')],
      ['an endpoint twice, spelt otherwise', base.replace('http://ep2.example', 'HTTP://EP1.example')],
    ];
    for (const [name, inner] of otherwise) {
      const x = scanDigest(Buffer.from(inner, 'latin1'), 'sync', LIMITS);
      assert.ok(x !== undefined, `${name}: read`);
      assert.equal(x.written, undefined, `${name}: no text`);
    }
  });

  it('declines where a limit would be crossed, so that the reader reports it', () => {
    // White space counts in all: within the limit together, each run is (more, and saxes reads it: the same digest).
    const inner = content({ sep: `\n${' '.repeat(69)}` });
    assert.ok(scanDigestContent(inner, 'sync', { ...LIMITS, maxText: 2000 }));
    assert.equal(scanDigestContent(inner, 'sync', { ...LIMITS, maxText: 69 }), undefined, 'white space');
    assert.equal(scanDigestContent(content(), 'sync', { ...LIMITS, maxText: 40 }), undefined, 'an endpoint');
    assert.equal(scanDigestContent(inner, 'sync', { ...LIMITS, maxNameBytes: 20 }), undefined, 'sync:conflictPriority');
    assert.equal(scanDigestContent(inner, 'sync', { ...LIMITS, depthLeft: 1 }), undefined, 'depth');
  });

  it('errors after the digest are placed where saxes alone places them', () => {
    for (const sep of ['', '\n  ', '\r\n', '\r']) {
      for (const after of ['<bad', '</sdata:nope>', '\n\n  <x>&undefined;</x>', '<sdata:a/>\n<sdata:b></sdata:c>', '\n<!DOCTYPE x>']) {
        const xml = doc(content({ sep }), 'sync', after);
        const [fast, oracle] = both(xml);
        assert.deepEqual(fast, oracle, JSON.stringify({ sep, after }));
        assert.ok(typeof fast === 'object' && fast !== null && 'message' in fast, 'an error');
      }
    }
  });

  it('a limit crossed after the digest is placed where saxes alone places it', () => {
    const deep = `${'<sdata:d>'.repeat(300)}${'</sdata:d>'.repeat(300)}`;
    const [fast, oracle] = both(doc(content({ sep: '\n' }), 'sync', deep));
    assert.deepEqual(fast, oracle);
    assert.match(String((fast as { message: string }).message), /d\.xml:\d+:\d+: .*maxDepth|nested/);
  });

  it('only the first digest counts, and a digest start tag in a comment is not one', () => {
    const xml = doc(content(), 'sync').replace('<sdata:payload>', '<sdata:payload><!-- <sync:digest> -->');
    assert.deepEqual(...both(xml));
    const two = doc(content(), 'sync', `<sync:digest>${content({ entries: 1 })}</sync:digest>`);
    const [fast, oracle] = both(two);
    assert.deepEqual(fast, oracle);
  });
});

type Read = { head?: unknown; entries: unknown[]; error?: unknown; scanned: number };

/**
 * Reads `xml` pushed in pieces — of `cut` bytes each, or cut at the byte offsets `cut` — and says what the reader
 * made of it: the head's digest, the entries (number, line, column, id, endpoint), the error if any, the digests scanned.
 */
function readFeed(xml: string, cut: number | number[], opts: FeedReaderOptions): Read {
  const out: Read = { entries: [], scanned: 0 };
  const r = new FeedReader({
    head: (h: FeedHead) => void (out.head = h.digest ? said(h.digest) : undefined),
    entry: (e: EntryRecord) => void out.entries.push([e.index, e.line, e.column, e.atomId, e.state?.endpoint]),
    end: () => undefined,
  }, { source: 'f.xml', ...opts });
  const bytes = Buffer.from(xml);
  const cuts = typeof cut === 'number' ? Array.from({ length: Math.ceil(bytes.length / cut) }, (_, k) => (k + 1) * cut) : [...cut, bytes.length];
  try {
    let from = 0;
    for (const at of cuts) {
      r.push(bytes.subarray(from, Math.min(at, bytes.length)));
      from = at;
    }
    r.end();
  } catch (e) {
    const x = e as { code?: string; message: string };
    out.error = { code: x.code, message: x.message };
  }
  out.scanned = r.digestsScanned;
  return out;
}

describe('feed head digest', () => {
  const o = resolveFeedOptions({ count: 40, seed: 3, endpoints: 300 });
  const feed = [...pageTexts(o, 0)].join('');

  it('the scanner reads the head digest of a generated feed: the same head, entries and positions as saxes alone', () => {
    for (const chunk of [7, 1000, 65536]) {
      const fast = readFeed(feed, chunk, {});
      const oracle = readFeed(feed, chunk, { digestScanner: false });
      assert.equal(fast.error, undefined);
      assert.equal(fast.entries.length, 40);
      assert.deepEqual({ ...fast, scanned: 0 }, { ...oracle, scanned: 0 }, `chunks of ${chunk}`);
      assert.equal(oracle.scanned, 0);
      // A start tag cut by a slice's end is saxes' (7-byte chunks: the tag is split, or in a slice of its own).
      if (chunk >= 1000) assert.equal(fast.scanned, 1, `chunks of ${chunk}: scanned`);
    }
  });

  it('an end tag cut between two pushes, anywhere, is found: the same read as saxes alone', () => {
    const end = Buffer.from(feed).indexOf('</sync:digest>');
    const oracle = readFeed(feed, [], { digestScanner: false });
    for (let k = 0; k <= '</sync:digest>'.length; k++) {
      const got = readFeed(feed, [end - 500, end + k], {});
      assert.deepEqual({ ...got, scanned: 0 }, { ...oracle, scanned: 0 }, `cut ${k} into the end tag`);
      assert.equal(got.scanned, 1, `cut ${k} into the end tag: scanned`);
    }
    // A start tag cut in two is saxes' to read: the same result, not scanned.
    const start = Buffer.from(feed).indexOf('<sync:digest>');
    const cut = readFeed(feed, [start + 5], {});
    assert.deepEqual({ ...cut, scanned: 0 }, { ...oracle, scanned: 0 });
    assert.equal(cut.scanned, 0);
  });

  it('errors after the head digest, and in it, are placed where saxes alone places them', () => {
    const cases: Array<[string, string, boolean?]> = [
      ['a comment in the digest (read by saxes)', feed.replace('<sync:digestEntry>', '<!-- x --><sync:digestEntry>'), false],
      ['a malformed entry', feed.replace('</sync:tick>', '</sync:tock>')],
      ['bad bytes in an entry', feed.replace('<sync:tick>', '<sync:tick>\u{fffe}')],
      ['a bad tick in the digest', feed.replace(/(<sync:digestEntry><sync:endpoint>[^<]*<\/sync:endpoint><sync:tick>)\d+/, '$1-1')],
      ['a digest never closed', feed.slice(0, feed.indexOf('</sync:digest>'))],
      ['no entries, the feed cut after the digest', feed.slice(0, feed.indexOf('</sync:digest>') + 20)],
    ];
    for (const [name, xml, fails = true] of cases) {
      for (const chunk of [13, 4096]) {
        const fast = readFeed(xml, chunk, {});
        assert.deepEqual({ ...fast, scanned: 0 }, { ...readFeed(xml, chunk, { digestScanner: false }), scanned: 0 }, `${name}, chunks of ${chunk}`);
        assert.equal(fast.error !== undefined, fails, `${name}: ${fails ? 'an error' : 'no error'}`);
      }
    }
  });

  it('the limits on text between tags and on the digest size hold as with saxes alone', () => {
    const spaced = feed.replace(/<sync:digestEntry>/g, '\n        <sync:digestEntry>');
    for (const maxTextBetweenEntries of [8, 9, 100]) {
      const opts = { limits: { maxTextBetweenEntries } };
      const fast = readFeed(spaced, 4096, opts);
      assert.deepEqual({ ...fast, scanned: 0 }, { ...readFeed(spaced, 4096, { ...opts, digestScanner: false }), scanned: 0 }, `maxTextBetweenEntries ${maxTextBetweenEntries}`);
    }
    // Over MAX_DIGEST_BYTES: refused where saxes refuses it.
    const big = resolveFeedOptions({ count: 2, seed: 3, endpoints: Math.ceil(MAX_DIGEST_BYTES / 180) });
    const huge = [...pageTexts(big, 0)].join('');
    const fast = readFeed(huge, 65536, {});
    assert.deepEqual(fast, { ...readFeed(huge, 65536, { digestScanner: false }), scanned: 0 });
    assert.match(String((fast.error as { message: string }).message), /sync:digest is larger than/);
  });
});

describe('feed head digest, read from the bytes it came in', () => {
  // A digest over several of the reader's 64 KiB slices, with characters beyond ASCII before it and after it.
  const o = resolveFeedOptions({ count: 5, seed: 4, endpoints: 1200 });
  const plainFeed = [...pageTexts(o, 0)].join('');
  const digestAt = plainFeed.indexOf('<sync:digest>');

  /** The feed with a comment before the digest whose `é` begins `straddle` bytes before the 64 KiB mark. */
  function feedWith(straddle: number): Buffer {
    const before = Buffer.byteLength(plainFeed.slice(0, digestAt)) + '<!-- '.length;
    const pad = 65536 - straddle - before;
    assert.ok(pad > 0);
    return Buffer.from(`${plainFeed.slice(0, digestAt)}<!-- ${'x'.repeat(pad)}é Übersicht 同期 -->${plainFeed.slice(digestAt)}`);
  }

  /** The head's digest as read, its element as written, and what the reader read, pushed in `pushes`. */
  function read(pushes: Uint8Array[], digestScanner = true): { said: unknown; written: readonly Uint8Array[] | undefined; entries: number; scanned: number } {
    let said: unknown;
    let written: readonly Uint8Array[] | undefined;
    let entries = 0;
    const r = new FeedReader({
      head: (h: FeedHead) => {
        said = h.digest ? digestKey(h.digest) : undefined;
        written = h.digestWritten;
      },
      entry: () => void entries++,
      end: () => undefined,
    }, { source: 'f.xml', digestScanner });
    for (const p of pushes) r.push(p);
    r.end();
    return { said, written, entries, scanned: r.digestsScanned };
  }

  it('the content as written is views of the bytes pushed, equal to them, and says what saxes reads', () => {
    for (const straddle of [1, 0, 2000]) {
      const bytes = feedWith(straddle);
      const content = bytes.subarray(bytes.indexOf('<sync:digest>') + '<sync:digest>'.length, bytes.indexOf('</sync:digest>'));
      assert.ok(content.length > 3 * 65536 && bytes.indexOf('é') < bytes.indexOf('<sync:digest>'));
      const got = read([bytes]);
      assert.equal(got.scanned, 1, `straddle ${straddle}: scanned`);
      assert.equal(got.entries, 5);
      assert.deepEqual(got.said, read([bytes], false).said, `straddle ${straddle}: the digest saxes reads`);
      const parts = got.written!.slice(1, -1);
      assert.ok(Buffer.concat(parts).equals(content), `straddle ${straddle}: the content as written`);
      assert.ok(parts.every((p) => p.buffer === bytes.buffer), `straddle ${straddle}: not a copy`);
    }
  });

  it('an endpoint named twice (spelt two ways): no element as written, and the digest saxes reads', () => {
    const entry = (ep: string, tick: number): string => `<sync:digestEntry><sync:endpoint>${ep}</sync:endpoint><sync:tick>${tick}</sync:tick><sync:stamp>2024-05-01T00:00:00.000Z</sync:stamp><sync:conflictPriority>5</sync:conflictPriority></sync:digestEntry>`;
    const twice = plainFeed.replace('</sync:origin>', `</sync:origin>${entry('http://twice.example/x', 5)}`).replace('</sync:digest>', `${entry('HTTP://TWICE.example/x', 9)}</sync:digest>`);
    const once = plainFeed.replace('</sync:origin>', `</sync:origin>${entry('http://twice.example/x', 5)}`);
    for (const [xml, written] of [[twice, false], [once, true]] as const) {
      const bytes = Buffer.from(xml);
      const got = read([bytes]);
      assert.equal(got.scanned, 1);
      assert.equal(got.written !== undefined, written);
      assert.deepEqual(got.said, read([bytes], false).said);
    }
  });

  it('in pieces of any size, cut anywhere (inside a character before the digest, inside its tags): the same content', () => {
    const bytes = feedWith(1);
    const start = bytes.indexOf('<sync:digest>');
    const end = bytes.indexOf('</sync:digest>');
    const content = bytes.subarray(start + '<sync:digest>'.length, end);
    const oracle = read([bytes], false).said;
    const cuts = [[65535], [65535, start + 13, start + 14], [start + 13, end + 3], [1000, 70_000, 140_000], [start - 1, start + 20_000, end]];
    for (const at of cuts) {
      const pushes: Uint8Array[] = [];
      let from = 0;
      // Each piece a Buffer of its own, as reads from a socket are.
      for (const k of [...at, bytes.length]) {
        pushes.push(Buffer.from(bytes.subarray(from, k)));
        from = k;
      }
      const got = read(pushes);
      assert.deepEqual(got.said, oracle, `cut at ${at.join(', ')}`);
      // No cut splits the start tag, which only saxes reads whole: scanned every time.
      assert.equal(got.scanned, 1, `cut at ${at.join(', ')}: scanned`);
      assert.ok(Buffer.concat(got.written!.slice(1, -1)).equals(content), `cut at ${at.join(', ')}: the content as written`);
    }
  });
});
