// The processes of a sync, as the end-to-end benches run them (bench/e2e.ts, bench/pipes.ts): `sdata-sync serve`
// providers and `sdata-sync` commands as child processes with the bin's node flags, each measured by the maxrss
// preload (bench/maxrss.ts: CPU, peak RSS, bytes written), and the providers' $checksum.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BIN, binFlags } from './bin-flags.ts';

export const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
export const MAXRSS = here('./maxrss.ts');
export const NODE = process.execPath;

export interface Usage { cpuSeconds: number; maxRssMiB: number; writeBytes: number }

/** What the maxrss preload wrote for a process that has ended (the file is removed). */
export async function usageFrom(file: string): Promise<Usage> {
  const u = JSON.parse(await readFile(file, 'utf8')) as { maxRssKiB: number; userMs: number; systemMs: number; writeBytes?: number };
  await rm(file, { force: true });
  return { cpuSeconds: (u.userMs + u.systemMs) / 1000, maxRssMiB: u.maxRssKiB / 1024, writeBytes: u.writeBytes ?? 0 };
}

/** One `run` of N entries between two providers, as e2e.ts and pipes.ts report it. */
export interface SyncRunFigures {
  count: number;
  seconds: number;
  entriesPerSecond: number;
  mbPerSecond: number;
  feedMB: number;
  engine: Usage;
  converged: boolean;
  load: number;
}

export interface Provider { url: string; child: ChildProcess; rssFile: string }

/** A reference provider ('source' or 'target': its app, priority and endpoint) as `sdata-sync serve` in its own process. */
export async function provider(name: string, db: string, dir: string, o: { pageSize: string; nodeFlags?: string[] }): Promise<Provider> {
  const rssFile = join(dir, `rss-${name}-${process.hrtime.bigint()}.json`);
  const child = spawn(NODE, [...binFlags(['serve']), ...(o.nodeFlags ?? []), '--import', MAXRSS, BIN, 'serve', '--db', db, '--port', '0', '--app', name, '--contract', 'crm',
    '--kinds', 'accounts', '--priority', name === 'source' ? '1' : '5', '--endpoint-base', `http://${name}.example/sdata/${name}/crm/-`,
    '--page-size', o.pageSize], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BENCH_RSS_OUT: rssFile } });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`serve ${name} exited ${c}: ${err}`)));
    createInterface({ input: child.stdout }).once('line', resolve);
  });
  return { url: url.trim(), child, rssFile };
}

/**
 * CPU-seconds a running child has used so far, all its threads (Linux /proc; undefined elsewhere): read when the sync
 * ends, before the bench asks the providers for their $checksum, so that a figure counts the sync and not the bench's
 * own check (a checksum of 1M resources costs a provider ~7-9 CPU-s, which earlier figures included).
 */
export function cpuSecondsNow(child: ChildProcess): number | undefined {
  try {
    return statCpuSeconds(readFileSync(`/proc/${child.pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The CPU-seconds in a process's or thread's `stat` line: fields 14 and 15 of proc(5) (utime, stime), 100 ticks a second on Linux. */
function statCpuSeconds(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** What a provider's threads are for, by the name the kernel knows them by (Node names them). */
const THREAD_ROLES: Record<string, string> = {
  WorkerThread: 'provider',
  MainThread: 'main (WAL checkpoints)',
  V8Worker: 'V8 helpers (GC, compiler)',
};

/**
 * CPU-seconds a running child's threads have used so far, summed by role (Linux /proc; undefined elsewhere). For a
 * `serve`, what its provider thread and its main thread (the WAL checkpointer) each took: a checkpointer that does
 * nothing shows here (it did, unseen, from ba73b04 to 197a90a: docs/decisions/0003-wal-checkpointer.md).
 */
export function threadCpuNow(child: ChildProcess): Record<string, number> | undefined {
  try {
    // In this order in what is printed: provider, main, V8 helpers, other.
    const by: Record<string, number> = Object.fromEntries([...Object.values(THREAD_ROLES), 'other'].map((r) => [r, 0]));
    for (const t of readdirSync(`/proc/${child.pid}/task`)) {
      const stat = readFileSync(`/proc/${child.pid}/task/${t}/stat`, 'utf8');
      const role = THREAD_ROLES[stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))] ?? 'other';
      by[role]! += statCpuSeconds(stat);
    }
    return by;
  } catch {
    return undefined;
  }
}

/** Stops a provider gracefully (SIGINT); its CPU and peak RSS. */
export async function stopProvider(p: Provider): Promise<Usage> {
  const done = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGINT');
  await done;
  return usageFrom(p.rssFile);
}

export interface ChildRun extends Usage { wall: number }

/** `sdata-sync ARGS` to its end (stdout to `stdoutFile` or /dev/null), `wrap` before node (e.g. taskset); throws unless exit 0. */
export async function runChild(args: string[], dir: string, stdoutFile?: string, nodeArgs: string[] = [], wrap: string[] = []): Promise<ChildRun> {
  const rssFile = join(dir, `rss-${process.hrtime.bigint()}.json`);
  const out = openSync(stdoutFile ?? process.env['BENCH_ENGINE_STDOUT'] ?? '/dev/null', 'w');
  try {
    const t0 = process.hrtime.bigint();
    const cmd = [...wrap, NODE, ...binFlags(args), ...nodeArgs, '--import', MAXRSS, BIN, ...args];
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', out, 'pipe'], env: { ...process.env, BENCH_RSS_OUT: rssFile } });
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

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return (await res.json()) as T;
}

export interface Checksum { count: number; sha256: string; statesSha256: string }

/** One core for the engine (and plan) where taskset exists and there is a second core for its peers. */
export const PIN = existsSync('/usr/bin/taskset') && cpus().length >= 2;
export const onCore = (core: number): string[] => (PIN ? ['/usr/bin/taskset', '-c', String(core)] : []);

/** The middle of `xs` (of an even count, the upper of the two middle ones): what the benches compare between rounds. */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * bench/null-peers.ts (a source streaming `feed`, a target that accepts at once) in its own process on core 1, from
 * `script` (a checkout's own copy, for benches that alternate checkouts); its base URL, and how to stop it.
 */
export async function nullPeers(script: string, feed: string): Promise<{ base: string; stop: () => void }> {
  const cmd = [...onCore(1), NODE, script, '--feed', feed];
  const peers = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = (): void => void peers.kill('SIGTERM');
  try {
    const base = await new Promise<string>((resolve, reject) => {
      peers.once('exit', (c) => reject(new Error(`null-peers exited ${c}`)));
      createInterface({ input: peers.stdout }).once('line', resolve);
    });
    return { base: base.trim(), stop };
  } catch (e) {
    stop();
    throw e;
  }
}

/** Deletes SQLite files with their -wal and -shm, where they exist. */
export function removeStores(...dbs: string[]): void {
  for (const db of dbs) for (const x of ['', '-wal', '-shm']) rmSync(db + x, { force: true });
}

/** A bench's scratch directory at its end: deleted, or left (--keep DIR) and said so. */
export function leaveDir(dir: string, keep: boolean): void {
  if (!keep) rmSync(dir, { recursive: true, force: true });
  else if (existsSync(dir)) process.stderr.write(`kept ${dir}\n`);
}

/**
 * A bench's closing table on stdout, after the load average: each column as wide as its header or widest cell, the
 * first left-aligned, the others right-aligned.
 */
export function printTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]): string => cells.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
  process.stdout.write(`\nload average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (2 cores; figures are wall-clock)\n`);
  for (const r of [header, ...rows]) process.stdout.write(`${line(r).trimEnd()}\n`);
}
