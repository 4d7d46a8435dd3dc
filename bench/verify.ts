// `sdata-sync verify` bench, the acceptance test: a source store of N seeded resources (~1 KB), a target made
// its converged copy by `run`, then a known set of differences planted through the providers' own CRUD (POST, PUT,
// DELETE on the source or the target), and some changes that are NOT differences (a payload rewritten with other
// prefixes and layout, a resource deleted on both sides, one created and deleted at the source). Then, each as a
// child process of its own with two `serve` processes:
//   pull S + pull T   both at once, stdout to /dev/null: what reading both collections costs
//   verify            --report, --log-format json: time, peak RSS (bar: ≤ 200 MB), and the report must name exactly
//                     the planted differences
// and the ratio verify / (both pulls) against its bar (1.5). Rounds alternate which goes first.
//
// ./node_modules/.bin/node bench/verify.ts [--sizes 100000,1000000] [--planted 100] [--rounds 2] [--keep DIR]
// Prints a table and, last, one line of JSON. Heavy at 1M: minutes, ~2.5 GB of disk.
import { readFileSync, mkdtempSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { VerifyResult } from '../src/engine/verify/run-verify.ts';
import { NS } from '../src/protocol/namespaces.ts';
import { seedResource, seedStore } from '../src/seeder/seed-store.ts';
import { kill, runBin, serve, stop, type BinRun, type Server } from './servers.ts';
import { leaveDir, printTable, removeStores } from './sync-processes.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    planted: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '2' },
    keep: { type: 'string' },
  },
});
const sizes = values.sizes.split(',').map((s) => Number(s.replace(/_/g, '')));
const K = Number(values.planted);
const ROUNDS = Number(values.rounds);
const SEED = 7;
const CRM = 'http://schemas.sage.com/crm';

interface Figures {
  perSide: number;
  seedSeconds: number;
  runSeconds: number;
  planted: Record<string, number>;
  rounds: Array<{ pullSeconds: number; pullPeakMiB: [number, number]; verifySeconds: number; verifyPeakMiB: number; verifyCpuSeconds: number; ratio: number }>;
  ratio: number;
  verifyPeakMiB: number;
  found: VerifyResult['differences'];
  exact: boolean;
  loadAverage: number[];
}

/** An Atom entry carrying one resource element (what POST and PUT take). */
const entry = (payload: string): string => `<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><sdata:payload>${payload}</sdata:payload></entry>`;

/** One CRUD request; returns the answer's body and Location. */
async function http(method: string, url: string, body?: string): Promise<{ body: string; location: string | null }> {
  const r = await fetch(url, { method, ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/atom+xml; type=entry', 'if-match': '*' } }) });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${url}: HTTP ${r.status} ${text.slice(0, 300)}`);
  return { body: text, location: r.headers.get('location') };
}

/** The same resource written otherwise: a prefix for the contract, another for sdata, layout white space. */
function rewritten(payload: string): string {
  return payload.replace(`xmlns="${CRM}"`, `xmlns:c="${CRM}"`).replace(/<(\/?)(?!sdata:|c:)([A-Za-z]+)([ >/])/g, '<$1c:$2$3')
    .replace(/xmlns:sdata=/, 'xmlns:s=').replace(/sdata:/g, 's:').replace(/>(?=<[^/])/g, '>\n  ');
}

/**
 * Plants the differences on a converged pair (resource `accounts('i')` holds seeded resource i - 1 on both sides: the
 * target applied the source's feed in tick order). Returns uuid → expected finding, and what should NOT be found.
 */
async function plant(s: Server, t: Server, n: number): Promise<{ expected: Map<string, string>; counts: Record<string, number> }> {
  const expected = new Map<string, string>();
  const res = (i: number) => seedResource(i, SEED, CRM);
  const at = (base: string, i: number): string => `${base}/accounts('${i + 1}')`;
  const spaced = (k: number): number => Math.floor((k * n) / (6 * K + 1)) + 1;
  let k = 0;
  const next = (): number => spaced(k++);
  const counts = { missing: 0, extra: 0, payload: 0, deletedOnTarget: 0, deletedOnSource: 0, rewrittenEqual: 0, deletedBoth: 0, createdDeletedAtSource: 0 };
  const jobs: Array<() => Promise<unknown>> = [];
  // The pairing assumed above, checked on one resource of each side.
  for (const base of [s.url, t.url]) {
    const got = (await http('GET', at(base, n - 1))).body;
    if (!got.includes(`"${res(n - 1).uuid}"`)) throw new Error(`${at(base, n - 1)} does not hold seeded resource ${n - 1} (${res(n - 1).uuid})`);
  }
  for (let j = 0; j < K; j++) {
    // payload: the target's copy changed
    const p = next();
    jobs.push(() => http('PUT', at(t.url, p), entry(res(p).payload.replace(/<name>([^<]*)<\/name>/, '<name>$1 (changed)</name>'))));
    expected.set(res(p).uuid, 'payload');
    counts.payload++;
    // deleted at the target only, at the source only, on both
    const dt = next();
    jobs.push(() => http('DELETE', at(t.url, dt)));
    expected.set(res(dt).uuid, 'deleted');
    counts.deletedOnTarget++;
    const ds = next();
    jobs.push(() => http('DELETE', at(s.url, ds)));
    expected.set(res(ds).uuid, 'deleted');
    counts.deletedOnSource++;
    const db = next();
    jobs.push(() => http('DELETE', at(s.url, db)), () => http('DELETE', at(t.url, db)));
    counts.deletedBoth++;
    // the same data written otherwise at the target: not a difference
    const rw = next();
    jobs.push(() => http('PUT', at(t.url, rw), entry(rewritten(res(rw).payload))));
    counts.rewrittenEqual++;
    // missing: new at the source; extra: new at the target
    const m = res(n + j);
    jobs.push(() => http('POST', `${s.url}/accounts`, entry(m.payload)));
    expected.set(m.uuid, 'missing');
    counts.missing++;
    const x = res(n + K + j);
    jobs.push(() => http('POST', `${t.url}/accounts`, entry(x.payload)));
    expected.set(x.uuid, 'extra');
    counts.extra++;
    // created and deleted at the source (a tombstone the target never saw): not a difference
    counts.createdDeletedAtSource++;
  }
  for (let q = 0; q < jobs.length; q += 16) await Promise.all(jobs.slice(q, q + 16).map((f) => f()));
  // Created, then deleted at the source.
  for (let j = 0; j < K; j++) {
    const { location } = await http('POST', `${s.url}/accounts`, entry(res(n + 2 * K + j).payload));
    await http('DELETE', location!);
  }
  return { expected, counts };
}

function summaryOf(r: BinRun): VerifyResult {
  const line = r.stderr.split('\n').find((l) => l.startsWith('{') && l.includes('"event":"summary"'));
  if (!line || (r.code !== 0 && r.code !== 8)) throw new Error(`verify exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as VerifyResult;
}

async function pullBoth(dir: string, s: Server, t: Server, tag: string): Promise<{ seconds: number; peak: [number, number] }> {
  const t0 = performance.now();
  const [a, b] = await Promise.all([
    runBin(dir, `pull-s-${tag}`, ['pull', `${s.url}/accounts`, '--quiet'], true),
    runBin(dir, `pull-t-${tag}`, ['pull', `${t.url}/accounts`, '--quiet'], true),
  ]);
  for (const r of [a, b]) if (r.code !== 0) throw new Error(`pull exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return { seconds: (performance.now() - t0) / 1000, peak: [a.peakMiB, b.peakMiB] };
}

async function runSize(n: number): Promise<Figures> {
  const dir = values.keep ?? mkdtempSync(join(tmpdir(), 'sdata-bench-verify-'));
  const src = join(dir, `src-${n}.db`);
  const tgt = join(dir, `tgt-${n}.db`);
  let s: Server | undefined;
  let t: Server | undefined;
  try {
    removeStores(src, tgt);
    let t0 = performance.now();
    await seedStore({ db: src, app: 'crm', contract: 'crm', kind: 'accounts', count: n, seed: SEED, endpointBase: 'http://crm.example/sdata/crm/crm/-', priority: 1,
      onProgress: (d) => {
        if (d % 100_000 === 0) process.stderr.write(`[${n}] seeding: ${d}\n`);
      } });
    const seedSeconds = (performance.now() - t0) / 1000;
    process.stderr.write(`[${n}] seeded in ${seedSeconds.toFixed(1)} s (${(statSync(src).size / 2 ** 20).toFixed(0)} MiB)\n`);
    s = await serve(dir, `src-${n}`, ['--db', src]);
    t = await serve(dir, `tgt-${n}`, ['--db', tgt, '--app', 'erp', '--contract', 'crm', '--endpoint-base', 'http://erp.example/sdata/erp/crm/-', '--priority', '5']);
    t0 = performance.now();
    const run = await runBin(dir, `run-${n}`, ['run', '--source', s.url, '--target', t.url, '--kind', 'accounts', '--progress', 'none', '--quiet']);
    if (run.code !== 0) throw new Error(`run exited ${run.code}: ${run.stderr.slice(-2000)}`);
    const runSeconds = (performance.now() - t0) / 1000;
    process.stderr.write(`[${n}] run (the converged copy): ${runSeconds.toFixed(1)} s\n`);
    const { expected, counts } = await plant(s, t, n);
    process.stderr.write(`[${n}] planted ${JSON.stringify(counts)}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);

    const rounds: Figures['rounds'] = [];
    let found: VerifyResult['differences'] | undefined;
    let exact = true;
    for (let r = 0; r < ROUNDS; r++) {
      const report = join(dir, `report-${n}-${r}.jsonl`);
      const doVerify = async (): Promise<BinRun> => runBin(dir, `verify-${n}-${r}`, ['verify', '--source', s!.url, '--target', t!.url, '--kind', 'accounts',
        '--report', report, '--temp-dir', dir, '--log-format', 'json']);
      let pull: { seconds: number; peak: [number, number] };
      let v: BinRun;
      if (r % 2 === 0) {
        pull = await pullBoth(dir, s, t, `${n}-${r}`);
        v = await doVerify();
      } else {
        v = await doVerify();
        pull = await pullBoth(dir, s, t, `${n}-${r}`);
      }
      const sum = summaryOf(v);
      found = sum.differences;
      const got = new Map<string, string>();
      for (const l of readFileSync(report, 'utf8').split('\n')) {
        if (l === '') continue;
        const x = JSON.parse(l) as { uuid: string; differs: string };
        got.set(x.uuid, x.differs);
      }
      const same = got.size === expected.size && [...expected].every(([u, d]) => got.get(u.toLowerCase()) === d);
      if (!same || v.code !== 8) {
        exact = false;
        const wrong = [...expected].filter(([u, d]) => got.get(u.toLowerCase()) !== d).slice(0, 5);
        process.stderr.write(`[${n}] round ${r + 1}: verify (exit ${v.code}) found ${got.size} differences, ${expected.size} planted; first mismatches ${JSON.stringify(wrong)}\n`);
      }
      rounds.push({ pullSeconds: pull.seconds, pullPeakMiB: pull.peak, verifySeconds: v.seconds, verifyPeakMiB: v.peakMiB, verifyCpuSeconds: v.cpuSeconds, ratio: v.seconds / pull.seconds });
      process.stderr.write(`[${n}] round ${r + 1}: pull both ${pull.seconds.toFixed(1)} s, verify ${v.seconds.toFixed(1)} s (CPU ${v.cpuSeconds.toFixed(1)} s, peak RSS ${v.peakMiB.toFixed(1)} MiB): ratio ${(v.seconds / pull.seconds).toFixed(2)}; load ${loadavg()[0]!.toFixed(1)}\n`);
    }
    const sp = await stop(s);
    const tp = await stop(t);
    s = t = undefined;
    process.stderr.write(`[${n}] servers: source peak ${sp.peakMiB.toFixed(1)} MiB, target ${tp.peakMiB.toFixed(1)} MiB\n`);
    const ratio = rounds.reduce((m, r) => m + r.verifySeconds, 0) / rounds.reduce((m, r) => m + r.pullSeconds, 0);
    return {
      perSide: n, seedSeconds, runSeconds, planted: counts, rounds, ratio, verifyPeakMiB: Math.max(...rounds.map((r) => r.verifyPeakMiB)),
      found: found!, exact, loadAverage: loadavg(),
    };
  } catch (e) {
    if (s) kill(s);
    if (t) kill(t);
    throw e;
  } finally {
    leaveDir(dir, values.keep !== undefined);
  }
}

const results: Figures[] = [];
for (const n of sizes) results.push(await runSize(n));
const f1 = (x: number): string => x.toFixed(1);
printTable(['per side', 'seed s', 'run s', 'round', 'pull both s', 'verify s', 'verify CPU s', 'verify RSS MiB', 'ratio (bar 1.5)', 'found = planted'],
  results.flatMap((r) => r.rounds.map((x, i) => [String(r.perSide), f1(r.seedSeconds), f1(r.runSeconds), String(i + 1), f1(x.pullSeconds), f1(x.verifySeconds),
    f1(x.verifyCpuSeconds), f1(x.verifyPeakMiB), x.ratio.toFixed(2), String(r.exact)])));
// 200 MB as the issue says it (decimal): 190.7 MiB.
const bars = {
  ratioOk: results.every((r) => r.ratio <= 1.5), rssOk: results.every((r) => r.verifyPeakMiB * 1.048576 <= 200), exact: results.every((r) => r.exact),
};
process.stdout.write(`${JSON.stringify({ bench: 'verify', results, bars })}\n`);
if (!bars.exact) process.exitCode = 1;
