// The whole-process plan bench (issues 2 and 15 "Performance"): generates a ~250 MB synthetic feed and a 10× one,
// then measures side by side, in the same run, bare saxes, `sdata-sync plan --digest D FILE > /dev/null` (half the
// entries skipped, half forwarded) with its default (one thread) and with `--threads 2`, and the peers of bench/peers.ts
// (xmllint --stream, xmlwf, a Python iterparse filter; each skipped with a note where missing), as child processes:
// throughput, ratios, peak RSS, each bar met or missed. Then plan on two feeds that differ only in how many
// endpoints they name (3, and 10,000 with a 10,000-endpoint target digest), and the in-process hot path with
// tinybench (bench/plan-hot.ts).
//
// plan runs with the bin's heap flags (src/cli/heap-flags.ts, as users run it); bare saxes with node's defaults.
// `plan --threads 2` reads each page with two threads (src/plan/parallel.ts): the throughput rows compare wall time,
// the CPU-second, instruction and cycle rows count both threads. The default is one thread (docs/decisions/0016).
// The side named 'plan' is `--threads 2`, 'plan1' the default. Timed runs are not under perf
// (see runChild); one extra run each is, for the instruction and cycle rows.
// Usage: node bench/plan.ts [--size-mb 250] [--big-factor 10] [--runs 5] [--big-runs 3] [--no-big] [--no-hot] [--skip-ratio 0.5]
//                           [--endpoints-mb 100] [--no-endpoints] [--no-peers]
//                           [--node-flag=--max-semi-space-size=8 ...]   (given to both children)
import { BIN, binFlags } from './bin-flags.ts';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writePageFile } from '../src/gen/stream.ts';
import { feedOptionsForSize, resolveFeedOptions, type ResolvedFeedOptions } from '../src/gen/synthetic-feed.ts';
import { targetDigestEntryXml, targetDigestFor } from '../src/gen/target-digest.ts';
import { setDigestEntry } from '../src/protocol/digest.ts';
import { availablePeers, runPeer, type Peer, type ToolRun } from './peers.ts';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const MAXRSS = here('./maxrss.ts');
const SAXES = here('./saxes-bare.ts');
const HOT = here('./plan-hot.ts');
const NODE = process.execPath;

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '250' },
    'big-factor': { type: 'string', default: '10' },
    runs: { type: 'string', default: '5' },
    // Peak RSS of a two-thread process moves with machine load (how long V8's concurrent GC work waits for a core):
    // one run on the big feed against the median of five on the small one is a coin toss; medians of both are not.
    'big-runs': { type: 'string', default: '3' },
    'skip-ratio': { type: 'string', default: '0.5' },
    'no-big': { type: 'boolean', default: false },
    'no-hot': { type: 'boolean', default: false },
    'no-peers': { type: 'boolean', default: false },
    // Issue 15 point 5: plan's throughput with a 10,000-endpoint digest against a 3-endpoint one, on feeds this size.
    'endpoints-mb': { type: 'string', default: '100' },
    'no-endpoints': { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    // Extra node flags for BOTH children, e.g. --node-flag=--max-semi-space-size=8 (GC sizing experiments).
    'node-flag': { type: 'string', multiple: true, default: [] },
  },
});
const NODE_FLAGS = values['node-flag'];

// plan is measured as users run it: with the bin's flags.
const PLAN_FLAGS = binFlags(['plan']);
const SIZE = Number(values['size-mb']) * 1e6;
const BIG = Number(values['big-factor']);
const RUNS = Math.max(1, Number(values.runs));
const BIG_RUNS = Math.max(1, Number(values['big-runs']));
const RATIO = Number(values['skip-ratio']);
const SEED = Number(values.seed);

const log = (s: string): void => void process.stderr.write(`[bench plan] ${s}\n`);

/** perf's user-space instruction and cycle counts barely move with machine load, unlike wall or CPU time. */
const PERF = spawnSync('perf', ['stat', '-x,', '-e', 'instructions:u', 'true'], { encoding: 'utf8' }).status === 0;

interface RunResult {
  instructions?: number;
  cycles?: number;
  wall: number;
  /** The child's own figure for its processing (after start-up). */
  inner: number;
  maxRssMiB: number;
  cpuMs: number;
  out: string;
}

/**
 * Runs a child with the maxRSS preload, stdout to /dev/null (or captured), and times it from spawn to exit; under
 * `perf stat` when `counted` (perf then also gives instruction and cycle counts). Timed runs are not counted: perf's
 * per-thread counters cost a two-thread process ~10% of wall time (plan 1.84 → 2.03 s, bare saxes unchanged).
 */
async function runChild(args: string[], dir: string, captureStdout: boolean, flags: string[] = [], counted = false): Promise<RunResult> {
  const usePerf = PERF && counted;
  const rssFile = join(dir, `rss-${process.hrtime.bigint()}.json`);
  const devnull = openSync('/dev/null', 'w');
  try {
    const t0 = process.hrtime.bigint();
    const perfFile = join(dir, `perf-${process.hrtime.bigint()}.csv`);
    const cmd = usePerf ? 'perf' : NODE;
    const argv = [...NODE_FLAGS, ...flags, '--import', MAXRSS, ...args];
    const child = spawn(cmd, usePerf ? ['stat', '-x,', '-e', 'instructions:u,cycles:u', '-o', perfFile, '--', NODE, ...argv] : argv, {
      stdio: ['ignore', captureStdout ? 'pipe' : devnull, 'pipe'],
      // Both sides run TypeScript through Node's type stripping; a shared compile cache (warmed before the
      // measured runs) keeps that start-up cost, ~85 ms more CPU for plan's modules, out of a parser comparison.
      env: { ...process.env, BENCH_RSS_OUT: rssFile, NODE_COMPILE_CACHE: join(dir, 'compile-cache') },
    });
    let out = '';
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}: ${err}`);
    const rss = JSON.parse(await readFile(rssFile, 'utf8')) as { maxRssKiB: number; userMs: number; systemMs: number };
    await rm(rssFile, { force: true });
    const text = captureStdout ? out : err;
    const line = text.trim().split('\n').pop() ?? '{}';
    const inner = (JSON.parse(line) as { seconds?: number }).seconds ?? wall;
    const r: RunResult = { wall, inner, maxRssMiB: rss.maxRssKiB / 1024, cpuMs: rss.userMs + rss.systemMs, out: line };
    if (usePerf) {
      for (const l of (await readFile(perfFile, 'utf8')).split('\n')) {
        const [v, , ev] = l.split(',');
        // "<not supported>" where the kernel does not let perf count (the rows are then left out, not NaN).
        if (ev?.startsWith('instructions') && Number.isFinite(Number(v))) r.instructions = Number(v);
        if (ev?.startsWith('cycles') && Number.isFinite(Number(v))) r.cycles = Number(v);
      }
      await rm(perfFile, { force: true });
    }
    return r;
  } finally {
    closeSync(devnull);
  }
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const spread = (a: number[]): number => (Math.max(...a) - Math.min(...a)) / median(a);

/** Entries needed for about `bytes` of feed, from the average size of a sample of the same generator. */

interface Feed {
  file: string;
  digest: string;
  bytes: number;
  o: ResolvedFeedOptions;
  skipped: number;
}

/** The endpoints of the large-digest feed, and how many its target digest names (padded with endpoints it never uses). */
const MANY_ENDPOINTS = 10_000;

/** `digestEndpoints`: how many endpoints the feed's head digest and the target digest name, if more than the entries do. */
async function makeFeed(dir: string, name: string, count: number, endpoints?: number, digestEndpoints?: number): Promise<Feed> {
  const o = resolveFeedOptions({ count, seed: SEED, ...(endpoints === undefined ? {} : { endpoints }), ...(digestEndpoints === undefined ? {} : { digestEndpoints }) });
  const file = join(dir, `${name}.xml`);
  const digest = join(dir, `${name}-digest.xml`);
  const t0 = process.hrtime.bigint();
  const plan = targetDigestFor(o, RATIO);
  const padTo = Math.max(endpoints ?? 0, digestEndpoints ?? 0);
  if (padTo >= MANY_ENDPOINTS) {
    for (let k = 0; plan.digest.entries.size < padTo; k++) {
      setDigestEntry(plan.digest, { endpoint: `http://pad${k}.example.net/sdata/app/c/-/accounts`, tick: '1', stamp: '2024-05-01T00:00:00.000Z', conflictPriority: 5 });
    }
  }
  await writeFile(digest, targetDigestEntryXml(o, plan.digest));
  const bytes = await writePageFile(o, 0, file);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  log(`generated ${name}: ${count} entries, ${(bytes / 1e6).toFixed(1)} MB in ${s.toFixed(1)} s (${(bytes / 1e6 / s).toFixed(0)} MB/s)`);
  return { file, digest, bytes, o, skipped: plan.skipped };
}

interface Pair {
  saxes: RunResult[];
  plan: RunResult[];
  /** `plan --threads 1`, when measured. */
  plan1: RunResult[];
  peers: Map<Peer['name'], ToolRun[]>;
  /** One more run each under perf stat, for instruction and cycle counts (not timed: see runChild). */
  counted?: { saxes: RunResult; plan: RunResult };
}

type Side = 'saxes' | 'plan' | 'plan1' | Peer;

/** One plan run, its summary checked against what the generator announced. */
async function runPlan(feed: Feed, dir: string, extra: string[] = []): Promise<RunResult> {
  const x = await runChild([BIN, 'plan', ...extra, '--digest', feed.digest, feed.file], dir, false, PLAN_FLAGS);
  const s = JSON.parse(x.out) as { read: number; skipped: number; forwarded: number };
  if (s.read !== feed.o.count || s.skipped !== feed.skipped) {
    throw new Error(`plan read ${s.read}/${feed.o.count} entries, skipped ${s.skipped}/${feed.skipped}: the bench is not measuring what it claims`);
  }
  return x;
}

/**
 * `runs` rounds over the sides; each round starts one side later (saxes, plan, … then plan, …, saxes), so that a
 * drift in machine load favours none. `threadsOne` adds `plan --threads 1`; `peers` the other programs.
 */
async function measure(feed: Feed, runs: number, dir: string, count = false, threadsOne = false, peers: Peer[] = []): Promise<Pair> {
  const r: Pair = { saxes: [], plan: [], plan1: [], peers: new Map() };
  const sides: Side[] = ['saxes', 'plan', ...(threadsOne ? ['plan1' as const] : []), ...peers];
  const rate = (wall: number): string => `${wall.toFixed(2)} s, ${(feed.bytes / 1e6 / wall).toFixed(1)} MB/s`;
  for (let k = 0; k < runs; k++) {
    const order = [...sides.slice(k % sides.length), ...sides.slice(0, k % sides.length)];
    for (const which of order) {
      if (which === 'saxes') {
        const x = await runChild([SAXES, feed.file], dir, true);
        r.saxes.push(x);
        log(`  run ${k + 1} saxes: ${rate(x.wall)}, maxRSS ${x.maxRssMiB.toFixed(1)} MiB`);
      } else if (which === 'plan' || which === 'plan1') {
        const x = await runPlan(feed, dir, which === 'plan1' ? ['--threads', '1'] : ['--threads', '2']);
        r[which].push(x);
        log(`  run ${k + 1} ${which === 'plan' ? 'plan --threads 2' : 'plan (default, one thread)'}: ${rate(x.wall)}, maxRSS ${x.maxRssMiB.toFixed(1)} MiB`);
      } else if (which.everyRun || k === 0) {
        const x = await runPeer(which, feed, dir);
        if (which.name === 'iterparse') {
          const s = JSON.parse(x.stderr.trim().split('\n').pop() ?? '{}') as { read?: number; skipped?: number };
          if (s.read !== feed.o.count || s.skipped !== feed.skipped) log(`  note: the Python filter read ${s.read}, skipped ${s.skipped} (plan: ${feed.o.count}, ${feed.skipped})`);
        }
        r.peers.set(which.name, [...(r.peers.get(which.name) ?? []), x]);
        log(`  run ${k + 1} ${which.label}: ${rate(x.wall)}, maxRSS ${x.maxRssMiB?.toFixed(1) ?? '?'} MiB`);
      }
    }
  }
  if (count && PERF) {
    r.counted = { saxes: await runChild([SAXES, feed.file], dir, true, [], true), plan: await runChild([BIN, 'plan', '--digest', feed.digest, feed.file], dir, false, PLAN_FLAGS, true) };
    log(`  counted (perf stat): saxes ${(r.counted.saxes.instructions! / 1e9).toFixed(2)} G instructions, plan ${(r.counted.plan.instructions! / 1e9).toFixed(2)} G`);
  }
  return r;
}

async function hot(): Promise<Record<string, number> | undefined> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [HOT, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('close', (code) => {
      if (code !== 0) return resolve(undefined);
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>);
      } catch {
        resolve(undefined);
      }
    });
  });
}

const f1 = (n: number): string => n.toFixed(1);
const f2 = (n: number): string => n.toFixed(2);
/** A growth as a signed percentage (+3.0%). */
const pct = (g: number): string => `${g >= 0 ? '+' : ''}${(g * 100).toFixed(1)}%`;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sdata-bench-'));
  const cleanup = (): void => {
    void rm(dir, { recursive: true, force: true }).finally(() => process.exit(130));
  };
  process.once('SIGINT', cleanup);
  process.once('SIGTERM', cleanup);
  try {
    log(`node ${process.versions.node}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load ${loadavg().map(f2).join(' ')}`);
    const n = Math.max(1, feedOptionsForSize(SIZE / 1e6, 4000, SEED).count);
    const small = await makeFeed(dir, 'feed', n);
    // Big enough for plan to start its helper thread, so that the helper's modules are in the compile cache too.
    const warm = await makeFeed(dir, 'warm-up', 2000);
    await runChild([SAXES, warm.file], dir, true);
    await runChild([BIN, 'plan', '--threads', '2', '--digest', warm.digest, warm.file], dir, false, PLAN_FLAGS);
    log(`plan runs with the bin's node flags (${PLAN_FLAGS.join(' ') || 'none'}), bare saxes with node's defaults${NODE_FLAGS.length ? `; both with ${NODE_FLAGS.join(' ')}` : ''}`);
    log(`${RUNS} alternating runs on ${f1(small.bytes / 1e6)} MB`);
    const peers = values['no-peers'] ? [] : availablePeers(log);
    const a = await measure(small, RUNS, dir, true, true, peers);

    // Issue 15 point 5: the same bytes per entry, 3 endpoints or 10,000 (and a target digest naming 10,000). A third
    // feed tells the digests' cost from the entries': its entries name 3 endpoints, its digests 10,000 (information).
    let endpoints: { few: RunResult[]; many: RunResult[]; digests: RunResult[]; fewFeed: Feed; manyFeed: Feed; digestsFeed: Feed } | undefined;
    if (!values['no-endpoints']) {
      const en = Math.max(1, feedOptionsForSize(Number(values['endpoints-mb']), 4000, SEED).count);
      const fewFeed = await makeFeed(dir, 'feed-3-endpoints', en, 3);
      const manyFeed = await makeFeed(dir, 'feed-10k-endpoints', en, MANY_ENDPOINTS);
      const digestsFeed = await makeFeed(dir, 'feed-3-endpoints-10k-digests', en, 3, MANY_ENDPOINTS);
      log(`${RUNS} rotating runs of plan on ${f1(fewFeed.bytes / 1e6)} MB with 3 endpoints, ${f1(manyFeed.bytes / 1e6)} MB with ${MANY_ENDPOINTS} ` +
        `(digests of ${MANY_ENDPOINTS} endpoints and of 5) and ${f1(digestsFeed.bytes / 1e6)} MB with 3 in the entries and ${MANY_ENDPOINTS} in both digests`);
      endpoints = { few: [], many: [], digests: [], fewFeed, manyFeed, digestsFeed };
      const sides = ['few', 'many', 'digests'] as const;
      const label = { few: '3 endpoints', many: `${MANY_ENDPOINTS} endpoints`, digests: `3 endpoints, ${MANY_ENDPOINTS} in the digests` };
      for (let k = 0; k < RUNS; k++) {
        for (const which of [...sides.slice(k % 3), ...sides.slice(0, k % 3)]) {
          const f = endpoints[`${which}Feed`];
          const x = await runPlan(f, dir);
          endpoints[which].push(x);
          log(`  run ${k + 1} plan, ${label[which]}: ${x.wall.toFixed(2)} s, ${f1(f.bytes / 1e6 / x.wall)} MB/s`);
        }
      }
      for (const f of [fewFeed, manyFeed, digestsFeed]) await rm(f.file, { force: true });
    }

    let big: { feed: { bytes: number; count: number }; pair: Pair } | undefined;
    if (!values['no-big'] && BIG > 1) {
      const bf = await makeFeed(dir, 'feed-big', n * BIG);
      log(`${BIG_RUNS} alternating run(s) each on ${f1(bf.bytes / 1e6)} MB (peak RSS must not grow with input size)`);
      const pair = await measure(bf, BIG_RUNS, dir, false, true);
      big = { feed: { bytes: bf.bytes, count: bf.o.count }, pair };
      await rm(bf.file, { force: true });
    }
    await rm(small.file, { force: true });

    const hotResult = values['no-hot'] ? undefined : await hot();

    const mbps = (runs: Array<{ wall: number; inner?: number }>, bytes: number, key: 'wall' | 'inner'): number => median(runs.map((r) => bytes / 1e6 / (r[key] ?? r.wall)));
    const saxesMBps = mbps(a.saxes, small.bytes, 'wall');
    const planMBps = mbps(a.plan, small.bytes, 'wall');
    const saxesInner = mbps(a.saxes, small.bytes, 'inner');
    const planInner = mbps(a.plan, small.bytes, 'inner');
    const saxesRss = median(a.saxes.map((r) => r.maxRssMiB));
    const planRss = median(a.plan.map((r) => r.maxRssMiB));
    const ratio = planMBps / saxesMBps;
    const cpuMBps = (runs: RunResult[]): number => median(runs.map((r) => small.bytes / 1e6 / (r.cpuMs / 1000)));
    const rssRatio = planRss / saxesRss;
    const counted = a.counted?.saxes.instructions !== undefined && a.counted.plan.instructions !== undefined ? a.counted : undefined;
    const bigPlanRss = big ? median(big.pair.plan.map((r) => r.maxRssMiB)) : undefined;
    const bigSaxesRss = big ? median(big.pair.saxes.map((r) => r.maxRssMiB)) : undefined;
    const growth = bigPlanRss !== undefined ? bigPlanRss / planRss - 1 : undefined;
    // Issue 15 point 5's bar is plan's as users run it (one thread, the default); the two-thread plan's is information.
    const plan1Rss = median(a.plan1.map((r) => r.maxRssMiB));
    const bigPlan1Rss = big && big.pair.plan1.length > 0 ? median(big.pair.plan1.map((r) => r.maxRssMiB)) : undefined;
    const growth1 = bigPlan1Rss !== undefined ? bigPlan1Rss / plan1Rss - 1 : undefined;

    const rows: string[][] = [
      ['', 'saxes (bare)', 'plan', 'plan/saxes', 'bar'],
      [`MB/s, ${f1(small.bytes / 1e6)} MB, wall (median of ${RUNS})`, f1(saxesMBps), f1(planMBps), ratio.toFixed(3), `≥ 0.85 ${ratio >= 0.85 ? 'ok' : 'MISSED'}`],
      ['MB/s, same, processing only', f1(saxesInner), f1(planInner), f2(planInner / saxesInner), ''],
      [`MB/s, same, best of ${RUNS}`, f1(Math.max(...a.saxes.map((r) => small.bytes / 1e6 / r.wall))), f1(Math.max(...a.plan.map((r) => small.bytes / 1e6 / r.wall))),
        f2(Math.max(...a.plan.map((r) => small.bytes / 1e6 / r.wall)) / Math.max(...a.saxes.map((r) => small.bytes / 1e6 / r.wall))), ''],
      ['MB per CPU-second (user+sys, median)', f1(cpuMBps(a.saxes)), f1(cpuMBps(a.plan)), f2(cpuMBps(a.plan) / cpuMBps(a.saxes)), 'load-robust'],
      ...(counted ? [
        ['instructions:u, G, all threads (ratio = saxes/plan)', f2(counted.saxes.instructions! / 1e9), f2(counted.plan.instructions! / 1e9),
          (counted.saxes.instructions! / counted.plan.instructions!).toFixed(3), 'load-robust'],
        ['cycles:u, G, all threads (ratio = saxes/plan)', f2(counted.saxes.cycles! / 1e9), f2(counted.plan.cycles! / 1e9),
          (counted.saxes.cycles! / counted.plan.cycles!).toFixed(3), 'load-robust'],
      ] : []),
      ['wall spread (max-min)/median', `${(spread(a.saxes.map((r) => r.wall)) * 100).toFixed(0)}%`, `${(spread(a.plan.map((r) => r.wall)) * 100).toFixed(0)}%`, '', ''],
      [`peak RSS MiB, ${f1(small.bytes / 1e6)} MB (median)`, f1(saxesRss), f1(planRss), f2(rssRatio), `≤ 1.25 ${rssRatio <= 1.25 ? 'ok' : 'MISSED'}`],
      [`peak RSS MiB, every run`, a.saxes.map((r) => f1(r.maxRssMiB)).join(' '), a.plan.map((r) => f1(r.maxRssMiB)).join(' '), '', ''],
    ];
    if (big && bigSaxesRss !== undefined && bigPlanRss !== undefined) {
      const bigWall = (runs: RunResult[]): number => median(runs.map((r) => r.wall));
      const bs = { maxRssMiB: bigSaxesRss, wall: bigWall(big.pair.saxes) };
      const bp = { maxRssMiB: bigPlanRss, wall: bigWall(big.pair.plan) };
      rows.push([`peak RSS MiB, ${f1(big.feed.bytes / 1e6)} MB (median of ${BIG_RUNS})`, f1(bs.maxRssMiB), f1(bp.maxRssMiB), f2(bp.maxRssMiB / bs.maxRssMiB), `≤ 1.25 ${bp.maxRssMiB / bs.maxRssMiB <= 1.25 ? 'ok' : 'MISSED'}`]);
      const sg = bs.maxRssMiB / saxesRss - 1;
      // Bare saxes' own growth is the reference: V8 widens its young generation once enough has survived
      // scavenges, which takes a number of bytes parsed, whatever the program keeps.
      rows.push([`peak RSS growth at ${BIG}× input`, pct(sg), pct(growth!), '', '(information)']);
      rows.push([`MB/s, ${f1(big.feed.bytes / 1e6)} MB, wall (median of ${BIG_RUNS})`, f1(big.feed.bytes / 1e6 / bs.wall), f1(big.feed.bytes / 1e6 / bp.wall), f2(bs.wall / bp.wall), '']);
      rows.push([`peak RSS MiB, every run, ${f1(big.feed.bytes / 1e6)} MB`, big.pair.saxes.map((r) => f1(r.maxRssMiB)).join(' '), big.pair.plan.map((r) => f1(r.maxRssMiB)).join(' '), '', '']);
    }
    if (hotResult) {
      rows.push(['hot path MB/s in-process (tinybench)', f1(hotResult['saxesMBps']!), f1(hotResult['planMBps']!), f2(hotResult['planMBps']! / hotResult['saxesMBps']!), '']);
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
    const out = rows.map((r) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ')).join('\n');
    process.stdout.write(`\n${out}\n`);

    // Issue 15's bars, beside the anchors they are ratios of (all measured in the rounds above).
    const MiBs = (runs: Array<{ maxRssMiB: number | undefined }>): number | undefined => runs.some((r) => r.maxRssMiB === undefined) ? undefined : median(runs.map((r) => r.maxRssMiB!));
    const cpuRate = (runs: Array<{ cpuMs: number | undefined }>): number | undefined => runs.some((r) => r.cpuMs === undefined) ? undefined : median(runs.map((r) => small.bytes / 1e6 / (r.cpuMs! / 1000)));
    const sides: Array<{ label: string; runs: Array<{ wall: number; maxRssMiB: number | undefined; cpuMs: number | undefined }> }> = [
      { label: 'bare saxes', runs: a.saxes }, { label: 'plan --threads 2', runs: a.plan }, { label: 'plan (default: one thread)', runs: a.plan1 },
      ...peers.filter((p) => a.peers.has(p.name)).map((p) => ({ label: p.label, runs: a.peers.get(p.name)! })),
    ];
    const peerRows: string[][] = [['program', 'MB/s (median)', 'runs', 'MB per CPU-s', 'peak RSS MiB', 'plan MB/s ÷ this']];
    for (const x of sides) {
      const m = mbps(x.runs, small.bytes, 'wall');
      const rss = MiBs(x.runs);
      const c = cpuRate(x.runs);
      peerRows.push([x.label, f1(m), String(x.runs.length), c === undefined ? '-' : f1(c), rss === undefined ? '-' : f1(rss), f2(planMBps / m)]);
    }
    const w2 = peerRows[0]!.map((_, c) => Math.max(...peerRows.map((r) => (r[c] ?? '').length)));
    process.stdout.write(`\n${peerRows.map((r) => r.map((v, c) => (c === 0 ? v.padEnd(w2[c]!) : v.padStart(w2[c]!))).join('  ')).join('\n')}\n`);

    const bars: string[] = [];
    const bar = (what: string, value: number, op: '≥' | '≤', limit: number, shown = f2(value)): void => {
      bars.push(`${what}: ${shown} (bar ${op} ${limit}) ${(op === '≥' ? value >= limit : value <= limit) ? 'met' : 'MISSED'}`);
    };
    const xmllint = a.peers.get('xmllint');
    const plan1MBps = mbps(a.plan1, small.bytes, 'wall');
    if (xmllint) {
      const x = mbps(xmllint, small.bytes, 'wall');
      bar('plan (default: one thread) MB/s ÷ xmllint --stream MB/s', plan1MBps / x, '≥', 0.5);
      bar('plan --threads 2 MB/s ÷ xmllint --stream MB/s', planMBps / x, '≥', 0.5);
    } else {
      bars.push(`plan ÷ xmllint --stream: not measured (${values['no-peers'] ? '--no-peers' : 'xmllint is not installed'})`);
    }
    bar('plan (default: one thread) peak RSS ÷ bare saxes peak RSS', plan1Rss / saxesRss, '≤', 1.0);
    bars.push(`(information) plan --threads 2 peak RSS ÷ bare saxes peak RSS: ${f2(rssRatio)} (its helper thread's V8 heap; the bar is the default's)`);
    let epRatio: number | undefined;
    let digestsRatio: number | undefined;
    if (endpoints) {
      const few = median(endpoints.few.map((r) => endpoints.fewFeed.bytes / 1e6 / r.wall));
      const many = median(endpoints.many.map((r) => endpoints.manyFeed.bytes / 1e6 / r.wall));
      epRatio = many / few;
      bar(`plan MB/s, ${MANY_ENDPOINTS}-endpoint digest ÷ 3 endpoints (${f1(many)} ÷ ${f1(few)})`, epRatio, '≥', 0.9);
      const digests = median(endpoints.digests.map((r) => endpoints.digestsFeed.bytes / 1e6 / r.wall));
      digestsRatio = digests / few;
      bars.push(`(information) plan MB/s, ${MANY_ENDPOINTS}-endpoint digests with entries from 3 endpoints ÷ 3 endpoints (${f1(digests)} ÷ ${f1(few)}): ` +
        `${f2(digestsRatio)}: the digests' own cost, without ${MANY_ENDPOINTS} endpoints' lookups in random order`);
    }
    if (growth1 !== undefined) {
      bar(`plan (default: one thread) peak RSS growth, ${f1(big!.feed.bytes / 1e6)} MB ÷ ${f1(small.bytes / 1e6)} MB feed (${f1(bigPlan1Rss!)} ÷ ${f1(plan1Rss)} MiB, every run ${big!.pair.plan1.map((r) => f1(r.maxRssMiB)).join(' ')})`,
        Math.abs(growth1), '≤', 0.1, pct(growth1));
    }
    if (growth !== undefined) bars.push(`(information) plan --threads 2 peak RSS growth, same feeds: ${pct(growth)}`);
    process.stdout.write(`\nload average ${loadavg().map(f2).join(' ')}\n${bars.join('\n')}\n`);
    const json = {
      bench: 'plan', node: process.versions.node, nodeFlags: NODE_FLAGS, planFlags: PLAN_FLAGS, cpus: cpus().length, sizeMB: +f1(small.bytes / 1e6), entries: small.o.count,
      skipRatio: RATIO, runs: RUNS, bigRuns: BIG_RUNS, saxesMBps: +f1(saxesMBps), planMBps: +f1(planMBps), ratio: +ratio.toFixed(3),
      cpuRatio: +f2(cpuMBps(a.plan) / cpuMBps(a.saxes)), load1: +f2(loadavg()[0]!),
      cycleRatio: counted ? +(counted.saxes.cycles! / counted.plan.cycles!).toFixed(3) : null,
      instructionRatio: counted ? +(counted.saxes.instructions! / counted.plan.instructions!).toFixed(3) : null,
      saxesRssMiB: +f1(saxesRss), planRssMiB: +f1(planRss), rssRatio: +f2(rssRatio),
      bigSizeMB: big ? +f1(big.feed.bytes / 1e6) : null, bigSaxesRssMiB: bigSaxesRss !== undefined ? +f1(bigSaxesRss) : null,
      bigPlanRssMiB: bigPlanRss !== undefined ? +f1(bigPlanRss) : null, rssGrowth: growth !== undefined ? +growth.toFixed(3) : null,
      saxesRssGrowth: bigSaxesRss !== undefined ? +(bigSaxesRss / saxesRss - 1).toFixed(3) : null,
      hotSaxesMBps: hotResult ? +f1(hotResult['saxesMBps']!) : null, hotPlanMBps: hotResult ? +f1(hotResult['planMBps']!) : null,
      hotReaderMBps: hotResult ? +f1(hotResult['readerMBps']!) : null,
      plan1MBps: +f1(plan1MBps), plan1RssMiB: +f1(plan1Rss),
      bigPlan1RssMiB: bigPlan1Rss !== undefined ? +f1(bigPlan1Rss) : null, plan1RssGrowth: growth1 !== undefined ? +growth1.toFixed(3) : null,
      peers: Object.fromEntries([...a.peers].map(([k, v]) => [k, { MBps: +f1(mbps(v, small.bytes, 'wall')), rssMiB: MiBs(v) === undefined ? null : +f1(MiBs(v)!) }])),
      endpointsRatio: epRatio === undefined ? null : +epRatio.toFixed(3),
      digestsRatio: digestsRatio === undefined ? null : +digestsRatio.toFixed(3),
    };
    process.stdout.write(`${JSON.stringify(json)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
