import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';

/** `sdata-sync health URL` against a local server: 200 → 0, no answer → 5, another status → 6, one line each. */

const SERVE_TOKEN = 'serve-token-0123456789';
const held: ServerResponse[] = [];
const seen: Array<string | undefined> = [];
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  seen.push(req.headers.authorization);
  if (req.url === '/ok') res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  else if (req.url === '/down') res.writeHead(503).end();
  else if (req.url === '/auth') res.writeHead(req.headers.authorization === 'Bearer t0k3n' ? 200 : 401).end();
  else if (req.url === '/serve') res.writeHead(req.headers.authorization === `Bearer ${SERVE_TOKEN}` ? 200 : 401).end();
  else if (req.url === '/slow') held.push(res); // never answered: the probe's timeout decides
  else res.writeHead(404).end();
});
let base = '';
before(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const r of held) r.destroy();
  server.close();
  await once(server, 'close');
});

test('200: exit 0 and one line on stdout (none with --quiet)', async () => {
  const r = await runCli(['health', `${base}/ok`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^${base}/ok: 200 in \\d+ ms\\n$`));
  assert.equal(r.stderr, '');
  const q = await runCli(['health', `${base}/ok`, '-q']);
  assert.deepEqual([q.code, q.stdout, q.stderr], [0, '', '']);
});

test('another status: exit 6, one line naming it; a 401 says how to send credentials', async () => {
  const down = await runCli(['health', `${base}/down`]);
  assert.equal(down.code, 6);
  assert.equal(down.stderr, `sdata-sync health: GET ${base}/down: HTTP 503 Service Unavailable\n`);
  const denied = await runCli(['health', `${base}/auth`], { env: { SDATA_TARGET_TOKEN: 't0k3n' } });
  assert.equal(denied.code, 6);
  assert.equal(denied.stderr, `sdata-sync health: GET ${base}/auth: HTTP 401 Unauthorized; no credentials were sent (--auth source|target sends them)\n`);
});

test('credentials only with --auth, from that side\'s variables', async () => {
  seen.length = 0;
  const r = await runCli(['health', `${base}/auth`, '--auth', 'target'], { env: { SDATA_TARGET_TOKEN: 't0k3n', SDATA_SOURCE_TOKEN: 'other' } });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(seen, ['Bearer t0k3n']);
  const wrong = await runCli(['health', `${base}/auth`, '--auth', 'source'], { env: { SDATA_SOURCE_TOKEN: 'other' } });
  assert.equal(wrong.code, 6);
  assert.match(wrong.stderr, /HTTP 401 Unauthorized; the provider refused the source credentials from SDATA_SOURCE_TOKEN/);
  assert.doesNotMatch(wrong.stderr, /other/);
});

test('--auth serve: the first of the provider\'s own tokens (a probe beside serve), as serve checks them', async () => {
  seen.length = 0;
  const r = await runCli(['health', `${base}/serve`, '--auth', 'serve'], { env: { SDATA_SERVE_TOKEN: ` ${SERVE_TOKEN} , another-token-0123456789` } });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(seen, [`Bearer ${SERVE_TOKEN}`]);
  const unset = await runCli(['health', `${base}/serve`, '--auth', 'serve'], { env: { SDATA_SERVE_TOKEN: '' } });
  assert.equal(unset.code, 6);
  assert.equal(unset.stderr, `sdata-sync health: GET ${base}/serve: HTTP 401 Unauthorized; SDATA_SERVE_TOKEN is not set: no token was sent\n`);
  const wrong = await runCli(['health', `${base}/serve`, '--auth', 'serve'], { env: { SDATA_SERVE_TOKEN: 'wrong-token-0123456789' } });
  assert.equal(wrong.code, 6);
  assert.match(wrong.stderr, /HTTP 401 Unauthorized; the provider refused the first token of SDATA_SERVE_TOKEN\n$/);
  assert.doesNotMatch(wrong.stderr, /wrong-token/);
  const short = await runCli(['health', `${base}/serve`, '--auth', 'serve'], { env: { SDATA_SERVE_TOKEN: 'short' } });
  assert.equal(short.code, 2);
  assert.match(short.stderr, /SDATA_SERVE_TOKEN: token 1 is shorter than 16 characters/);
});

test('no answer: exit 5 (refused, a timeout, TLS to a plain HTTP port)', async () => {
  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const port = (closed.address() as AddressInfo).port;
  closed.close();
  await once(closed, 'close');
  const refused = await runCli(['health', `http://127.0.0.1:${port}/$health`]);
  assert.equal(refused.code, 5);
  assert.match(refused.stderr, /^sdata-sync health: GET http:\/\/127\.0\.0\.1:\d+\/\$health: ECONNREFUSED: /);
  const slow = await runCli(['health', `${base}/slow`, '--timeout', '300ms']);
  assert.equal(slow.code, 5);
  assert.equal(slow.stderr, `sdata-sync health: GET ${base}/slow: no answer within 0.3 s\n`);
  const tls = await runCli(['health', `${base.replace('http:', 'https:')}/ok`]);
  assert.equal(tls.code, 5, tls.stderr);
});
