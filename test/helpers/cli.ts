import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { BIN, binFlags } from '../../bench/bin-flags.ts';

export { BIN, binFlags };
/** The pinned runtime (the one `npm test` runs on). */
export const NODE = process.execPath;

/** The heap bounds the bin runs with (src/cli/heap-flags.ts): CLI tests run the bin as users run it, in one process. */
export const BIN_FLAGS = binFlags();

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * XDG_STATE_HOME of every command a test runs: run, pull and push keep their journal of open contexts under it
 * (src/engine/journal.ts), which must not land in the home of whoever runs the tests. One per test process, so that
 * a command run after another that was killed finds its journal, as a user's would.
 */
const STATE_HOME = mkdtempSync(join(tmpdir(), 'sdata-test-state-'));
process.once('exit', () => rmSync(STATE_HOME, { recursive: true, force: true }));
export const TEST_ENV = { XDG_STATE_HOME: STATE_HOME };

export function runCli(args: string[], opts: { stdin?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [...binFlags(args), BIN, ...args], { cwd: opts.cwd, env: { ...process.env, ...TEST_ENV, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // the child may exit before reading everything
    child.stdin.end(opts.stdin ?? '');
  });
}

/** The preload that reports a process's peak RSS at exit (the benches' own). */
const MAXRSS = fileURLToPath(new URL('../../bench/maxrss.ts', import.meta.url));

export interface MeasuredResult extends CliResult {
  /** The child's peak resident set (process.resourceUsage().maxRSS at its exit), KiB. */
  maxRssKiB: number;
}

export interface MeasuredChild {
  child: ChildProcessWithoutNullStreams;
  /** What it has written so far (up to 1 MiB per stream). */
  output(): { stdout: string; stderr: string };
  /** Its exit, with its output and its own peak RSS. */
  done: Promise<MeasuredResult>;
}

/** Starts the bin as runCli does, with a preload that reports the child's own peak RSS at its exit. */
export function spawnMeasured(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): MeasuredChild {
  const dir = mkdtempSync(join(tmpdir(), 'sdata-sync-rss-'));
  const rssFile = join(dir, 'rss.json');
  const child = spawn(NODE, [...binFlags(args), '--import', MAXRSS, BIN, ...args], {
    env: { ...process.env, ...TEST_ENV, ...opts.env, BENCH_RSS_OUT: rssFile }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const keep = (s: string, d: string): string => (s.length < 1 << 20 ? s + d : s);
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout = keep(stdout, d)));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = keep(stderr, d)));
  const done = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  }).then((code) => {
    const { maxRssKiB } = JSON.parse(readFileSync(rssFile, 'utf8')) as { maxRssKiB: number };
    return { code, stdout, stderr, maxRssKiB };
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
  return { child, output: () => ({ stdout, stderr }), done };
}

/**
 * Runs the bin with stdin streamed from `stdin` as the child reads it (a generator is pulled only as fast as the
 * child takes it, and stopped when the child exits), and reports the child's own peak RSS.
 */
export async function runCliMeasured(args: string[], stdin: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<MeasuredResult> {
  const m = spawnMeasured(args, opts);
  // The child may stop reading at any point (that is the point): a broken pipe ends the feeding, nothing more.
  const fed = pipeline(Readable.from(stdin, { objectMode: false }), m.child.stdin).catch(() => undefined);
  const r = await m.done;
  await fed;
  return r;
}
