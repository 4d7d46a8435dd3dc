import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import { Authenticator, isLoopback, parseTokens, parseUsersFile } from '../../src/provider/http/auth.ts';
import { formatPasswordHash, hashPassword, parsePasswordHash, verifyPassword } from '../../src/provider/http/password-hash.ts';
import type { RunningProvider } from '../../src/provider/http/server.ts';
import { http, kid, parseXml, provider, testDir, textOf, type Res, type TestDir } from './helpers.ts';

/**
 * Authentication (issue 13 point 3): Bearer tokens and Basic users on every URL, one 401 for every kind of wrong,
 * constant-time comparisons, scrypt paid once per credential, and principals that are never the secret.
 */

const TOKEN_A = 'tok-A-0123456789abcdefXYZ';
const TOKEN_B = 'tok-B-9876543210fedcbaXYZ';
const PASSWORD = 'correct horse battery staple';
// A cheap cost for most tests; the cache test uses the default cost it is about.
const CHEAP = { N: 1024, r: 8, p: 1 };

const basic = (user: string, pw: string): string => `Basic ${Buffer.from(`${user}:${pw}`, 'utf8').toString('base64')}`;

let dir: TestDir;
let p: RunningProvider;
const logged: string[] = [];

before(async () => {
  dir = testDir();
  p = await provider(dir, 'auth', {
    auth: { tokens: [TOKEN_A, TOKEN_B], users: new Map([['alice', hashPassword(PASSWORD, CHEAP)], ['bob', hashPassword('bobs password', CHEAP)]]) },
    log: (l) => logged.push(l),
  });
});
after(async () => {
  await p.close();
  dir.cleanup();
});

function assert401(r: Res, what: string): string {
  assert.equal(r.status, 401, what);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="sdata-sync", Basic realm="sdata-sync", charset="UTF-8"', what);
  const d = parseXml(r.text);
  assert.equal(d.local, 'diagnoses', what);
  return textOf(kid(d, NS.sdata, 'diagnosis'), NS.sdata, 'message') ?? '';
}

test('every URL needs credentials: one 401, the same challenge and message whatever was wrong', async () => {
  const urls = [
    `${p.url}/$health`, `${p.url}/$schema`, `${p.url}/accounts`, `${p.url}/accounts/$syncDigest`, `${p.url}/accounts('1')`,
    `${p.url}/accounts/$checksum`, `${p.url}/widgets/$syncDigest`, `${p.url}/accounts/$syncTarget('x')`,
    p.url.replace('/sdata/', '/elsewhere/'), `${p.url}/acc%00ounts`,
  ];
  const wrong: Array<[string, Record<string, string>]> = [
    ['no header', {}],
    ['wrong token', { authorization: `Bearer ${TOKEN_A}x` }],
    ['token of another length', { authorization: 'Bearer abc' }],
    ['wrong password', { authorization: basic('alice', 'wrong') }],
    ['unknown user', { authorization: basic('mallory', PASSWORD) }],
    ['no colon', { authorization: `Basic ${Buffer.from('alice').toString('base64')}` }],
    ['password as token', { authorization: `Bearer ${PASSWORD.replace(/ /g, '')}` }],
    ['other scheme', { authorization: `Digest ${TOKEN_A}` }],
    ['garbage', { authorization: 'x' }],
  ];
  const messages = new Set<string>();
  for (const u of urls) messages.add(assert401(await http('GET', u), u));
  for (const [what, headers] of wrong) messages.add(assert401(await http('GET', `${p.url}/$health`, undefined, headers), what));
  assert.equal(messages.size, 1, [...messages].join(' | '));
  // Writes are refused before anything is read or changed.
  const before = p.checksum('accounts');
  assert401(await http('POST', `${p.url}/accounts`, '<entry/>', { authorization: `Bearer ${TOKEN_A}0` }), 'POST');
  assert401(await http('PUT', `${p.url}/accounts/$syncDigest`, '<entry/>'), 'PUT digest');
  assert.deepEqual(p.checksum('accounts'), before);
});

test('each token and each user gets in; a 401 with a body pending closes the connection', async () => {
  for (const authorization of [`Bearer ${TOKEN_A}`, `bearer ${TOKEN_B}`, basic('alice', PASSWORD), basic('bob', 'bobs password')]) {
    const r = await http('GET', `${p.url}/$health`, undefined, { authorization });
    assert.equal(r.status, 200, authorization.slice(0, 6));
  }
  const r = await http('GET', `${p.url}/widgets/$syncDigest`, undefined, { authorization: `Bearer ${TOKEN_A}` });
  assert.equal(r.status, 404, 'authenticated: the kind is checked');
  // A refused POST's body is not swallowed: the answer comes at once, and the connection is closed although the
  // client never sends the rest (the promise settles only on the close; the test's timeout bounds the wait).
  const u = new URL(`${p.url}/accounts/$syncTarget?trackingID=t`);
  const refused = await new Promise<string>((resolve, reject) => {
    const s = connect(Number(u.port), '127.0.0.1', () => s.write(`POST ${u.pathname}${u.search} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(1000)}`));
    let got = '';
    s.setEncoding('utf8').on('data', (d: string) => (got += d));
    s.on('error', reject);
    s.on('close', () => resolve(got));
  });
  assert.match(refused, /^HTTP\/1\.1 401 /);
  assert.deepEqual(logged, [], 'nothing logged for refused requests');
});

test('scrypt runs once per credential: cached (keyed by a hash of the header), shared by concurrent requests, and again after the TTL', async (t) => {
  // The default cost, as hash-password makes it.
  const hash = hashPassword(PASSWORD);
  let now = 1_000_000;
  const auth = new Authenticator({ users: new Map([['alice', hash]]), cacheSeconds: 60 }, () => now);
  const header = basic('alice', PASSWORD);
  const t0 = performance.now();
  assert.equal(await auth.authenticate(header), 'user:alice');
  const first = performance.now() - t0;
  assert.equal(auth.stats.verifications, 1);
  const t1 = performance.now();
  for (let i = 0; i < 1000; i++) assert.equal(await auth.authenticate(header), 'user:alice');
  const cached = (performance.now() - t1) / 1000;
  assert.deepEqual(auth.stats, { verifications: 1, cacheHits: 1000 });
  t.diagnostic(`scrypt N=2^14 r=8 p=1: first request ${first.toFixed(1)} ms; cached ${(cached * 1000).toFixed(1)} µs per request`);
  // Concurrent first requests with another header wait for one verification.
  const other = new Authenticator({ users: new Map([['alice', hash]]) });
  const all = await Promise.all(Array.from({ length: 8 }, async () => other.authenticate(header)));
  assert.deepEqual(new Set(all), new Set(['user:alice']));
  assert.equal(other.stats.verifications, 1);
  // After the TTL the credential is verified again; a wrong one is never cached.
  now += 61_000;
  assert.equal(await auth.authenticate(header), 'user:alice');
  assert.equal(auth.stats.verifications, 2);
  assert.equal(await auth.authenticate(basic('alice', 'nope')), undefined);
  assert.equal(await auth.authenticate(basic('alice', 'nope')), undefined);
  assert.equal(auth.stats.verifications, 4);
});

test('through the server, a pass worth of requests pays one verification', async () => {
  const before = p.authStats.verifications;
  for (let i = 0; i < 50; i++) assert.equal((await http('GET', `${p.url}/accounts/$syncDigest`, undefined, { authorization: basic('bob', 'bobs password') })).status, 200);
  assert.ok(p.authStats.verifications - before <= 1, `${p.authStats.verifications - before} verifications`);
});

test('principals are stable ids that are never the secret', () => {
  const a = new Authenticator({ tokens: [TOKEN_A] });
  const b = new Authenticator({ tokens: [TOKEN_B, TOKEN_A] });
  const pa = a.authenticate(`Bearer ${TOKEN_A}`) as string;
  assert.match(pa, /^token:[0-9a-f]{16}$/);
  assert.equal(b.authenticate(`Bearer ${TOKEN_A}`), pa, 'the same token is the same principal, whatever the order or process');
  assert.notEqual(b.authenticate(`Bearer ${TOKEN_B}`), pa);
  assert.ok(!pa.includes(TOKEN_A) && !pa.includes(Buffer.from(TOKEN_A).toString('hex').slice(0, 16)));
  assert.equal(new Authenticator().required, false);
});

test('password hashes: the documented format, verified in constant time; bad ones refused with the reason', async () => {
  const text = hashPassword('pw', CHEAP);
  assert.match(text, /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
  const h = parsePasswordHash(text);
  assert.equal(formatPasswordHash(h), text);
  assert.equal(await verifyPassword('pw', h), true);
  assert.equal(await verifyPassword('pW', h), false);
  // NFC: the same password typed in another normal form.
  assert.equal(await verifyPassword('caf\u0065\u0301', parsePasswordHash(hashPassword('caf\u00e9', CHEAP))), true);
  for (const [bad, why] of [
    ['bcrypt$2b$10$x', /not an scrypt hash/], ['scrypt$1000$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==', /power of two/],
    [`scrypt$${2 ** 21}$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==`, /power of two/], ['scrypt$1024$8$1$!!$aGFzaGhhc2hoYXNoaGFzaA==', /salt/],
    ['scrypt$1024$8$1$c2FsdHNhbHQ=$aGFzaA==', /hash is not/], ['scrypt$1024$1024$1024$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==', /r and p/],
  ] as const) assert.throws(() => parsePasswordHash(bad), why, bad);
});

test('users file: comments and blank lines; errors name file:line, never the content', () => {
  const good = hashPassword('x', CHEAP);
  const users = parseUsersFile(`# hub users\n\nalice:${good}\r\n  bob : ${good}  \n# end\n`, 'users.txt');
  assert.deepEqual([...users.keys()], ['alice', 'bob']);
  for (const [text, msg] of [
    [`alice:${good}\nalice:${good}`, /users\.txt:2: user 'alice' appears twice/],
    ['alice:supersecretpassword', /users\.txt:1: user 'alice': not an scrypt hash/],
    ['supersecretpassword', /users\.txt:1: expected user:hash/],
    [`al ice:${good}`, /users\.txt:1: expected user:hash/],
  ] as const) {
    assert.throws(() => parseUsersFile(text, 'users.txt'), (e: Error) => msg.test(e.message) && !e.message.includes('supersecret'), text);
  }
});

test('tokens: comma-separated, at least 16 characters of the RFC 6750 alphabet', () => {
  assert.deepEqual(parseTokens(` ${TOKEN_A} ,${TOKEN_B},`), [TOKEN_A, TOKEN_B]);
  assert.deepEqual(parseTokens(undefined), []);
  assert.throws(() => parseTokens('short'), /token 1 is shorter than 16/);
  assert.throws(() => parseTokens(`${TOKEN_A},with space inside it!`), /token 2 has characters/);
});

test('loopback: 127.0.0.0/8, ::1 (and v4-mapped), localhost; nothing else', () => {
  for (const h of ['127.0.0.1', '127.5.6.7', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '::ffff:10.0.0.1', 'example.com', 'localhost.example.com', '']) assert.equal(isLoopback(h), false, h);
});

test('a provider without authentication refuses a non-loopback address unless insecure', async () => {
  await assert.rejects(provider(dir, 'open', { host: '0.0.0.0' }), /refusing to listen on 0\.0\.0\.0 without authentication.*--insecure/);
  const open = await provider(dir, 'open', { host: '0.0.0.0', insecure: true });
  await open.close();
  const guarded = await provider(dir, 'open', { host: '0.0.0.0', auth: { tokens: [TOKEN_A] } });
  assert.equal((await http('GET', `${guarded.url}/$health`)).status, 401);
  await guarded.close();
});
