import type { ContextRecorder, PollOptions } from '../../http/async-op.ts';
import { HttpClient } from '../../http/client.ts';
import { collectionUrl } from '../../http/url.ts';
import { isSdataError, SdataError } from '../../protocol/errors.ts';
import type { XmlLimits } from '../../xml/limits.ts';
import type { JsonlFile } from '../jsonl.ts';
import type { Logger } from '../log.ts';
import { CompareFile, type CompareWindow } from './compare-file.ts';
import { decide, FAILING, type Difference, type Finding } from './decide.ts';
import { readSide, type SideName, type SideRead, type SideSummary } from './read-side.ts';
import type { SideRow } from './side-file.ts';
import { SideThread, type PortableClientOptions } from './side-thread.ts';

/**
 * `sdata-sync verify`: do two applications hold the same resources of a kind? Each side's whole state is read from
 * its own sync feed (read-side.ts) into a side file, the target's in a thread of its own when `threads` is 2 (the
 * CLI's default: docs/decisions/0030-verify-two-threads.md); the two files are then joined by uuid (compare-file.ts)
 * and the comparison rule (decide.ts, docs/protocol.md X22) names every difference. Memory stays bounded whatever
 * the sizes; both `$syncSource` contexts are DELETEd however it ends, an interruption included.
 */

export interface VerifySide {
  /** Dataset base URL. */
  base: string;
  /** Its HTTP client's options (credentials for its origin only); each reader makes its own client from them. */
  client: PortableClientOptions;
}

export interface VerifyOptions {
  source: VerifySide;
  target: VerifySide;
  kind: string;
  /** Also compare syncStates (a difference is reported, not a failure). */
  states: boolean;
  /** 2: the target is read in a thread of its own; 1: both on this thread. */
  threads: 1 | 2;
  /** One JSON line per difference (opened by the caller, before anything is read). */
  report?: JsonlFile | undefined;
  /** Where the scratch files go. */
  tempDir: string;
  runName: string;
  /** runStamp of both `$syncSource` POSTs (default: now). */
  runStamp?: string | undefined;
  maxEntryBytes?: number | undefined;
  /** Parsing limits (xml/limits.ts) for every page read; default: the defaults. */
  limits?: XmlLimits | undefined;
  poll?: Partial<PollOptions> | undefined;
  signal?: AbortSignal | undefined;
  /** Each side's recorder of open contexts (the journal, engine/journal.ts). */
  contexts?: { source: ContextRecorder; target: ContextRecorder } | undefined;
  /** What the comparison may hold in memory (default WINDOW; tests inject a small one). */
  window?: Partial<CompareWindow> | undefined;
  log: Logger;
}

export type VerifyCounts = Record<Difference | 'unreadable', number>;

export interface VerifyResult {
  kind: string;
  /** No failing difference (FAILING), and every entry compared. */
  equal: boolean;
  states: boolean;
  sides: [SideSummary, SideSummary];
  differences: VerifyCounts;
  /** The most the comparison held at once: rows of one uuid (both sides), and each scratch connection's page cache, KiB. */
  held: { rows: number; cacheKiB: number };
  seconds: number;
}

/**
 * The memory bound of the comparison, whatever the collections' sizes: 2 MiB of page cache per scratch connection
 * (three: one per side, one joining), and the last 4 rows of one uuid per side (a feed repeating a uuid more often
 * is a `duplicate` finding with its count). 2 MiB rather than link's 8: at 50k resources per side it cut verify's
 * peak RSS by 26 MiB with the target in a thread (228 -> 202) and by 5 on one thread, at no measurable cost in
 * time (docs/decisions/0019-verify.md).
 */
const WINDOW: CompareWindow = { rowsPerUuid: 4, cacheKiB: 2048 };

const SIDES: readonly [SideName, SideName] = ['source', 'target'];
/** How often a long verify says where it is (stderr). */
const PROGRESS_MS = 10_000;

export async function runVerify(o: VerifyOptions): Promise<VerifyResult> {
  const started = Date.now();
  const counts: VerifyCounts = { missing: 0, extra: 0, deleted: 0, payload: 0, state: 0, duplicate: 0, unreadable: 0 };
  const read: [number, number] = [0, 0];
  const window: CompareWindow = { ...WINDOW, ...o.window };
  const file = new CompareFile(o.tempDir, window);
  const held = { rows: 0, cacheKiB: file.cacheKiB() };
  // One side failing stops the other at once (which still releases its context).
  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  const runStamp = o.runStamp ?? new Date().toISOString();
  const log = (level: 'error' | 'warn' | 'info' | 'debug', msg: string): void => o.log.log(level, msg);
  try {
    const readOn = (i: 0 | 1): Promise<SideRead> => {
      const side = i === 0 ? o.source : o.target;
      const job = {
        side: SIDES[i], collection: collectionUrl(side.base, o.kind), file: file.sidePath(i), runName: o.runName, runStamp,
        maxEntryBytes: o.maxEntryBytes, limits: o.limits, poll: o.poll, cacheKiB: window.cacheKiB,
      };
      const contexts = o.contexts?.[SIDES[i]];
      const onProgress = (n: number): void => {
        read[i] = n;
      };
      let p: Promise<SideRead>;
      if (o.threads === 2 && i === 1) {
        const t = new SideThread({ ...job, client: side.client }, log, onProgress, contexts);
        const abort = (): void => t.abort();
        signal.addEventListener('abort', abort, { once: true });
        p = t.done.finally(() => signal.removeEventListener('abort', abort));
      } else {
        const client = new HttpClient({ ...side.client, signal, onRetry: (e) => log('debug', `${SIDES[i]}: ${e.method} ${e.url}: ${e.reason}; retry ${e.attempt} in ${e.delayMs} ms`) });
        p = readSide({ ...job, client, signal, log, onProgress, contexts }).finally(() => client.close());
      }
      return p.catch((e: unknown) => {
        stop.abort();
        throw e;
      });
    };
    const progress = setInterval(() => o.log.info(`${o.kind}: read ${read[0]} source and ${read[1]} target entries so far`), PROGRESS_MS);
    progress.unref();
    const settled = await Promise.allSettled([readOn(0), readOn(1)]).finally(() => clearInterval(progress));
    const failed = firstFailure(settled, o.signal);
    if (failed !== undefined) throw failed;
    const sides = settled.map((s) => (s as PromiseFulfilledResult<SideRead>).value) as [SideRead, SideRead];
    o.log.info(`${o.kind}: read ${sides[0].summary.entries} source and ${sides[1].summary.entries} target entries; comparing by uuid`);

    const endpoints = new Map<number, string>([...sides[0].endpoints, ...sides[1].endpoints]);
    for (const s of sides) {
      counts.unreadable += s.summary.unreadable;
      for (const u of s.unreadable) await o.report?.line({ uuid: u.uuid ?? null, differs: 'unreadable', side: u.side, url: u.url ?? null, at: u.at, reason: u.reason });
    }
    let n = 0;
    for (const c of file.differences(o.states)) {
      if ((++n & 1023) === 0 && o.signal?.aborted) throw new SdataError('SDATA_E_ABORTED', `verify ${o.kind}: interrupted`);
      held.rows = Math.max(held.rows, c.rows[0].length + c.rows[1].length);
      for (const f of decide(c, o.states)) {
        counts[f.differs]++;
        await o.report?.line(reportLine(f, endpoints));
      }
    }
    const failing = [...FAILING].reduce((m, d) => m + counts[d], 0) + counts.unreadable;
    return {
      kind: o.kind, equal: failing === 0, states: o.states, sides: [sides[0].summary, sides[1].summary], differences: counts, held,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    file.close();
  }
}

/** The error that ended the reading: a side's own failure rather than the stop it caused the other side. */
function firstFailure(settled: ReadonlyArray<PromiseSettledResult<SideRead>>, outer: AbortSignal | undefined): unknown {
  const errors = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as unknown);
  if (errors.length === 0) return undefined;
  const aborted = (e: unknown): boolean => isSdataError(e) && e.code === 'SDATA_E_ABORTED';
  if (outer?.aborted) return errors.find(aborted) ?? new SdataError('SDATA_E_ABORTED', 'verify: interrupted', { cause: errors[0] });
  return errors.find((e) => !aborted(e)) ?? errors[0];
}

function sideOf(r: SideRow | undefined, endpoints: ReadonlyMap<number, string>): Record<string, unknown> | null {
  if (r === undefined) return null;
  return {
    deleted: r.deleted, digest: r.digest === undefined ? null : Buffer.from(r.digest, 'base64').toString('hex'), url: r.url ?? null,
    endpoint: r.endpoint === undefined ? null : endpoints.get(r.endpoint) ?? null, tick: r.tick ?? null,
  };
}

/** A report line: the uuid, what differs, and what each side holds (digest, url, syncState). */
function reportLine(f: Finding, endpoints: ReadonlyMap<number, string>): Record<string, unknown> {
  const line: Record<string, unknown> = { uuid: f.uuid, differs: f.differs };
  if (f.side !== undefined) {
    line['side'] = f.side;
    line['count'] = f.count;
  }
  line['source'] = sideOf(f.source, endpoints);
  line['target'] = sideOf(f.target, endpoints);
  return line;
}
