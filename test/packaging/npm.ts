import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

/**
 * npm and other programs for the packaging tests, run as a user would run them: `npm` from PATH on the runtime under
 * test, and none of the npm_* variables of the `npm test` around us (a nested npm would take the outer project's
 * prefix and config from them).
 */

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment of a fresh shell whose PATH starts with `dirs` (the runtime's bin, a project's .bin). */
export function userEnv(dirs: readonly string[], extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_OPTIONS' && k !== 'INIT_CWD') env[k] = v;
  return { ...env, PATH: [...dirs, process.env['PATH'] ?? ''].join(delimiter), npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ...extra };
}

/** Runs `cmd args` to the end (bounded: killed after `timeoutMs`). */
export function run(cmd: string, args: readonly string[], o: { cwd?: string; env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${o.timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, o.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** npm's words for "the registry cannot be reached" (as opposed to a package or a test that is wrong). */
export const OFFLINE = /\b(ENOTFOUND|EAI_AGAIN|ENETUNREACH|ECONNREFUSED|ETIMEDOUT|ECONNRESET)\b|network (request|connectivity)|request to https?:\/\/\S+ failed/;

/**
 * An npm command that must succeed. A registry out of reach fails too (no skip: the packaging tests need it for the
 * dependencies and Node 22), with a message that says so rather than npm's last lines alone.
 */
export async function npm(args: readonly string[], o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Ran> {
  const r = await run('npm', args, { ...o, timeoutMs: o.timeoutMs ?? 180_000 });
  if (r.code !== 0) {
    const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-15).join('\n');
    if (OFFLINE.test(r.stderr)) throw new Error(`npm ${args.join(' ')} (in ${o.cwd}): the registry cannot be reached, and the packaging tests need it (dependencies, Node 22):\n${tail}`);
    throw new Error(`npm ${args.join(' ')} (in ${o.cwd}) exited ${r.code}:\n${tail}`);
  }
  return r;
}

/**
 * A Node.js 22 binary, from the registry's `node` package (`npm i node@22`: its install script fetches the official
 * build for this platform), kept under the OS temp dir between runs so that only the first run downloads it
 * (~12 s, ~30 MB). Throws when it is not there and cannot be had: a test that needs Node 22 fails without it.
 */
export function node22(env: NodeJS.ProcessEnv): Promise<string> {
  // One fetch per test file, whichever test asks first.
  fetching ??= fetchNode22(env);
  return fetching;
}
let fetching: Promise<string> | undefined;

async function fetchNode22(env: NodeJS.ProcessEnv): Promise<string> {
  const home = join(tmpdir(), 'sdata-sync-test-runtimes');
  const dir = join(home, 'node22');
  const bin = join(dir, 'node_modules', 'node', 'bin', 'node');
  if (existsSync(bin)) {
    const v = await run(bin, ['--version'], { env, timeoutMs: 20_000 });
    if (v.code === 0 && v.stdout.startsWith('v22.')) return bin;
  }
  await mkdir(home, { recursive: true });
  const tmp = await mkdtemp(join(home, 'node22-'));
  try {
    // allowScripts: the package's install script is what fetches the binary.
    await writeFile(join(tmp, 'package.json'), JSON.stringify({ name: 'node22-runtime', private: true, allowScripts: { node: true } }));
    await npm(['install', '--no-save', 'node@22'], { cwd: tmp, env: { ...env, PATH: [dirname(process.execPath), env['PATH'] ?? ''].join(delimiter) } });
    const got = join(tmp, 'node_modules', 'node', 'bin', 'node');
    const v = await run(got, ['--version'], { env, timeoutMs: 20_000 });
    if (v.code !== 0 || !v.stdout.startsWith('v22.')) throw new Error(`npm i node@22 gave no working Node 22 (${got}: ${v.stdout}${v.stderr})`);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return bin;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
