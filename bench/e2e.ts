// The end-to-end bench (issue 4 "Performance"): N generated ~1 KB resources from a source provider to an empty
// target on loopback, with the engine (`sdata-sync run`) in its own process so that its peak RSS is its own.
// Reports entries/s and MB/s end to end, the engine's peak RSS and CPU, and — in the same run, on the same feed
// (pulled to a file) — `sdata-sync plan` throughput, for the ratio. Then the same at a smaller size to show that
// the engine's memory does not grow with the feed (flat: within 10%).
//
// Usage: node bench/e2e.ts [--count 1000000] [--small 250000] [--chunk-entries 1000] [--page-size 1000] [--no-small] [--no-plan]
//   (also: npm run bench -- e2e …). Prints figures on stderr and one JSON line on stdout.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const BIN = here('../bin/sdata-sync.mjs');
const MAXRSS = here('./maxrss.ts');
const SELF = here('./e2e.ts');
const NODE = process.execPath;

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    small: { type: 'string', default: '250000' },
    'chunk-entries': { type: 'string', default: '1000' },
    'page-size': { type: 'string', default: '1000' },
    'no-small': { type: 'boolean', default: false },
    'no-plan': { type: 'boolean', default: false },
    // internal: run one provider in this process and print its URL
    'child-provider': { type: 'string' },
    db: { type: 'string' },
  },
});

const log = (s: string): void => void process.stderr.write(`[bench e2e] ${s}\n`);

if (values['child-provider']) {
  // A provider process: `--child-provider NAME --db FILE`; prints its dataset URL, serves until stdin closes.
  const { startProvider } = await import('../src/provider/server.ts');
  const name = values['child-provider'];
  const p = await startProvider({
    db: values.db!, app: name, contract: 'crm', kinds: ['accounts'], priority: name === 'source' ? 1 : 5,
    endpointBase: `http://${name}.example/sdata/${name}/crm/-`, pageSize: Number(values['page-size']),
  });
  process.stdout.write(`${p.url}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void p.close().then(() => {
    const u = process.resourceUsage();
    process.stdout.write(`${JSON.stringify({ cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6, maxRssMiB: u.maxRSS / 1024 })}\n`);
    process.exit(0);
  }));
} else {
  await main();
}

interface Provider {
  url: string;
  child: ChildProcess;
  lines: ReturnType<typeof createInterface>;
}

async function provider(name: string, db: string): Promise<Provider> {
  const child = spawn(NODE, [SELF, '--child-provider', name, '--db', db, '--page-size', values['page-size']!], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`provider ${name} exited ${c}`)));
    lines.once('line', resolve);
  });
  return { url, child, lines };
}

/** Stops a provider process; resolves with its CPU seconds and peak RSS. */
async function stopProvider(p: Provider): Promise<{ cpuSeconds: number; maxRssMiB: number }> {
  const usage = new Promise<string>((r) => p.lines.once('line', r));
  const done = new Promise((r) => p.child.once('exit', r));
  p.child.stdin!.end();
  const u = JSON.parse(await usage) as { cpuSeconds: number; maxRssMiB: number };
  await done;
  return u;
}

interface ChildRun {
  wall: number;
  maxRssMiB: number;
  cpuMs: number;
  stdout: string;
  stderr: string;
}

async function runChild(args: string[], dir: string, stdoutFile?: string, nodeArgs: string[] = []): Promise<ChildRun> {
  const rssFile = join(dir, `rss-${process.hrtime.bigint()}.json`);
  const out = openSync(stdoutFile ?? '/dev/null', 'w');
  try {
    const t0 = process.hrtime.bigint();
    const child = spawn(NODE, [...nodeArgs, '--import', MAXRSS, BIN, ...args], { stdio: ['ignore', out, 'pipe'], env: { ...process.env, BENCH_RSS_OUT: rssFile } });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (code !== 0) throw new Error(`sdata-sync ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`);
    const rss = JSON.parse(await readFile(rssFile, 'utf8')) as { maxRssKiB: number; userMs: number; systemMs: number };
    return { wall, maxRssMiB: rss.maxRssKiB / 1024, cpuMs: rss.userMs + rss.systemMs, stdout: '', stderr: err };
  } finally {
    closeSync(out);
    await rm(rssFile, { force: true });
  }
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return (await res.json()) as T;
}

interface Checksum { count: number; sha256: string; statesSha256: string }

interface SizeResult {
  count: number;
  seconds: number;
  entriesPerSecond: number;
  mbPerSecond: number;
  feedMB: number;
  engineMaxRssMiB: number;
  engineCpuSeconds: number;
  sourceCpuSeconds?: number;
  targetCpuSeconds?: number;
  converged: boolean;
  plan?: { seconds: number; entriesPerSecond: number; mbPerSecond: number; maxRssMiB: number };
}

async function once(count: number, dir: string, withPlan: boolean): Promise<SizeResult> {
  const { seedStore } = await import('../src/provider/seed.ts');
  const srcDb = join(dir, `source-${count}.db`);
  const tgtDb = join(dir, `target-${count}.db`);
  const t0 = Date.now();
  await seedStore({ db: srcDb, app: 'source', contract: 'crm', kind: 'accounts', count, priority: 1, endpointBase: 'http://source.example/sdata/source/crm/-' });
  log(`seeded ${count.toLocaleString('en-US')} resources in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const src = await provider('source', srcDb);
  const tgt = await provider('target', tgtDb);
  let r: SizeResult | undefined;
  try {
    const report = join(dir, `report-${count}.json`);
    const run = await runChild(['run', '--source', src.url, '--target', tgt.url, '--kind', 'accounts', '--chunk-entries', values['chunk-entries']!,
      '--report', report, '--progress', 'none', '--quiet'], dir, undefined, (process.env['BENCH_ENGINE_NODE_ARGS'] ?? '').split(' ').filter(Boolean));
    const rep = JSON.parse(await readFile(report, 'utf8')) as { passes: { read: number; bytesIn: number; outcomes: { created: number } }[] };
    const p = rep.passes[0]!;
    const [cs, ct] = await Promise.all([getJson<Checksum>(`${src.url}/accounts/$checksum`), getJson<Checksum>(`${tgt.url}/accounts/$checksum`)]);
    const converged = cs.count === count && cs.sha256 === ct.sha256 && cs.count === ct.count && cs.statesSha256 === ct.statesSha256;
    r = {
      count, seconds: run.wall, entriesPerSecond: Math.round(p.read / run.wall), mbPerSecond: p.bytesIn / 1e6 / run.wall,
      feedMB: p.bytesIn / 1e6, engineMaxRssMiB: run.maxRssMiB, engineCpuSeconds: run.cpuMs / 1000, converged,
    };
    log(`run: ${count.toLocaleString('en-US')} entries in ${run.wall.toFixed(1)} s: ${r.entriesPerSecond.toLocaleString('en-US')} entries/s, ` +
      `${r.mbPerSecond.toFixed(1)} MB/s (${r.feedMB.toFixed(0)} MB of source feed), engine peak RSS ${run.maxRssMiB.toFixed(0)} MiB, ` +
      `engine CPU ${r.engineCpuSeconds.toFixed(1)} s; target ${converged ? 'equals' : 'DIFFERS FROM'} source (checksums)`);
    if (withPlan) {
      // The same feed as a file (pulled with an empty digest, as the run saw it), then plan on it alone.
      const feed = join(dir, `feed-${count}.xml`);
      await runChild(['pull', `${src.url}/accounts`, '--quiet'], dir, feed);
      const size = (await stat(feed)).size;
      const plan = await runChild(['plan', feed, '--quiet'], dir);
      r.plan = { seconds: plan.wall, entriesPerSecond: Math.round(count / plan.wall), mbPerSecond: size / 1e6 / plan.wall, maxRssMiB: plan.maxRssMiB };
      log(`plan on the same feed (${(size / 1e6).toFixed(0)} MB): ${plan.wall.toFixed(1)} s, ${r.plan.entriesPerSecond.toLocaleString('en-US')} entries/s, ` +
        `${r.plan.mbPerSecond.toFixed(1)} MB/s; end-to-end / plan = ${(r.entriesPerSecond / r.plan.entriesPerSecond).toFixed(2)}`);
      await rm(feed, { force: true });
    }
    return r;
  } finally {
    const us = await stopProvider(src);
    const ut = await stopProvider(tgt);
    if (r) {
      r.sourceCpuSeconds = us.cpuSeconds;
      r.targetCpuSeconds = ut.cpuSeconds;
      log(`providers: source CPU ${us.cpuSeconds.toFixed(1)} s (peak RSS ${us.maxRssMiB.toFixed(0)} MiB), target CPU ${ut.cpuSeconds.toFixed(1)} s (peak RSS ${ut.maxRssMiB.toFixed(0)} MiB)${values['no-plan'] ? '' : '; source CPU includes serving the pull for plan'}`);
    }
    await rm(srcDb, { force: true });
    await rm(tgtDb, { force: true });
    for (const f of [srcDb, tgtDb]) for (const x of ['-wal', '-shm']) await rm(f + x, { force: true });
  }
}

async function main(): Promise<void> {
  const count = Number(values.count);
  const small = Number(values.small);
  const dir = await mkdtemp(join(tmpdir(), 'sdata-bench-e2e-'));
  log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.versions.node}, load ${loadavg()[0]!.toFixed(2)}`);
  try {
    const big = await once(count, dir, !values['no-plan']);
    const sm = values['no-small'] || small >= count ? undefined : await once(small, dir, false);
    const flat = sm ? big.engineMaxRssMiB / sm.engineMaxRssMiB : undefined;
    if (sm) log(`engine peak RSS: ${sm.engineMaxRssMiB.toFixed(0)} MiB at ${small.toLocaleString('en-US')} vs ${big.engineMaxRssMiB.toFixed(0)} MiB at ${count.toLocaleString('en-US')} (${((flat! - 1) * 100).toFixed(1)}%)`);
    const bars = {
      secondsAtMost60: count === 1_000_000 ? big.seconds <= 60 : null,
      entriesPerSecondAtLeast16000: big.entriesPerSecond >= 16_000,
      engineRssAtMost200MB: big.engineMaxRssMiB * 1.048576 <= 200,
      rssFlatWithin10pct: flat === undefined ? null : Math.abs(flat - 1) <= 0.1,
      converged: big.converged && (sm?.converged ?? true),
    };
    log(`bars: ${JSON.stringify(bars)}`);
    process.stdout.write(`${JSON.stringify({ bench: 'e2e', count, chunkEntries: Number(values['chunk-entries']), pageSize: Number(values['page-size']), big, small: sm ?? null, rssRatio: flat ?? null, planRatio: big.plan ? big.entriesPerSecond / big.plan.entriesPerSecond : null, bars })}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
