// The end-to-end bench (issues 4 and 15): N generated ~1 KB resources from a source provider to an empty target on
// loopback. Three processes: two `sdata-sync serve` and the engine (`sdata-sync run`), each measured by the maxrss
// preload, so each one's peak RSS, CPU and bytes written are its own. In the same run, in this order:
// 1. the anchor (bench/anchor.ts): bare node:sqlite inserting N rows of the same shape into the same filesystem;
// 2. end to end at N: wall and the three processes' CPU against the anchor's, target equal to source (checksums);
// 3. the source serving the same feed alone, to a client that drops what it reads (bench/source-drain.ts): its rate
//    against the target's apply rate; then `pull` to a file (the feed step 4 reads; its rate is printed, and is the
//    pull's own: it parses every entry);
// 4. the engine alone (issue 15 item 2): `run` from a source that streams that file to a null-sink target
//    (bench/null-peers.ts, its own process), against `plan --threads 1` on the same file, both on one core
//    (taskset -c 0, the peers on the other core) where taskset exists; three rounds, medians (ALONE_ROUNDS);
// 5. the anchor again: the two bracket steps 2-4, and the ratios take their mean (these machines change speed by tens
//    of percent within minutes; one anchor before the seeding cannot see it, two say how much the run drifted);
// 6. end to end at a smaller size: every process's peak RSS must not grow with the feed (flat: within 10%).
//
// Usage: node bench/e2e.ts [--count 1000000] [--small 250000] [--chunk-entries 1000] [--page-size 1000]
//                          [--no-small] [--no-plan] [--no-anchor] [--profile]   (also: npm run bench -- e2e …)
// --profile: afterwards, one more end-to-end pass at the small size with every process under --cpu-prof (not one of
// the measured runs: the profiler costs time), and where each one's CPU goes.
// Figures on stderr, one JSON line on stdout. BENCH_ENGINE_NODE_ARGS adds node flags to the engine, BENCH_NODE_FLAGS
// to the providers (profiling: --cpu-prof --cpu-prof-dir=DIR).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { seedStore } from '../src/seeder/seed-store.ts';
import { busyMicros, summarise, type CpuProfile } from './cpu-profile.ts';
import { drainSourceFeed, type Drained } from './source-drain.ts';
import { cpuSecondsNow, getJson, threadCpuNow, here, median, NODE, nullPeers, onCore, PIN, provider as serveProcess, removeStores, runChild, stopProvider, type Checksum, type ChildRun, type SyncRunFigures, type Usage } from './sync-processes.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    small: { type: 'string', default: '250000' },
    'chunk-entries': { type: 'string', default: '1000' },
    'page-size': { type: 'string', default: '1000' },
    'no-small': { type: 'boolean', default: false },
    'no-plan': { type: 'boolean', default: false },
    'no-anchor': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});

const log = (s: string): void => void process.stderr.write(`[bench e2e] ${s}\n`);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');


/** Where --cpu-prof writes, per process, while the profiled pass runs. */
let profileDir: string | undefined;
const profileFlags = (name: string): string[] => (profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`]);

/** The busiest thread's profile of each process, as tables. */
async function profileTables(): Promise<string> {
  let out = '';
  for (const name of ['engine', 'source', 'target']) {
    const d = join(profileDir!, name);
    const files = existsSync(d) ? (await readdir(d)).filter((f) => f.endsWith('.cpuprofile')) : [];
    const profs = await Promise.all(files.map(async (f) => JSON.parse(await readFile(join(d, f), 'utf8')) as CpuProfile));
    const busiest = profs.sort((a, b) => busyMicros(b) - busyMicros(a))[0];
    if (busiest) out += `\n== ${name} (busiest of ${profs.length} threads) ==\n${summarise(busiest, 25, here('..'))}`;
  }
  return out;
}

/** A provider of this bench: its page size, BENCH_NODE_FLAGS, and the profiler's flags while the profiled pass runs. */
const provider = (name: string, db: string, dir: string): ReturnType<typeof serveProcess> =>
  serveProcess(name, db, dir, { pageSize: values['page-size'], nodeFlags: [...(process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean), ...profileFlags(name)] });

interface SizeResult extends SyncRunFigures {
  source: Usage;
  target: Usage;
  /** The source serving the same feed alone (`pull` to a file), and what runs on that file. */
  /** The source serving alone to the drain client; `pull` its rate when pulled to a file. */
  serve: { seconds: number; entriesPerSecond: number; sourceCpuSeconds: number; pull: { seconds: number; entriesPerSecond: number } } | null;
  alone: EngineAlone | null;
  /** The providers' CPU-s by thread role when the sync ended (threadCpuNow; null where /proc is not there). */
  threads: { source: Record<string, number> | null; target: Record<string, number> | null };
}

interface AloneSide {
  /** Medians over the rounds (peak RSS: the highest), and every round's wall time. */
  seconds: number;
  mbPerSecond: number;
  cpuSeconds: number;
  maxRssMiB: number;
  walls: number[];
}

interface EngineAlone {
  feedMB: number;
  pinned: boolean;
  engine: AloneSide;
  plan1: AloneSide;
}

/**
 * Rounds of the engine alone and of `plan --threads 1`, each round starting with the other one: the bar is a ratio of
 * the medians. One run of each (before stop 31) moved by ±0.05 between runs of the same code: 0.658 in stop 30's run,
 * 0.70-0.75 at 1M in stop 31's; a single pair can catch a slow minute on one side only.
 */
const ALONE_ROUNDS = 3;

const seededSource = (dir: string, count: number): string => join(dir, `source-${count}.db`);


/** The engine between peers that cost nothing, against `plan --threads 1`, on the same file and the same core. */
async function engineAlone(feed: string, count: number, dir: string): Promise<EngineAlone> {
  const peers = await nullPeers(here('./null-peers.ts'), feed);
  try {
    const base = peers.base;
    const mb = (await stat(feed)).size / 1e6;
    const report = join(dir, `report-alone-${count}.json`);
    const engine = async (): Promise<ChildRun> => {
      const run = await runChild(['run', '--source', `${base}/sdata/source/crm/-/accounts`, '--target', `${base}/sdata/sink/crm/-/accounts`, '--kind', 'accounts',
        '--chunk-entries', values['chunk-entries'], '--report', report, '--progress', 'none', '--quiet', '--state-dir', dir], dir, undefined, [], onCore(0));
      const rep = JSON.parse(await readFile(report, 'utf8')) as { passes: { read: number; forwarded: number }[] };
      if (rep.passes[0]!.forwarded !== count) throw new Error(`engine alone forwarded ${rep.passes[0]!.forwarded} of ${count} entries`);
      return run;
    };
    const plan = (): Promise<ChildRun> => runChild(['plan', feed, '--quiet', '--threads', '1'], dir, undefined, [], onCore(0));
    const runs = { engine: [] as ChildRun[], plan1: [] as ChildRun[] };
    for (let r = 0; r < ALONE_ROUNDS; r++) {
      const order = r % 2 === 0 ? (['engine', 'plan1'] as const) : (['plan1', 'engine'] as const);
      for (const side of order) runs[side].push(await (side === 'engine' ? engine() : plan()));
      const [e, p] = [runs.engine[r]!, runs.plan1[r]!];
      log(`  engine alone, round ${r + 1}: run ${e.wall.toFixed(1)} s (CPU ${e.cpuSeconds.toFixed(1)} s), plan --threads 1 ${p.wall.toFixed(1)} s (CPU ${p.cpuSeconds.toFixed(1)} s): ${(e.wall > 0 ? p.wall / e.wall : 0).toFixed(3)}`);
    }
    const side = (xs: ChildRun[]): AloneSide => {
      const seconds = median(xs.map((x) => x.wall));
      return { seconds, mbPerSecond: mb / seconds, cpuSeconds: median(xs.map((x) => x.cpuSeconds)), maxRssMiB: Math.max(...xs.map((x) => x.maxRssMiB)), walls: xs.map((x) => +x.wall.toFixed(3)) };
    };
    return { feedMB: mb, pinned: PIN, engine: side(runs.engine), plan1: side(runs.plan1) };
  } finally {
    peers.stop();
  }
}

async function once(count: number, dir: string, withPlan: boolean): Promise<SizeResult> {
  const srcDb = seededSource(dir, count);
  const tgtDb = join(dir, `target-${count}.db`);
  const t0 = Date.now();
  await seedStore({ db: srcDb, app: 'source', contract: 'crm', kind: 'accounts', count, priority: 1, endpointBase: 'http://source.example/sdata/source/crm/-' });
  log(`seeded ${fmt(count)} resources in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  try {
    const src = await provider('source', srcDb, dir);
    const tgt = await provider('target', tgtDb, dir);
    let run!: ChildRun;
    let p!: { read: number; bytesIn: number };
    let us!: Usage;
    let ut!: Usage;
    let converged = false;
    let atEnd: Array<number | undefined> = [undefined, undefined];
    let threads: Array<Record<string, number> | undefined> = [undefined, undefined];
    const load = loadavg()[0]!;
    try {
      const report = join(dir, `report-${count}.json`);
      run = await runChild(['run', '--source', src.url, '--target', tgt.url, '--kind', 'accounts', '--chunk-entries', values['chunk-entries'],
        '--report', report, '--progress', 'none', '--quiet', '--state-dir', dir], dir, undefined, [...(process.env['BENCH_ENGINE_NODE_ARGS'] ?? '').split(' ').filter(Boolean), ...profileFlags('engine')]);
      atEnd = [cpuSecondsNow(src.child), cpuSecondsNow(tgt.child)];
      threads = [threadCpuNow(src.child), threadCpuNow(tgt.child)];
      p = (JSON.parse(await readFile(report, 'utf8')) as { passes: { read: number; bytesIn: number }[] }).passes[0]!;
      const [cs, ct] = await Promise.all([getJson<Checksum>(`${src.url}/accounts/$checksum`), getJson<Checksum>(`${tgt.url}/accounts/$checksum`)]);
      converged = cs.count === count && ct.count === count && cs.sha256 === ct.sha256 && cs.statesSha256 === ct.statesSha256;
    } finally {
      us = await stopProvider(src);
      ut = await stopProvider(tgt);
    }
    // The sync's CPU is what the providers had used when it ended; the checksums and the shutdown come after.
    const sync = (u: Usage, cpu: number | undefined, name: string): Usage => {
      if (cpu === undefined) return u;
      log(`  ${name}: ${(u.cpuSeconds - cpu).toFixed(1)} CPU-s after the sync (the bench's $checksum, shutdown), not counted`);
      return { ...u, cpuSeconds: cpu };
    };
    us = sync(us, atEnd[0], 'source');
    ut = sync(ut, atEnd[1], 'target');
    const r: SizeResult = {
      count, seconds: run.wall, entriesPerSecond: p.read / run.wall, mbPerSecond: p.bytesIn / 1e6 / run.wall, feedMB: p.bytesIn / 1e6,
      engine: { cpuSeconds: run.cpuSeconds, maxRssMiB: run.maxRssMiB, writeBytes: run.writeBytes }, source: us, target: ut, converged, load, serve: null, alone: null,
      threads: { source: threads[0] ?? null, target: threads[1] ?? null },
    };
    log(`run: ${fmt(count)} entries in ${run.wall.toFixed(1)} s: ${fmt(r.entriesPerSecond)} entries/s, ${r.mbPerSecond.toFixed(1)} MB/s ` +
      `(${r.feedMB.toFixed(0)} MB of source feed); target ${converged ? 'equals' : 'DIFFERS FROM'} source (checksums); load average at start ${load.toFixed(2)}`);
    for (const [name, u] of [['engine', r.engine], ['source', us], ['target', ut]] as const) {
      log(`  ${name}: CPU ${u.cpuSeconds.toFixed(1)} s (${(u.cpuSeconds / (count / 1e6)).toFixed(1)} s per million entries), peak RSS ${u.maxRssMiB.toFixed(0)} MiB, ` +
        `wrote ${(u.writeBytes / 1e6).toFixed(0)} MB (${fmt(u.writeBytes / count)} bytes per entry)`);
    }
    for (const [name, t] of [['source', threads[0]], ['target', threads[1]]] as const) {
      if (t !== undefined) log(`  ${name}'s threads during the sync (CPU-s): ${Object.entries(t).map(([role, s]) => `${role} ${s.toFixed(1)}`).join(', ')}`);
    }
    if (withPlan) {
      // The source alone, as fast as it serves: the same feed (an empty digest) to a client that drops it.
      const drainer = await provider('source', srcDb, dir);
      let drained!: Drained;
      let ud!: Usage;
      try {
        drained = await drainSourceFeed(`${drainer.url}/accounts`);
      } finally {
        ud = await stopProvider(drainer);
      }
      if (drained.pages * Number(values['page-size']) < count) throw new Error(`the drain client read ${drained.pages} pages for ${count} entries`);
      // The same feed pulled to a file, as the run saw it: what the engine alone reads next.
      const feed = join(dir, `feed-${count}.xml`);
      const again = await provider('source', srcDb, dir);
      let pull!: ChildRun;
      try {
        pull = await runChild(['pull', `${again.url}/accounts`, '--quiet', '--state-dir', dir], dir, feed);
      } finally {
        await stopProvider(again);
      }
      r.serve = {
        seconds: drained.seconds, entriesPerSecond: count / drained.seconds, sourceCpuSeconds: ud.cpuSeconds,
        pull: { seconds: pull.wall, entriesPerSecond: count / pull.wall },
      };
      log(`source serving alone (to a client that drops the bytes): ${drained.seconds.toFixed(1)} s, ${fmt(r.serve.entriesPerSecond)} entries/s, ` +
        `${(drained.bytes / 1e6).toFixed(0)} MB in ${drained.pages} pages, source CPU ${ud.cpuSeconds.toFixed(1)} s; ` +
        `\`pull\` to a file (parses every entry) ${pull.wall.toFixed(1)} s, ${fmt(r.serve.pull.entriesPerSecond)} entries/s`);
      try {
        r.alone = await engineAlone(feed, count, dir);
        const a = r.alone;
        log(`engine alone (null peers${a.pinned ? ', engine and plan on core 0' : ', not pinned: no taskset'}), ${a.feedMB.toFixed(0)} MB, medians of ${ALONE_ROUNDS} rounds: ` +
          `run ${a.engine.seconds.toFixed(1)} s, ${a.engine.mbPerSecond.toFixed(1)} MB/s, CPU ${a.engine.cpuSeconds.toFixed(1)} s; ` +
          `plan --threads 1 ${a.plan1.seconds.toFixed(1)} s, ${a.plan1.mbPerSecond.toFixed(1)} MB/s, CPU ${a.plan1.cpuSeconds.toFixed(1)} s`);
      } finally {
        await rm(feed, { force: true });
      }
    }
    return r;
  } finally {
    removeStores(srcDb, tgtDb);
  }
}

interface Anchor { count: number; seconds: number; cpuSeconds: number; maxRssMiB: number; writeBytes: number; dbBytes: number }

async function anchor(count: number, dir: string, when: string): Promise<Anchor> {
  const out = join(dir, 'anchor.json');
  const fd = openSync(out, 'w');
  try {
    const child = spawn(NODE, [here('./anchor.ts'), '--dir', dir, '--count', String(count)], { stdio: ['ignore', fd, 'inherit'] });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (code !== 0) throw new Error(`bench/anchor.ts exited ${code}`);
  } finally {
    closeSync(fd);
  }
  const a = JSON.parse(await readFile(out, 'utf8')) as Anchor;
  log(`anchor ${when} (bare node:sqlite, same filesystem): ${fmt(count)} rows in ${a.seconds.toFixed(1)} s, ${fmt(count / a.seconds)} rows/s, CPU ${a.cpuSeconds.toFixed(1)} s, ` +
    `wrote ${(a.writeBytes / 1e6).toFixed(0)} MB (${fmt(a.writeBytes / count)} bytes per row), database ${(a.dbBytes / 1e6).toFixed(0)} MB`);
  return a;
}

/** The anchor as the mean of two runs that bracket the measured ones. */
function meanAnchor(a: Anchor, b: Anchor): Anchor {
  const mean = (x: number, y: number): number => (x + y) / 2;
  return {
    count: a.count, seconds: mean(a.seconds, b.seconds), cpuSeconds: mean(a.cpuSeconds, b.cpuSeconds),
    maxRssMiB: Math.max(a.maxRssMiB, b.maxRssMiB), writeBytes: mean(a.writeBytes, b.writeBytes), dbBytes: mean(a.dbBytes, b.dbBytes),
  };
}

const verdict = (ok: boolean | null): string => (ok === null ? 'n/a' : ok ? 'met' : 'MISSED');
const MB200 = 200 / 1.048576;

const count = Number(values.count);
const small = Number(values.small);
const dir = await mkdtemp(join(tmpdir(), 'sdata-bench-e2e-'));
log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.versions.node}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
try {
  // A small pass first, not reported: every process then starts with a warm compile cache, as it does in steady
  // use (a cold one makes each thread that compiles our .ts files load Node's TypeScript stripper: ~15 MiB RSS).
  await once(1000, dir, !values['no-plan']);
  const before = values['no-anchor'] ? null : await anchor(count, dir, 'before');
  const big = await once(count, dir, !values['no-plan']);
  const after = before === null ? null : await anchor(count, dir, 'after');
  const anc = before === null || after === null ? null : meanAnchor(before, after);
  if (anc) {
    const drift = Math.max(Math.abs(after!.seconds / before!.seconds - 1), Math.abs(after!.cpuSeconds / before!.cpuSeconds - 1));
    log(`anchor, mean of the two: ${anc.seconds.toFixed(1)} s, CPU ${anc.cpuSeconds.toFixed(1)} s; the machine drifted ${(drift * 100).toFixed(0)}% between them` +
      (drift > 0.1 ? ' — more than 10%: this run\'s ratios are not trustworthy, run it again' : ''));
  }
  const sm = values['no-small'] || small >= count ? undefined : await once(small, dir, false);
  const procs = ['engine', 'source', 'target'] as const;
  const rssRatio = Object.fromEntries(procs.map((n) => [n, sm ? big[n].maxRssMiB / sm[n].maxRssMiB : null]));
  if (sm) log(`peak RSS at ${fmt(small)} → ${fmt(count)}: ${procs.map((n) => `${n} ${sm[n].maxRssMiB.toFixed(0)} → ${big[n].maxRssMiB.toFixed(0)} MiB (${((rssRatio[n]! - 1) * 100).toFixed(1)}%)`).join(', ')}`);
  const totalCpu = big.engine.cpuSeconds + big.source.cpuSeconds + big.target.cpuSeconds;
  const targetRate = big.entriesPerSecond; // the target is the pipeline's slowest stage: what it sustained
  const figures = {
    wallVsAnchor: anc ? big.seconds / anc.seconds : null,
    cpuVsAnchor: anc ? totalCpu / anc.cpuSeconds : null,
    targetVsAnchorRate: anc ? targetRate / (count / anc.seconds) : null,
    serveVsTarget: big.serve ? big.serve.entriesPerSecond / targetRate : null,
    engineAloneVsPlan1: big.alone ? big.alone.engine.mbPerSecond / big.alone.plan1.mbPerSecond : null,
    engineAloneVsPlan1Cpu: big.alone ? big.alone.plan1.cpuSeconds / big.alone.engine.cpuSeconds : null,
    cpuPerMillion: Object.fromEntries(procs.map((n) => [n, big[n].cpuSeconds / (count / 1e6)])),
    writeBytesPerEntry: { target: big.target.writeBytes / count, anchor: anc ? anc.writeBytes / count : null },
  };
  const bars = {
    wallAtMost1_2xAnchor: figures.wallVsAnchor === null ? null : figures.wallVsAnchor <= 1.2,
    cpuAtMost3xAnchor: figures.cpuVsAnchor === null ? null : figures.cpuVsAnchor <= 3,
    converged: big.converged && (sm?.converged ?? true),
    rssAtMost200MB: procs.every((n) => big[n].maxRssMiB <= MB200 && (sm === undefined || sm[n].maxRssMiB <= MB200)),
    rssFlatWithin10pct: sm ? procs.every((n) => Math.abs(rssRatio[n]! - 1) <= 0.1) : null,
    engineAloneAtLeast0_66xPlan1: figures.engineAloneVsPlan1 === null ? null : figures.engineAloneVsPlan1 >= 0.66,
    targetAtLeast0_6xAnchorRate: figures.targetVsAnchorRate === null ? null : figures.targetVsAnchorRate >= 0.6,
    serveAtLeast1_5xTarget: figures.serveVsTarget === null ? null : figures.serveVsTarget >= 1.5,
    // issue 4's bars, kept
    within60s: count === 1_000_000 ? big.seconds <= 60 : null,
    atLeast16kEntriesPerSecond: big.entriesPerSecond >= 16_000,
  };
  const f2 = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(2));
  log('--- issue 15 bars, ratios from this run ---');
  log(`end to end / anchor, wall: ${f2(figures.wallVsAnchor)} (bar ≤ 1.2: ${verdict(bars.wallAtMost1_2xAnchor)})`);
  log(`CPU of the three processes / anchor CPU: ${f2(figures.cpuVsAnchor)} (${totalCpu.toFixed(1)} s / ${anc?.cpuSeconds.toFixed(1) ?? 'n/a'} s; bar ≤ 3: ${verdict(bars.cpuAtMost3xAnchor)})`);
  log(`target equals source: ${verdict(bars.converged)}`);
  log(`peak RSS ≤ 200 MB per process: ${verdict(bars.rssAtMost200MB)}; flat ${fmt(small)} → ${fmt(count)} within ±10%: ${verdict(bars.rssFlatWithin10pct)}`);
  log(`CPU-seconds per million entries: ${procs.map((n) => `${n} ${figures.cpuPerMillion[n]!.toFixed(1)}`).join(', ')}`);
  log(`engine alone / plan --threads 1, MB/s: ${f2(figures.engineAloneVsPlan1)} (by CPU ${f2(figures.engineAloneVsPlan1Cpu)}; bar ≥ 0.66: ${verdict(bars.engineAloneAtLeast0_66xPlan1)})`);
  log(`target apply rate / anchor insert rate: ${f2(figures.targetVsAnchorRate)} (bar ≥ 0.6: ${verdict(bars.targetAtLeast0_6xAnchorRate)})`);
  log(`source serve rate / target rate: ${f2(figures.serveVsTarget)} (bar ≥ 1.5: ${verdict(bars.serveAtLeast1_5xTarget)})`);
  log(`bytes written per entry: target ${fmt(figures.writeBytesPerEntry.target)}, anchor ${figures.writeBytesPerEntry.anchor === null ? 'n/a' : fmt(figures.writeBytesPerEntry.anchor)}`);
  if (values.profile) {
    profileDir = join(dir, 'profiles');
    const n = sm ? small : count;
    log(`profiling: one more pass at ${fmt(n)} entries, every process under --cpu-prof`);
    await once(n, dir, false);
    process.stderr.write(`${await profileTables()}\n`);
    profileDir = undefined;
  }
  process.stdout.write(`${JSON.stringify({
    bench: 'e2e', count, chunkEntries: Number(values['chunk-entries']), pageSize: Number(values['page-size']), anchor: anc, anchors: [before, after], big, small: sm ?? null,
    rssRatio, figures, bars,
  })}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
