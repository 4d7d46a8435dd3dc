import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { constants } from 'node:os';
import { BIN, binFlags, NODE, TEST_ENV } from '../helpers/cli.ts';

/**
 * The project's processes as users run them: `sdata-sync seed`, `serve` and `run` started with the bin's V8 flags
 * (bench/bin-flags.ts, through test/helpers/cli.ts), observed only through their interfaces (exit code, stderr, the providers' HTTP admin
 * endpoints) and /proc. Nothing here imports the provider's modules.
 */

export interface Exit {
  /** The exit code as a shell reports it: 128 + signal number for a process ended by a signal. */
  code: number;
  signal: NodeJS.Signals | null;
}

export interface Child {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  /** `exited`, or SIGKILL and a rejection naming `what` after `timeoutMs`. */
  exitedWithin(timeoutMs: number, what: string): Promise<Exit>;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra node flags before the bin (a preload). */
  nodeArgs?: string[];
  /** An extra pipe as fd 3, read line by line into `fd3` (see signal-preload.mjs). */
  fd3?: (line: string) => void;
}

export function spawnBin(args: string[], o: SpawnOptions = {}): Child {
  const child = spawn(NODE, [...binFlags(args), ...(o.nodeArgs ?? []), BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', ...(o.fd3 ? ['pipe' as const] : [])],
    env: { ...process.env, ...TEST_ENV, ...o.env },
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  if (o.fd3) createInterface({ input: child.stdio[3] as NodeJS.ReadableStream }).on('line', o.fd3);
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? 128 + (signal ? constants.signals[signal] : 0), signal }));
  });
  const exitedWithin = (timeoutMs: number, what: string): Promise<Exit> => within(exited, timeoutMs, what).catch((e: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${e.message}; stderr:\n${err.slice(-3000)}`);
  });
  return { child, pid: child.pid!, exited, exitedWithin, stdout: () => out, stderr: () => err };
}

/** `p`, or a rejection naming `what` after `timeoutMs`: no wait in the harness is unbounded. */
export function within<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A stack trace, or our last-resort "internal error" line: neither may ever reach a user. */
export function hasStackTrace(stderr: string): boolean {
  return /internal error|^\s+at .+(:\d+:\d+\)?|\(native\)|\(node:.*\))$/m.test(stderr);
}

export interface SeedOptions {
  db: string;
  app: string;
  kind: string;
  count: number;
  endpointBase: string;
  priority?: number;
  seed?: number;
}

export async function seed(o: SeedOptions): Promise<void> {
  const c = spawnBin(['seed', '--db', o.db, '--app', o.app, '--contract', 'crm', '--kind', o.kind, '--endpoint-base', o.endpointBase,
    '--priority', String(o.priority ?? 5), '--seed', String(o.seed ?? 1), '--quiet', String(o.count)]);
  const x = await c.exitedWithin(120_000, `seed ${o.db}`);
  if (x.code !== 0) throw new Error(`seed ${o.db} exited ${x.code}: ${c.stderr()}`);
}

export interface ProviderOptions {
  name: string;
  db: string;
  app: string;
  kinds: string[];
  endpointBase: string;
  priority: number;
  pageSize: number;
  /** Context TTL, seconds (serve's default is 600). */
  contextTtl?: number;
  pollingMillis?: number;
}

export interface Health {
  openContexts: number;
  kinds: Record<string, { resources: number }>;
  /** trackingID → times its body was applied, since the provider started. */
  appliedTrackingIds: Record<string, number>;
}

export interface Checksum {
  count: number;
  sha256: string;
  tombstones: number;
  statesSha256: string;
}

/** Longest a provider may take to start or to stop. */
const START_TIMEOUT_MS = 20_000;

/** `sdata-sync serve` as a child process: started, stopped gracefully (SIGTERM), killed (SIGKILL), restarted. */
export class Provider {
  readonly o: ProviderOptions;
  proc: Child | undefined;
  /** Dataset base URL, e.g. http://127.0.0.1:PORT/sdata/APP/crm/- */
  url = '';
  port = 0;

  constructor(o: ProviderOptions) {
    this.o = o;
  }

  get db(): string {
    return this.o.db;
  }

  async start(db = this.o.db): Promise<string> {
    this.o.db = db;
    const o = this.o;
    const p = spawnBin(['serve', '--db', db, '--port', '0', '--app', o.app, '--contract', 'crm', '--kinds', o.kinds.join(','),
      '--endpoint-base', o.endpointBase, '--priority', String(o.priority), '--page-size', String(o.pageSize),
      '--polling-millis', String(o.pollingMillis ?? 10), ...(o.contextTtl === undefined ? [] : ['--context-ttl', String(o.contextTtl)])]);
    this.proc = p;
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        p.child.kill('SIGKILL');
        reject(new Error(`serve ${o.name}: no URL on stdout within ${START_TIMEOUT_MS} ms: ${p.stderr()}`));
      }, START_TIMEOUT_MS);
      const rl = createInterface({ input: p.child.stdout! });
      rl.once('line', (l) => {
        clearTimeout(timer);
        rl.close();
        resolve(l.trim());
      });
      void p.exited.then((x) => {
        clearTimeout(timer);
        reject(new Error(`serve ${o.name} exited ${x.code} before listening: ${p.stderr()}`));
      });
    });
    this.url = line;
    this.port = Number(new URL(line).port);
    return line;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  /** SIGTERM: in-flight requests finish, the database is closed. */
  async stop(): Promise<Exit | undefined> {
    const p = this.proc;
    if (!p || !this.running) return undefined;
    p.child.kill('SIGTERM');
    const x = await p.exitedWithin(START_TIMEOUT_MS, `serve ${this.o.name} stopping`);
    if (x.code !== 0) throw new Error(`serve ${this.o.name} stopped with exit ${x.code}: ${p.stderr()}`);
    return x;
  }

  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || !this.running) return;
    p.child.kill('SIGKILL');
    await p.exited;
  }

  async health(): Promise<Health> {
    return getJson<Health>(`${this.url}/$health`);
  }

  async checksum(kind: string): Promise<Checksum> {
    return getJson<Checksum>(`${this.url}/${kind}/$checksum`);
  }
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** A SQLite store and its WAL and shared-memory files. */
export async function removeStore(db: string): Promise<void> {
  for (const x of ['', '-wal', '-shm', '-journal']) await rm(db + x, { force: true });
}


/** The resident set of a process over time, from /proc/PID/status (VmRSS, and VmHWM: the kernel's peak). */
export class RssSampler {
  readonly pid: number;
  /** Peak RSS seen, MiB (the larger of the sampled VmRSS and the last VmHWM). */
  peakMiB = 0;
  samples = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(pid: number, everyMs = 20) {
    this.pid = pid;
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): void {
    let text: string;
    try {
      text = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    } catch {
      return; // ended (or not Linux)
    }
    for (const key of ['VmRSS', 'VmHWM']) {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
      if (m) this.peakMiB = Math.max(this.peakMiB, Number(m[1]) / 1024);
    }
    this.samples++;
  }

  stop(): number {
    clearInterval(this.timer);
    return this.peakMiB;
  }
}
