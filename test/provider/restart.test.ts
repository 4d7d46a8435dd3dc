import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import { seedStore } from '../../src/seeder/seed-store.ts';
import { page } from '../helpers/feeds.ts';
import { allResults, firstDiagnosis, get, http, kids, parseXml, pollUntilDone, post, provider, testDir, type TestDir } from './helpers.ts';
import { integrityCheck } from '../helpers/sqlite.ts';
import { startServe } from '../helpers/serve.ts';

/**
 * Restart recovery (store/contexts.ts): contexts whose work a dead process left behind are marked interrupted when
 * the provider starts again on the same file: GET answers 410 with a diagnosis, `$health.openContexts` does not
 * count them, and a POST with the same trackingID does the work again.
 */

let dir: TestDir;
before(() => {
  dir = testDir();
});
after(() => dir.cleanup());

const SRC = 'http://a.example/sdata/app/c/-/accounts';
const N = 3000;
const uuidOf = (i: number): string => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
/** ~3 MB: a dozen transactions of ~256 KiB of body. */
const PAGE = Buffer.from(page({
  digest: [[SRC, N + 1, 5]],
  entries: Array.from({ length: N }, (_, i) => ({ endpoint: SRC, tick: i + 1, uuid: uuidOf(i), body: `<name>${'n'.repeat(900)}${i}</name>` })),
}));

interface Health {
  openContexts: number;
  appliedTrackingIds: Record<string, number>;
  kinds: { accounts: { resources: number; digest: Array<{ endpoint: string; tick: string }> } };
}

const health = async (url: string): Promise<Health> => JSON.parse((await get(`${url}/$health`)).text) as Health;


/** Asks `probe` until it says yes; each try is a request to the server, so this waits on what the server does. */
async function until(what: string, probe: () => Promise<boolean>, tries = 2000): Promise<void> {
  for (let i = 0; i < tries; i++) if (await probe()) return;
  throw new Error(`${what}: not seen after ${tries} requests`);
}

test('a target killed (SIGKILL) mid-POST: restarted on the same file, the context is 410 and not open, the data a committed prefix, and the same POST re-applies the body once', async () => {
  const db = dir.db('killed');
  const first = await startServe(['--db', db, '--app', 'spoke', '--kinds', 'accounts']);
  const target = `/sdata/spoke/crm/-/accounts/$syncTarget`;
  let killed = false;
  try {
    // Half of the body, chunked, and no end: the provider applies what it has, transaction by transaction.
    const u = new URL(first.url);
    const req = request({ host: u.hostname, port: u.port, method: 'POST', path: `${target}?trackingID=Restart-1`, headers: { 'content-type': 'application/atom+xml' } });
    const answered = new Promise<string>((resolve) => {
      req.on('response', (res) => resolve(`HTTP ${res.statusCode}`));
      req.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
    });
    req.write(PAGE.subarray(0, PAGE.length >> 1));
    await until('entries committed while the body is still coming', async () => {
      const h = await health(first.url);
      return h.kinds.accounts.resources > 0 && h.openContexts === 1;
    });
    first.child.kill('SIGKILL');
    const end = await first.exited;
    killed = true;
    assert.equal(end.signal, 'SIGKILL');
    assert.notEqual(await answered, 'HTTP 202', 'the POST never completed');
  } finally {
    if (!killed) first.child.kill('SIGKILL');
  }

  // The file as the dead process left it: sound, and its digest exactly behind its data (a committed prefix).
  assert.equal(integrityCheck(db), 'ok');
  const second = await startServe(['--db', db]);
  try {
    const h = await health(second.url);
    const k = h.kinds.accounts.resources;
    assert.ok(k > 0 && k < N, `${k} entries committed before the kill`);
    assert.equal(h.kinds.accounts.digest.find((d) => d.endpoint === SRC)?.tick, String(k + 1), 'digest = last committed tick + 1');
    assert.equal(h.openContexts, 0, 'the dead context is not open');

    const ctx = `${second.url}/accounts/$syncTarget('Restart-1')`;
    const gone = await get(ctx);
    assert.equal(gone.status, 410, gone.text);
    const d = firstDiagnosis(gone.text);
    assert.equal(d.code, 'ContextInterrupted');
    assert.match(d.message, /the provider restarted while this operation ran, so it will never finish: .*POST the page again with the same trackingID/);

    // The same POST again (another case of the trackingID: A1): the whole body is applied; the prefix is a no-op (R1).
    const again = await post(`${second.url}/accounts/$syncTarget?trackingID=restart-1`, PAGE.toString('utf8'), { 'content-type': 'application/atom+xml' });
    assert.equal(again.status, 202, again.text);
    const results = await allResults(again.headers.get('location')!);
    assert.equal(results.length, N);
    assert.ok(results.slice(0, k).every((r) => r.status === 200 && r.codes.includes('SyncIgnored')), 'committed entries are no-ops');
    assert.ok(results.slice(k).every((r) => r.status === 201), 'the rest is created');
    const after = await health(second.url);
    assert.deepEqual(after.appliedTrackingIds, { 'restart-1': 1 });
    assert.equal(after.kinds.accounts.resources, N);
    assert.equal(after.kinds.accounts.digest.find((x) => x.endpoint === SRC)?.tick, String(N + 1));
    assert.equal(after.openContexts, 1);
    assert.equal((await http('DELETE', again.headers.get('location')!)).status, 200);
    assert.equal((await health(second.url)).openContexts, 0);
  } finally {
    second.child.kill('SIGTERM');
  }
  assert.equal((await second.exited).code, 0, second.stderr());
  assert.equal(integrityCheck(db), 'ok');
});

test('a source whose process stopped while selecting: the context is 410 and not open after the restart; the same POST selects again', async () => {
  await seedStore({ db: dir.db('src'), app: 'hub', contract: 'crm', kind: 'accounts', count: 30 });
  const digest = `<entry xmlns="${NS.atom}"><id>urn:x</id><title/><updated>2020-01-01T00:00:00Z</updated>` +
    `<payload xmlns="${NS.sdata}"><digest xmlns="${NS.sync}"><origin>http://x/accounts</origin></digest></payload></entry>`;
  // The selection is held in its 202 phase (a gate that never opens) when the provider stops: its row stays 'selecting'.
  const a = await provider(dir, 'src', { selectGate: () => new Promise<void>(() => undefined) });
  const r = await post(`${a.url}/accounts/$syncSource?trackingID=sel-1`, digest);
  assert.equal(r.status, 202);
  assert.equal(a.openContexts(), 1);
  await a.close();

  const b = await provider(dir, 'src', { pageSize: 100 });
  try {
    assert.equal(b.openContexts(), 0);
    const gone = await get(`${b.url}/accounts/$syncSource('sel-1')`);
    assert.equal(gone.status, 410, gone.text);
    assert.equal(firstDiagnosis(gone.text).code, 'ContextInterrupted');
    assert.match(firstDiagnosis(gone.text).message, /the provider restarted while this operation ran, so it will never finish: POST \$syncSource again/);
    const again = await post(`${b.url}/accounts/$syncSource?trackingID=sel-1`, digest);
    assert.equal(again.status, 202, again.text);
    const feed = await pollUntilDone(again.headers.get('location')!);
    assert.equal(feed.status, 200, feed.text);
    assert.equal(kids(parseXml(feed.text), NS.atom, 'entry').length, 30);
    assert.equal(b.openContexts(), 1);
  } finally {
    await b.close();
  }
});
