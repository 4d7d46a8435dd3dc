import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { SegmentedPlan } from '../../src/plan/parallel.ts';
import { Planner, type InvalidEntry } from '../../src/plan/planner.ts';
import { resolveFeedOptions, pageTexts } from '../../src/gen/synthetic.ts';
import { targetDigestFor } from '../../src/gen/target-digest.ts';
import type { Digest } from '../../src/protocol/digest.ts';
import { isSdataError } from '../../src/protocol/errors.ts';
import { resolveLimits, type XmlLimits } from '../../src/xml/limits.ts';
import { page, prng, splitStream } from '../helpers/feeds.ts';
import { MemoryChunkTarget, planPages, withoutClock } from '../helpers/plan-text.ts';

// Segmented planning (plan/parallel.ts) must give exactly what the one-pass reader gives: the same chunks, counts,
// warnings, and the same first error at the same line:column. These tests run both on the same input and compare,
// with pieces far smaller than the default so that every feed is cut in many places, on this thread and a helper.

interface Outcome {
  counts?: SegmentedPlan['counts'];
  chunks: string[];
  finals: boolean[];
  stats: unknown;
  invalid: InvalidEntry[];
  error: string | undefined;
}

interface Opts {
  target?: Digest;
  chunkEntries?: number;
  chunkBytes?: number;
  strict?: boolean;
  maxEntryBytes?: number;
  limits?: Partial<XmlLimits>;
}

/** `<updated>` of our own chunk heads is the wall clock. */
const stable = (chunks: string[]): string[] => chunks.map(withoutClock);

async function sequential(pages: Array<string | Uint8Array>, o: Opts): Promise<Outcome> {
  try {
    const r = await planPages(pages, o);
    return { chunks: stable(r.chunks), finals: r.finals, stats: r.stats, invalid: r.invalid, error: undefined };
  } catch (e) {
    if (!isSdataError(e)) throw e;
    return { chunks: [], finals: [], stats: undefined, invalid: [], error: `${e.code} ${e.message}` };
  }
}

async function segmented(pages: Array<string | Uint8Array>, o: Opts, seg: { segmentBytes: number; helpers: number; seed: number }): Promise<Outcome> {
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
async function same(pages: Array<string | Uint8Array>, o: Opts, segs: Array<{ segmentBytes: number; helpers: number }>, seed = 1): Promise<Outcome> {
  const want = await sequential(pages, o);
  const counts = { helper: 0, here: 0, again: 0 };
  for (const s of segs) {
    const { counts: c, ...got } = await segmented(pages, o, { ...s, seed });
    assert.deepEqual(got, want, `segmentBytes ${s.segmentBytes}, helpers ${s.helpers}`);
    counts.helper += c!.helper;
    counts.here += c!.here;
    counts.again += c!.again;
  }
  return { ...want, counts };
}

function generated(count: number, seed: number): { text: string; target: Digest } {
  const o = resolveFeedOptions({ count, seed });
  return { text: [...pageTexts(o, 0)].join(''), target: targetDigestFor(o, 0.5).digest };
}

const SEGS = [
  { segmentBytes: 200, helpers: 0 },
  { segmentBytes: 1500, helpers: 1 },
  { segmentBytes: 9000, helpers: 1 },
];

describe('segmented planning = one-pass planning', () => {
  it('a generated feed (endpoints, deletions, CDATA, entities, non-ASCII), one feed and chunked', async () => {
    const { text, target } = generated(300, 7);
    const one = await same([text], { target }, SEGS);
    assert.equal((one.stats as { read: number }).read, 300);
    assert.ok(one.counts!.helper > 20 && one.counts!.here > 20, JSON.stringify(one.counts));
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
    const { text, target } = generated(60, 3);
    const rnd = prng(99);
    const kinds = ['<', '&', '"', ']]>', '</x>', ''];
    let failures = 0;
    for (let k = 0; k < 36; k++) {
      const at = 1 + Math.floor(rnd() * (text.length - 2));
      const broken = k % 6 === 5 ? text.slice(0, at) : text.slice(0, at) + kinds[k % 6] + text.slice(at + 1);
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

  it('a helper that cannot start is not fatal: this thread reads everything, with a warning', async () => {
    const { text, target } = generated(80, 5);
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
