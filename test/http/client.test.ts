import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AsyncOperation, getWhenReady } from '../../src/http/async-op.ts';
import { readSmallBody, statusError } from '../../src/http/body.ts';
import { HttpClient } from '../../src/http/client.ts';
import { backoffMs, retryAfterMs } from '../../src/http/retry.ts';
import { splitUrl, withQuery } from '../../src/http/url.ts';
import { isSdataError } from '../../src/protocol/errors.ts';
import { exitCodeFor } from '../../src/cli/exit-codes.ts';
import { heldClock, instantClock } from '../helpers/clock.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A server whose behaviour each test scripts as a queue of handlers (one per request). */
function scripted() {
  const queue: Handler[] = [];
  const seen: { method: string; url: string; body: string; auth: string | undefined }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method!, url: req.url!, body: body.toString(), auth: req.headers.authorization });
      const h = queue.shift();
      if (!h) {
        res.writeHead(500).end('no script');
        return;
      }
      h(req, res, body);
    });
  });
  return { server, queue, seen };
}

const fast = { retries: 4, baseMs: 1, maxMs: 5, maxRetryAfterMs: 50 };

describe('http client', () => {
  const s = scripted();
  let base = '';
  before(async () => {
    await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => s.server.close(() => r())));

  it('retries 503 (with Retry-After) and 429, then returns the answer', async () => {
    s.queue.push(
      (_q, r) => r.writeHead(503, { 'retry-after': '0' }).end('busy'),
      (_q, r) => r.writeHead(429).end(),
      (_q, r) => r.writeHead(200).end('ok'),
    );
    const c = new HttpClient({ retry: fast });
    const res = await c.request({ method: 'GET', url: `${base}/a` });
    assert.equal(res.statusCode, 200);
    assert.equal(await readSmallBody(res), 'ok');
    assert.equal(c.retries, 2);
    await c.close();
  });

  it('never retries a 400, and gives up on 503 after the retry limit', async () => {
    s.queue.push((_q, r) => r.writeHead(400).end('bad'));
    const c = new HttpClient({ retry: fast });
    const res = await c.request({ method: 'POST', url: `${base}/b`, body: () => 'x', retry: 'idempotent' });
    assert.equal(res.statusCode, 400);
    assert.equal(c.retries, 0);
    await res.body.dump();
    for (let i = 0; i < 5; i++) s.queue.push((_q, r) => r.writeHead(503).end());
    const res2 = await c.request({ method: 'GET', url: `${base}/c` });
    assert.equal(res2.statusCode, 503);
    assert.equal(c.retries, 4);
    await res2.body.dump();
    await c.close();
  });

  it('a 503 that outlasts the retries is a network failure (exit 5) that says how many; a 400 stays a protocol one (exit 6)', async () => {
    for (let i = 0; i < 5; i++) s.queue.push((_q, r) => r.writeHead(503, { 'retry-after': '0' }).end('fault proxy: 503'));
    const c = new HttpClient({ retry: fast, clock: instantClock() });
    const res = await c.request({ method: 'GET', url: `${base}/unavailable` });
    assert.equal(res.retries, 4);
    const e = await statusError('GET', res, 'reading the target digest');
    assert.equal(e.code, 'SDATA_E_NETWORK');
    assert.equal(exitCodeFor(e.code), 5);
    assert.equal(e.status, 503);
    assert.equal(e.message, `GET ${base}/unavailable: reading the target digest: HTTP 503 (fault proxy: 503) (after 4 retries)`);
    // Not retried (a POST without a trackingID), a gateway's 502 is still the network's failure, not the peer's answer.
    s.queue.push((_q, r) => r.writeHead(502).end());
    const e2 = await statusError('POST', await c.request({ method: 'POST', url: `${base}/gateway`, body: () => 'x' }));
    assert.equal(e2.code, 'SDATA_E_NETWORK');
    assert.equal(e2.message, `POST ${base}/gateway: unexpected status: HTTP 502`);
    s.queue.push((_q, r) => r.writeHead(400).end('bad'));
    const e3 = await statusError('GET', await c.request({ method: 'GET', url: `${base}/refused` }));
    assert.equal(e3.code, 'SDATA_E_HTTP');
    assert.equal(exitCodeFor(e3.code), 6);
    await c.close();
  });

  it('re-sends an identical body after a dropped connection', async () => {
    s.queue.push((q) => q.socket.destroy(), (_q, r) => r.writeHead(200).end('done'));
    const c = new HttpClient({ retry: fast });
    const res = await c.request({ method: 'POST', url: `${base}/d?trackingID=1`, body: () => Buffer.from('same body'), retry: 'idempotent' });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    const posts = s.seen.filter((x) => x.url === '/d?trackingID=1');
    assert.equal(posts.length, 2);
    assert.equal(posts[0]!.body, 'same body');
    assert.equal(posts[1]!.body, 'same body');
    await c.close();
  });

  it('does not retry a non-idempotent POST after a reset', async () => {
    s.queue.push((q) => q.socket.destroy());
    const c = new HttpClient({ retry: fast });
    await assert.rejects(c.request({ method: 'POST', url: `${base}/e`, body: () => 'x', retry: 'unsent' }),
      (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_NETWORK' && e.message.includes('/e'));
    await c.close();
  });

  it('sends credentials only to the configured origin', async () => {
    s.queue.push((_q, r) => r.writeHead(200).end(), (_q, r) => r.writeHead(200).end());
    const c = new HttpClient({ authorization: 'Bearer secret', authOrigin: base });
    await (await c.request({ method: 'GET', url: `${base}/f` })).body.dump();
    const other = base.replace('127.0.0.1', 'localhost');
    await (await c.request({ method: 'GET', url: `${other}/g` })).body.dump();
    assert.equal(s.seen.find((x) => x.url === '/f')!.auth, 'Bearer secret');
    assert.equal(s.seen.find((x) => x.url === '/g')!.auth, undefined);
    await c.close();
  });

  it('refuses credentials in URLs and keeps paths byte for byte', () => {
    assert.throws(() => splitUrl('http://u:p@h/x'), /credentials in URLs/);
    assert.deepEqual(splitUrl("HTTP://Host:80/a/$syncSource('x y')?q='1'"), { origin: 'http://host:80', path: "/a/$syncSource('x%20y')?q=%271%27" });
    assert.deepEqual(splitUrl("http://h/a/$syncSource('k')?startIndex=11&count=10"), { origin: 'http://h', path: "/a/$syncSource('k')?startIndex=11&count=10" });
    assert.equal(withQuery('http://h/x', { runName: 'Full CRM to ERP', runStamp: '2009-10-14T08:51:02' }),
      'http://h/x?runName=Full%20CRM%20to%20ERP&runStamp=2009-10-14T08%3A51%3A02');
  });

  it('reports each retry (attempt, wait, reason) and counts requests and retries', async () => {
    for (let i = 0; i < 5; i++) s.queue.push((_q, r) => r.writeHead(503).end());
    const clock = instantClock();
    const events: unknown[] = [];
    const c = new HttpClient({ retry: fast, clock, onRetry: (e) => events.push(e) });
    const res = await c.request({ method: 'GET', url: `${base}/h` });
    assert.equal(res.statusCode, 503);
    await res.body.dump();
    const e = (attempt: number, delayMs: number) => ({ method: 'GET', url: `${base}/h`, attempt, delayMs, reason: 'HTTP 503' });
    assert.deepEqual(events, [e(1, 1), e(2, 2), e(3, 4), e(4, 5)]);
    assert.deepEqual(clock.waits, [1, 2, 4, 5]);
    assert.equal(c.requests, 5);
    assert.equal(c.retries, 4);
    for (let i = 0; i < 5; i++) s.queue.push((q) => q.socket.destroy());
    await assert.rejects(c.request({ method: 'GET', url: `${base}/i` }),
      (err: unknown) => isSdataError(err) && err.code === 'SDATA_E_NETWORK' && /^GET http:\/\/127\.0\.0\.1:\d+\/i: .+ \(after 4 retries\)$/.test(err.message));
    assert.equal(c.requests, 10);
    assert.equal(c.retries, 8);
    await c.close();
  });

  it('an abort during a backoff ends the request at once with SDATA_E_ABORTED', { timeout: 10_000 }, async () => {
    s.queue.push((_q, r) => r.writeHead(503, { 'retry-after': '60' }).end());
    const clock = heldClock();
    const ac = new AbortController();
    const c = new HttpClient({ retry: fast, clock, signal: ac.signal });
    const p = c.request({ method: 'GET', url: `${base}/j` });
    await clock.waiting;
    ac.abort();
    await assert.rejects(p, (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_ABORTED' && e.message === `GET ${base}/j: interrupted`);
    assert.deepEqual(clock.waits, [50]);
    assert.equal(c.requests, 1);
    assert.equal(s.seen.filter((x) => x.url === '/j').length, 1);
    await c.close();
  });

  it('a cleanup request ignores the run\'s abort, retries at most twice and waits at most a second', async () => {
    for (let i = 0; i < 3; i++) s.queue.push((_q, r) => r.writeHead(503).end());
    const ac = new AbortController();
    ac.abort();
    const clock = instantClock();
    const c = new HttpClient({ retry: { retries: 6, baseMs: 800, maxMs: 10_000, maxRetryAfterMs: 120_000 }, clock, signal: ac.signal });
    const res = await c.request({ method: 'DELETE', url: `${base}/k`, cleanup: true });
    assert.equal(res.statusCode, 503);
    await res.body.dump();
    assert.deepEqual(clock.waits, [800, 1000]);
    assert.equal(s.seen.filter((x) => x.url === '/k').length, 3);
    await c.close();
  });

  it('computes backoff and Retry-After', () => {
    const p = { retries: 3, baseMs: 100, maxMs: 1000, maxRetryAfterMs: 5000 };
    assert.equal(backoffMs(p, 1, undefined, () => 1), 100);
    assert.equal(backoffMs(p, 5, undefined, () => 1), 1000);
    assert.equal(backoffMs(p, 5, undefined, () => 0), 1);
    assert.equal(backoffMs(p, 1, 9000), 5000);
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs(new Date(Date.now() + 10_000).toUTCString(), Date.now()) !== undefined, true);
    assert.equal(retryAfterMs('soon'), undefined);
  });
});

const tracking = (ms: number, ns = 'http://schemas.sage.com/sdata/2008/1') =>
  `<?xml version="1.0"?><tracking xmlns="${ns}"><phase>Run</phase><progress>10.0</progress><pollingMillis>${ms}</pollingMillis></tracking>`;

describe('asynchronous operation', () => {
  const s = scripted();
  let base = '';
  before(async () => {
    await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => s.server.close(() => r())));

  it('follows 202s with changing Location and pollingMillis, uses Location verbatim, deletes the last context once', async () => {
    s.queue.push(
      (_q, r) => r.writeHead(202, { location: `${base}/ctx('A')` }).end(tracking(1, 'http://schemas.sage.com/sdata/2008')),
      (_q, r) => r.writeHead(202, { location: `${base}/ctx('B')?x=1` }).end(tracking(3)),
      (_q, r) => r.writeHead(202).end(tracking(2)),
      (_q, r) => r.writeHead(200, { 'content-type': 'application/atom+xml' }).end('<feed/>'),
      (_q, r) => r.writeHead(200).end(),
    );
    const c = new HttpClient({ retry: fast });
    const seenTracking: number[] = [];
    const op = new AsyncOperation(c, { url: `${base}/op`, body: () => 'digest', contentType: 'application/atom+xml; type=entry', onTracking: (t) => seenTracking.push(t.pollingMillis!) });
    const res = await op.start();
    assert.equal(await readSmallBody(res), '<feed/>');
    assert.deepEqual(seenTracking, [1, 3, 2]);
    assert.equal(op.location, `${base}/ctx('B')?x=1`);
    assert.equal(await op.delete(), 'deleted');
    assert.equal(await op.delete(), 'deleted');
    const urls = s.seen.map((x) => `${x.method} ${x.url}`);
    assert.deepEqual(urls.slice(-5), [
      `POST /op?trackingID=${op.trackingId}`, "GET /ctx('A')", "GET /ctx('B')?x=1", "GET /ctx('B')?x=1", "DELETE /ctx('B')?x=1",
    ]);
    await c.close();
  });

  it('accepts a synchronous 200 (no poll, no DELETE) and reports errors with diagnoses', async () => {
    s.queue.push((_q, r) => r.writeHead(200).end('<feed/>'));
    const c = new HttpClient({ retry: fast });
    const op = new AsyncOperation(c, { url: `${base}/sync`, body: () => 'd', contentType: 'text/xml' });
    await (await op.start()).body.dump();
    assert.equal(op.location, undefined);
    assert.equal(await op.delete(), 'skipped');
    s.queue.push((_q, r) => r.writeHead(400).end('<sdata:diagnoses xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:diagnosis><sdata:severity>Error</sdata:severity><sdata:sdataCode>ApplicationDiagnosis</sdata:sdataCode><sdata:applicationCode>SyncTickGap</sdata:applicationCode><sdata:message>gap</sdata:message></sdata:diagnosis></sdata:diagnoses>'));
    const op2 = new AsyncOperation(c, { url: `${base}/bad`, body: () => 'd', contentType: 'text/xml' });
    await assert.rejects(op2.start(), (e: unknown) => isSdataError(e) && e.details.status === 400 && /error ApplicationDiagnosis\/SyncTickGap: gap/.test(e.message));
    s.queue.push((_q, r) => r.writeHead(202).end(tracking(1)));
    const op3 = new AsyncOperation(c, { url: `${base}/noloc`, body: () => 'd', contentType: 'text/xml' });
    await assert.rejects(op3.start(), /without a Location/);
    await c.close();
  });

  it('gives up polling once the next wait would pass --timeout-poll, both for a page and for an operation', async () => {
    for (let i = 0; i < 4; i++) s.queue.push((_q, r) => r.writeHead(202).end(tracking(1000)));
    const clock = instantClock();
    const c = new HttpClient({ retry: fast, clock, timeouts: { pollMs: 3000 } });
    await assert.rejects(getWhenReady(c, `${base}/slow-page`),
      (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_NETWORK' && e.message === `GET ${base}/slow-page: not ready after 3 s of polling (--timeout-poll)`);
    assert.deepEqual(clock.waits, [1000, 1000, 1000]);
    assert.equal(s.seen.filter((x) => x.url === '/slow-page').length, 4);

    s.queue.push((_q, r) => r.writeHead(202, { location: `${base}/slow-op('1')` }).end(tracking(1000)));
    for (let i = 0; i < 3; i++) s.queue.push((_q, r) => r.writeHead(202).end(tracking(1000)));
    const op = new AsyncOperation(c, { url: `${base}/slow-op`, body: () => 'd', contentType: 'text/xml' });
    await assert.rejects(op.start(),
      (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_NETWORK' && e.message === `GET ${base}/slow-op('1'): operation not finished after 3 s of polling (--timeout-poll)`);
    assert.equal(op.polls, 3);
    await c.close();
  });

  it('an abort while polling ends it at once with SDATA_E_ABORTED', { timeout: 10_000 }, async () => {
    s.queue.push((_q, r) => r.writeHead(202, { location: `${base}/held('1')` }).end(tracking(1000)));
    const clock = heldClock();
    const ac = new AbortController();
    const c = new HttpClient({ retry: fast, clock, signal: ac.signal });
    const op = new AsyncOperation(c, { url: `${base}/held`, body: () => 'd', contentType: 'text/xml' });
    const p = op.start();
    await clock.waiting;
    ac.abort();
    await assert.rejects(p, (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_ABORTED' && e.message === `${base}/held('1'): interrupted while polling`);
    assert.equal(op.polls, 0);
    assert.equal(op.location, `${base}/held('1')`);
    await c.close();
  });

  it('treats 410 on DELETE as done', async () => {
    s.queue.push((_q, r) => r.writeHead(202, { location: '/rel(1)' }).end(), (_q, r) => r.writeHead(200).end('x'), (_q, r) => r.writeHead(410).end());
    const c = new HttpClient({ retry: fast });
    const op = new AsyncOperation(c, { url: `${base}/op2`, body: () => 'd', contentType: 'text/xml' });
    await (await op.start()).body.dump();
    assert.equal(op.location, `${base}/rel(1)`);
    assert.equal(await op.delete(), 'gone');
    await c.close();
  });
});
