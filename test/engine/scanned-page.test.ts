import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { streamPage, type PageResult, type PageSink } from '../../src/engine/page-stream.ts';
import type { HttpResponse } from '../../src/http/client.ts';
import { SegmentedPlan } from '../../src/plan/parallel.ts';
import { Planner, type InvalidEntry } from '../../src/plan/planner.ts';
import { isSdataError } from '../../src/protocol/errors.ts';
import { resolveLimits } from '../../src/xml/limits.ts';
import { instantClock } from '../helpers/clock.ts';
import { generatedFeed, page, prng, splitStream } from '../helpers/feeds.ts';
import { HOSTILE } from '../helpers/hostile.ts';
import { MemoryChunkTarget, TARGET_AT_20, TEST_EP, withoutClock, type PlanOpts, type PlanOutcome } from '../helpers/plan-text.ts';

// The engine's page stream reads a page's first fetch in pieces, most by the piece scanner (PageSink.readPage, as
// src/engine/pass.ts wires it), and a page fetched again after a cut-off through the one-pass reader, skipping what
// was delivered. Either way the planner must get exactly what the one-pass saxes reader gives it: these tests run
// both sinks on the same answers (including cut-offs, documents that end early and hostile inputs) and compare the
// chunks, counts, warnings, the page's result and the first error.

interface Outcome extends PlanOutcome {
  page: PageResult | undefined;
}

/** One answer's body: the document's bytes, cut short at `stop` (ended cleanly, or by `fail`). */
interface Answer {
  bytes: Uint8Array;
  stop?: number;
  fail?: boolean;
}

const fast = { retries: 3, baseMs: 1, maxMs: 5, maxRetryAfterMs: 20 };

function response(a: Answer, rnd: () => number, read: number): HttpResponse {
  const bytes = a.stop === undefined ? a.bytes : a.bytes.subarray(0, a.stop);
  const cuts: number[] = [];
  for (let at = 0; at < bytes.length; at += 1 + Math.floor(rnd() * read * 2)) cuts.push(at);
  const parts = splitStream(bytes, cuts);
  const body = a.fail
    ? Readable.from((async function* () {
      yield* parts;
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    })(), { objectMode: false })
    : parts;
  return { statusCode: 200, headers: {}, body } as unknown as HttpResponse;
}

async function engine(answers: Answer[], o: PlanOpts, scan: { segmentBytes: number; read: number; seed: number } | undefined): Promise<Outcome & { scanned: number }> {
  const out = new MemoryChunkTarget();
  const invalid: InvalidEntry[] = [];
  const planner = new Planner({ ...o, out, onInvalid: (e) => invalid.push(e) });
  const maxEntryBytes = o.maxEntryBytes ?? 16 * 1024 * 1024;
  const limits = resolveLimits(o.limits);
  const sp = scan && new SegmentedPlan({ target: o.target, maxEntryBytes, limits, segmentBytes: scan.segmentBytes, helpers: 0 });
  const sink: PageSink = {
    head: (h) => planner.head(h),
    entry: (r) => planner.entry(r),
    ready: () => planner.ready(),
    ...(sp ? { readPage: (body, source, hooks) => sp.page(body, planner, source, hooks) } : {}),
  };
  const rnd = prng(scan?.seed ?? 1);
  const read = scan?.read ?? 3000;
  let n = 0;
  const next = (): HttpResponse => response(answers[Math.min(n++, answers.length - 1)]!, rnd, read);
  let pageResult: PageResult | undefined;
  try {
    planner.beginPage('page1');
    pageResult = await streamPage(next(), async () => next(), sink, { source: 'page1', retry: fast, clock: instantClock(), maxEntryBytes, limits });
    const stats = await planner.finish();
    return { chunks: out.chunks.map(withoutClock), finals: out.finals, stats, invalid, page: pageResult, error: undefined, scanned: sp?.counts.scanned ?? 0 };
  } catch (e) {
    if (!isSdataError(e)) throw e;
    return { chunks: [], finals: [], stats: undefined, invalid, page: undefined, error: `${e.code} ${e.message}`, scanned: sp?.counts.scanned ?? 0 };
  }
}

/** Both sinks agree on the same answers, read in uneven pieces; returns the one-pass outcome and the pieces scanned. */
async function same(answers: Answer[], o: PlanOpts, scans: Array<{ segmentBytes: number; read: number }>): Promise<Outcome & { scanned: number }> {
  const { scanned: _, ...want } = await engine(answers, o, undefined);
  let scanned = 0;
  for (const [k, s] of scans.entries()) {
    const { scanned: c, ...got } = await engine(answers, o, { ...s, seed: k + 1 });
    assert.deepEqual(got, want, `segmentBytes ${s.segmentBytes}, reads of ~${s.read}`);
    scanned += c;
  }
  return { ...want, scanned };
}

const SCANS = [
  { segmentBytes: 64 * 1024, read: 16 * 1024 },
  { segmentBytes: 3000, read: 700 },
  { segmentBytes: 500, read: 64 * 1024 },
];

const plain = (n: number, body = (i: number) => `<name>account ${i} ${'x'.repeat(300)}</name>`): Buffer =>
  Buffer.from(page({ entries: Array.from({ length: n }, (_, i) => ({ endpoint: TEST_EP, tick: i + 1, body: body(i) })) }));

describe('the engine reads a page with the piece scanner = with the one-pass reader', () => {
  it('a generated feed (endpoints, deletions, CDATA, entities, non-ASCII), one chunk and many', async () => {
    const feed = generatedFeed(400, 3);
    const bytes = Buffer.from(feed.text);
    const target = feed.target;
    const one = await same([{ bytes }], { target }, SCANS);
    assert.equal((one.stats as { read: number }).read, 400);
    assert.ok(one.scanned > 10, `${one.scanned} pieces scanned`);
    await same([{ bytes }], { target, chunkEntries: 7, chunkBytes: 6000 }, SCANS);
    await same([{ bytes }], {}, SCANS.slice(1));
  });

  it('invalid entries, held endpoints and strict mode', async () => {
    const entries = Array.from({ length: 60 }, (_, i) => ({
      endpoint: i % 7 === 3 ? 'http://c.example/sdata/app/c/-/accounts' : TEST_EP, tick: i % 11 === 5 ? 'x' : i + 1,
      noState: i === 40, body: `<name>n${i} ${'y'.repeat(200)}</name>`,
    }));
    const bytes = Buffer.from(page({ entries }));
    const r = await same([{ bytes }], { target: TARGET_AT_20, chunkEntries: 5 }, SCANS.slice(1));
    assert.ok(r.invalid.length >= 5, JSON.stringify(r.invalid.length));
    const s = await same([{ bytes }], { target: TARGET_AT_20, strict: true }, SCANS.slice(1));
    assert.match(s.error ?? '', /^SDATA_E_INVALID_ENTRY page1:\d+:\d+: entry #6/);
  });

  it('a page cut off mid-body, and one whose document ends early, is fetched again and resumed after what was delivered', async () => {
    const bytes = plain(300);
    for (const at of [100, 40_000, 70_000, 150_000, bytes.length - 10]) {
      const cut = await same([{ bytes, stop: at, fail: true }, { bytes }], { target: TARGET_AT_20, chunkEntries: 13 }, SCANS);
      assert.equal(cut.page?.resumed, 1);
      assert.equal((cut.stats as { read: number }).read, 300);
      // (A document that stops inside its head, before the root element, is not a sync feed: not fetched again.)
      if (at < 1000) continue;
      const early = await same([{ bytes, stop: at }, { bytes }], { target: TARGET_AT_20, chunkEntries: 13 }, SCANS);
      assert.equal(early.page?.resumed, 1, `${at}: ${early.error}`);
      assert.deepEqual(early.chunks, cut.chunks);
    }
    // Every fetch ends early: the reader's own error, saying so.
    const always = await same([{ bytes, stop: 90_000 }], {}, SCANS);
    assert.match(always.error ?? '', /^SDATA_E_MALFORMED page1:\d+:\d+: .*\(fetched 4 times, it ended early each time\)$/);
    // A page whose head changed between two fetches.
    const other = Buffer.from(bytes.toString('latin1').replace('<sync:tick>100</sync:tick>', '<sync:tick>101</sync:tick>'), 'latin1');
    const changed = await same([{ bytes, stop: 80_000, fail: true }, { bytes: other }], {}, SCANS);
    assert.match(changed.error ?? '', /^SDATA_E_PROTOCOL page1: the page changed between two fetches/);
  });

  it('malformed documents, limits and entries over the cap: the same first error at the same line:column', async () => {
    const bytes = plain(200);
    const text = bytes.toString('latin1');
    const bad = [
      text.replace('<name>account 150 ', '<name>account 150 </nam>'),
      text.replace('account 120 ', 'account 120 &nope; '),
      text.replace('account 130 ', 'account 130 \u0001 '),
      text.replace('<name>account 170', '<name a="1" a="2">account 170'),
      text.slice(0, text.lastIndexOf('</feed>')),
    ];
    for (const b of bad) {
      const r = await same([{ bytes: Buffer.from(b, 'latin1') }], {}, SCANS);
      assert.match(r.error ?? '', /^SDATA_E_MALFORMED page1:\d+:\d+: /);
    }
    const deep = `<a>${'<b>'.repeat(20)}x${'</b>'.repeat(20)}</a>`;
    const d = await same([{ bytes: plain(200, (i) => (i === 150 ? deep : `<name>${'z'.repeat(300)}</name>`)) }], { limits: { maxDepth: 16 } }, SCANS);
    assert.match(d.error ?? '', /page1:\d+:\d+: /);
    const big = await same([{ bytes: plain(200, (i) => `<name>${'z'.repeat(i === 150 ? 9000 : 300)}</name>`) }], { maxEntryBytes: 4096 }, SCANS);
    assert.match(big.invalid.map((e) => e.reason).join('\n'), /larger than/);
  });

  it('the hostile inputs of scripts/hostile.ts that fit in memory: the same refusal', async () => {
    const small = new Set(['deep', 'attributes-1m', 'name-10m', 'attribute-over-cap', 'latin-1', 'utf-16', 'bad-utf8']);
    const cases = HOSTILE.filter((h) => small.has(h.name));
    assert.equal(cases.length, small.size);
    for (const h of cases) {
      const bytes = Buffer.concat([...h.feed(1)]);
      const maxEntryBytes = h.flags?.[0] === '--max-entry-bytes' ? 256 * 1024 : undefined;
      const r = await same([{ bytes }], { maxEntryBytes }, [SCANS[0]!]);
      if (h.exit === 0) assert.match(r.invalid.map((e) => e.reason).join('\n'), /larger than/, h.name);
      else assert.match(r.error ?? '', h.message, h.name);
    }
  });
});
