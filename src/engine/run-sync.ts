import { EventEmitter } from 'node:events';
import { tmpdir } from 'node:os';
import type { PollOptions } from '../http/async-op.ts';
import { authorizationFor, type Credentials } from '../http/auth.ts';
import { HttpClient } from '../http/client.ts';
import type { Timeouts } from '../http/defaults.ts';
import { splitUrl } from '../http/url.ts';
import { DEFAULT_CHUNK } from '../plan/defaults.ts';
import { DEFAULT_MAX_ENTRY_BYTES, resolveLimits, type XmlLimits } from '../xml/limits.ts';
import type { ContextJournal } from './journal.ts';
import { startJournal } from './leftover-contexts.ts';
import { Logger, type LogLevel } from './log.ts';
import type { OutcomeCounts } from './outcomes.ts';
import type { PassResult } from './pass.ts';
import { passReport, totals, type PassReport, type RunReport } from './report.ts';
import { kindOrder, runKinds } from './run.ts';
import type { PassStats } from './stats.ts';

/** One side of a sync: its dataset base URL (`http://host/sdata/app/contract/-`) and how to reach it. */
export interface SyncEndpoint {
  url: string;
  /** Sent to this URL's origin only, never to another host a Location points at. */
  credentials?: Credentials;
  /** Certificates (PEM) trusted for an https:// URL besides Node's own (a self-signed provider). */
  ca?: readonly string[];
}

export interface SyncOptions {
  source: string | SyncEndpoint;
  target: string | SyncEndpoint;
  /**
   * Kinds to sync. Default: every kind both providers' `$schema` declare. Either way they run in sme:syncOrder waves
   * where the schemas give one (docs/protocol.md X20), else in the order given.
   */
  kinds?: readonly string[];
  /** Sent on every POST (default "sdata-sync"); the run stamp is the start time. */
  runName?: string;
  /** Read and decide, write nothing to the target. */
  dryRun?: boolean;
  /** POST each result feed to the source's $syncResults. */
  postResults?: boolean;
  /** An invalid source entry ends the pass. */
  strict?: boolean;
  /** Chunk bounds (default 1000 entries, 8 MiB) and the entry size cap (default 16 MiB). */
  chunkEntries?: number;
  chunkBytes?: number;
  maxEntryBytes?: number;
  /** Parsing limits on what the providers send (depth, attributes, names, …); the defaults for those not given. */
  limits?: Partial<XmlLimits>;
  /** Passes at once within a wave of kinds of equal syncOrder (default 1: a failed pass stops the run). */
  concurrency?: number;
  /** Where chunks above 32 MiB and result pages wait (default the temp dir). */
  spoolDir?: string;
  /**
   * Keep the journal of open contexts here, and DELETE at the start the contexts a killed run with the same directory
   * left open (docs/engine-rules.md §5; the CLI's --state-dir). Default: no journal.
   */
  stateDir?: string;
  /** Retries of a failed request (default 6). */
  retries?: number;
  timeouts?: Partial<Timeouts>;
  poll?: Partial<Pick<PollOptions, 'pollMinMs' | 'pollMaxMs'>>;
  signal?: AbortSignal;
  /** `log` events at this level and above (default 'info'). */
  logLevel?: LogLevel;
  /** Milliseconds between `progress` events (default 1000; 0: none). */
  progressIntervalMs?: number;
}

/** A pass's live counters at one moment (a copy: keep it if you like). */
export type PassProgress = Omit<PassStats, 'outcomes'> & { outcomes: OutcomeCounts };

export interface SyncResult {
  /** Every kind ran, no pass failed, and no entry failed at the target or was invalid. */
  ok: boolean;
  runName: string;
  runStamp: string;
  kinds: string[];
  passes: PassResult[];
  /** The passes as the CLI's --report writes them. */
  reports: PassReport[];
  /** Kinds not attempted: an earlier pass failed, or the run was aborted. */
  notRun: string[];
  totals: RunReport['totals'];
}

export interface SyncEvents {
  start: [{ runName: string; runStamp: string; kinds: string[] }];
  pass: [{ kind: string }];
  progress: [{ passes: PassProgress[] }];
  passDone: [{ result: PassResult; report: PassReport }];
  log: [{ level: LogLevel; message: string }];
  done: [{ result: SyncResult }];
}

export type SyncEvent = { [K in keyof SyncEvents]: { type: K } & SyncEvents[K][0] }[keyof SyncEvents];

/**
 * A run in progress: an EventEmitter of SyncEvents, an async iterable of the same events (`for await`), and a
 * promise of the result (`await run`). Pass failures are in the result, as the CLI reports them; the promise
 * rejects only when the run cannot start (a bad URL, credentials, or kinds that cannot be discovered).
 */
export class SyncRun extends EventEmitter<SyncEvents> implements PromiseLike<SyncResult>, AsyncIterable<SyncEvent> {
  readonly result: Promise<SyncResult>;
  private readonly ac = new AbortController();

  constructor(o: SyncOptions) {
    super();
    // Started on the next turn, so that listeners and a `for await` attached right after runSync() see every event.
    this.result = new Promise<void>((r) => setImmediate(r)).then(() => this.run(o));
    this.result.catch(() => undefined); // rejected for whoever awaits it, not an unhandled rejection
  }

  /** Stop at the next safe point and release every context (like Ctrl-C); the result says what was done. */
  abort(reason?: unknown): void {
    this.ac.abort(reason);
  }

  then<A = SyncResult, B = never>(ok?: ((r: SyncResult) => A | PromiseLike<A>) | null, fail?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.result.then(ok, fail);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SyncEvent> {
    const queue: SyncEvent[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    const names = ['start', 'pass', 'progress', 'passDone', 'log', 'done'] as const;
    const listeners = names.map((type) => {
      const f = (e: object): void => {
        queue.push({ type, ...e } as SyncEvent);
        wake?.();
      };
      this.on(type, f);
      return [type, f] as const;
    });
    const end = (): void => {
      finished = true;
      wake?.();
    };
    this.result.then(end, end);
    try {
      for (;;) {
        while (queue.length > 0) {
          const e = queue.shift()!;
          yield e;
          if (e.type === 'done') return;
        }
        if (finished) {
          await this.result; // rethrows why the run could not start
          return;
        }
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      for (const [type, f] of listeners) this.off(type, f);
    }
  }

  private async run(o: SyncOptions): Promise<SyncResult> {
    const signal = o.signal ? AbortSignal.any([o.signal, this.ac.signal]) : this.ac.signal;
    const log = new Logger(o.logLevel ?? 'info', 'json', (line) => {
      const l = JSON.parse(line) as { level: LogLevel; msg: string };
      this.emit('log', { level: l.level, message: l.msg });
    });
    const source = endpoint(o.source);
    const target = endpoint(o.target);
    const client = (side: 'source' | 'target', e: SyncEndpoint): HttpClient => new HttpClient({
      authorization: e.credentials ? authorizationFor(e.credentials, `${side}.credentials.user`) : undefined,
      authOrigin: e.url,
      ca: e.ca,
      timeouts: o.timeouts ?? {},
      retry: o.retries === undefined ? {} : { retries: o.retries },
      signal,
      onRetry: (r) => log.debug(`${side}: ${r.method} ${r.url}: ${r.reason}; retry ${r.attempt} in ${r.delayMs} ms`),
    });
    const sc = client('source', source);
    const tc = client('target', target);
    let journal: ContextJournal | undefined;
    const live: PassStats[] = [];
    const interval = o.progressIntervalMs ?? 1000;
    const timer = interval > 0 ? setInterval(() => {
      if (live.length > 0) this.emit('progress', { passes: live.map((s) => ({ ...s, outcomes: { ...s.outcomes.counts } })) });
    }, interval) : undefined;
    timer?.unref();
    try {
      const runName = o.runName ?? 'sdata-sync';
      const runStamp = new Date().toISOString();
      if (o.stateDir !== undefined) {
        journal = await startJournal({ stateDir: o.stateDir, runStamp, log, sides: [{ side: 'source', url: source.url, client: sc }, { side: 'target', url: target.url, client: tc }] });
      }
      const waves = await kindOrder({ source: sc, sourceBase: source.url, target: tc, targetBase: target.url, given: o.kinds ? [...o.kinds] : undefined, log });
      const kinds = waves.flat();
      this.emit('start', { runName, runStamp, kinds });
      const r = await runKinds({
        kinds, waves, concurrency: o.concurrency ?? 1, sourceBase: source.url, targetBase: target.url, source: sc, target: tc,
        runName, runStamp, chunkEntries: o.chunkEntries ?? DEFAULT_CHUNK.entries, chunkBytes: o.chunkBytes ?? DEFAULT_CHUNK.bytes,
        maxEntryBytes: o.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES, limits: resolveLimits(o.limits), strict: o.strict ?? false, dryRun: o.dryRun ?? false,
        postResults: o.postResults ?? false, poll: o.poll ?? {}, spoolDir: o.spoolDir ?? tmpdir(), signal, log,
        contexts: journal ? { source: journal.recorder('source'), target: journal.recorder('target') } : undefined,
        onPass: (s) => {
          live.push(s);
          this.emit('pass', { kind: s.kind });
        },
        onPassDone: (p) => {
          live.splice(live.indexOf(p.stats), 1);
          this.emit('passDone', { result: p, report: passReport(p) });
        },
      });
      const reports = r.passes.map(passReport);
      const ok = r.notRun.length === 0 && reports.every((p) => p.ok && p.outcomes.failed === 0 && p.invalid === 0);
      const result: SyncResult = { ok, runName, runStamp, kinds, passes: r.passes, reports, notRun: r.notRun, totals: totals(reports) };
      this.emit('done', { result });
      return result;
    } finally {
      journal?.close();
      clearInterval(timer);
      await sc.close();
      await tc.close();
    }
  }
}

function endpoint(e: string | SyncEndpoint): SyncEndpoint {
  const x = typeof e === 'string' ? { url: e } : e;
  splitUrl(x.url); // an absolute http(s) URL without credentials in it
  return x;
}

/**
 * The engine as a function: one catch-up pass per kind from `source` to `target` (what `sdata-sync run` does),
 * with events instead of a progress line. See docs/library.md.
 */
export function runSync(o: SyncOptions): SyncRun {
  return new SyncRun(o);
}
