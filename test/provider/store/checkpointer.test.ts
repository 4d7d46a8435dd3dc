import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { statSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { MessageChannel } from 'node:worker_threads';
import { NS } from '../../../src/protocol/namespaces.ts';
import { serveCheckpoints, type CheckpointResult } from '../../../src/provider/store/checkpointer.ts';
import { seedStore } from '../../../src/seeder/seed-store.ts';
import { until } from '../../helpers/until.ts';
import { http, provider, syncPass, testDir } from '../helpers.ts';

/** Background WAL checkpoints (checkpointer.ts): what `serve` runs on its main thread, here on the test's. */

const dir = testDir();
after(() => dir.cleanup());

/** wal_autocheckpoint as `db` has it (a per-connection setting). */
const autocheckpointOf = (db: DatabaseSync): number =>
  (db.prepare('PRAGMA wal_autocheckpoint').get() as { wal_autocheckpoint: number }).wal_autocheckpoint;

test('with a checkpointer attached, the target commits without checkpointing and the other side checkpoints', async () => {
  await seedStore({ db: dir.db('src'), app: 'crm', contract: 'crm', kind: 'accounts', count: 3000, seed: 3 });
  const ch = new MessageChannel();
  const seen: CheckpointResult[] = [];
  serveCheckpoints(ch.port1, dir.db('tgt'), { observe: (e) => { if (e.type === 'checkpoint') seen.push(e.result); } });
  const src = await provider(dir, 'src', { pageSize: 1000 });
  const tgt = await provider(dir, 'tgt', { app: 'erp', checkpointPort: ch.port2 });
  try {
    assert.equal(tgt.store.walAutocheckpoint(), 4 * 8192, 'the provider connection defers to the checkpointer (4x backstop)');
    const stats = await syncPass(src.url, tgt.url);
    assert.equal(stats.entries, 3000);
    // 3 pages of ~1.3 MB, one commit per ~256 KiB of body: more than 8 commits, so at least one checkpoint ran.
    await new Promise((r) => setImmediate(r));
    assert.ok(seen.length >= 1, `checkpoints run: ${seen.length}`);
    assert.ok(seen.some((r) => r.checkpointed > 0 && r.log > 0), JSON.stringify(seen));
    assert.equal(tgt.health().kinds['accounts']!.resources, 3000);
  } finally {
    await src.close();
    await tgt.close();
    ch.port1.close();
  }
  // Closing detached it; a fresh connection has SQLite's own setting (1000), and every resource is in the file.
  const c = new DatabaseSync(dir.db('tgt'));
  try {
    assert.equal(autocheckpointOf(c), 1000);
    assert.equal((c.prepare('SELECT count(*) AS n FROM resources').get() as { n: number }).n, 3000);
  } finally {
    c.close();
  }
});

test('without a checkpointer, commits checkpoint the WAL themselves', async () => {
  const p = await provider(dir, 'plain');
  try {
    assert.equal(p.store.walAutocheckpoint(), 8192);
  } finally {
    await p.close();
  }
});

test('as `serve` runs it (nobody observing), the checkpointer copies the WAL into the database file', async () => {
  // The provider's own backstop (32,768 pages) is far above this pass's WAL, so only the checkpointer can have
  // moved the resources into the database file while both are still open. The pass takes less than the interval
  // between checkpoints (500 ms): its last commits are copied by the checkpoint left due after the syncs.
  await seedStore({ db: dir.db('src2'), app: 'crm', contract: 'crm', kind: 'accounts', count: 3000, seed: 4 });
  const ch = new MessageChannel();
  serveCheckpoints(ch.port1, dir.db('tgt2'));
  const src = await provider(dir, 'src2', { pageSize: 1000 });
  const tgt = await provider(dir, 'tgt2', { app: 'erp', checkpointPort: ch.port2 });
  try {
    const before = statSync(dir.db('tgt2')).size;
    assert.equal((await syncPass(src.url, tgt.url)).entries, 3000);
    // The checkpoint left due runs at most 500 ms after the last sync.
    await until(() => statSync(dir.db('tgt2')).size >= before + 2_000_000, {
      what: () => `the WAL checkpointed into the database file (${before} → ${statSync(dir.db('tgt2')).size} bytes)`,
    });
  } finally {
    await src.close();
    await tgt.close();
    ch.port1.close();
  }
});

test('between checkpoints (at most one per interval), each request syncs the WAL instead', async () => {
  const file = dir.db('intervals');
  const w = new DatabaseSync(file);
  w.exec('PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(x TEXT)');
  const ins = w.prepare('INSERT INTO t(x) VALUES(?)');
  const write = (): void => {
    for (let i = 0; i < 50; i++) ins.run('x'.repeat(1000));
  };
  const events: string[] = [];
  const ch = new MessageChannel();
  // No checkpoint within a minute of the last one, no wait between requests: what each request does is decided
  // by the interval alone, whatever this machine's speed.
  serveCheckpoints(ch.port1, file, {
    checkpointMs: 60_000, syncMs: 0,
    observe: (e) => events.push(e.type === 'checkpoint' ? `checkpoint ${e.result.checkpointed > 0 ? 'copied' : 'nothing'}` : 'sync'),
  });
  const request = async (): Promise<string> => {
    const n = events.length;
    ch.port2.postMessage(0);
    await until(() => events.length > n, { what: () => `a checkpoint or sync; so far: ${events.join(', ')}` });
    return events[n]!;
  };
  try {
    write();
    assert.equal(await request(), 'checkpoint copied', 'the first request checkpoints');
    write();
    assert.equal(await request(), 'sync', 'within the interval: a sync');
    write();
    assert.equal(await request(), 'sync');
  } finally {
    ch.port1.close();
    w.close();
  }
});

test('a single commit and then quiet is reported too, so that it is synced', async () => {
  const events: string[] = [];
  const ch = new MessageChannel();
  serveCheckpoints(ch.port1, dir.db('quiet'), { observe: (e) => events.push(e.type) });
  const p = await provider(dir, 'quiet', { app: 'erp', checkpointPort: ch.port2 });
  try {
    const body = `<?xml version="1.0"?>\n<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><sdata:payload>` +
      `<account xmlns="http://schemas.sage.com/crm" sdata:uuid="Q-1"><name>quiet</name></account></sdata:payload></entry>`;
    assert.equal((await http('POST', `${p.url}/accounts`, body, { 'content-type': 'application/atom+xml; type=entry' })).status, 201);
    await until(() => events.length > 0, { what: 'a checkpoint or sync after one commit' });
    assert.equal(events.length, 1, events.join(', '));
  } finally {
    await p.close();
    ch.port1.close();
  }
});
