import { test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { serveCheckpoints, type CheckpointResult } from '../src/provider/store/checkpointer.ts';
import { seedStore } from '../src/seeder/seed-store.ts';
import { provider, syncPass, testDir } from './provider/helpers.ts';
test('x', async () => {
  const dir = testDir();
  await seedStore({ db: dir.db('src'), app: 'crm', contract: 'crm', kind: 'accounts', count: 30000, seed: 3 });
  const ch = new MessageChannel();
  const seen: Array<CheckpointResult & { t: number }> = [];
  const t0 = Date.now();
  serveCheckpoints(ch.port1, dir.db('tgt'), (r) => seen.push({ ...r, t: Date.now() - t0 }));
  const src = await provider(dir, 'src', { pageSize: 1000 });
  const tgt = await provider(dir, 'tgt', { app: 'erp', checkpointPort: ch.port2 });
  const stats = await syncPass(src.url, tgt.url);
  console.log(stats.entries, seen.length, JSON.stringify(seen.slice(0, 12)));
  await src.close(); await tgt.close(); ch.port1.close(); dir.cleanup();
});
