// `sdata-sync serve` processes for benches: started on an ephemeral port, their peak RSS read at exit (the kernel's
// high-water mark, via bench/maxrss.ts) and sampled every 250 ms while they run.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, binFlags } from './bin-flags.ts';

export const MAXRSS = fileURLToPath(new URL('./maxrss.ts', import.meta.url));
const SERVE_FLAGS = binFlags(['serve']);

export interface Server {
  child: ChildProcess;
  url: string;
  rssFile: string;
  sampledPeakKiB: number;
  /** Peak anonymous (heap, SQLite cache) and file-backed (binary, mapped files) parts of the RSS. */
  anonPeakKiB: number;
  filePeakKiB: number;
  timer: NodeJS.Timeout;
}

export function vmRssKiB(pid: number): { rss: number; anon: number; file: number } {
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(st)?.[1] ?? 0);
    return { rss: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile') };
  } catch {
    return { rss: 0, anon: 0, file: 0 };
  }
}

export async function serve(dir: string, name: string, args: string[]): Promise<Server> {
  const rssFile = join(dir, `${name}.rss.json`);
  // BENCH_NODE_FLAGS: extra runtime flags for the servers (e.g. --cpu-prof --cpu-prof-dir=DIR when profiling).
  const flags = (process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');
  // BENCH_SERVE_ARGS: extra `serve` options (e.g. --young-gen-mb 32).
  const extra = (process.env['BENCH_SERVE_ARGS'] ?? '').split(' ').filter((f) => f !== '');
  const child = spawn(process.execPath, [...SERVE_FLAGS, ...flags, '--import', MAXRSS, BIN, 'serve', '--port', '0', ...extra, ...args],
    { stdio: ['ignore', 'pipe', 'inherit'], // A state directory of the bench's own: never another run's journal of open contexts (the default one is shared).
    env: { ...process.env, BENCH_RSS_OUT: rssFile, SDATA_SYNC_STATE_DIR: join(dir, 'state') } });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  for (let i = 0; i < 400 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 25));
  const url = out.split('\n')[0]!.trim();
  if (!url.startsWith('http')) throw new Error(`${name}: serve did not start: ${out}`);
  const s: Server = { child, url, rssFile, sampledPeakKiB: 0, anonPeakKiB: 0, filePeakKiB: 0, timer: setInterval(() => {
    const v = vmRssKiB(child.pid!);
    s.sampledPeakKiB = Math.max(s.sampledPeakKiB, v.rss);
    s.anonPeakKiB = Math.max(s.anonPeakKiB, v.anon);
    s.filePeakKiB = Math.max(s.filePeakKiB, v.file);
  }, 250) };
  return s;
}

export async function stop(s: Server): Promise<{ peakMiB: number; sampledPeakMiB: number; anonPeakMiB: number; filePeakMiB: number; cpuSeconds: number }> {
  clearInterval(s.timer);
  s.child.kill('SIGTERM');
  await once(s.child, 'close');
  const r = JSON.parse(readFileSync(s.rssFile, 'utf8')) as { maxRssKiB: number; userMs: number; systemMs: number };
  return {
    peakMiB: r.maxRssKiB / 1024, sampledPeakMiB: s.sampledPeakKiB / 1024, anonPeakMiB: s.anonPeakKiB / 1024, filePeakMiB: s.filePeakKiB / 1024,
    cpuSeconds: (r.userMs + r.systemMs) / 1000,
  };
}


/** After a failure: the server goes at once, its sampling with it. */
export function kill(s: Server): void {
  s.child.kill('SIGKILL');
  clearInterval(s.timer);
}

export interface BinRun {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  /** Kernel high-water mark at exit, and the largest VmRSS sampled while it ran. */
  peakMiB: number;
  sampledPeakMiB: number;
  cpuSeconds: number;
}

/**
 * Runs one `sdata-sync` command as users run it (the bin's flags), measured like the servers. `discardStdout`: its
 * stdout goes to /dev/null (a `pull` of a million entries writes more than a string holds).
 */
export async function runBin(dir: string, name: string, args: string[], discardStdout = false): Promise<BinRun> {
  const rssFile = join(dir, `${name}.rss.json`);
  const t = performance.now();
  const child = spawn(process.execPath, [...binFlags(args), '--import', MAXRSS, BIN, ...args],
    { stdio: ['ignore', discardStdout ? 'ignore' : 'pipe', 'pipe'], env: { ...process.env, BENCH_RSS_OUT: rssFile } });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let sampled = 0;
  const timer = setInterval(() => {
    sampled = Math.max(sampled, vmRssKiB(child.pid!).rss);
  }, 250);
  const [code] = await once(child, 'close') as [number | null];
  clearInterval(timer);
  const seconds = (performance.now() - t) / 1000;
  const r = JSON.parse(readFileSync(rssFile, 'utf8')) as { maxRssKiB: number; userMs: number; systemMs: number };
  return { code, stdout, stderr, seconds, peakMiB: r.maxRssKiB / 1024, sampledPeakMiB: sampled / 1024, cpuSeconds: (r.userMs + r.systemMs) / 1000 };
}
