import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hashPassword } from '../../src/provider/http/password-hash.ts';
import type { RunningProvider } from '../../src/provider/http/server.ts';
import { seedStore } from '../../src/seeder/seed-store.ts';
import { runCli } from '../helpers/cli.ts';
import { serveProcess } from '../helpers/serve.ts';
import { provider, testDir, type TestDir } from './helpers.ts';

/**
 * TLS (issue 13 point 3): `serve --tls-cert --tls-key`, and the engine talking to it over https:// with a
 * self-signed certificate trusted through `--ca` (or NODE_EXTRA_CA_CERTS), with authentication on both sides.
 * The certificate is made by openssl for 127.0.0.1 and localhost.
 */

const OPENSSL = spawnSync('openssl', ['version']).status === 0;
const skip = OPENSSL ? false : 'needs openssl (it makes the test certificate)';

const TOKEN = 'tls-source-token-0123456789';
const PASSWORD = 'target password';

let dir: TestDir;
let cert = '';
let key = '';
let serveUrl = '';
let stopServe: () => Promise<number | null> = async () => 0;
let target: RunningProvider;

before(async () => {
  if (!OPENSSL) return;
  dir = testDir();
  cert = join(dir.dir, 'cert.pem');
  key = join(dir.dir, 'key.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  await seedStore({ db: dir.db('src'), app: 'hub', contract: 'crm', kind: 'accounts', count: 300 });
  // The source: `serve` as users run it, HTTPS and a Bearer token.
  const served = await serveProcess(['--db', dir.db('src'), '--tls-cert', cert, '--tls-key', key, '--page-size', '100'], { SDATA_SERVE_TOKEN: TOKEN });
  assert.match(served.stderr(), /authentication: Bearer \(1 token\); TLS/);
  serveUrl = served.url;
  stopServe = () => served.stop();
  // The target: in-process, HTTPS and a Basic user.
  target = await provider(dir, 'tgt', {
    app: 'spoke', kinds: ['accounts'], tls: { cert: readFileSync(cert), key: readFileSync(key) },
    auth: { users: new Map([['engine', hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 })]]) },
  });
});
after(async () => {
  if (!OPENSSL) return;
  assert.equal(await stopServe(), 0);
  await target.close();
  dir.cleanup();
});

const ENV = { SDATA_SOURCE_TOKEN: TOKEN, SDATA_TARGET_USER: 'engine', SDATA_TARGET_PASSWORD: PASSWORD };

test('serve speaks HTTPS only: its URL is https://, and a client that does not trust the certificate is refused', { skip }, async () => {
  assert.match(serveUrl, /^https:\/\/127\.0\.0\.1:\d+\/sdata\/hub\/crm\/-$/);
  assert.match(target.url, /^https:\/\//);
  const status = (url: string, ca?: string): Promise<number | string> => new Promise((resolve) => {
    const req = request(url, { ...(ca ? { ca: readFileSync(ca) } : {}), headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end();
  });
  assert.equal(await status(`${serveUrl}/$health`, cert), 200);
  assert.equal(await status(`${serveUrl}/$health`), 'DEPTH_ZERO_SELF_SIGNED_CERT');
  // Plain HTTP to the TLS port gets no HTTP answer.
  await assert.rejects(fetch(`${serveUrl.replace('https:', 'http:')}/$health`));
});

test('run between two HTTPS providers with authentication: --ca trusts the self-signed certificate; the target ends equal', { skip }, async () => {
  const refused = await runCli(['run', '--source', serveUrl, '--target', target.url, '--kind', 'accounts', '--quiet', '--retries', '0'], { env: ENV });
  assert.equal(refused.code, 5, refused.stderr);
  assert.match(refused.stderr, /self-signed certificate/);
  const r = await runCli(['run', '--source', serveUrl, '--target', target.url, '--kind', 'accounts', '--quiet', '--ca', cert, '--chunk-entries', '120'], { env: ENV });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(target.checksum('accounts').count, 300);
  const d = await runCli(['digest', `${target.url}/accounts`, '--ca', cert], { env: ENV });
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /<sync:digest|digest/);
  assert.ok(!r.stderr.includes(TOKEN) && !r.stderr.includes(PASSWORD));
});

test('NODE_EXTRA_CA_CERTS works as well as --ca (undici uses Node\'s default trust store); a bad --ca is refused up front', { skip }, async () => {
  const r = await runCli(['run', '--source', serveUrl, '--target', target.url, '--kind', 'accounts', '--quiet'], { env: { ...ENV, NODE_EXTRA_CA_CERTS: cert } });
  assert.equal(r.code, 0, r.stderr);
  const missing = await runCli(['digest', `${target.url}/accounts`, '--ca', join(dir.dir, 'nope.pem')], { env: ENV });
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /--ca .*nope\.pem: cannot read: ENOENT/);
  const notPem = await runCli(['digest', `${target.url}/accounts`, '--ca', key], { env: ENV });
  assert.equal(notPem.code, 2);
  assert.match(notPem.stderr, /no PEM certificate in it/);
});
