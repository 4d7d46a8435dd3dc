// Where does plan spend what bare saxes does not? Samples both with Linux perf (JS frames named through
// --perf-basic-prof) on the same generated feed and prints, per symbol, the samples (one per million user-space
// instructions) plan takes beyond bare saxes:
// reading only (every entry skipped), then what forwarding adds (every entry forwarded).
// Needs `perf` (linux-perf); instruction counts are far steadier than timings on a shared machine (they do not show
// cache misses or stalls, which cycles would).
//
// Usage: node bench/perf-diff.ts [--size-mb 100] [--top 30] [--repeat 3]
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writePageFile } from '../src/gen/stream.ts';
import { feedOptionsForSize } from '../src/gen/synthetic-feed.ts';
import { targetDigestEntryXml, targetDigestFor } from '../src/gen/target-digest.ts';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const BIN = here('../bin/sdata-sync.mjs');
const SAXES = here('./saxes-bare.ts');
const { values } = parseArgs({
  options: { 'size-mb': { type: 'string', default: '100' }, top: { type: 'string', default: '30' }, repeat: { type: 'string', default: '3' } },
});
// JIT decisions (what gets inlined where, which stores keep a write barrier) differ from one process to the next:
// a single run's per-symbol counts move by hundreds of samples. Averaging a few runs keeps the table honest.
const REPEAT = Math.max(1, Number(values.repeat));

if (spawnSync('perf', ['--version']).status !== 0) {
  process.stderr.write('perf-diff: needs linux perf (apt-get install linux-perf)\n');
  process.exit(2);
}

type Samples = Map<string, number>;

function recordAvg(dir: string, name: string, args: string[], env: NodeJS.ProcessEnv): Samples {
  const sum: Samples = new Map();
  for (let k = 0; k < REPEAT; k++) for (const [s, n] of record(dir, name, args, env)) sum.set(s, (sum.get(s) ?? 0) + n);
  for (const [s, n] of sum) sum.set(s, Math.round(n / REPEAT));
  return sum;
}

function record(dir: string, name: string, args: string[], env: NodeJS.ProcessEnv): Samples {
  const data = join(dir, `${name}.data`);
  // Sampling on retired instructions, not cycles: cycle counts swell with whatever else the machine runs.
  const r = spawnSync('perf', ['record', '-e', 'instructions:u', '-c', '1000000', '-o', data, '--', process.execPath, '--perf-basic-prof', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`perf record ${name}: ${r.stderr}`);
  const rep = spawnSync('perf', ['report', '-i', data, '--no-children', '--sort', 'symbol', '--stdio', '-n'],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const out: Samples = new Map();
  for (const line of rep.stdout.split('\n')) {
    const m = /^\s*[\d.]+%\s+(\d+)\s+\[[.k]\]\s+(.*?)\s*$/.exec(line);
    if (!m) continue;
    // Optimisation tiers (*, ~, ^, +) and the snapshot's absolute paths are noise for a comparison.
    const sym = m[2]!.replace(/(\s+-)+\s*$/, '').replace(/\s+/g, ' ').trim()
      .replace(/^JS:[*~^+']+/, 'JS:').replace(/file:\/\/\S*?\/(src|bench)\//, '$1/').replace(/\S*node_modules\//, '');
    out.set(sym, (out.get(sym) ?? 0) + Number(m[1]));
  }
  return out;
}

const total = (s: Samples): number => [...s.values()].reduce((a, b) => a + b, 0);

/**
 * saxes' functions are inlined into one another differently from one process to the next, so per-function
 * differences inside saxes are meaningless: they are summed as one line. Our own functions stay separate.
 */
function grouped(s: Samples): Samples {
  const out: Samples = new Map();
  for (const [k, n] of s) {
    const g = k.startsWith('JS:') && k.includes('saxes/') ? 'JS: saxes (all functions)' : k;
    out.set(g, (out.get(g) ?? 0) + n);
  }
  return out;
}

function diff(a: Samples, b: Samples, top: number): string {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].map((k) => [k, (a.get(k) ?? 0) - (b.get(k) ?? 0)] as const)
    .sort((x, y) => y[1] - x[1]).slice(0, top)
    .map(([k, d]) => `  ${String(d).padStart(6)}  ${k.slice(0, 110)}`).join('\n');
}

const dir = await mkdtemp(join(tmpdir(), 'sdata-perf-'));
try {
  const o = feedOptionsForSize(Number(values['size-mb']));
  const feed = join(dir, 'feed.xml');
  const bytes = await writePageFile(o, 0, feed);
  const digest = async (ratio: number): Promise<string> => {
    const p = join(dir, `digest-${ratio}.xml`);
    await writeFile(p, targetDigestEntryXml(o, targetDigestFor(o, ratio).digest));
    return p;
  };
  const env = { ...process.env, NODE_COMPILE_CACHE: join(dir, 'cc') };
  process.stderr.write(`perf-diff: ${(bytes / 1e6).toFixed(1)} MB, ${o.count} entries\n`);
  record(dir, 'warm', [BIN, 'plan', feed], env); // fills the compile cache
  const saxes = grouped(recordAvg(dir, 'saxes', [SAXES, feed], env));
  const skipAll = grouped(recordAvg(dir, 'skip-all', [BIN, 'plan', '--digest', await digest(1), feed], env));
  const half = grouped(recordAvg(dir, 'half', [BIN, 'plan', '--digest', await digest(0.5), feed], env));
  const fwdAll = grouped(recordAvg(dir, 'forward-all', [BIN, 'plan', '--digest', await digest(0), feed], env));
  const top = Number(values.top);
  const ts = total(saxes);
  const line = (name: string, s: Samples): string => `  ${name.padEnd(26)} ${String(total(s)).padStart(7)} samples  (${(total(s) / ts).toFixed(3)}× bare saxes)`;
  process.stdout.write(`samples (1 per 10^6 instructions, mean of ${REPEAT} runs):\n${line('bare saxes', saxes)}\n${line('plan, every entry skipped', skipAll)}\n` +
    `${line('plan, half forwarded', half)}\n${line('plan, every entry forwarded', fwdAll)}\n\n`);
  process.stdout.write(`reading: plan (every entry skipped) minus bare saxes, by symbol\n${diff(skipAll, saxes, top)}\n\n`);
  process.stdout.write(`forwarding: plan (every entry forwarded) minus plan (every entry skipped)\n${diff(fwdAll, skipAll, Math.min(top, 15))}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
