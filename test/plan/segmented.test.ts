import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { SegmentedPlan } from '../../src/plan/parallel.ts';
import { Planner, type InvalidEntry } from '../../src/plan/planner.ts';
import { isSdataError } from '../../src/protocol/errors.ts';
import { resolveLimits, type XmlLimits } from '../../src/xml/limits.ts';
import { brokenCopies, generatedFeed, page, prng, splitStream } from '../helpers/feeds.ts';
import { HOSTILE } from '../helpers/hostile.ts';
import { MemoryChunkTarget, planPages, TARGET_AT_20, TEST_EP, withoutClock, type PlanOpts, type PlanOutcome } from '../helpers/plan-text.ts';

// Segmented planning (plan/parallel.ts) must give exactly what the one-pass reader gives: the same chunks, counts,
// warnings, and the same first error at the same line:column. These tests run both on the same input and compare,
// with pieces far smaller than the default so that every feed is cut in many places, on this thread and a helper.

interface Outcome extends PlanOutcome {
  counts?: SegmentedPlan['counts'];
}

/** `<updated>` of our own chunk heads is the wall clock. */
const stable = (chunks: string[]): string[] => chunks.map(withoutClock);

async function sequential(pages: Array<string | Uint8Array>, o: PlanOpts): Promise<Outcome> {
  try {
    const r = await planPages(pages, o);
    return { chunks: stable(r.chunks), finals: r.finals, stats: r.stats, invalid: r.invalid, error: undefined };
  } catch (e) {
    if (!isSdataError(e)) throw e;
    return { chunks: [], finals: [], stats: undefined, invalid: [], error: `${e.code} ${e.message}` };
  }
}

async function segmented(pages: Array<string | Uint8Array>, o: PlanOpts, seg: { segmentBytes: number; helpers: number; seed: number }): Promise<Outcome> {
  const out = new MemoryChunkTarget();
  const invalid: InvalidEntry[] = [];
  const planner = new Planner({ ...o, out, onInvalid: (e) => invalid.push(e) });
  const sp = new SegmentedPlan({
    target: o.target, maxEntryBytes: o.maxEntryBytes ?? 16 * 1024 * 1024, limits: resolveLimits(o.limits), segmentBytes: seg.segmentBytes, helpers: seg.helpers,
  });
  const rnd = prng(seg.seed);
  try {
    let i = 0;
    for (const p of pages) {
      const bytes = Buffer.from(p);
      // Input arrives in uneven reads, as from a pipe.
      const cuts: number[] = [];
      for (let at = 0; at < bytes.length; at += 1 + Math.floor(rnd() * seg.segmentBytes * 2)) cuts.push(at);
      await sp.page(splitStream(bytes, cuts), planner, `page${++i}`);
    }
    const stats = await planner.finish();
    return { counts: sp.counts, chunks: stable(out.chunks), finals: out.finals, stats, invalid, error: undefined };
  } catch (e) {
    if (!isSdataError(e)) throw e;
    return { counts: sp.counts, chunks: [], finals: [], stats: undefined, invalid: [], error: `${e.code} ${e.message}` };
  } finally {
    await sp.close();
  }
}

/** Both ways agree; returns the one-pass outcome, with the pieces counted over all segmented runs. */
async function same(pages: Array<string | Uint8Array>, o: PlanOpts, segs: Array<{ segmentBytes: number; helpers: number }>, seed = 1): Promise<Outcome> {
  const want = await sequential(pages, o);
  const counts = { helper: 0, here: 0, again: 0, scanned: 0 };
  for (const s of segs) {
    const { counts: c, ...got } = await segmented(pages, o, { ...s, seed });
    assert.deepEqual(got, want, `segmentBytes ${s.segmentBytes}, helpers ${s.helpers}`);
    counts.helper += c!.helper;
    counts.here += c!.here;
    counts.again += c!.again;
    counts.scanned += c!.scanned;
  }
  return { ...want, counts };
}

const SEGS = [
  { segmentBytes: 200, helpers: 0 },
  { segmentBytes: 1500, helpers: 1 },
  { segmentBytes: 9000, helpers: 1 },
];

describe('segmented planning = one-pass planning', () => {
  it('a generated feed (endpoints, deletions, CDATA, entities, non-ASCII), one feed and chunked', async () => {
    const { text, target } = generatedFeed(300, 7);
    const one = await same([text], { target }, SEGS);
    assert.equal((one.stats as { read: number }).read, 300);
    assert.ok(one.counts!.helper > 20 && one.counts!.here > 20, JSON.stringify(one.counts));
    // Pieces of several entries each (as plan's 64 KiB ones are): most went through the fast scanner
    // (xml/piece-scanner.ts; not a document's first piece, nor its last), whose batches had to equal saxes' here.
    const wide = await same([text], { target }, [{ segmentBytes: 6000, helpers: 0 }, { segmentBytes: 6000, helpers: 1 }]);
    const c = wide.counts!;
    assert.ok(c.again === 0 && c.scanned >= (c.helper + c.here) * 0.8, JSON.stringify(c));
    await same([text], { target, chunkEntries: 7, chunkBytes: 6000 }, SEGS);
    await same([text], {}, [{ segmentBytes: 700, helpers: 1 }]);
  });

  it('`</entry>` where it is not the end of an entry: CDATA, comments, payload elements of that name', async () => {
    const entries = [];
    for (let i = 0; i < 40; i++) {
      const trick = [
        '<note><![CDATA[ a </entry> in CDATA ]]></note>',
        '<!-- </entry> in a comment -->',
        '<entry><name>a payload element in the atom namespace</name></entry>',
        '<x:entry xmlns:x="urn:x">prefixed</x:entry>',
        '<name>plain</name>',
      ][i % 5];
      entries.push({ endpoint: 'http://a.example/sdata/app/c/-/accounts', tick: 50 + i * 3, body: trick });
    }
    const text = page({ entries, digest: [['http://a.example/sdata/app/c/-/accounts', 100, 5]] });
    let again = 0;
    for (const seed of [1, 2, 3, 4]) {
      const r = await same([text], {}, [{ segmentBytes: 60, helpers: 0 }, { segmentBytes: 60, helpers: 1 }, { segmentBytes: 300, helpers: 1 }], seed);
      assert.equal((r.stats as { read: number }).read, 40);
      again += r.counts!.again;
    }
    // The wrong cuts were taken and read again, on this thread.
    assert.ok(again > 10, `${again} pieces read again`);
  });

  it('a prefixed entry element, a root start tag over several lines, CRLF, U+FEFF between entries, links after entries', async () => {
    let text = page({ entries: Array.from({ length: 30 }, (_, i) => ({ endpoint: 'http://a.example/sdata/app/c/-/accounts', tick: i * 9 })) });
    text = text.replace('<feed xmlns=', '<a:feed xmlns:a="http://www.w3.org/2005/Atom"\n    xmlns=')
      .replace('</feed>', '<link rel="next" href="http://x/next"/></a:feed>')
      .replaceAll('<entry>', '<a:entry>').replaceAll('</entry>\n', '</a:entry>\uFEFF\r\n');
    await same([text], {}, [{ segmentBytes: 100, helpers: 0 }, { segmentBytes: 900, helpers: 1 }]);
    // U+FEFF right after a cut, on the line of the next entry, which is invalid: its column is reported.
    const bom = page({ entries: Array.from({ length: 20 }, (_, i) => ({ endpoint: 'http://a.example/sdata/app/c/-/accounts', tick: i % 2 ? 'x' : i })) })
      .replaceAll('</entry>\n', '</entry>\uFEFF');
    const r = await same([bom], {}, [{ segmentBytes: 90, helpers: 0 }, { segmentBytes: 500, helpers: 1 }]);
    assert.equal(r.invalid.length, 10);
  });

  it('pages whose bindings differ: each page is cut with its own entry name and resume point', async () => {
    const a = page({ entries: Array.from({ length: 25 }, (_, i) => ({ endpoint: 'http://a.example/sdata/app/c/-/accounts', tick: i })) });
    const b = page({ syncPrefix: 'zz', rootAttrs: ' xmlns:q="urn:q"', entries: Array.from({ length: 25 }, (_, i) => ({ endpoint: 'http://a.example/sdata/app/c/-/accounts', tick: 200 + i, body: '<q:n>x</q:n>' })) });
    await same([a, b], { chunkEntries: 10, chunkBytes: 1e6 }, [{ segmentBytes: 150, helpers: 0 }, { segmentBytes: 800, helpers: 1 }]);
  });

  it('invalid entries: the same warnings at the same line:column, and --strict stops at the same one', async () => {
    const entries = Array.from({ length: 40 }, (_, i) => ({
      endpoint: 'http://a.example/sdata/app/c/-/accounts', tick: i % 7 === 3 ? '-4' : i, noState: i % 11 === 5,
      body: i === 33 ? `<big>${'y'.repeat(3000)}</big>` : undefined,
    }));
    const text = page({ entries });
    const r = await same([text], { maxEntryBytes: 2048 }, SEGS);
    assert.ok(r.invalid.length >= 8);
    const strict = await same([text], { strict: true, maxEntryBytes: 2048 }, SEGS);
    assert.match(strict.error!, /^SDATA_E_INVALID_ENTRY page1:\d+:\d+: entry #4 /);
  });

  it('endpoints held back after invalid entries (docs/protocol.md X3): the same entries held, on whichever thread a piece was read', async () => {
    const eps = ['http://a.example/sdata/a/c/-/accounts', 'http://b.example/sdata/b/c/-/accounts', 'http://c.example/sdata/c/c/-/accounts'];
    const entries = Array.from({ length: 120 }, (_, i) => ({
      endpoint: eps[i % 3]!, tick: i, uuid: i === 40 || i === 95 ? '' : undefined, noState: i === 70,
    }));
    const text = page({ entries });
    let again = 0;
    for (const seed of [1, 2, 3]) {
      const r = await same([text], { chunkEntries: 7 }, [{ segmentBytes: 300, helpers: 0 }, { segmentBytes: 300, helpers: 1 }, { segmentBytes: 2000, helpers: 1 }], seed);
      const st = r.stats as { forwarded: number; invalid: number; held: number; ending: string };
      // Entry 40 (b.example, no uuid) holds b back: its 25 valid entries after it; entry 95 (c.example) holds 8 of c;
      // entry 70 (b, no syncState) names no endpoint.
      assert.deepEqual([st.invalid, st.held, st.forwarded, st.ending], [3, 33, 84, 'held']);
      again += r.counts!.again;
    }
    assert.ok(again > 0, 'pieces read before the hold began were read again');
  });

  it('a feed on one line: every position is on the first line of its piece', async () => {
    const entries = Array.from({ length: 30 }, (_, i) => ({ endpoint: 'http://a.example/sdata/app/c/-/accounts', tick: i % 4 === 1 ? 'x' : i }));
    const text = page({ entries }).replaceAll('\n', '');
    const r = await same([text], {}, [{ segmentBytes: 120, helpers: 0 }, { segmentBytes: 700, helpers: 1 }]);
    assert.equal(r.invalid.length, 8);
    assert.ok(r.invalid.every((e) => e.line === 1) && new Set(r.invalid.map((e) => e.column)).size === 8);
    const rnd = prng(5);
    let errors = 0;
    for (let k = 0; k < 12; k++) {
      const at = 200 + Math.floor(rnd() * (text.length - 220));
      const e = await same([`${text.slice(0, at)}<&${text.slice(at + 2)}`], {}, [{ segmentBytes: 150, helpers: k % 2 }], k);
      if (e.error === undefined) continue;
      assert.match(e.error, /^SDATA_E_(MALFORMED|NOT_SYNC_FEED) page1:1:\d+: /);
      errors++;
    }
    assert.ok(errors >= 10, `${errors} of 12`);
  });

  it('a document broken anywhere fails with the same error at the same place', async () => {
    const { text, target } = generatedFeed(60, 3);
    let failures = 0;
    for (const [k, broken] of brokenCopies(text).entries()) {
      const r = await same([broken], { target }, [{ segmentBytes: 400, helpers: k % 2 }], k);
      if (r.error) failures++;
    }
    assert.ok(failures >= 20, `${failures} of 36 corruptions were errors`);
  });

  it('hostile input: the same limit error at the same place, however the document is cut and read', async () => {
    const entries = (n: number, body = (i: number): string | undefined => `<name>n${i}</name>`) =>
      Array.from({ length: n }, (_, i) => ({ endpoint: 'http://a.example/sdata/app/c/-/accounts', tick: i + 1, body: body(i) }));
    const limits = { maxDepth: 40, maxAttributeBytes: 20_000, maxAttributes: 50, maxNameBytes: 300, maxTextBetweenEntries: 30_000 };
    const base = page({ entries: entries(60) });
    const bad: Array<[string, RegExp]> = [
      // Each crossed where an event says it (exact), or where a slice of input ends (what saxes is still reading).
      [page({ entries: entries(60, (i) => (i === 40 ? '<a>'.repeat(50) + '</a>'.repeat(50) : undefined)) }), /--max-depth/],
      [page({ entries: entries(60, (i) => (i === 40 ? `<x v="${'v'.repeat(20_001)}"/>` : undefined)) }), /value of attribute v exceeds .*--max-attribute-bytes/],
      [page({ entries: entries(60, (i) => (i === 40 ? `<x v="${'v'.repeat(200_000)}"/>` : undefined)) }), /attribute value being read exceeds .*--max-attribute-bytes/],
      [page({ entries: entries(60, (i) => (i === 40 ? `<x${Array.from({ length: 60 }, (_, k) => ` a${k}="1"`).join('')}/>` : undefined)) }), /--max-attributes/],
      [page({ entries: entries(60, (i) => (i === 40 ? `<${'n'.repeat(301)}/>` : undefined)) }), /element name n+… exceeds .*--max-name-bytes/],
      [page({ entries: entries(60, (i) => (i === 40 ? `<${'n'.repeat(100_000)}/>` : undefined)) }), /element name being read exceeds .*--max-name-bytes/],
      [base.replace('</entry>\n', `</entry>\n${' '.repeat(30_001)}`), /text between entries .*--max-text-between-entries/],
      [base.replace('</entry>\n', `</entry>\n<!--${' '.repeat(200_000)}-->`), /text between entries .*--max-text-between-entries/],
      [base.replace('</feed>', `</feed>${' '.repeat(30_001)}`), /text between entries .*--max-text-between-entries/],
    ];
    for (const [text, message] of bad) {
      for (const seed of [1, 2]) {
        const r = await same([text], { limits }, [{ segmentBytes: 700, helpers: 0 }, { segmentBytes: 3000, helpers: 1 }], seed);
        assert.match(r.error ?? '', /^SDATA_E_LIMIT page1:\d+:\d+: /);
        assert.match(r.error!, message);
      }
    }
    // Bytes that are not UTF-8, and an encoding declaration before them, refused the same way too.
    const bytes = Buffer.from(base);
    bytes[bytes.indexOf('>n45<') + 3] = 0xff;
    for (const decl of ['', '<?xml version="1.0" encoding="ISO-8859-1"?>\n']) {
      const doc = Buffer.concat([Buffer.from(decl), decl ? bytes.subarray(bytes.indexOf('\n') + 1) : bytes]);
      const r = await same([doc], {}, [{ segmentBytes: 700, helpers: 0 }, { segmentBytes: 3000, helpers: 1 }]);
      assert.match(r.error ?? '', decl ? /^SDATA_E_ENCODING page1:1:31: declared encoding 'ISO-8859-1'/ : /^SDATA_E_ENCODING page1:\d+:\d+: invalid UTF-8 at byte \d+ \(ff/);
    }
  });

  it('what the fast scanner must read exactly or leave to saxes: references, line ends, names, namespaces, odd markup, limits at their edge', async () => {
    const EP = TEST_EP;
    type Variant = { body?: string; endpoint?: string; tick?: string; uuid?: string; entryAttrs?: string; between?: string; limits?: Partial<XmlLimits>; maxEntryBytes?: number };
    const variants: Variant[] = [
      // References, accepted and refused.
      { body: '<name>a&#x41;&#65;&amp;&lt;&gt;&quot;&apos;b</name>' }, { body: '<name>&#0;</name>' }, { body: '<name>&#xD800;</name>' },
      { body: '<name>&foo;</name>' }, { body: '<name>&#X41;</name>' }, { body: '<name>&#00000065;</name>' }, { body: '<name>a & b</name>' },
      { body: '<name a="&#x9;&lt;&#38;"/>' }, { body: '<name a="&"/>' }, { body: '<name>x]]>y</name>' }, { body: '<name>x]]y]>z</name>' },
      // Line ends and characters.
      { body: '<name>a\r\nb\rc</name><n2 a="x\r\ny\tz"/>' }, { body: '<name>\u0001</name>' }, { body: '<name>\u007f\u0085\u2028</name>' },
      { body: '<name>\ufffe</name>' }, { body: '<name>\uffff</name>' }, { body: '<name>\ud83d\ude00 \u4e2d</name>' },
      // Comments, CDATA, PIs, declarations.
      { body: '<!-- a - b --><name><!----></name>' }, { body: '<!-- a--b -->' }, { body: '<!-- a --->' }, { body: '<!---> x -->' },
      { body: '<![CDATA[ <x> & ]] > ]]><name><![CDATA[]]></name>' }, { body: '<?pi some data?>' }, { body: '<?xml version="1.0"?>' },
      { body: '<!DOCTYPE x>' }, { body: '<!ELEMENT x ANY>' },
      // Names and namespaces.
      { body: '<n\u00e4me>x</n\u00e4me>' }, { body: '<a:b:c/>' }, { body: '<:a/>' }, { body: '<a: b/>' }, { body: '<zz:a/>' },
      { body: '<q:a xmlns:q="urn:q" q:b="1" b="2"/>' }, { body: '<q:a xmlns:q=""/>' }, { body: '<a xmlns:xml="http://www.w3.org/XML/1998/namespace"/>' },
      { body: '<a xmlns:xmlns="urn:x"/>' }, { body: '<a xmlns="http://www.w3.org/2000/xmlns/"/>' }, { body: '<a xmlns=" urn:sp "><b xmlns=""/></a>' },
      { body: '<a b="1" b="2"/>' }, { body: '<a xmlns:p="urn:p" xmlns:q="urn:p" p:b="1" q:b="2"/>' }, { body: '<a xmlns:p="urn:p" xmlns:q="urn:q" p:b="1" q:b="2"/>' },
      { body: '<a b=1/>' }, { body: '<a b="<"/>' }, { body: '<a b="1"c="2"/>' }, { body: "<a b='1' c = \"2\" />" }, { body: '<a></b>' }, { body: '<a></a >' },
      { body: '<a/ >' }, { body: '<a>' }, { body: '</a>' }, { entryAttrs: ' xmlns:q="urn:q" xml:lang="en"', body: '<q:x/>' }, { entryAttrs: ' xmlns="urn:other"' },
      // The syncState's fields and the uuid.
      { endpoint: ` ${EP} ` }, { endpoint: 'http://a.example/sdata/app/c/-/accounts&#47;' }, { endpoint: `<![CDATA[${EP}]]>` }, { endpoint: `http://a.example<!-- c -->/sdata/app/c/-/accounts` },
      { endpoint: `${EP}<x>y</x>` }, { endpoint: '' }, { endpoint: 'HTTP://A.EXAMPLE/sdata/app/c/-/accounts/' }, { tick: ' 7 ' }, { tick: '007' }, { tick: '+7' },
      { tick: '7.0' }, { tick: '' }, { tick: '<![CDATA[9]]>' }, { tick: '&#57;' }, { uuid: '' }, { uuid: ' \t ' }, { uuid: '&#32;' }, { uuid: 'a\nb' },
      // Between entries.
      { between: '<!-- c -->' }, { between: '<?pi x?>' }, { between: 'text' }, { between: '\r\n\t ' }, { between: '\ufeff' }, { between: '<x/>' },
      // Limits, just within and just over (the scanner leaves whatever is close to saxes).
      { body: '<a><b><c/></b></a>', limits: { maxDepth: 6 } }, { body: '<a><b><c/></b></a>', limits: { maxDepth: 7 } },
      { body: `<${'n'.repeat(40)}/>`, limits: { maxNameBytes: 40 } }, { body: `<${'n'.repeat(41)}/>`, limits: { maxNameBytes: 40 } },
      { body: `<a v="${'v'.repeat(50)}"/>`, limits: { maxAttributeBytes: 50 } }, { body: `<a v="${'v'.repeat(51)}"/>`, limits: { maxAttributeBytes: 50 } },
      { body: '<a b="1" c="2" d="3"/>', limits: { maxAttributes: 3 } }, { body: '<a b="1" c="2" d="3" e="4"/>', limits: { maxAttributes: 3 } },
      { between: ' '.repeat(199), limits: { maxTextBetweenEntries: 200 } }, { between: ' '.repeat(201), limits: { maxTextBetweenEntries: 200 } },
      { body: '<big>xxxxxxxxxxxxxxxxxxxxxxxx</big>', maxEntryBytes: 600 }, { body: '<big>xxxxxxxxxxxxxxxxxxxxxxxx</big>', maxEntryBytes: 560 },
    ];
    let scanned = 0;
    for (const [k, v] of variants.entries()) {
      const entries = Array.from({ length: 24 }, (_, i) => {
        const odd = i >= 12 && i % 3 === 0;
        return {
          endpoint: odd && v.endpoint !== undefined ? v.endpoint : EP, tick: odd && v.tick !== undefined ? v.tick : 10 + i,
          uuid: odd ? v.uuid : undefined, entryAttrs: odd ? v.entryAttrs : undefined, body: odd ? v.body : undefined,
        };
      });
      let text = page({ entries });
      if (v.between !== undefined) {
        let n = 0;
        text = text.replace(/<\/entry>\n/g, (m) => (++n >= 12 && n % 3 === 0 ? `</entry>${v.between}` : m));
      }
      const r = await same([text], { target: TARGET_AT_20, limits: v.limits, maxEntryBytes: v.maxEntryBytes, chunkEntries: 5 },
        [k % 2 === 0 ? { segmentBytes: 500, helpers: 0 } : { segmentBytes: 1500, helpers: 1 }], k);
      scanned += r.counts!.scanned;
    }
    // The pieces of plain entries around the odd ones were the scanner's.
    assert.ok(scanned > variants.length * 4, `${scanned} pieces scanned`);
  });

  it("the hostile inputs of scripts/hostile.ts that fit in memory: the same refusal, however the document is cut and read", async () => {
    // (The 1 GiB attribute, 100 MB of text and the 32 MiB CDATA section are read as streams in test/cli/hostile.test.ts.)
    const small = new Set(['deep', 'attributes-1m', 'name-10m', 'attribute-over-cap', 'latin-1', 'utf-16', 'bad-utf8']);
    const cases = HOSTILE.filter((h) => small.has(h.name));
    assert.equal(cases.length, small.size);
    for (const h of cases) {
      const doc = Buffer.concat([...h.feed(1)]);
      const maxEntryBytes = h.flags?.[0] === '--max-entry-bytes' ? 256 * 1024 : undefined;
      const r = await same([doc], { maxEntryBytes }, [{ segmentBytes: 16 * 1024, helpers: 0 }, { segmentBytes: 64 * 1024, helpers: 1 }]);
      if (h.exit === 0) assert.match(r.invalid.map((e) => e.reason).join('\n'), /larger than/, h.name);
      else assert.match(r.error ?? '', h.message, h.name);
    }
  });

  it('a helper that cannot start is not fatal: this thread reads everything, with a warning', async () => {
    const { text, target } = generatedFeed(80, 5);
    const want = await sequential([text], { target });
    const out = new MemoryChunkTarget();
    const planner = new Planner({ target, out });
    const warnings: string[] = [];
    const sp = new SegmentedPlan({ target, maxEntryBytes: 1 << 24, segmentBytes: 500, helpers: 1, onWarning: (m) => warnings.push(m) });
    // A digest V8 cannot clone for the helper: its start fails as a worker thread would on any fault.
    (sp as unknown as { target: unknown }).target = { entries: new Map(), poison: () => 0 };
    try {
      await sp.page(Readable.from([Buffer.from(text)]), planner, 'page1');
      await planner.finish();
    } finally {
      await sp.close();
    }
    assert.deepEqual(stable(out.chunks), want.chunks);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /helper thread/);
  });
});
