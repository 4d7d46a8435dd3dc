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

/** Serves `text` at every path; the first `cut[path]` answers send half of it and drop the connection. */
function server() {
  const cut = new Map<string, number>();
  const served = new Map<string, number>();
  const srv = createServer((req, res: ServerResponse) => {
    const path = req.url!;
    served.set(path, (served.get(path) ?? 0) + 1);
    const text = path.startsWith('/results') ? RESULT_PAGE : SOURCE_PAGE;
    res.writeHead(200, { 'content-type': 'application/atom+xml; type=feed', 'content-length': String(Buffer.byteLength(text)) });
    const left = cut.get(path) ?? 0;
    if (left > 0) {
      cut.set(path, left - 1);
      res.write(text.slice(0, Math.floor(text.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(text);
  });
  return { srv, cut, served };
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
