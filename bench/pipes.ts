// The pipe commands against `run` (issue 14 item 5): N generated ~1 KB resources from a source provider to an empty
// target on loopback, first by `sdata-sync run`, then by the pipe commands, each into a fresh target of its own, timed
// side by side in the same run: `pull | plan | push` (the whole pipe: what replaces `run`) and `plan FILE | push` (the
// feed pulled to a file beforehand: issue 14's "plan | push of the 1M feed"), each with its ratio to `run`. The bar
// (within 1.3x) is `plan FILE | push`'s; the whole pipe's ratio is information (it reads the feed three times, in
// three processes, beside the two providers on two cores). Every process is measured by the maxrss preload (CPU, peak RSS). Issue 15's figures (the anchor,
// end to end, the engine alone) are bench/e2e.ts.
//
// Usage: node bench/pipes.ts [--count 1000000] [--chunk-entries 1000] [--page-size 1000]   (also: npm run bench -- pipes …)
// Figures on stderr, one JSON line on stdout. BENCH_ENGINE_NODE_ARGS adds node flags to the engine (profiling).
import { BIN, binFlags } from './bin-flags.ts';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { seedStore } from '../src/seeder/seed-store.ts';
import { getJson, MAXRSS, NODE, provider as serveProcess, removeStores, runChild, stopProvider, usageFrom, type Checksum, type SyncRunFigures, type Usage } from './sync-processes.ts';


const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    'chunk-entries': { type: 'string', default: '1000' },
    'page-size': { type: 'string', default: '1000' },
  },
});

const log = (s: string): void => void process.stderr.write(`[bench pipes] ${s}\n`);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** A provider of this bench, with its page size. */
const provider = (name: string, db: string, dir: string): ReturnType<typeof serveProcess> => serveProcess(name, db, dir, { pageSize: values['page-size'] });

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
  const script = commands.map((args, i) => `BENCH_RSS_OUT=${shq(rss[i]!)} ${[NODE, ...binFlags(args), '--import', MAXRSS, BIN, ...args].map(shq).join(' ')} 2> ${shq(errs[i]!)}`)
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

interface SizeResult extends SyncRunFigures {
  source: Usage | null;
  target: Usage | null;
  /** The pipe commands into fresh targets, each with its wall time over `run`'s (the bar: within 1.3x). */
  pipes: PipeFigures[] | null;
}

interface PipeFigures {
  pipe: string;
  seconds: number;
  /** Wall time over `run`'s, on the same data. */
  ratio: number;
  /** Against the bar, for the pipe it applies to (`plan FILE | push`); null for the whole pipe (information). */
  withinBar: boolean | null;
  converged: boolean;
  stages: Array<Usage & { command: string }>;
  load: number;
}

const PIPE_BAR = 1.3;

async function once(count: number, dir: string): Promise<SizeResult> {
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
      engine: { cpuSeconds: run.cpuSeconds, maxRssMiB: run.maxRssMiB, writeBytes: run.writeBytes }, source: null, target: null, converged, pipes: null, load,
    };
    log(`run: ${fmt(count)} entries in ${run.wall.toFixed(1)} s: ${fmt(r.entriesPerSecond)} entries/s, ${r.mbPerSecond.toFixed(1)} MB/s ` +
      `(${r.feedMB.toFixed(0)} MB of source feed); engine peak RSS ${run.maxRssMiB.toFixed(0)} MiB, CPU ${run.cpuSeconds.toFixed(1)} s; ` +
      `target ${converged ? 'equals' : 'DIFFERS FROM'} source (checksums); load average at start ${load.toFixed(2)}`);
    const runSeconds = run.wall;
    /** `stages` into a fresh target of its own (an empty store, as `run` had), timed against `run`. */
    const pipeInto = async (name: string, stages: (target: string) => string[][], barred: boolean): Promise<PipeFigures> => {
      const db = join(dir, `target-${name}-${count}.db`);
      const t = await provider('target', db, dir);
      try {
        const load0 = loadavg()[0]!;
        const p = await runPipe(stages(`${t.url}/accounts`), dir);
        const c = await getJson<Checksum>(`${t.url}/accounts/$checksum`);
        const ok = c.count === count && c.sha256 === cs.sha256 && c.statesSha256 === cs.statesSha256;
        const f: PipeFigures = { pipe: name, seconds: p.wall, ratio: p.wall / runSeconds, withinBar: barred ? p.wall / runSeconds <= PIPE_BAR : null, converged: ok, stages: p.stages, load: load0 };
        log(`${name}: ${p.wall.toFixed(1)} s (${fmt(count / p.wall)} entries/s) = ${f.ratio.toFixed(2)}x run's ${runSeconds.toFixed(1)} s ` +
          `(${f.withinBar === null ? 'information: no bar' : `bar ${PIPE_BAR}x: ${f.withinBar ? 'met' : 'MISSED'}`}); ${p.stages.map((x) => `${x.command} CPU ${x.cpuSeconds.toFixed(1)} s, peak RSS ${x.maxRssMiB.toFixed(0)} MiB`).join('; ')}; ` +
          `target ${ok ? 'equals' : 'DIFFERS FROM'} source; load average at start ${load0.toFixed(2)}`);
        return f;
      } finally {
        await stopProvider(t);
        removeStores(db);
      }
    };
    const chunk = ['--chunk-entries', values['chunk-entries']];
    r.pipes = [await pipeInto('pull | plan | push', (t) => [['pull', `${src.url}/accounts`, '--quiet'], ['plan', '--quiet'], ['push', t, ...chunk, '--quiet']], false)];
    // The same feed as one file (pulled with an empty digest, as the run saw it), then `plan FILE | push`.
    const feed = join(dir, `feed-${count}.xml`);
    await runChild(['pull', `${src.url}/accounts`, '--quiet'], dir, feed);
    r.pipes.push(await pipeInto('plan FILE | push', (t) => [['plan', feed, '--quiet'], ['push', t, ...chunk, '--quiet']], true));
    await rm(feed, { force: true });
    return r;
  } finally {
    const us = await stopProvider(src);
    const ut = await stopProvider(tgt);
    if (r) {
      r.source = us;
      r.target = ut;
      log(`providers: source CPU ${us.cpuSeconds.toFixed(1)} s (with the pulls of the pipes), peak RSS ${us.maxRssMiB.toFixed(0)} MiB; ` +
        `target CPU ${ut.cpuSeconds.toFixed(1)} s, peak RSS ${ut.maxRssMiB.toFixed(0)} MiB`);
    }
    removeStores(srcDb, tgtDb);
  }
}

const count = Number(values.count);
const dir = await mkdtemp(join(tmpdir(), 'sdata-bench-pipes-'));
log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.versions.node}`);
try {
  // A small pass first, not reported: every process then starts with a warm compile cache, as it does in steady use.
  await once(1000, dir);
  const big = await once(count, dir);
  const bars = {
    converged: big.converged && (big.pipes ?? []).every((p) => p.converged),
    planFilePushWithin1_3xOfRun: big.pipes?.find((p) => p.withinBar !== null)?.withinBar ?? null,
  };
  log(`bars: ${JSON.stringify(bars)}`);
  process.stdout.write(`${JSON.stringify({ bench: 'pipes', count, chunkEntries: Number(values['chunk-entries']), pageSize: Number(values['page-size']), big, bars })}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
