// Cost growth at the source (issue 15 item 5): a 1,000-entry delta from a large store must come back in under a
// second, the same at every store size — the selection seeks by the state index (resources_state: kind, ep, tick, id)
// instead of scanning the store.
//
// One store grows through the given sizes (seeded by the seeder's fillStore: the newest resources are the last
// ticks of the store's own endpoint). At each size `sdata-sync serve` serves it and the bench pulls, in process
// (src/engine/pull.ts, as `sdata-sync pull` does, output discarded), against a target digest that lacks exactly the
// last DELTA ticks: context creation, selection, count, every page. Median of 3 pulls; then the same against an
// up-to-date digest (round trips only). The query plans of the selection's statements are printed from the store.
//
// node bench/delta.ts [--counts 100000,1000000] [--delta 1000] [--page-size 1000]   (npm run bench -- delta …)
// Payloads come from a pool of 4,096 seeded resources with fresh uuids, so that seeding 10M rows is a matter of
// SQLite's insert rate, not of generating 10 GB of XML.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { Logger } from '../src/engine/log.ts';
import { pullFeed } from '../src/engine/pull.ts';
import { HttpClient } from '../src/http/client.ts';
import { operationUrl } from '../src/http/url.ts';
import { serializeDigestEntry } from '../src/protocol/digest.ts';
import { Store } from '../src/provider/store/store.ts';
import { fillStore, seedResource } from '../src/seeder/seed-store.ts';
import { parseDigestDocument } from '../src/xml/digest-document.ts';
import { serve, stop } from './servers.ts';
import { median } from './sync-processes.ts';

const { values } = parseArgs({
  options: {
    counts: { type: 'string', default: '100000,1000000' },
    delta: { type: 'string', default: '1000' },
    'page-size': { type: 'string', default: '1000' },
  },
});
const counts = values.counts.split(',').map(Number).sort((a, b) => a - b);
const delta = Number(values.delta);
const log = (s: string): void => void process.stderr.write(`[bench delta] ${s}\n`);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

const dir = await mkdtemp(join(tmpdir(), 'sdata-bench-delta-'));
const db = join(dir, 'source.db');
const BASE = 'http://source.example/sdata/source/crm/-';
const pool = Array.from({ length: 4096 }, (_, i) => seedResource(i));

/** Grows the store to `total` resources. */
async function grow(have: number, total: number): Promise<void> {
  const store = new Store({ db, app: 'source', contract: 'crm', dataset: '-', kinds: ['accounts'], endpointBase: BASE, priority: 1 });
  try {
    await fillStore(store, store.kind('accounts')!, total - have, (i) => {
      const p = pool[(have + i) & 4095]!;
      const uuid = randomUUID();
      return { uuid, payload: p.payload.replace(p.uuid, uuid) };
    });
  } finally {
    store.close();
  }
}

const devNull = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });

async function pull(collection: string, digestEntry: string): Promise<{ seconds: number; entries: number }> {
  const client = new HttpClient();
  try {
    const t = performance.now();
    const r = await pullFeed({ client, collection, digestEntry, runName: 'bench delta', runStamp: new Date().toISOString(), out: devNull(), log: new Logger('error') });
    return { seconds: (performance.now() - t) / 1000, entries: r.entries };
  } finally {
    await client.close();
  }
}

function queryPlans(): string[] {
  const d = new DatabaseSync(db, { readOnly: true });
  try {
    // The shapes of src/provider/store/selection.ts's statements (rows; count and nth seek the same way).
    const where = 'kind = 1 AND ep = 1 AND tick >= ? AND tick <= ? AND (tick, id) > (?, 0) AND (tick, id) <= (?, 9e15)';
    return ['SELECT id, ep, tick, stamp, user, payload FROM resources WHERE ' + where + ' ORDER BY tick, id',
      `SELECT count(*) FROM (SELECT 1 FROM resources WHERE ${where} LIMIT 1000)`]
      .map((sql) => (d.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('a', 'b', 'a', 'b') as Array<{ detail: string }>).map((r) => r.detail).join('; '));
  } finally {
    d.close();
  }
}

interface Row { count: number; seedSeconds: number; deltaSeconds: number; runs: number[]; upToDateSeconds: number; entries: number; load: number }
const rows: Row[] = [];
try {
  let have = 0;
  for (const count of counts) {
    const t0 = performance.now();
    await grow(have, count);
    have = count;
    const seedSeconds = (performance.now() - t0) / 1000;
    log(`store at ${fmt(count)} resources (grown in ${seedSeconds.toFixed(1)} s)`);
    const s = await serve(dir, `source-${count}`, ['--db', db, '--app', 'source', '--contract', 'crm', '--kinds', 'accounts', '--priority', '1',
      '--endpoint-base', BASE, '--page-size', values['page-size']]);
    try {
      const collection = `${s.url}/accounts`;
      const res = await fetch(operationUrl(collection, '$syncDigest'));
      const own = parseDigestDocument(await res.text(), 'source digest');
      const behind = structuredClone(own);
      for (const e of behind.entries.values()) if (e.endpoint.startsWith(BASE)) e.tick = String(BigInt(e.tick) - BigInt(delta));
      const behindEntry = serializeDigestEntry(behind, operationUrl(collection, '$syncDigest'));
      const upToDate = serializeDigestEntry(own, operationUrl(collection, '$syncDigest'));
      const load = loadavg()[0]!;
      await pull(collection, behindEntry); // warm: the server's statements and page cache, the client's modules
      const runs: number[] = [];
      let entries = 0;
      for (let k = 0; k < 3; k++) {
        const r = await pull(collection, behindEntry);
        runs.push(r.seconds);
        entries = r.entries;
      }
      if (entries !== delta) throw new Error(`delta pull at ${count} returned ${entries} entries, expected ${delta}`);
      const u: number[] = [];
      for (let k = 0; k < 3; k++) u.push((await pull(collection, upToDate)).seconds);
      const row: Row = { count, seedSeconds, deltaSeconds: median(runs), runs, upToDateSeconds: median(u), entries, load };
      rows.push(row);
      log(`${fmt(count)}: ${fmt(delta)}-entry delta in ${row.deltaSeconds.toFixed(3)} s (runs ${runs.map((x) => x.toFixed(3)).join(' ')}), ` +
        `up to date in ${row.upToDateSeconds.toFixed(3)} s; load ${load.toFixed(2)}`);
    } finally {
      await stop(s);
    }
  }
  const plans = queryPlans();
  for (const p of plans) log(`query plan: ${p}`);
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  const growth = last.deltaSeconds / first.deltaSeconds;
  const bars = {
    deltaUnder1s: last.deltaSeconds < 1,
    selectionSeeksStateIndex: plans.every((p) => /USING (COVERING )?INDEX resources_state/.test(p) && !/SCAN resources/.test(p)),
  };
  log(`${fmt(delta)} entries from ${fmt(last.count)}: ${last.deltaSeconds.toFixed(3)} s (bar < 1 s: ${bars.deltaUnder1s ? 'met' : 'MISSED'}); ` +
    `${fmt(first.count)} → ${fmt(last.count)} resources: ×${growth.toFixed(2)} time; selection by the state index: ${bars.selectionSeeksStateIndex ? 'met' : 'MISSED'}`);
  process.stdout.write(`${JSON.stringify({ bench: 'delta', delta, rows, growth, plans, bars })}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
