// `npm run profile`: where does `sdata-sync plan` spend its time? Generates a synthetic feed (half of it skipped by
// the digest), then profiles `plan --digest D FILE > /dev/null` three ways:
//   clinic flame  → .clinic/<pid>.clinic-flame.html  (flame graph)
//   clinic doctor → .clinic/<pid>.clinic-doctor.html (event loop, GC, CPU, memory over time)
//   node --cpu-prof → a text table of self time per function and per source file, printed here
//   saxes           → the same table for bare saxes on the same file (bench/saxes-bare.ts), to compare with
// NO_INSIGHT=1 is set for clinic: offline, clinic otherwise exits without running anything.
// plan runs with --threads 1: both threads run the same code, one thread's profile shows where the time goes, and
// clinic's samplers are not made for worker threads (doctor's stat file, written by both, fails to decode).
//
// Usage: node scripts/profile.ts [--size-mb 100] [--skip-ratio 0.5] [--only flame,doctor,cpu] [--top 25]
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { summarise, type CpuProfile } from '../bench/cpu-profile.ts';
import { writePageFile } from '../src/gen/stream.ts';
import { feedOptionsForSize } from '../src/gen/synthetic-feed.ts';
import { targetDigestEntryXml, targetDigestFor } from '../src/gen/target-digest.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'sdata-sync.mjs');
const DEST = join(ROOT, '.clinic');
const NODE = process.execPath;

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '100' },
    'skip-ratio': { type: 'string', default: '0.5' },
    only: { type: 'string', default: 'flame,doctor,cpu,saxes' },
    top: { type: 'string', default: '25' },
  },
});
const only = new Set(values.only.split(','));
const log = (s: string): void => void process.stderr.write(`[profile] ${s}\n`);

function clinicBin(): string {
  const req = createRequire(import.meta.url);
  try {
    return join(dirname(req.resolve('clinic/package.json')), 'bin.js');
  } catch {
    throw new Error("clinic is not installed: run 'npm ci' (it is a devDependency)");
  }
}

/** Runs a command with stdout to /dev/null; resolves with its stderr. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const devnull = openSync('/dev/null', 'w');
  return new Promise<string>((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', devnull, 'pipe'], env, cwd: ROOT });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      closeSync(devnull);
      if (code === 0) resolve(err);
      else reject(new Error(`${relative(ROOT, args[0] ?? cmd)} ${args.slice(1, 3).join(' ')} … exited ${code}:\n${err}`));
    });
  });
}

async function newHtml(before: Set<string>, kind: string): Promise<string> {
  const now = (await readdir(DEST)).filter((f) => f.endsWith(`.clinic-${kind}.html`) && !before.has(f));
  if (now.length === 0) throw new Error(`clinic ${kind} produced no HTML report in ${DEST}`);
  const path = join(DEST, now.sort().pop()!);
  const s = await stat(path);
  if (s.size < 10_000) throw new Error(`clinic ${kind} report ${path} is suspiciously small (${s.size} bytes)`);
  return path;
}

async function clinic(kind: 'flame' | 'doctor', planArgs: string[]): Promise<string> {
  await mkdir(DEST, { recursive: true });
  const before = new Set(await readdir(DEST));
  // clinic spawns `node` for the analysis too: the pinned runtime must come first on PATH.
  const env = { ...process.env, NO_INSIGHT: '1', PATH: `${dirname(NODE)}${delimiter}${process.env['PATH'] ?? ''}` };
  const t0 = Date.now();
  const err = await run(NODE, [clinicBin(), kind, '--dest', DEST, '--', NODE, BIN, 'plan', ...planArgs], env);
  const path = await newHtml(before, kind);
  const summary = err.split('\n').find((l) => l.startsWith('{"read"'));
  log(`clinic ${kind}: ${relative(ROOT, path)} (${((Date.now() - t0) / 1000).toFixed(1)} s)${summary ? ` plan said ${summary}` : ''}`);
  return path;
}

async function cpuProfile(label: string, command: string[], dir: string, top: number): Promise<string> {
  const profDir = join(dir, `cpuprof-${label}`);
  await mkdir(profDir);
  await run(NODE, ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '200', ...command]);
  const files = (await readdir(profDir)).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error('node --cpu-prof wrote no profile');
  const prof = JSON.parse(await readFile(join(profDir, files[0]!), 'utf8')) as CpuProfile;
  await mkdir(DEST, { recursive: true });
  const keep = join(DEST, `${label}-${Date.now()}.cpuprofile`);
  await writeFile(keep, JSON.stringify(prof));
  log(`cpu profile: ${relative(ROOT, keep)} (open in Chrome DevTools › Performance)`);
  return `${label}: ${summarise(prof, top, ROOT)}`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sdata-profile-'));
  try {
    const o = feedOptionsForSize(Number(values['size-mb']));
    const feed = join(dir, 'feed.xml');
    const digest = join(dir, 'digest.xml');
    const plan = targetDigestFor(o, Number(values['skip-ratio']));
    await writeFile(digest, targetDigestEntryXml(o, plan.digest));
    const bytes = await writePageFile(o, 0, feed);
    log(`feed: ${o.count} entries, ${(bytes / 1e6).toFixed(1)} MB, ${plan.skipped} to skip, ${plan.forwarded} to forward`);
    const planArgs = ['--threads', '1', '--digest', digest, feed];
    const reports: string[] = [];
    if (only.has('flame')) reports.push(await clinic('flame', planArgs));
    if (only.has('doctor')) {
      const path = await clinic('doctor', planArgs);
      reports.push(path);
      // The doctor's verdict is embedded in its report: print it, so nobody needs a browser to read it.
      const m = /"analysis":\s*(\{.*?"issueCategory":"[^"]*"\})/s.exec(await readFile(path, 'utf8'));
      if (m) log(`clinic doctor verdict: ${m[1]}`);
    }
    const top = Number(values.top);
    if (only.has('cpu')) process.stdout.write(`\n${await cpuProfile('plan', [BIN, 'plan', ...planArgs], dir, top)}`);
    if (only.has('saxes')) process.stdout.write(`\n${await cpuProfile('saxes-bare', [join(ROOT, 'bench', 'saxes-bare.ts'), feed], dir, Math.min(top, 15))}`);
    for (const r of reports) process.stdout.write(`report: ${r}\n`);
    if (reports.some((r) => !existsSync(r))) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
