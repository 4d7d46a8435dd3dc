import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import type { RunningProvider } from '../../src/provider/http/server.ts';
import { page as testPage } from '../helpers/feeds.ts';
import { digestEntryXml, get, http, kid, parseXml, provider, testDir, textOf, type TestDir } from './helpers.ts';

/**
 * What one client may cost the server (issue 13 point 5): body, header and URL sizes, concurrent requests, slow
 * clients, URL segments checked before any work, and no internal detail in a 500.
 */

const EP = 'http://a.example/sdata/app/c/-/accounts';
const MAX_BODY = 4000;

let dir: TestDir;
let p: RunningProvider;

before(async () => {
  dir = testDir();
  p = await provider(dir, 'limits', { maxBodyBytes: MAX_BODY, httpLimits: { maxConcurrent: 2, maxUrlBytes: 2048, maxHeaderBytes: 8192 } });
});
after(async () => {
  await p.close();
  dir.cleanup();
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A request through node:http; `chunks` are written one by one with chunked encoding unless a length is given. */
function send(method: string, url: string, chunks: string[], headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

const codeOf = (text: string): string | undefined => textOf(kid(parseXml(text), NS.sdata, 'diagnosis'), NS.sdata, 'sdataCode');

const BODY_ROUTES: Array<[string, string]> = [
  ['POST', 'accounts'], ['PUT', "accounts('1')"], ['PUT', 'accounts/$syncDigest'], ['POST', 'accounts/$syncDigest'],
  ['POST', 'accounts/$syncSource?trackingID=big-s'], ['POST', 'accounts/$syncTarget?trackingID=big-t'], ['POST', 'accounts/$syncTarget'],
  ['POST', 'accounts/$syncResults'], ['POST', 'accounts/$batch?trackingID=big-b'], ['POST', 'accounts/$batch'],
];

test('--max-body covers every route that reads a body: declared lengths before any work, chunked bodies as they arrive', async () => {
  // The start of a feed, then a long comment: streaming readers keep reading until the limit stops them.
  const big = `<feed xmlns="${NS.atom}"><!--${'y'.repeat(2 * MAX_BODY)}-->`;
  // Declared too long: 413 before any of the body is needed (the client sends only its start, never the rest), and
  // the connection is closed (the promise settles on the close; the test's timeout bounds the wait).
  const port = Number(new URL(p.url).port);
  for (const [method, path] of [...BODY_ROUTES, ['GET', 'accounts'], ['DELETE', "accounts('1')"]] as const) {
    const target = new URL(`${p.url}/${path}`);
    const got = await rawUntilClosed(port, (s) => void s.write(`${method} ${target.pathname}${target.search} HTTP/1.1\r\nHost: x\r\n` +
      `Content-Length: ${Buffer.byteLength(big)}\r\n\r\n${big.slice(0, 1000)}`));
    assert.match(got, /^HTTP\/1\.1 413 /, `${method} ${path} (declared)`);
  }
  for (const [method, path] of BODY_ROUTES) {
    const r = await send(method, `${p.url}/${path}`, [big.slice(0, MAX_BODY / 2), big.slice(MAX_BODY / 2)]);
    assert.equal(r.status, 413, `${method} ${path} (chunked): ${r.text}`);
  }
  // A repeated POST drains its body unapplied, within the limit too.
  const small = testPage({ digest: [[EP, 10, 5]], entries: [{ endpoint: EP, tick: 1, uuid: 'dup-1' }] });
  assert.equal((await http('POST', `${p.url}/accounts/$syncTarget?trackingID=dup`, small)).status, 202);
  const again = await send('POST', `${p.url}/accounts/$syncTarget?trackingID=dup`, [small, big]);
  assert.equal(again.status, 413);
  assert.equal(p.health().appliedTrackingIds['dup'], 1);
  assert.equal(p.openContexts(), 1, 'no context left behind by the refused bodies');
});

test('URL length: 414 beyond --max-url-bytes; headers beyond --max-header-bytes: 431', async () => {
  const long = await get(`${p.url}/accounts?count=1&x=${'a'.repeat(2100)}`);
  assert.equal(long.status, 414);
  assert.equal(codeOf(long.text), 'BadUrlSyntax');
  assert.equal((await get(`${p.url}/accounts?count=1&x=${'a'.repeat(1800)}`)).status, 200);
  const headers = await send('GET', `${p.url}/$health`, [], { 'x-big': 'h'.repeat(9000) });
  assert.equal(headers.status, 431);
});

test('kind and path segments are checked before any work: unknown kind 404, odd characters 400', async () => {
  const r = await get(`${p.url}/widgets/$syncTarget('x')`);
  assert.equal(r.status, 404);
  assert.equal(codeOf(r.text), 'ResourceKindNotFound');
  assert.equal((await get(`${p.url}/$nothing`)).status, 404);
  for (const path of ['acc%00ounts', 'acc%0Aounts/$syncDigest', 'ac%3Cc', 'a%2Fb', 'a%20b', "accounts('1%01')", "accounts/$syncTarget('a%7Fb')", '%C3%28', '1abc']) {
    const bad = await get(`${p.url}/${path}`);
    assert.equal(bad.status, 400, path);
    assert.equal(codeOf(bad.text), 'BadUrlSyntax', path);
  }
});

test('beyond --max-concurrent requests: 503 with Retry-After; the held requests finish normally', async () => {
  const before = p.openContexts();
  const held = [0, 1].map((i) => {
    const body = testPage({ digest: [[EP, 10, 5]], entries: [{ endpoint: EP, tick: 5 + i, uuid: `held-${i}` }] });
    const u = new URL(`${p.url}/accounts/$syncTarget?trackingID=held-${i}`);
    let finish!: () => void;
    const answer = new Promise<number>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST' }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write(body.slice(0, 100));
      finish = () => req.end(body.slice(100));
    });
    return { answer, finish: () => finish() };
  });
  // Both are in their handlers once their contexts exist.
  for (let i = 0; i < 400 && p.openContexts() < before + 2; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(p.openContexts(), before + 2);
  const busy = await get(`${p.url}/$health`);
  assert.equal(busy.status, 503);
  assert.equal(busy.headers.get('retry-after'), '1');
  assert.equal(textOf(kid(parseXml(busy.text), NS.sdata, 'diagnosis'), NS.sdata, 'severity'), 'transient');
  for (const h of held) h.finish();
  assert.deepEqual(await Promise.all(held.map((h) => h.answer)), [202, 202]);
  assert.equal((await get(`${p.url}/$health`)).status, 200);
});

/**
 * A raw connection: what it received when the server closed it. A server that cuts off a client still sending may
 * answer its next bytes with a reset (TCP does when unread data meets a closed socket): that is a close too, not a
 * failure of the test. `write` may return a clean-up, run when the connection closes whatever happened.
 */
function rawUntilClosed(port: number, write: (s: Socket) => (() => void) | void): Promise<string> {
  return new Promise((resolve, reject) => {
    let cleanup: (() => void) | void;
    const s = connect(port, '127.0.0.1', () => (cleanup = write(s)));
    let got = '';
    let failure: NodeJS.ErrnoException | undefined;
    s.setEncoding('utf8').on('data', (d: string) => (got += d));
    s.on('error', (e: NodeJS.ErrnoException) => (failure = e));
    s.on('close', () => {
      cleanup?.();
      if (failure && failure.code !== 'ECONNRESET' && failure.code !== 'EPIPE') reject(failure);
      else resolve(got);
    });
  });
}

test('slow clients are cut off: headers (slowloris), a whole request, a stalled body', { timeout: 20_000 }, async () => {
  const slow = await provider(dir, 'slow', { httpLimits: { headersTimeoutMs: 300, requestTimeoutMs: 800, idleTimeoutMs: 500 } });
  const port = Number(new URL(slow.url).port);
  const path = new URL(`${slow.url}/accounts/$syncDigest`).pathname;
  try {
    // Headers that never end.
    const headers = await rawUntilClosed(port, (s) => void s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n`));
    assert.match(headers, /^HTTP\/1\.1 408 /);
    // A body dribbled a byte at a time: never idle, but the request as a whole takes too long. The server may cut
    // the connection before the client reads its 408, so an empty answer counts too: what matters is the close.
    const whole = await rawUntilClosed(port, (s) => {
      s.write(`PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n`);
      const timer = setInterval(() => s.writable && s.write('x'), 50);
      return () => clearInterval(timer);
    });
    assert.match(whole, /^HTTP\/1\.1 408 |^$/);
    // A body that stops: the connection is closed after the idle timeout.
    const stalled = await rawUntilClosed(port, (s) => void s.write(`PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n${digestEntryXml([]).slice(0, 20)}`));
    assert.doesNotMatch(stalled, /^HTTP\/1\.1 2/);
    assert.equal((await get(`${slow.url}/$health`)).status, 200, 'the server is fine');
  } finally {
    await slow.close();
  }
});

test('an unexpected failure: 500 with a generic diagnosis; the stack goes to the log, not to the client', async () => {
  const logged: string[] = [];
  const broken = await provider(dir, 'broken', { log: (l) => logged.push(l) });
  try {
    broken.store.close(); // every query now throws a plain Error, as a bug would
    const r = await get(`${broken.url}/accounts`);
    assert.equal(r.status, 500);
    const msg = textOf(kid(parseXml(r.text), NS.sdata, 'diagnosis'), NS.sdata, 'message')!;
    const ref = /^internal error \(reference ([0-9a-f]{8})\); the provider's log has the details$/.exec(msg);
    assert.ok(ref, msg);
    assert.doesNotMatch(r.text, /finalized|database|\.ts:\d+|\bat /);
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, new RegExp(`internal error ${ref[1]}: GET /sdata/hub/crm/-/accounts: Error: statement has been finalized`));
    assert.match(logged[0]!, /\n\s+at /, 'with its stack');
  } finally {
    await broken.close();
  }
});
