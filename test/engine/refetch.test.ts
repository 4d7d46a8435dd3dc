import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpClient } from '../../src/http/client.ts';
import { streamPage, type PageSink } from '../../src/engine/page-stream.ts';
import { readResults } from '../../src/engine/results.ts';
import { isSdataError } from '../../src/protocol/errors.ts';
import { heldClock, instantClock } from '../helpers/clock.ts';
import { page } from '../helpers/feeds.ts';

/**
 * The two engine loops that fetch a page again when its body is cut off mid-way: a source page is resumed after the
 * entries already delivered, a result page is counted again from scratch. Both share the client's retry loop.
 */

const fast = { retries: 3, baseMs: 1, maxMs: 5, maxRetryAfterMs: 20 };
const N = 40;

const SOURCE_PAGE = page({
  entries: Array.from({ length: N }, (_, i) => ({ endpoint: 'http://a.example/sdata/app/c/-/accounts', tick: i + 1, body: `<name>account ${i} ${'x'.repeat(200)}</name>` })),
});

const RESULT_PAGE = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:http="http://schemas.sage.com/sdata/http/2008/1"><id>r</id><title>r</title><updated>2024-01-01T00:00:00Z</updated>
${Array.from({ length: N }, (_, i) => `<entry><id>urn:e${i}</id><title>${'t'.repeat(200)}</title><http:httpStatus>201</http:httpStatus><http:httpMethod>POST</http:httpMethod></entry>`).join('\n')}
</feed>
`;

/**
 * Serves `text` at every path; the first `cut[path]` answers send half of it and drop the connection; the first
 * `early[path]` send half of it in a response that ends cleanly (chunked, terminated: complete as far as HTTP
 * knows); paths in `bad` get a document with a mismatched end tag half-way.
 */
function server() {
  const cut = new Map<string, number>();
  const early = new Map<string, number>();
  const bad = new Set<string>();
  const served = new Map<string, number>();
  const srv = createServer((req, res: ServerResponse) => {
    const path = req.url!;
    served.set(path, (served.get(path) ?? 0) + 1);
    const whole = path.startsWith('/results') ? RESULT_PAGE : SOURCE_PAGE;
    const half = whole.slice(0, Math.floor(whole.length / 2));
    const text = bad.has(path) ? `${half.slice(0, half.lastIndexOf('</entry>'))}</feed>${whole.slice(half.length)}` : whole;
    const earlyLeft = early.get(path) ?? 0;
    if (earlyLeft > 0) {
      early.set(path, earlyLeft - 1);
      res.writeHead(200, { 'content-type': 'application/atom+xml; type=feed' });
      res.end(half);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/atom+xml; type=feed', 'content-length': String(Buffer.byteLength(text)) });
    const left = cut.get(path) ?? 0;
    if (left > 0) {
      cut.set(path, left - 1);
      res.write(half, () => res.socket?.destroy());
      return;
    }
    res.end(text);
  });
  return { srv, cut, early, bad, served };
}

function collecting(): PageSink & { ids: number[] } {
  const ids: number[] = [];
  return { ids, head: () => undefined, entry: () => void ids.push(ids.length), ready: () => undefined };
}

describe('re-fetching a page cut off mid-body', () => {
  const s = server();
  let base = '';
  before(async () => {
    await new Promise<void>((r) => s.srv.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(s.srv.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => s.srv.close(() => r())));

  type TestClock = ReturnType<typeof instantClock> | ReturnType<typeof heldClock>;

  /** A client on `path` whose first `cuts` answers are cut off, and a re-fetch that counts its calls. */
  function fetching(path: string, cuts: number, o: { clock: TestClock; signal?: AbortSignal }) {
    s.cut.set(path, cuts);
    const client = new HttpClient({ retry: fast, clock: o.clock, ...(o.signal ? { signal: o.signal } : {}) });
    const url = `${base}${path}`;
    let refetches = 0;
    const get = () => client.request({ method: 'GET', url });
    const refetch = () => {
      refetches++;
      return get();
    };
    return { client, url, get, refetch, refetches: () => refetches, signal: o.signal ? { signal: o.signal } : {} };
  }

  function source(path: string, cuts: number, o: { clock: TestClock; signal?: AbortSignal }) {
    const f = fetching(path, cuts, o);
    const sink = collecting();
    const run = (async () => streamPage(await f.get(), f.refetch, sink, { source: f.url, retry: f.client.retry, clock: f.client.clock, ...f.signal }))();
    return { ...f, run, sink };
  }

  it('source page: resumed after the entries already delivered, each entry once, the retries counted', async () => {
    const clock = instantClock();
    const t = source('/resume', 2, { clock });
    const r = await t.run;
    assert.equal(r.resumed, 2);
    assert.equal(r.entries, N);
    assert.equal(t.sink.ids.length, N);
    assert.equal(t.refetches(), 2);
    assert.deepEqual(clock.waits, [1, 2]);
    await t.client.close();
  });

  it('source page: after the last retry, SDATA_E_NETWORK names the page and the retries', async () => {
    const t = source('/always-cut', 4, { clock: instantClock() });
    await assert.rejects(t.run, (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_NETWORK' &&
      e.message.startsWith(`GET ${t.url}: page body cut off: `) && e.message.endsWith(' (after 3 retries)'));
    assert.equal(t.refetches(), 3);
    await t.client.close();
  });

  it('source page: an abort during the backoff ends it at once with SDATA_E_ABORTED, nothing fetched again', { timeout: 10_000 }, async () => {
    const clock = heldClock();
    const ac = new AbortController();
    const t = source('/abort', 1, { clock, signal: ac.signal });
    await clock.waiting;
    ac.abort();
    await assert.rejects(t.run, (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_ABORTED' && e.message === `${t.url}: interrupted`);
    assert.equal(t.refetches(), 0);
    assert.equal(s.served.get('/abort'), 1);
    await t.client.close();
  });

  it('source page: a document that stops early in a cleanly ended response is fetched again like a cut-off one', async () => {
    const clock = instantClock();
    s.early.set('/early', 2);
    const t = source('/early', 0, { clock });
    const r = await t.run;
    assert.equal(r.resumed, 2);
    assert.equal(r.entries, N);
    assert.equal(t.sink.ids.length, N, 'each entry once');
    assert.equal(t.refetches(), 2);
    await t.client.close();
  });

  it('source page: one that stops early every time is bad input (exit 3) at the place it stops, fetched again only within --retries', async () => {
    s.early.set('/always-early', 4);
    const t = source('/always-early', 0, { clock: instantClock() });
    await assert.rejects(t.run, (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_MALFORMED' &&
      new RegExp(`^${t.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: not well-formed XML: .+ \\(fetched 4 times, it ended early each time\\)$`).test(e.message));
    assert.equal(t.refetches(), 3);
    await t.client.close();
  });

  it('source page: a document malformed before its end is never fetched again (exit 3)', async () => {
    s.bad.add('/malformed');
    const t = source('/malformed', 0, { clock: instantClock() });
    await assert.rejects(t.run, (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_MALFORMED' && /:\d+:\d+: not well-formed XML/.test(e.message) && !e.message.includes('fetched'));
    assert.equal(t.refetches(), 0);
    await t.client.close();
  });

  function results(path: string, cuts: number, o: { clock: TestClock; signal?: AbortSignal }) {
    const f = fetching(path, cuts, o);
    const run = (async () => readResults(await f.get(), f.refetch, { client: f.client, chunk: 1, ...f.signal }))();
    return { ...f, run };
  }

  it('result page: counted again from scratch, so each result once', async () => {
    const clock = instantClock();
    const t = results('/results-recount', 2, { clock });
    const r = await t.run;
    assert.equal(r.entries, N);
    assert.equal(r.pages, 1);
    assert.equal(r.outcomes.processed, N);
    assert.equal(r.outcomes.counts.created, N);
    assert.equal(t.refetches(), 2);
    assert.deepEqual(clock.waits, [1, 2]);
    await t.client.close();
  });

  it('result page: after the last retry, SDATA_E_NETWORK names the page', async () => {
    const t = results('/results-always-cut', 4, { clock: instantClock() });
    await assert.rejects(t.run, (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_NETWORK' && e.message.startsWith(`GET ${t.url}: result page cut off: `));
    assert.equal(t.refetches(), 3);
    await t.client.close();
  });

  it('result page: a document that stops early in a cleanly ended response is fetched again and counted once', async () => {
    s.early.set('/results-early', 1);
    const t = results('/results-early', 0, { clock: instantClock() });
    const r = await t.run;
    assert.equal(r.entries, N);
    assert.equal(r.outcomes.counts.created, N);
    assert.equal(t.refetches(), 1);
    await t.client.close();
  });

  it('result page: one that stops early every time is bad input (exit 3) naming line and column; a malformed one is never fetched again', async () => {
    s.early.set('/results-always-early', 4);
    const t = results('/results-always-early', 0, { clock: instantClock() });
    await assert.rejects(t.run, (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_MALFORMED' &&
      /:\d+:\d+: result feed is not well-formed XML: .+ \(fetched 4 times, it ended early each time\)$/.test(e.message));
    assert.equal(t.refetches(), 3);
    await t.client.close();
    s.bad.add('/results-malformed');
    const m = results('/results-malformed', 0, { clock: instantClock() });
    await assert.rejects(m.run, (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_MALFORMED' && /:\d+:\d+: result feed is not well-formed XML: end tag <\/feed> does not match <entry>$/.test(e.message));
    assert.equal(m.refetches(), 0);
    await m.client.close();
  });

  it('result page: an abort during the backoff ends it at once with SDATA_E_ABORTED, nothing fetched again', { timeout: 10_000 }, async () => {
    const clock = heldClock();
    const ac = new AbortController();
    const t = results('/results-abort', 1, { clock, signal: ac.signal });
    await clock.waiting;
    ac.abort();
    await assert.rejects(t.run, (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_ABORTED' && e.message === `${t.url}: interrupted`);
    assert.equal(t.refetches(), 0);
    assert.equal(s.served.get('/results-abort'), 1);
    await t.client.close();
  });
});
