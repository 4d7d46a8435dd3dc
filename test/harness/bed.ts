import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaultProxy } from './fault-proxy.ts';
import { hasStackTrace, Provider, removeStore, RssSampler, seed, spawnBin, type Child, type Exit, type SpawnOptions } from './processes.ts';

/**
 * A source and a target `serve`, each behind its own FaultProxy, and the engine (`sdata-sync run`) started
 * between the two proxies. The source is seeded once; the target can be replaced by an empty one per case.
 */

export interface BedOptions {
  entries: number;
  pageSize: number;
  chunkEntries: number;
  kind?: string;
  seed?: number;
  /** Context TTL of both providers, seconds (serve's default 600). */
  contextTtl?: number;
  /** Longest an engine run may take before the harness kills it and fails (default 120 s). */
  engineTimeoutMs?: number;
}

export interface EngineRun {
  proc: Child;
  rss: RssSampler;
  reportFile: string;
  startedMs: number;
}

export interface EngineResult {
  exit: Exit;
  seconds: number;
  /** Requests retried (the client's retry lines) plus pages fetched again after a cut-off (from the report). */
  retries: number;
  peakRssMiB: number;
  stderr: string;
  stackTrace: boolean;
  report: RunReportJson | undefined;
}

/** The parts of `run --report` the harness reads. */
export interface RunReportJson {
  exitCode: number;
  passes: Array<{ read: number; forwarded: number; resumedPages: number; bytesIn: number; error: { code: string; message: string } | null;
    contexts: { source: string; target: { opened: number; deleted: number; gone: number; synchronous: number; failed: number } } }>;
}

export interface OpenContexts {
  source: number;
  target: number;
}

const SOURCE_BASE = 'http://source.example/sdata/source/crm/-';
const TARGET_BASE = 'http://target.example/sdata/target/crm/-';

export class SyncBed {
  readonly o: Required<BedOptions>;
  readonly dir: string;
  readonly kind: string;
  readonly source: Provider;
  readonly target: Provider;
  readonly sourceProxy = new FaultProxy('source');
  readonly targetProxy = new FaultProxy('target');
  private targets = 0;
  private runs = 0;

  private constructor(dir: string, o: Required<BedOptions>) {
    this.dir = dir;
    this.o = o;
    this.kind = o.kind;
    const common = { kinds: [o.kind], pageSize: o.pageSize, contextTtl: o.contextTtl };
    this.source = new Provider({ ...common, name: 'source', db: join(dir, 'source.db'), app: 'source', endpointBase: SOURCE_BASE, priority: 1 });
    this.target = new Provider({ ...common, name: 'target', db: join(dir, 'target-0.db'), app: 'target', endpointBase: TARGET_BASE, priority: 5 });
  }

  static async create(opts: BedOptions): Promise<SyncBed> {
    const o: Required<BedOptions> = { kind: 'accounts', seed: 1, contextTtl: 600, engineTimeoutMs: 120_000, ...opts };
    const dir = await mkdtemp(join(tmpdir(), 'sdata-reliability-'));
    const bed = new SyncBed(dir, o);
    try {
      await seed({ db: bed.source.db, app: 'source', kind: o.kind, count: o.entries, endpointBase: SOURCE_BASE, priority: 1, seed: o.seed });
      await Promise.all([bed.sourceProxy.listen(), bed.targetProxy.listen()]);
      await Promise.all([bed.startProvider('source'), bed.startProvider('target')]);
    } catch (e) {
      await bed.close();
      throw e;
    }
    return bed;
  }

  provider(side: 'source' | 'target'): Provider {
    return side === 'source' ? this.source : this.target;
  }

  proxy(side: 'source' | 'target'): FaultProxy {
    return side === 'source' ? this.sourceProxy : this.targetProxy;
  }

  /** (Re)starts a provider on its store and points its proxy at it. */
  async startProvider(side: 'source' | 'target', db?: string): Promise<void> {
    const p = this.provider(side);
    await p.start(db);
    this.proxy(side).upstream = { host: '127.0.0.1', port: p.port };
  }

  /** The target replaced by a new, empty store (the previous one is removed). */
  async freshTarget(): Promise<void> {
    const old = this.target.db;
    await this.target.stop();
    await removeStore(old);
    await this.startProvider('target', join(this.dir, `target-${++this.targets}.db`));
  }

  /** Dataset URLs through the proxies. */
  get sourceUrl(): string {
    return this.sourceProxy.via(this.source.url);
  }

  get targetUrl(): string {
    return this.targetProxy.via(this.target.url);
  }

  /** The engine's state directory: its journal of open contexts, shared by every run of the bed (as a user's is). */
  get stateDir(): string {
    return join(this.dir, 'state');
  }

  /** Journal files in the state directory: none once every context the engine knows of is deleted. */
  async journals(): Promise<string[]> {
    return readdir(join(this.stateDir, 'contexts')).catch(() => []);
  }

  /** Starts `sdata-sync run` between the proxies (verbose, so that retries are logged; a JSON report). */
  startEngine(extra: string[] = [], spawn: SpawnOptions = {}): EngineRun {
    const reportFile = join(this.dir, `report-${++this.runs}.json`);
    const proc = spawnBin(['run', '--source', this.sourceUrl, '--target', this.targetUrl, '--kind', this.kind,
      '--chunk-entries', String(this.o.chunkEntries), '--progress', 'none', '--verbose', '--report', reportFile, '--spool-dir', this.dir, '--state-dir', this.stateDir, ...extra], spawn);
    return { proc, rss: new RssSampler(proc.pid), reportFile, startedMs: Date.now() };
  }

  async finishEngine(r: EngineRun, timeoutMs = this.o.engineTimeoutMs): Promise<EngineResult> {
    const exit = await r.proc.exitedWithin(timeoutMs, 'the engine');
    const seconds = (Date.now() - r.startedMs) / 1000;
    const peakRssMiB = r.rss.stop();
    let report: RunReportJson | undefined;
    try {
      report = JSON.parse(await readFile(r.reportFile, 'utf8')) as RunReportJson;
    } catch {
      report = undefined; // killed, or failed before the report
    }
    await rm(r.reportFile, { force: true });
    const stderr = r.proc.stderr();
    const retryLines = stderr.split('\n').filter((l) => /; retry \d+ in \d+ ms$/.test(l)).length;
    const resumed = report?.passes.reduce((n, p) => n + p.resumedPages, 0) ?? 0;
    return { exit, seconds, retries: retryLines + resumed, peakRssMiB, stderr, stackTrace: hasStackTrace(stderr), report };
  }

  async runEngine(extra: string[] = [], timeoutMs?: number): Promise<EngineResult> {
    return this.finishEngine(this.startEngine(extra), timeoutMs);
  }

  /** The target holds exactly the source's resources and sync states ($checksum of both, asked directly). */
  async converged(): Promise<boolean> {
    const [s, t] = await Promise.all([this.source.checksum(this.kind), this.target.checksum(this.kind)]);
    return s.count === this.o.entries && t.count === s.count && t.sha256 === s.sha256 && t.statesSha256 === s.statesSha256;
  }

  async openContexts(): Promise<OpenContexts> {
    const [s, t] = await Promise.all([this.source.health(), this.target.health()]);
    return { source: s.openContexts, target: t.openContexts };
  }

  resetProxies(): void {
    this.sourceProxy.reset();
    this.targetProxy.reset();
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.source.kill(), this.target.kill(), this.sourceProxy.close(), this.targetProxy.close()]);
    await rm(this.dir, { recursive: true, force: true });
  }
}
