import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { HttpClient } from '../http/client.ts';
import { int } from '../engine/format.ts';
import { Logger } from '../engine/log.ts';
import { Progress } from '../engine/progress.ts';
import { passReport, summaryTable, totals, upToDate, type RunReport } from '../engine/report.ts';
import { runKinds } from '../engine/run.ts';
import { SdataError } from '../protocol/errors.ts';
import { seedStore } from '../seeder/seed-store.ts';
import { contractNamespace } from '../protocol/namespaces.ts';
import { runnable } from '../runtime/module-url.ts';
import { DEFAULT_MAX_ENTRY_BYTES } from '../xml/limits.ts';
import { COMMANDS, type Input } from './commands.ts';
import { onInterrupt, progressMode } from './common.ts';
import { EXIT } from './exit-codes.ts';

interface Checksum { count: number; sha256: string; tombstones: number }

/** A provider in its own worker thread. */
class DemoProvider {
  readonly name: string;
  url = '';
  private readonly worker: Worker;
  private seq = 0;
  private readonly waiting = new Map<number, (v: unknown) => void>();

  private constructor(name: string, worker: Worker) {
    this.name = name;
    this.worker = worker;
  }

  static async start(name: string, db: string, priority: number): Promise<DemoProvider> {
    const w = new Worker(runnable(new URL('./demo-provider.ts', import.meta.url)), {
      // A small young generation keeps each provider's memory flat through the catch-up (as `serve` does).
      resourceLimits: { maxYoungGenerationSizeMb: 16 },
      workerData: { db, app: name, contract: 'crm', kinds: ['accounts'], priority, endpointBase: `http://${name}.example.com/sdata/${name}/crm/-` },
    });
    const p = new DemoProvider(name, w);
    await new Promise<void>((resolve, reject) => {
      w.once('error', reject);
      w.on('message', (m: { ready?: boolean; url?: string; id?: number; result?: unknown }) => {
        if (m.ready) {
          p.url = m.url!;
          w.off('error', reject);
          resolve();
        } else if (m.id !== undefined) {
          p.waiting.get(m.id)?.(m.result);
          p.waiting.delete(m.id);
        }
      });
    });
    return p;
  }

  ask<T>(op: string, arg?: string | number): Promise<T> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve as (v: unknown) => void);
      this.worker.postMessage({ id, op, arg });
    });
  }

  async close(): Promise<void> {
    await this.ask('close');
    await this.worker.terminate();
  }
}

/** `sdata-sync demo` (npm start): options and help in commands.ts. */
export async function run({ values: v }: Input<typeof COMMANDS.demo>): Promise<number> {
  const count = v.count;
  const chunkEntries = v.chunkEntries;
  const out = (s = ''): void => void process.stdout.write(`${s}\n`);
  const log = new Logger('info');
  const dir = v.keep ?? await mkdtemp(join(tmpdir(), 'sdata-sync-demo-'));
  const started = Date.now();
  const ac = new AbortController();
  const stopSignals = onInterrupt(log, () => ac.abort());
  const client = new HttpClient({ signal: ac.signal });
  let crm: DemoProvider | undefined;
  let erp: DemoProvider | undefined;
  try {
    out('sdata-sync demo: two SData 1.1 sync providers on this machine, and the engine between them.');
    out(`  stores in ${dir}`);
    const t0 = Date.now();
    await seedStore({ db: join(dir, 'crm.db'), app: 'crm', contract: 'crm', kind: 'accounts', count, priority: 1, endpointBase: 'http://crm.example.com/sdata/crm/crm/-' });
    out(`  crm: seeded ${int(count)} accounts (~1 KB each) in ${((Date.now() - t0) / 1000).toFixed(1)} s; conflict priority 1 (system of record)`);
    crm = await DemoProvider.start('crm', join(dir, 'crm.db'), 1);
    erp = await DemoProvider.start('erp', join(dir, 'erp.db'), 5);
    out(`  erp: empty; conflict priority 5 (lower wins)`);
    out(`  crm serves ${crm.url}`);
    out(`  erp serves ${erp.url}`);
    // The demo prints its own summaries: a live line on a terminal, nothing more in a log file.
    const mode = progressMode(v.progress, false, 'none');
    const runStamp = new Date().toISOString();
    let n = 0;

    const pass = async (title: string, from: DemoProvider, to: DemoProvider): Promise<RunReport> => {
      out();
      out(`== ${++n}. ${title}: ${from.name} -> ${to.name}`);
      const progress = new Progress(mode, process.stderr, log);
      progress.start();
      const t = Date.now();
      // Each pass is its own run (runStamp): the spec wants no two passes of one kind between the same pair per run.
      const stamp = new Date(Date.parse(runStamp) + n * 1000).toISOString();
      const r = await runKinds({
        kinds: ['accounts'], concurrency: 1, sourceBase: from.url, targetBase: to.url, source: client, target: client,
        runName: `sdata-sync demo ${from.name} to ${to.name}`, runStamp: stamp, chunkEntries, chunkBytes: COMMANDS.run.options.chunkBytes.default,
        maxEntryBytes: DEFAULT_MAX_ENTRY_BYTES, spoolDir: dir, log, signal: ac.signal, onPass: (s) => progress.add(s),
      });
      progress.stop();
      const passes = r.passes.map(passReport);
      const failed = r.passes.find((p) => p.error);
      const rep: RunReport = {
        runName: 'demo', runStamp: stamp, source: from.url, target: to.url, ok: !failed, exitCode: failed ? 1 : 0,
        seconds: (Date.now() - t) / 1000, passes, notRun: r.notRun, totals: totals(passes), upToDate: upToDate(passes, r.notRun),
      };
      out(summaryTable(rep).trimEnd());
      if (failed) throw failed.error;
      return rep;
    };

    const first = await pass('first catch-up (erp is empty)', crm, erp);
    const p0 = first.passes[0]!;
    out(`   ${int(p0.read)} entries in ${p0.seconds.toFixed(1)} s = ${int(p0.read / p0.seconds)} entries/s, ${(p0.bytesIn / 1e6 / p0.seconds).toFixed(1)} MB/s`);

    // Local edits on both sides, through each provider's plain SData CRUD API (each edit takes a new local tick).
    out();
    out(`== edits on both sides`);
    const ns = contractNamespace('crm');
    const entry = (inner: string): string => `<entry xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:payload><account xmlns="${ns}">${inner}</account></sdata:payload></entry>`;
    const send = async (method: 'PUT' | 'POST' | 'DELETE', url: string, inner?: string): Promise<void> => {
      const res = await client.request({
        method, url, headers: { 'content-type': 'application/atom+xml; type=entry', 'if-match': '*' },
        ...(inner === undefined ? {} : { body: () => entry(inner) }),
      });
      const text = await res.body.text();
      if (res.statusCode >= 300) throw new SdataError('SDATA_E_HTTP', `${method} ${url}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
    };
    const at = async (p: DemoProvider, uuid: string): Promise<string> => `${p.url}/accounts('${await p.ask<number>('keyOf', uuid)}')`;
    const u = async (i: number): Promise<string> => crm!.ask<string>('uuidAt', i);
    const [u1, u2, u3, u4, u5, u6] = await Promise.all([u(1), u(2), u(3), u(4), u(5), u(6)]);
    await send('PUT', await at(crm, u1), '<name>Renamed in crm</name><status>active</status>');
    out(`   crm: account ${u1} renamed`);
    await send('PUT', await at(crm, u2), '<name>crm says: Natural Goods Holding</name>');
    await send('PUT', await at(erp, u2), '<name>erp says: Natural Goods plc</name>');
    out(`   crm and erp: account ${u2} renamed differently on both sides (a conflict)`);
    await send('DELETE', await at(crm, u3));
    out(`   crm: account ${u3} deleted`);
    await send('PUT', await at(erp, u4), '<creditLimit>12345.00</creditLimit>');
    out(`   erp: account ${u4} credit limit changed`);
    await send('DELETE', await at(erp, u5));
    out(`   erp: account ${u5} deleted`);
    // A child list sent as a change (no sdata:deleteMissing): the contacts it does not name stay (core 9.2).
    await send('PUT', await at(erp, u6), '<contacts><contact sdata:uuid="ada10000-0000-4000-8000-000000000001"><firstName>Ada</firstName><lastName>Lovelace</lastName></contact></contacts>');
    out(`   erp: a contact added to account ${u6} (the list sent as a change: its other contacts stay)`);
    await send('POST', `${crm.url}/accounts`, '<name>Brand-new customer (created in crm)</name><status>prospect</status>');
    out('   crm: one new account created');

    const back = await pass('erp\'s changes to crm (crm has priority 1: it keeps its side of the conflict)', erp, crm);
    const bo = back.passes[0]!.outcomes;
    out(`   conflict: ${bo.conflictsTargetWon} won by crm (the target); erp's other changes applied`);
    await pass('crm\'s changes to erp (including crm\'s winning version)', crm, erp);
    const [a, b] = await Promise.all([crm.ask<Checksum>('checksum'), erp.ask<Checksum>('checksum')]);
    const same = a.sha256 === b.sha256 && a.count === b.count;
    out();
    out(same
      ? `== converged: crm and erp hold the same ${int(a.count)} accounts (sha256 ${a.sha256.slice(0, 16)}…, ${int(a.tombstones)} deletions recorded)`
      : `== NOT converged: crm ${int(a.count)} accounts ${a.sha256.slice(0, 16)} vs erp ${int(b.count)} ${b.sha256.slice(0, 16)}`);
    const last1 = await pass('nothing left to send', crm, erp);
    const last2 = await pass('nothing left to send', erp, crm);
    const sent = last1.totals.forwarded + last2.totals.forwarded;
    const open = (await crm.ask<number>('openContexts')) + (await erp.ask<number>('openContexts'));
    out(`   ${sent === 0 ? 'nothing was sent' : `${sent} entries were sent`}; open contexts on the providers: ${open}`);
    out();
    out(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    out();
    out('Point the engine at real endpoints (dataset base URLs; credentials from the environment only):');
    out('  export SDATA_SOURCE_USER=me SDATA_SOURCE_PASSWORD=…      # or SDATA_SOURCE_TOKEN=… (Bearer); same with TARGET');
    out('  npx sdata-sync run --source https://crm.example.com/sdata/crm/crm/- \\');
    out('                     --target https://erp.example.com/sdata/erp/crm/- --kind accounts [--dry-run] [--report run.json]');
    out('Or serve a store of your own: npx sdata-sync serve --db hub.db --port 8080 (see README).');
    return same && sent === 0 && open === 0 ? EXIT.OK : EXIT.PROTOCOL;
  } finally {
    stopSignals();
    await client.close();
    await crm?.close().catch(() => undefined);
    await erp?.close().catch(() => undefined);
    if (!v.keep) await rm(dir, { recursive: true, force: true });
  }
}
