// A target whose disk really fills up, and one whose file size is capped, with the real CLI: a source `serve`, a
// target `serve`, and `sdata-sync run` between them, all child processes.
//
// 1. tmpfs (needs root and the right to mount): the target's store lives on an 8 MiB tmpfs. The run must end with
//    exit 9 and a message naming the target's full disk; the target must stay up, keep `PRAGMA integrity_check` ok
//    and its digest right behind its data, hold no context; once the tmpfs is grown (space returns, no restart) a
//    second run must complete and both stores must have the same $checksum.
// 2. prlimit --fsize on the target's serve process (no privileges needed): writes past the limit raise SIGXFSZ,
//    which Node ignores, so SQLite gets EFBIG and reports SQLITE_IOERR_WRITE: the target answers 500
//    SDATA_E_STORE_IO and must stay up with a sound file.
//
// A part that cannot run here says why and is skipped. Exit 0 when every part that ran behaved, 1 otherwise.
// Usage: node scripts/disk-full.ts [--entries N] [--keep]
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { BIN, binFlags } from '../bench/bin-flags.ts';

const args = process.argv.slice(2);
const keep = args.includes('--keep');
const entriesAt = args.indexOf('--entries');
const ENTRIES = entriesAt >= 0 ? Number(args[entriesAt + 1]) : 20_000;
const FLAGS = binFlags();
const work = mkdtempSync(join(tmpdir(), 'sdata-disk-full-'));
const say = (s: string): void => void process.stdout.write(`disk-full: ${s}\n`);
let failures = 0;

function check(ok: boolean, what: string): void {
  say(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

interface Served {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `serve` (optionally under a wrapper such as prlimit), resolved once it prints its URL; 30 s at most. */
function serve(db: string, extra: string[], wrapper: string[] = []): Promise<Served> {
  const cmd = [...wrapper, process.execPath, ...FLAGS, BIN, 'serve', '--db', db, '--port', '0', ...extra];
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve ${db}: no URL after 30 s: ${err}`)), 30_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve({ child, url: out.split('\n')[0]!, stderr: () => err, exited });
      }
    });
    void exited.then((r) => {
      clearTimeout(timer);
      reject(new Error(`serve ${db} exited (${r.code ?? r.signal}): ${err}`));
    });
  });
}

function cli(...a: string[]): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [...FLAGS, BIN, ...a], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, stderr: r.stderr };
}

async function json<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T;
}

interface Health {
  openContexts: number;
  kinds: { accounts: { resources: number; digest: Array<{ endpoint: string; tick: string }> } };
}

function integrity(db: string): string {
  const raw = new DatabaseSync(db, { readOnly: true });
  try {
    return (raw.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check;
  } finally {
    raw.close();
  }
}

/** The target holds the source's ticks 1..n (one endpoint, a committed prefix): its digest must say n + 1. */
async function digestBehindData(target: Served, what: string): Promise<Health> {
  const h = await json<Health>(`${target.url}/$health`);
  const n = h.kinds.accounts.resources;
  const tick = h.kinds.accounts.digest.find((d) => d.endpoint.includes('/sdata/hub/'))?.tick;
  check(tick === String(n + 1), `${what}: ${n} resources, digest tick for the source ${tick} (= n + 1: never ahead of the data)`);
  check(h.openContexts === 0, `${what}: open contexts ${h.openContexts}`);
  return h;
}

async function stop(s: Served, what: string): Promise<void> {
  s.child.kill('SIGTERM');
  const r = await s.exited;
  check(r.code === 0, `${what}: stopped with exit ${r.code ?? r.signal}`);
}

const lastLine = (s: string): string => s.trim().split('\n').filter((l) => !l.startsWith('(node:') && !l.includes('--trace-warnings')).pop() ?? '';
/** The provider's own line about the fault (it names the file; the client's diagnosis does not). */
const faultLine = (s: string): string => s.split('\n').find((l) => l.includes('Warning: sdata-sync provider:'))?.replace(/^\(node:\d+\) Warning: /, '') ?? '(none)';

async function main(): Promise<void> {
  const srcDb = join(work, 'source.db');
  say(`seeding ${ENTRIES} resources of ~1 KB into ${srcDb}`);
  const seeded = cli('seed', '--db', srcDb, '--app', 'hub', '--contract', 'crm', '--kind', 'accounts', '--quiet', String(ENTRIES));
  if (seeded.code !== 0) throw new Error(`seed failed: ${seeded.stderr}`);
  const source = await serve(srcDb, []);
  try {
    await tmpfsPart(source);
    await prlimitPart(source);
  } finally {
    await stop(source, 'source');
  }
}

async function tmpfsPart(source: Served): Promise<void> {
  say('--- part 1: the target on an 8 MiB tmpfs');
  if (process.getuid?.() !== 0) {
    say('skipped: mounting a tmpfs needs root (id -u is not 0)');
    return;
  }
  const mnt = join(work, 'mnt');
  mkdirSync(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt], { stdio: 'pipe' });
  } catch (e) {
    say(`skipped: mount -t tmpfs is not permitted here (${((e as { stderr?: Buffer }).stderr ?? '').toString().trim() || (e as Error).message})`);
    return;
  }
  try {
    const db = join(mnt, 'target.db');
    const target = await serve(db, ['--app', 'spoke', '--kinds', 'accounts']);
    try {
      const run1 = cli('run', '--source', source.url, '--target', target.url, '--kind', 'accounts', '--quiet');
      say(`run 1: exit ${run1.code}: ${lastLine(run1.stderr)}`);
      check(run1.code === 9, 'run 1 ends with exit 9 (a store is full)');
      check(/the target's disk is full/.test(run1.stderr) && run1.stderr.includes(target.url.replace(/\/sdata.*/, '')), 'its message names the target and its full disk');
      check(target.child.exitCode === null && target.child.signalCode === null, 'the target is still running');
      say(`tmpfs: ${execFileSync('df', ['-h', mnt], { encoding: 'utf8' }).trim().split('\n').pop()}`);
      await digestBehindData(target, 'after run 1');
      check(integrity(db) === 'ok', 'integrity_check ok on the full disk');
      say(`target's log: ${faultLine(target.stderr())}`);

      execFileSync('mount', ['-o', 'remount,size=256m', mnt]);
      say('tmpfs grown to 256 MiB (space returns; the target keeps running)');
      const run2 = cli('run', '--source', source.url, '--target', target.url, '--kind', 'accounts', '--quiet');
      check(run2.code === 0, `run 2 completes (exit ${run2.code}${run2.code === 0 ? '' : `: ${lastLine(run2.stderr)}`})`);
      const h = await digestBehindData(target, 'after run 2');
      check(h.kinds.accounts.resources === ENTRIES, `the target holds all ${ENTRIES}`);
      const [a, b] = await Promise.all([json(`${source.url}/accounts/$checksum`), json(`${target.url}/accounts/$checksum`)]);
      check(JSON.stringify(a) === JSON.stringify(b), 'source and target $checksum equal');
    } finally {
      await stop(target, 'target');
    }
    check(integrity(db) === 'ok', 'integrity_check ok after the target stopped');
  } finally {
    execFileSync('umount', [mnt]);
  }
}

async function prlimitPart(source: Served): Promise<void> {
  say('--- part 2: the target serve process under prlimit --fsize=6000000 (file size limit, no privileges)');
  if (spawnSync('prlimit', ['--version']).status !== 0) {
    say('skipped: prlimit (util-linux) is not installed');
    return;
  }
  const db = join(work, 'capped.db');
  const target = await serve(db, ['--app', 'spoke', '--kinds', 'accounts'], ['prlimit', '--fsize=6000000', '--']);
  try {
    const run = cli('run', '--source', source.url, '--target', target.url, '--kind', 'accounts', '--quiet');
    say(`run: exit ${run.code}: ${lastLine(run.stderr)}`);
    check(run.code !== 0 && /SDATA_E_STORE_(IO|FULL)/.test(run.stderr), 'the run ends with the target\'s store fault in its message');
    check(target.child.exitCode === null && target.child.signalCode === null, 'the target survived SIGXFSZ (Node ignores it; the write fails with EFBIG)');
    await digestBehindData(target, 'after the run');
    check(integrity(db) === 'ok', 'integrity_check ok');
    say(`target's log: ${faultLine(target.stderr())}`);
  } finally {
    await stop(target, 'target');
  }
  check(integrity(db) === 'ok', 'integrity_check ok after the target stopped');
}

try {
  await main();
} catch (e) {
  say(`FAIL: ${(e as Error).stack ?? String(e)}`);
  failures++;
} finally {
  if (keep) say(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
say(failures === 0 ? 'all checks passed' : `${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
