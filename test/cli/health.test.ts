import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { startProvider } from '../../src/provider/http/server.ts';
import { runCli } from '../helpers/cli.ts';

const TOKEN = 'health-test-token-0123456789';

test('health: 0 and the $health JSON on 200 (with the first SDATA_SERVE_TOKEN as Bearer), 6 on another status', async (t) => {
  const p = await startProvider({ db: ':memory:', auth: { tokens: [TOKEN] } });
  t.after(() => p.close());
  const ok = await runCli(['health', `${p.url}/$health`], { env: { SDATA_SERVE_TOKEN: ` ${TOKEN} , another-token-0123456789` } });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { app: string }).app, 'hub');
  const denied = await runCli(['health', `${p.url}/$health`], { env: { SDATA_SERVE_TOKEN: '' } });
  assert.equal(denied.code, 6);
  assert.match(denied.stderr, /sdata-sync health: GET http:\/\/127\.0\.0\.1:\d+\/sdata\/hub\/crm\/-\/\$health: 401/);
});

test('health: 5 when nothing answers, 2 for a bad command line', async () => {
  // A port that was free a moment ago: nothing listens there.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address() as { port: number };
      s.close(() => resolve(a.port));
    });
  });
  const refused = await runCli(['health', `http://127.0.0.1:${port}/sdata/hub/crm/-/$health`]);
  assert.equal(refused.code, 5, refused.stderr);
  assert.match(refused.stderr, /ECONNREFUSED/);
  assert.equal((await runCli(['health'])).code, 2);
  assert.equal((await runCli(['health', 'ftp://x/y'])).code, 2);
});
