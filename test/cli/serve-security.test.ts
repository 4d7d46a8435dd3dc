import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { serveProcess as serve } from '../helpers/serve.ts';
import { http, testDir, type TestDir } from '../provider/helpers.ts';

/** `serve`'s security settings as a user gives them: environment variables, flags, files; exit codes and messages. */

const TOKEN = 'serve-token-abcdefghijklmnop';
const PASSWORD = 'a password nobody logs';

let dir: TestDir;
before(() => {
  dir = testDir();
});
after(() => dir.cleanup());

test('serve refuses a non-loopback address without authentication (exit 2), unless --insecure or credentials are set', async () => {
  const r = await runCli(['serve', '--db', dir.db('open'), '--host', '0.0.0.0', '--port', '0']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without authentication.*SDATA_SERVE_TOKEN.*--insecure/);
  const insecure = await serve(['--db', dir.db('open'), '--host', '0.0.0.0', '--insecure']);
  assert.match(insecure.stderr(), /authentication: none \(--insecure\); plain HTTP/);
  assert.equal(await insecure.stop(), 0);
  const guarded = await serve(['--db', dir.db('open'), '--host', '0.0.0.0'], { SDATA_SERVE_TOKEN: TOKEN });
  assert.equal((await http('GET', `${guarded.url}/$health`)).status, 401);
  assert.equal((await http('GET', `${guarded.url}/$health`, undefined, { authorization: `Bearer ${TOKEN}` })).status, 200);
  assert.equal(await guarded.stop(), 0);
});

test('tokens and a users file reach the provider thread; nothing secret is printed', async () => {
  const users = join(dir.dir, 'users');
  writeFileSync(users, `# the hub's users\n\n${(await runCli(['hash-password', 'alice', '--cost', '1024'], { stdin: PASSWORD })).stdout}`);
  const s = await serve(['--db', dir.db('auth')], { SDATA_SERVE_TOKEN: `${TOKEN},${TOKEN}2`, SDATA_SERVE_USERS_FILE: users });
  try {
    assert.equal((await http('GET', `${s.url}/accounts`)).status, 401);
    assert.equal((await http('GET', `${s.url}/accounts`, undefined, { authorization: `Bearer ${TOKEN}2` })).status, 200);
    const basic = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;
    assert.equal((await http('GET', `${s.url}/accounts`, undefined, { authorization: basic })).status, 200);
    assert.equal((await http('GET', `${s.url}/accounts`, undefined, { authorization: `Bearer ${TOKEN}x` })).status, 401);
  } finally {
    assert.equal(await s.stop(), 0);
  }
  assert.match(s.stderr(), /authentication: Bearer \(2 tokens\), Basic \(1 user\); plain HTTP/);
  assert.ok(!s.stderr().includes(TOKEN) && !s.stderr().includes(PASSWORD) && !s.stderr().includes('scrypt$'), s.stderr());
});

test('bad security settings stop serve before it listens: exit 2 for a setting, 4 for a file it cannot read', async () => {
  const badUsers = join(dir.dir, 'bad-users');
  writeFileSync(badUsers, 'alice:plaintext-password\n');
  const garbage = join(dir.dir, 'garbage.pem');
  writeFileSync(garbage, 'not a certificate\n');
  const db = dir.db('bad');
  for (const [args, env, code, msg] of [
    [[], { SDATA_SERVE_TOKEN: 'short' }, 2, /token 1 is shorter than 16 characters/],
    [[], { SDATA_SERVE_USERS_FILE: join(dir.dir, 'missing') }, 4, /SDATA_SERVE_USERS_FILE .*missing: cannot read: ENOENT/],
    [[], { SDATA_SERVE_USERS_FILE: badUsers }, 2, /bad-users:1: user 'alice': not an scrypt hash/],
    [['--tls-cert', garbage], {}, 2, /--tls-cert and --tls-key go together/],
    [['--tls-cert', join(dir.dir, 'none.pem'), '--tls-key', garbage], {}, 4, /--tls-cert .*none\.pem: cannot read: ENOENT/],
    [['--tls-cert', garbage, '--tls-key', garbage], {}, 2, /not a usable certificate and private key/],
    [['--max-concurrent', '0'], {}, 2, /--max-concurrent: expected a whole number ≥ 1, got "0"/],
  ] as const) {
    const r = await runCli(['serve', '--db', db, '--port', '0', ...args], { env });
    assert.equal(r.code, code, `${args.join(' ')} ${JSON.stringify(env)}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.ok(!r.stderr.includes('plaintext-password'));
  }
});
