// The engine alone (issue 15: `run` between the null peers of bench/null-peers.ts) against `plan --threads 1` on
// the same feed file, both on core 0 (taskset, the peers on core 1), the step bench/e2e.ts takes after its end-to-end
// run, without the rest: for measuring changes to the engine, and for comparing two checkouts side by side.
//
// node bench/engine-alone.ts [--count 250000] [--feed FILE] [--keep-feed FILE] [--rounds 3] [--against DIR]… [--no-plan] [--profile]
// --feed: a feed `pull` wrote (page 1's head with the digest, every entry); without it, a store of --count seeded
//   resources is served and pulled into a temporary file (with --keep-feed, into FILE, kept for the next run).
// --against DIR: another checkout of this repository (its bin and its null peers, this node): each round runs the
//   engine of every checkout in turn, the first one rotating, so that machine load falls on all alike.
// Per run: CPU-seconds (user + system) of the engine, per million entries, peak RSS; per round, plan's CPU; at the
// end, the medians and the ratio plan CPU / engine CPU (issue 15's bar: ≥ 0.66). JSON on stdout. --profile: one more
// run of this checkout's engine under --cpu-prof, and where its CPU goes (bench/cpu-profile.ts).
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { seedStore } from '../src/seeder/seed-store.ts';
import { binFlags } from './bin-flags.ts';
import { summarise, type CpuProfile } from './cpu-profile.ts';
import { here, median, NODE, nullPeers, onCore, PIN, provider, removeStores, runChild, stopProvider, usageFrom, type ChildRun } from './sync-processes.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '250000' },
    feed: { type: 'string' },
    'keep-feed': { type: 'string' },
    rounds: { type: 'string', default: '3' },
    against: { type: 'string', multiple: true, default: [] },
    'no-plan': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});

const log = (s: string): void => void process.stderr.write(`[bench engine-alone] ${s}\n`);

const trees = [here('..'), ...values.against.map((d) => resolve(d))];
const dir = await mkdtemp(join(tmpdir(), 'sdata-bench-alone-'));

/** `node FLAGS BIN ARGS` of one checkout, measured by the maxrss preload; throws unless exit 0. */
async function child(tree: string, args: string[], wrap: string[], nodeArgs: string[] = []): Promise<ChildRun> {
  const rssFile = join(dir, `rss-${process.hrtime.bigint()}.json`);
  const cmd = [...wrap, NODE, ...binFlags(args), ...nodeArgs, '--import', here('./maxrss.ts'), join(tree, 'bin/sdata-sync.mjs'), ...args];
  const t0 = process.hrtime.bigint();
  const c = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, BENCH_RSS_OUT: rssFile } });
  let err = '';
  c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((res, rej) => c.on('error', rej).on('close', res));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (code !== 0) throw new Error(`${tree}: sdata-sync ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`);
  return { wall, ...(await usageFrom(rssFile)) };
}

/** The feed: given, or a seeded store served and pulled (as bench/e2e.ts's source-alone step writes it). */
async function feedFile(): Promise<string> {
  if (values.feed !== undefined) return values.feed;
  const count = Number(values.count);
  const feed = values['keep-feed'] ?? join(dir, 'feed.xml');
  const db = join(dir, 'source.db');
  await seedStore({ db, app: 'source', contract: 'crm', kind: 'accounts', count, priority: 1, endpointBase: 'http://source.example/sdata/source/crm/-' });
  const src = await provider('source', db, dir, { pageSize: '1000' });
  try {
    await runChild(['pull', `${src.url}/accounts`, '--quiet', '--state-dir', dir], dir, feed);
  } finally {
    await stopProvider(src);
    removeStores(db);
  }
  return feed;
}

/** One engine run of one checkout between that checkout's null peers. */
async function engine(tree: string, feed: string, entries: number, nodeArgs: string[] = []): Promise<ChildRun> {
  const peers = await nullPeers(join(tree, 'bench/null-peers.ts'), feed);
  try {
    const base = peers.base;
    const report = join(dir, 'report.json');
    const r = await child(tree, ['run', '--source', `${base}/sdata/source/crm/-/accounts`, '--target', `${base}/sdata/sink/crm/-/accounts`, '--kind', 'accounts',
      '--report', report, '--progress', 'none', '--quiet', '--state-dir', dir], onCore(0), nodeArgs);
    const rep = JSON.parse(await readFile(report, 'utf8')) as { passes: { forwarded: number }[] };
    if (rep.passes[0]!.forwarded !== entries) throw new Error(`${tree}: the engine forwarded ${rep.passes[0]!.forwarded} of ${entries} entries`);
    return r;
  } finally {
    peers.stop();
  }
}

/** `<entry>` and `<entry …>` start tags in the file, read in pieces: a 1M-entry feed is longer than a string can be. */
async function countEntries(file: string): Promise<number> {
  let n = 0;
  let carry = '';
  for await (const chunk of createReadStream(file, { encoding: 'latin1', highWaterMark: 1 << 20 })) {
    const s = carry + (chunk as string);
    n += (s.match(/<entry[ >]/g) ?? []).length;
    // A match is 7 characters: the last 6 hold no whole one, and the start of one the chunk cut.
    carry = s.slice(-6);
  }
  return n;
}

try {
  const feed = await feedFile();
  const entries = await countEntries(feed);
  const mb = (await stat(feed)).size / 1e6;
  log(`feed ${feed}: ${mb.toFixed(1)} MB, ${entries} entries; ${trees.length} checkout(s); ${PIN ? 'engine and plan on core 0, peers on core 1' : 'not pinned'}`);
  // Warm every checkout's compile cache first (not measured).
  for (const t of trees) await child(t, ['--version'], []);
  const runs = trees.map(() => ({ cpu: [] as number[], rss: [] as number[], wall: [] as number[] }));
  const plan: number[] = [];
  const loads: number[] = [];
  for (let r = 0; r < Number(values.rounds); r++) {
    for (let k = 0; k < trees.length; k++) {
      const i = (k + r) % trees.length;
      loads.push(loadavg()[0]!);
      const e = await engine(trees[i]!, feed, entries);
      runs[i]!.cpu.push(e.cpuSeconds);
      runs[i]!.rss.push(e.maxRssMiB);
      runs[i]!.wall.push(e.wall);
      log(`round ${r + 1}, ${trees[i]}: engine CPU ${e.cpuSeconds.toFixed(2)} s (${(e.cpuSeconds / (entries / 1e6)).toFixed(1)} per million), wall ${e.wall.toFixed(2)} s, peak RSS ${e.maxRssMiB.toFixed(1)} MiB`);
    }
    if (!values['no-plan']) {
      const p = await child(trees[0]!, ['plan', feed, '--quiet', '--threads', '1'], onCore(0));
      plan.push(p.cpuSeconds);
      log(`round ${r + 1}: plan --threads 1 CPU ${p.cpuSeconds.toFixed(2)} s, wall ${p.wall.toFixed(2)} s, peak RSS ${p.maxRssMiB.toFixed(1)} MiB`);
    }
  }
  const planCpu = plan.length ? median(plan) : undefined;
  const summary = trees.map((t, i) => {
    const cpu = median(runs[i]!.cpu);
    return { tree: t, cpuSeconds: cpu, cpuPerMillion: cpu / (entries / 1e6), maxRssMiB: median(runs[i]!.rss), wall: median(runs[i]!.wall), runs: runs[i], planOverEngineCpu: planCpu === undefined ? undefined : planCpu / cpu };
  });
  for (const s of summary) {
    log(`${s.tree}: median engine CPU ${s.cpuSeconds.toFixed(2)} s = ${s.cpuPerMillion.toFixed(1)} per million, peak RSS ${s.maxRssMiB.toFixed(1)} MiB` +
      (s.planOverEngineCpu === undefined ? '' : `; plan --threads 1 / engine by CPU ${s.planOverEngineCpu.toFixed(2)} (bar ≥ 0.66)`));
  }
  log(`load average during the runs: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`);
  if (values.profile) {
    // Not one of the measured runs: the profiler costs time.
    const pdir = process.env['BENCH_PROFILE_DIR'] ?? join(dir, 'profile');
    await engine(trees[0]!, feed, entries, ['--cpu-prof', `--cpu-prof-dir=${pdir}`]);
    const [file] = (await readdir(pdir)).filter((f) => f.endsWith('.cpuprofile')).sort().reverse();
    process.stderr.write(`\n== engine of ${trees[0]} under --cpu-prof ==\n${summarise(JSON.parse(await readFile(join(pdir, file!), 'utf8')) as CpuProfile, 40, here('..'))}\n`);
  }
  process.stdout.write(`${JSON.stringify({ bench: 'engine-alone', feedMB: mb, entries, planCpuSeconds: planCpu, plan, summary })}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
