// The end-to-end bench (issue 4 "Performance"): N generated ~1 KB resources from a source provider to an empty
// target on loopback. Three processes: two `sdata-sync serve` and the engine (`sdata-sync run`), each measured by
// the maxrss preload, so the engine's peak RSS and CPU are its own. Reports entries/s and MB/s end to end, and —
// in the same run, on the same feed (pulled to a file) — `sdata-sync plan` throughput, for the ratio. Then the
// same at a smaller size, to show that the engine's memory does not grow with the feed (flat: within 10%).
// The pipe commands on the same data, each into a fresh target of its own, timed side by side with `run`:
// `pull | plan | push` (the whole pipe: what replaces `run`) and `plan FILE | push` (the feed pulled to a file
// beforehand, as "plan | push of the 1M feed"), each with its ratio to `run` and the bar (within 1.3x).
//
// Usage: node bench/e2e.ts [--count 1000000] [--small 250000] [--chunk-entries 1000] [--page-size 1000]
//                          [--no-small] [--no-plan] [--no-pipe]      (also: npm run bench -- e2e …)
// Figures on stderr, one JSON line on stdout. BENCH_ENGINE_NODE_ARGS adds node flags to the engine (profiling).
import { BIN, binFlags } from './bin-flags.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { seedStore } from '../src/seeder/seed-store.ts';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const MAXRSS = here('./maxrss.ts');
const NODE = process.execPath;
const BIN_FLAGS = binFlags();

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    small: { type: 'string', default: '250000' },
    'chunk-entries': { type: 'string', default: '1000' },
    'page-size': { type: 'string', default: '1000' },
    'no-small': { type: 'boolean', default: false },
    'no-plan': { type: 'boolean', default: false },
    'no-pipe': { type: 'boolean', default: false },
  },
});

const log = (s: string): void => void process.stderr.write(`[bench e2e] ${s}\n`);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

interface Usage { cpuSeconds: number; maxRssMiB: number }

async function usageFrom(file: string): Promise<Usage> {
  const u = JSON.parse(await readFile(file, 'utf8')) as { maxRssKiB: number; userMs: number; systemMs: number };
  await rm(file, { force: true });
  return { cpuSeconds: (u.userMs + u.systemMs) / 1000, maxRssMiB: u.maxRssKiB / 1024 };
}

interface Provider { url: string; child: ChildProcess; rssFile: string }

/** A reference provider as `sdata-sync serve` in its own process. */
async function provider(name: string, db: string, dir: string): Promise<Provider> {
  const rssFile = join(dir, `rss-${name}-${process.hrtime.bigint()}.json`);
  const child = spawn(NODE, [...BIN_FLAGS, '--import', MAXRSS, BIN, 'serve', '--db', db, '--port', '0', '--app', name, '--contract', 'crm',
    '--kinds', 'accounts', '--priority', name === 'source' ? '1' : '5', '--endpoint-base', `http://${name}.example/sdata/${name}/crm/-`,
    '--page-size', values['page-size']], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BENCH_RSS_OUT: rssFile } });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`serve ${name} exited ${c}: ${err}`)));
    createInterface({ input: child.stdout }).once('line', resolve);
  });
  return { url: url.trim(), child, rssFile };
}

/** Stops a provider gracefully (SIGINT); its CPU and peak RSS. */
async function stopProvider(p: Provider): Promise<Usage> {
  const done = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGINT');
  await done;
  return usageFrom(p.rssFile);
}

interface ChildRun extends Usage { wall: number }

async function runChild(args: string[], dir: string, stdoutFile?: string, nodeArgs: string[] = []): Promise<ChildRun> {
  const rssFile = join(dir, `rss-${process.hrtime.bigint()}.json`);
  const out = openSync(stdoutFile ?? process.env['BENCH_ENGINE_STDOUT'] ?? '/dev/null', 'w');
  try {
    const t0 = process.hrtime.bigint();
    const child = spawn(NODE, [...BIN_FLAGS, ...nodeArgs, '--import', MAXRSS, BIN, ...args], { stdio: ['ignore', out, 'pipe'], env: { ...process.env, BENCH_RSS_OUT: rssFile } });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (code !== 0) throw new Error(`sdata-sync ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`);
    return { wall, ...(await usageFrom(rssFile)) };
  } finally {
    closeSync(out);
    await rm(rssFile, { force: true });
  }
}

interface PipeRun { wall: number; stages: Array<Usage & { command: string }> }

const shq = (x: string): string => `'${x.replace(/'/g, `'\\''`)}'`;

/**
 * Commands connected stdout to stdin by the shell (real pipes, nothing passes through this process), each measured
 * by the maxrss preload: the wall time of the whole, and each stage's CPU and peak RSS. The last stage's stdout goes
 * to /dev/null.
 */
async function runPipe(commands: string[][], dir: string): Promise<PipeRun> {
  const tag = process.hrtime.bigint();
  const rss = commands.map((_, i) => join(dir, `rss-pipe-${i}-${tag}.json`));
  const errs = commands.map((_, i) => join(dir, `stderr-pipe-${i}-${tag}.txt`));
  const script = commands.map((args, i) => `BENCH_RSS_OUT=${shq(rss[i]!)} ${[NODE, ...BIN_FLAGS, '--import', MAXRSS, BIN, ...args].map(shq).join(' ')} 2> ${shq(errs[i]!)}`)
    .join(' | ');
  try {
    const t0 = process.hrtime.bigint();
    const child = spawn('bash', ['-o', 'pipefail', '-c', `${script} > /dev/null`], { stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (code !== 0) {
      const said = await Promise.all(errs.map((f) => readFile(f, 'utf8').catch(() => '')));
      throw new Error(`${commands.map((c) => c[0]).join(' | ')} exited ${code}: ${said.map((x) => x.slice(-1000)).join('\n')}`);
    }
    const stages = await Promise.all(rss.map(async (f, i) => ({ command: commands[i]![0]!, ...(await usageFrom(f)) })));
    return { wall, stages };
  } finally {
    for (const f of [...rss, ...errs]) await rm(f, { force: true });
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
  engine: Usage;
  source: Usage | null;
  target: Usage | null;
  converged: boolean;
  plan: { seconds: number; entriesPerSecond: number; mbPerSecond: number; maxRssMiB: number; cpuSeconds: number } | null;
  /** The pipe commands into fresh targets, each with its wall time over `run`'s (the bar: within 1.3x). */
  pipes: PipeFigures[] | null;
  load: number;
}

interface PipeFigures {
  pipe: string;
  seconds: number;
  /** Wall time over `run`'s, on the same data. */
  ratio: number;
  withinBar: boolean;
  converged: boolean;
  stages: Array<Usage & { command: string }>;
  load: number;
}

const PIPE_BAR = 1.3;

async function once(count: number, dir: string, withPlan: boolean, withPipe: boolean): Promise<SizeResult> {
  const srcDb = join(dir, `source-${count}.db`);
  const tgtDb = join(dir, `target-${count}.db`);
  const t0 = Date.now();
  await seedStore({ db: srcDb, app: 'source', contract: 'crm', kind: 'accounts', count, priority: 1, endpointBase: 'http://source.example/sdata/source/crm/-' });
  log(`seeded ${fmt(count)} resources in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const src = await provider('source', srcDb, dir);
  const tgt = await provider('target', tgtDb, dir);
  let r: SizeResult | undefined;
  try {
    const report = join(dir, `report-${count}.json`);
    const load = loadavg()[0]!;
    const run = await runChild(['run', '--source', src.url, '--target', tgt.url, '--kind', 'accounts', '--chunk-entries', values['chunk-entries'],
      '--report', report, '--progress', 'none', '--quiet'], dir, undefined, (process.env['BENCH_ENGINE_NODE_ARGS'] ?? '').split(' ').filter(Boolean));
    const rep = JSON.parse(await readFile(report, 'utf8')) as { passes: { read: number; bytesIn: number }[] };
    const p = rep.passes[0]!;
    const [cs, ct] = await Promise.all([getJson<Checksum>(`${src.url}/accounts/$checksum`), getJson<Checksum>(`${tgt.url}/accounts/$checksum`)]);
    const converged = cs.count === count && ct.count === count && cs.sha256 === ct.sha256 && cs.statesSha256 === ct.statesSha256;
    r = {
      count, seconds: run.wall, entriesPerSecond: p.read / run.wall, mbPerSecond: p.bytesIn / 1e6 / run.wall, feedMB: p.bytesIn / 1e6,
      engine: { cpuSeconds: run.cpuSeconds, maxRssMiB: run.maxRssMiB }, source: null, target: null, converged, plan: null, pipes: null, load,
    };
    log(`run: ${fmt(count)} entries in ${run.wall.toFixed(1)} s: ${fmt(r.entriesPerSecond)} entries/s, ${r.mbPerSecond.toFixed(1)} MB/s ` +
      `(${r.feedMB.toFixed(0)} MB of source feed); engine peak RSS ${run.maxRssMiB.toFixed(0)} MiB, CPU ${run.cpuSeconds.toFixed(1)} s; ` +
      `target ${converged ? 'equals' : 'DIFFERS FROM'} source (checksums); load average at start ${load.toFixed(2)}`);
    const runSeconds = run.wall;
    /** `stages` into a fresh target of its own (an empty store, as `run` had), timed against `run`. */
    const pipeInto = async (name: string, stages: (target: string) => string[][]): Promise<PipeFigures> => {
      const db = join(dir, `target-${name}-${count}.db`);
      const t = await provider('target', db, dir);
      try {
        const load0 = loadavg()[0]!;
        const p = await runPipe(stages(`${t.url}/accounts`), dir);
        const c = await getJson<Checksum>(`${t.url}/accounts/$checksum`);
        const ok = c.count === count && c.sha256 === cs.sha256 && c.statesSha256 === cs.statesSha256;
        const f: PipeFigures = { pipe: name, seconds: p.wall, ratio: p.wall / runSeconds, withinBar: p.wall / runSeconds <= PIPE_BAR, converged: ok, stages: p.stages, load: load0 };
        log(`${name}: ${p.wall.toFixed(1)} s (${fmt(count / p.wall)} entries/s) = ${f.ratio.toFixed(2)}x run's ${runSeconds.toFixed(1)} s ` +
          `(bar ${PIPE_BAR}x: ${f.withinBar ? 'met' : 'MISSED'}); ${p.stages.map((x) => `${x.command} CPU ${x.cpuSeconds.toFixed(1)} s, peak RSS ${x.maxRssMiB.toFixed(0)} MiB`).join('; ')}; ` +
          `target ${ok ? 'equals' : 'DIFFERS FROM'} source; load average at start ${load0.toFixed(2)}`);
        return f;
      } finally {
        await stopProvider(t);
        for (const x of ['', '-wal', '-shm']) await rm(db + x, { force: true });
      }
    };
    const chunk = ['--chunk-entries', values['chunk-entries']];
    if (withPipe) {
      r.pipes = [await pipeInto('pull | plan | push', (t) => [['pull', `${src.url}/accounts`, '--quiet'], ['plan', '--quiet'], ['push', t, ...chunk, '--quiet']])];
    }
    if (withPlan || withPipe) {
      // The same feed as one file (pulled with an empty digest, as the run saw it), then plan on it alone.
      const feed = join(dir, `feed-${count}.xml`);
      await runChild(['pull', `${src.url}/accounts`, '--quiet'], dir, feed);
      const size = (await stat(feed)).size;
      if (withPlan) {
        const plan = await runChild(['plan', feed, '--quiet'], dir);
        r.plan = { seconds: plan.wall, entriesPerSecond: count / plan.wall, mbPerSecond: size / 1e6 / plan.wall, maxRssMiB: plan.maxRssMiB, cpuSeconds: plan.cpuSeconds };
        log(`plan on the same feed (${(size / 1e6).toFixed(0)} MB): ${plan.wall.toFixed(1)} s, ${fmt(r.plan.entriesPerSecond)} entries/s, ` +
          `${r.plan.mbPerSecond.toFixed(1)} MB/s, CPU ${plan.cpuSeconds.toFixed(1)} s; end to end / plan = ${(r.entriesPerSecond / r.plan.entriesPerSecond).toFixed(2)}`);
      }
      if (withPipe) r.pipes!.push(await pipeInto('plan FILE | push', (t) => [['plan', feed, '--quiet'], ['push', t, ...chunk, '--quiet']]));
      await rm(feed, { force: true });
    }
    return r;
  } finally {
    const us = await stopProvider(src);
    const ut = await stopProvider(tgt);
    if (r) {
      r.source = us;
      r.target = ut;
      log(`providers: source CPU ${us.cpuSeconds.toFixed(1)} s${withPlan || withPipe ? ' (with the pulls for plan and the pipes)' : ''}, peak RSS ${us.maxRssMiB.toFixed(0)} MiB; ` +
        `target CPU ${ut.cpuSeconds.toFixed(1)} s, peak RSS ${ut.maxRssMiB.toFixed(0)} MiB`);
    }
    for (const f of [srcDb, tgtDb]) for (const x of ['', '-wal', '-shm']) await rm(f + x, { force: true });
  }
}

const count = Number(values.count);
const small = Number(values.small);
const dir = await mkdtemp(join(tmpdir(), 'sdata-bench-e2e-'));
log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.versions.node}`);
try {
  // A small pass first, not reported: every process then starts with a warm compile cache, as it does in steady
  // use (a cold one makes each thread that compiles our .ts files load Node's TypeScript stripper: ~15 MiB RSS).
  await once(1000, dir, !values['no-plan'], !values['no-pipe']);
  const big = await once(count, dir, !values['no-plan'], !values['no-pipe']);
  const sm = values['no-small'] || small >= count ? undefined : await once(small, dir, false, false);
  const ratio = sm ? big.engine.maxRssMiB / sm.engine.maxRssMiB : undefined;
  if (sm) log(`engine peak RSS: ${sm.engine.maxRssMiB.toFixed(0)} MiB at ${fmt(small)} entries, ${big.engine.maxRssMiB.toFixed(0)} MiB at ${fmt(count)} (${((ratio! - 1) * 100).toFixed(1)}%)`);
  const bars = {
    within60s: count === 1_000_000 ? big.seconds <= 60 : null,
    atLeast16kEntriesPerSecond: big.entriesPerSecond >= 16_000,
    engineRssAtMost200MB: big.engine.maxRssMiB * 1.048576 <= 200,
    engineRssFlatWithin10pct: ratio === undefined ? null : Math.abs(ratio - 1) <= 0.1,
    converged: big.converged && (sm?.converged ?? true) && (big.pipes ?? []).every((p) => p.converged),
    pipesWithin1_3xOfRun: big.pipes === null ? null : big.pipes.every((p) => p.withinBar),
  };
  log(`bars: ${JSON.stringify(bars)}`);
  process.stdout.write(`${JSON.stringify({
    bench: 'e2e', count, chunkEntries: Number(values['chunk-entries']), pageSize: Number(values['page-size']), big, small: sm ?? null,
    rssRatio: ratio ?? null, planRatio: big.plan ? big.entriesPerSecond / big.plan.entriesPerSecond : null, bars,
  })}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
