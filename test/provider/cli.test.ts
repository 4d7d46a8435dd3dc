import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { Store } from '../../src/provider/store/store.ts';
import { BIN, binFlags, NODE, runCli } from '../helpers/cli.ts';
import { until } from '../helpers/until.ts';
import { get, post, testDir, type TestDir } from './helpers.ts';

/** `sdata-sync seed` and `sdata-sync serve` as processes: output, a request, a graceful SIGTERM. */

let dir: TestDir;
before(() => {
  dir = testDir();
});
after(() => dir.cleanup());

test('seed fills a store whose digest and syncStates are those of its own endpoint', async () => {
  const db = dir.db('seeded');
  const r = await runCli(['seed', '--db', db, '--app', 'hub', '--contract', 'crm', '--kind', 'accounts', '--endpoint-base', 'http://hub.example/sdata/hub/crm/-', '40']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stderr.trim().split('\n').pop()!) as { seeded: number }).seeded, 40);
  const again = await runCli(['seed', '--db', db, '--app', 'hub', '--contract', 'crm', '--kind', 'accounts', '--quiet', '2']);
  assert.equal(again.code, 0, again.stderr);
  const s = new Store({ db });
  try {
    const k = s.kind('accounts')!;
    assert.equal(k.selfUrl, 'http://hub.example/sdata/hub/crm/-/accounts');
    assert.equal(s.digest.rows(k.id).get(k.selfEp)!.tick, '43');
    assert.equal(s.admin.counts(k.id).resources, 42);
  } finally {
    s.close();
  }
  // Ticks are stored as tick keys (store/tick-key.ts): read the file as it is on disk.
  const raw = new DatabaseSync(db, { readOnly: true });
  try {
    const max = raw.prepare('SELECT max(tick) AS t FROM resources WHERE kind = (SELECT id FROM kinds WHERE name = ?)').get('accounts') as { t: string };
    assert.equal(max.t, '02:42');
  } finally {
    raw.close();
  }
  // The endpoint identity is fixed at creation.
  const other = await runCli(['seed', '--db', db, '--app', 'hub', '--contract', 'crm', '--endpoint-base', 'http://elsewhere/sdata/hub/crm/-', '1']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /fixed when the store was created/);
  const usage = await runCli(['seed', '--app', 'x', '5']);
  assert.equal(usage.code, 2);
});

test('serve prints its URLs, answers, and stops cleanly on SIGTERM', async () => {
  const db = dir.db('served');
  const child = spawn(NODE, [...binFlags(['serve']), BIN, 'serve', '--db', db, '--port', '0', '--app', 'demo', '--kinds', 'accounts,contacts', '--priority', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  try {
    await until(() => out.includes('contacts'), { what: () => `serve to print its URLs (stdout: ${JSON.stringify(out)}; stderr: ${JSON.stringify(err)})`, everyMs: 25 });
    const base = out.split('\n')[0]!;
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/sdata\/demo\/crm\/-$/);
    assert.match(out, /\/contacts {4}endpoint http:\/\/localhost\/sdata\/demo\/crm\/-\/contacts/);
    const h = JSON.parse((await get(`${base}/$health`)).text) as { kinds: Record<string, { digest: Array<{ conflictPriority: number }> }> };
    assert.deepEqual(Object.keys(h.kinds), ['accounts', 'contacts']);
    assert.equal(h.kinds['accounts']!.digest[0]!.conflictPriority, 2);
    const probe = await runCli(['health', `${base}/$health`]);
    assert.equal(probe.code, 0, probe.stderr);
    assert.match(probe.stdout, /\/\$health: 200 in \d+ ms\n$/);
    const created = await post(`${base}/contacts`, '<entry xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:payload><contact xmlns="urn:c"><n>1</n></contact></sdata:payload></entry>');
    assert.equal(created.status, 201);
  } finally {
    child.kill('SIGTERM');
  }
  const [code] = await once(child, 'close') as [number | null];
  assert.equal(code, 0, err);
  assert.match(err, /stopped, database closed/);
  const s = new Store({ db });
  try {
    assert.equal(s.admin.counts(s.kind('contacts')!.id).resources, 1);
  } finally {
    s.close();
  }
});
