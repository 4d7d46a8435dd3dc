import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/gen/rng.ts';
import type { EngineResult, EngineRun, OpenContexts, SyncBed } from './bed.ts';
import { integrityCheck } from '../helpers/sqlite.ts';
import { within, type SpawnOptions } from './processes.ts';

/**
 * Kill points: the engine SIGKILLed at chosen moments of a pass, the target and the source provider SIGKILLed
 * mid-pass and restarted, the engine SIGTERMed at start-up, while the source selects, and mid-chunk. After every
 * kill each store passes `PRAGMA integrity_check`, and the pass converges on a rerun (a SIGTERM must end it with
 * exit 130, every context released). Shared by scripts/crash-converge.ts and test/reliability/crash.test.ts.
 */

export interface KillOutcome {
  name: string;
  /** Exit codes of every engine run of the case, the killed ones included (137 = SIGKILL). */
  exits: number[];
  /** The target equals the source at the end of the case. */
  converged: boolean;
  /** Every integrity check of the case ('ok' each). */
  integrity: string[];
  /** Contexts still open on each provider after the case (opened by it, not released). */
  leftOpen: OpenContexts;
  /** Journal files left in the engine's state directory after the case: contexts the engine still knows to be open. */
  journals: string[];
  /** Contexts open right after the kill, before any rerun. */
  openAfterKill: OpenContexts | undefined;
  peakRssMiB: number;
  retries: number;
  seconds: number;
  /** What went wrong (empty: the case passed, contexts aside; see `leftOpen`). */
  problems: string[];
  /** Stack traces on the engine's stderr, per run. */
  stackTraces: number;
  /** What did not go as planned without being wrong (a pass that ended before its kill point). */
  notes: string[];
}

const PRELOAD = fileURLToPath(new URL('./signal-preload.mjs', import.meta.url));

const SOURCE_CONTEXT = /\/\$syncSource\('[^']+'\)$/;
const SOURCE_NEXT = /\/\$syncSource\('[^']+'\)\?.*\bafter=/;
const TARGET_POST = /\/\$syncTarget\?/;

/** Bytes through both proxies, both ways: how far a pass has got. */
export function transferred(bed: SyncBed): number {
  return bed.sourceProxy.bytesDown + bed.sourceProxy.bytesUp + bed.targetProxy.bytesDown + bed.targetProxy.bytesUp;
}

/**
 * Resolves true once `cond` holds (re-checked on every event of either proxy), false if the engine ends first;
 * rejects after `timeoutMs`.
 */
export function untilMoment(bed: SyncBed, run: EngineRun, what: string, cond: () => boolean, timeoutMs = 30_000): Promise<boolean> {
  if (cond()) return Promise.resolve(true);
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (cond()) finish(true);
    };
    const timer = setTimeout(() => finish(new Error(`no ${what} within ${timeoutMs} ms (${transferred(bed)} bytes so far)`)), timeoutMs);
    const finish = (v: boolean | Error): void => {
      clearTimeout(timer);
      bed.sourceProxy.off('change', check);
      bed.targetProxy.off('change', check);
      if (v instanceof Error) reject(v);
      else resolve(v);
    };
    bed.sourceProxy.on('change', check);
    bed.targetProxy.on('change', check);
    void run.proc.exited.then(() => finish(false));
  });
}

/** Stops both providers (SIGTERM), checks both stores, restarts them. */
async function checkStores(bed: SyncBed, into: string[], problems: string[]): Promise<void> {
  await Promise.all([bed.source.stop(), bed.target.stop()]);
  for (const side of ['source', 'target'] as const) checkOne(bed, side, into, problems);
  await Promise.all([bed.startProvider('source'), bed.startProvider('target')]);
}

function checkOne(bed: SyncBed, side: 'source' | 'target', into: string[], problems: string[]): void {
  let r: string;
  try {
    r = integrityCheck(bed.provider(side).db);
  } catch (e) {
    r = `cannot open: ${(e as Error).message}`;
  }
  into.push(r);
  if (r !== 'ok') problems.push(`${side} store: integrity_check: ${r}`);
}

const diff = (a: OpenContexts, b: OpenContexts): OpenContexts => ({ source: a.source - b.source, target: a.target - b.target });

class CaseRecorder {
  readonly o: KillOutcome;
  private readonly t0 = Date.now();
  private readonly bed: SyncBed;
  before: OpenContexts = { source: 0, target: 0 };

  constructor(bed: SyncBed, name: string) {
    this.bed = bed;
    this.o = {
      name, exits: [], converged: false, integrity: [], leftOpen: { source: 0, target: 0 }, journals: [], openAfterKill: undefined,
      peakRssMiB: 0, retries: 0, seconds: 0, problems: [], stackTraces: 0, notes: [],
    };
  }

  async start(): Promise<void> {
    await this.bed.freshTarget();
    this.bed.resetProxies();
    this.before = await this.bed.openContexts();
  }

  engine(r: EngineResult): EngineResult {
    this.o.exits.push(r.exit.code);
    this.o.peakRssMiB = Math.max(this.o.peakRssMiB, r.peakRssMiB);
    this.o.retries += r.retries;
    if (r.stackTrace) {
      this.o.stackTraces++;
      this.o.problems.push(`stack trace on stderr: ${tail(r.stderr)}`);
    }
    return r;
  }

  async openNow(): Promise<OpenContexts> {
    return diff(await this.bed.openContexts(), this.before);
  }

  /**
   * Reruns the engine until it exits 0 (at most twice; not at all when the case's last run ended 0), then checks
   * convergence and what is left open.
   */
  async converge(): Promise<KillOutcome> {
    this.bed.resetProxies();
    for (let i = 0; i < 2 && this.o.exits.at(-1) !== 0; i++) {
      const r = this.engine(await this.bed.runEngine());
      if (r.exit.code === 0) break;
      this.o.problems.push(`rerun exit ${r.exit.code}: ${tail(r.stderr)}`);
    }
    this.o.converged = await this.bed.converged();
    if (!this.o.converged) this.o.problems.push('the target does not equal the source ($checksum)');
    this.o.leftOpen = await this.openNow();
    this.o.journals = await this.bed.journals();
    this.o.seconds = (Date.now() - this.t0) / 1000;
    return this.o;
  }
}

function tail(s: string, n = 4): string {
  return s.trim().split('\n').slice(-n).join(' | ');
}

export interface Calibration {
  bytes: number;
  seconds: number;
  peakRssMiB: number;
}

/** A clean pass through the proxies: how many bytes and how long a whole pass takes (the range of kill points). */
export async function calibrate(bed: SyncBed): Promise<Calibration> {
  await bed.freshTarget();
  bed.resetProxies();
  const r = await bed.runEngine();
  if (r.exit.code !== 0 || !(await bed.converged())) throw new Error(`the clean pass failed (exit ${r.exit.code}): ${tail(r.stderr)}`);
  return { bytes: transferred(bed), seconds: r.seconds, peakRssMiB: r.peakRssMiB };
}

/**
 * `points` moments of a pass as fractions of it, from a seeded PRNG: between 5% and `upTo` (95%). Kills in a row
 * stop before the last chunk (75%): a pass killed once its last chunk is in leaves the next nothing to do.
 */
export function killPoints(points: number, seed: number, upTo = 0.95): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: points }, () => 0.05 + (upTo - 0.05) * (rng.next() / 2 ** 32));
}

type Moment = { bytes: number } | { ms: number };

const describeMoment = (m: Moment): string => ('bytes' in m ? `after ${m.bytes.toLocaleString('en-US')} bytes` : `${m.ms} ms in`);

async function reach(bed: SyncBed, run: EngineRun, m: Moment): Promise<boolean> {
  if ('bytes' in m) return untilMoment(bed, run, `${m.bytes} bytes`, () => transferred(bed) >= m.bytes);
  // A moment in time is the point here, not a wait for something to happen.
  const ended = await Promise.race([new Promise<false>((r) => setTimeout(() => r(false), m.ms)), run.proc.exited.then(() => true)]);
  return !ended;
}

/**
 * The engine SIGKILLed at each of `fractions` of successive passes (one fraction: one kill, then a rerun). A pass
 * resumes where the target's digest says the last one got to, so each moment is a fraction of what is left (the
 * target's resources against the source's), in bytes through the proxies or in time.
 */
export async function engineKills(bed: SyncBed, cal: Calibration, fractions: number[], by: 'bytes' | 'time', name?: string): Promise<KillOutcome> {
  const c = new CaseRecorder(bed, name ?? '');
  await c.start();
  const moments: string[] = [];
  for (const f of fractions) {
    bed.resetProxies();
    const left = 1 - (await bed.target.checksum(bed.kind)).count / bed.o.entries;
    const m: Moment = by === 'bytes' ? { bytes: Math.round(f * left * cal.bytes) } : { ms: Math.round(f * left * cal.seconds * 1000) };
    moments.push(describeMoment(m));
    const run = bed.startEngine();
    const reached = await reach(bed, run, m);
    run.proc.child.kill('SIGKILL');
    const r = c.engine(await bed.finishEngine(run));
    if (!reached) c.o.notes.push(`the pass ended (exit ${r.exit.code}) before the kill point (${describeMoment(m)})`);
    await checkStores(bed, c.o.integrity, c.o.problems);
  }
  c.o.name = name ?? `engine SIGKILL ${moments.join(', then ')}`;
  c.o.openAfterKill = await c.openNow();
  return c.converge();
}

/**
 * A provider SIGKILLed mid-pass (the target while it receives chunk 2, the source while page 3 is relayed; the
 * proxy slows that request so that it is in flight), its store checked, the provider restarted on the same store.
 * The engine, still running, either rides it out on its retries or ends with exit 5; a rerun then converges.
 * `giveUp`: the engine runs with --retries 0 and the provider comes back only after it has given up (exit 5).
 */
export async function providerKill(bed: SyncBed, side: 'source' | 'target', giveUp = false): Promise<KillOutcome> {
  const what = side === 'target' ? 'target provider SIGKILL mid-chunk (chunk 2)' : 'source provider SIGKILL mid-pass (page 3 in flight)';
  const c = new CaseRecorder(bed, `${what}, restarted${giveUp ? ' after the engine gave up (--retries 0)' : ''}`);
  await c.start();
  const proxy = bed.proxy(side);
  const rule = side === 'target'
    ? { method: 'POST', path: TARGET_POST, nth: 2, fault: { type: 'throttle' as const, bytesPerSecond: 128 * 1024, direction: 'request' as const } }
    : { method: 'GET', path: SOURCE_NEXT, nth: 2, fault: { type: 'throttle' as const, bytesPerSecond: 128 * 1024, direction: 'response' as const } };
  proxy.setRules([rule]);
  const run = bed.startEngine(giveUp ? ['--retries', '0'] : []);
  const inFlight = (): boolean => proxy.requests.some((q) => q.fault !== undefined && (side === 'target' ? q.bytesUp : q.bytesDown) >= 16_000);
  const reached = await untilMoment(bed, run, `the ${side} request half-way`, inFlight);
  if (!reached) c.o.notes.push('the pass ended before the kill point');
  await bed.provider(side).kill();
  checkOne(bed, side, c.o.integrity, c.o.problems);
  proxy.setRules([]);
  let first: EngineResult;
  if (giveUp) {
    first = c.engine(await bed.finishEngine(run));
    await bed.startProvider(side);
    if (first.exit.code !== 5) c.o.problems.push(`exit ${first.exit.code}, expected 5: ${tail(first.stderr)}`);
  } else {
    await bed.startProvider(side);
    first = c.engine(await bed.finishEngine(run));
    if (first.exit.code !== 0 && first.exit.code !== 5) c.o.problems.push(`exit ${first.exit.code}, expected 0 or 5: ${tail(first.stderr)}`);
  }
  c.o.openAfterKill = await c.openNow();
  await checkStores(bed, c.o.integrity, c.o.problems);
  return c.converge();
}

export type SigtermMoment = 'startup' | 'selecting' | 'mid-chunk';

/**
 * SIGTERM of the engine: at start-up (while it loads the command: the preload sends it at the import of
 * src/cli/main.ts, or `delayMs` after it), while the source selects (the first poll of the source context is held
 * unanswered), or mid-chunk (chunk 2's upload slowed). The engine must exit 130 and release every context it
 * opened (DELETEs sent); then a rerun converges.
 */
export async function sigterm(bed: SyncBed, at: SigtermMoment, delayMs?: number): Promise<KillOutcome & { deletes: number; requests: number }> {
  const c = new CaseRecorder(bed, `engine SIGTERM ${at === 'startup' ? `at start-up${delayMs === undefined ? ' (as it loads the command)' : ` (${delayMs} ms after it begins loading the command)`}` : at === 'selecting' ? 'while the source selects' : 'mid-chunk (chunk 2)'}`);
  await c.start();
  let run: EngineRun;
  if (at === 'startup') {
    let loading: () => void = () => undefined;
    const loaded = new Promise<void>((r) => (loading = r));
    const spawn: SpawnOptions = delayMs === undefined
      ? { nodeArgs: ['--import', PRELOAD], env: { HARNESS_SIGNAL_AT_LOAD: 'SIGTERM' } }
      : { nodeArgs: ['--import', PRELOAD], env: { HARNESS_FD3: '1' }, fd3: (l) => l === 'loading' && loading() };
    run = bed.startEngine([], spawn);
    if (delayMs !== undefined) {
      await within(Promise.race([loaded, run.proc.exited]), 20_000, 'the engine loading its command');
      // The offset is the experiment: when within the start-up the signal lands.
      await new Promise((r) => setTimeout(r, delayMs));
      run.proc.child.kill('SIGTERM');
    }
  } else if (at === 'selecting') {
    bed.sourceProxy.setRules([{ method: 'GET', path: SOURCE_CONTEXT, nth: 1, fault: { type: 'hold' } }]);
    run = bed.startEngine();
    if (!(await untilMoment(bed, run, 'the first poll of the source context', () => bed.sourceProxy.requests.some((q) => q.fault !== undefined)))) {
      c.o.problems.push('the engine ended before it polled the source context');
    }
    run.proc.child.kill('SIGTERM');
  } else {
    bed.targetProxy.setRules([{ method: 'POST', path: TARGET_POST, nth: 2, fault: { type: 'throttle', bytesPerSecond: 128 * 1024, direction: 'request' } }]);
    run = bed.startEngine();
    if (!(await untilMoment(bed, run, 'chunk 2 half-way', () => bed.targetProxy.requests.some((q) => q.fault !== undefined && q.bytesUp >= 16_000)))) {
      c.o.problems.push('the engine ended before chunk 2 was half-way');
    }
    run.proc.child.kill('SIGTERM');
  }
  const r = c.engine(await bed.finishEngine(run));
  if (r.exit.code !== 130) c.o.problems.push(`exit ${r.exit.code}${r.exit.signal ? ` (${r.exit.signal})` : ''}, expected 130: ${tail(r.stderr)}`);
  else if (!/SIGTERM: stopping; releasing the open contexts/.test(r.stderr)) c.o.problems.push(`no 'SIGTERM: stopping' on stderr: ${tail(r.stderr)}`);
  const all = [...bed.sourceProxy.requests, ...bed.targetProxy.requests];
  const deletes = all.filter((q) => q.method === 'DELETE').length;
  const opened = all.filter((q) => q.method === 'POST').length;
  if (at !== 'startup' && deletes === 0) c.o.problems.push('no DELETE was sent');
  // The signal reaches the command's handler at the first turn of the event loop, which may be the digest GET.
  if (at === 'startup' && delayMs === undefined && opened > 0) c.o.problems.push(`${opened} POSTs sent after a SIGTERM that came before the run started`);
  c.o.openAfterKill = await c.openNow();
  if (c.o.openAfterKill.source + c.o.openAfterKill.target > 0) {
    c.o.problems.push(`contexts left open after exit 130: source ${c.o.openAfterKill.source}, target ${c.o.openAfterKill.target} (${opened} POSTs, ${deletes} DELETEs)`);
  }
  bed.resetProxies();
  await checkStores(bed, c.o.integrity, c.o.problems);
  const o = await c.converge();
  return { ...o, deletes, requests: all.length };
}

/** One line per case for the scripts' output. */
export function killLine(o: KillOutcome): string {
  const ok = o.problems.length === 0 && o.converged && o.leftOpen.source + o.leftOpen.target === 0 && o.journals.length === 0;
  const open = o.openAfterKill ? `open after the kill: source ${o.openAfterKill.source} target ${o.openAfterKill.target}; ` : '';
  return `${ok ? 'ok  ' : 'FAIL'} exits ${o.exits.join(',')}, ${o.converged ? 'converged' : 'NOT converged'}, ${o.seconds.toFixed(1)} s, ${o.retries} retries, ` +
    `integrity ${o.integrity.every((x) => x === 'ok') ? `ok x${o.integrity.length}` : o.integrity.join('/')}, engine peak ${o.peakRssMiB.toFixed(0)} MiB, ` +
    `${open}left open: source ${o.leftOpen.source} target ${o.leftOpen.target}${o.journals.length > 0 ? `, ${o.journals.length} journal(s) left` : ''}  ${o.name}`;
}
