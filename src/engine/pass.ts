import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AsyncOperation, type ContextRecorder, type DeleteOutcome, type PollOptions } from '../http/async-op.ts';
import { discardBody, readSmallDocument, statusError } from '../http/body.ts';
import { MAX_DIGEST_BYTES, type XmlLimits } from '../xml/limits.ts';
import type { HttpClient, HttpResponse } from '../http/client.ts';
import { collectionUrl, operationUrl, redactUrl, withQuery } from '../http/url.ts';
import { errnoCode, SdataError, isSdataError } from '../protocol/errors.ts';
import type { Digest } from '../protocol/digest.ts';
import { explainLine, unexplained } from '../plan/explain.ts';
import { SegmentedPlan } from '../plan/parallel.ts';
import { Planner, type ChunkTarget, type ChunkWriter, type Explained, type InvalidEntry, type PassEnding, type PlanStats } from '../plan/planner.ts';
import { formatDiagnosis } from '../xml/tracking-reader.ts';
import type { FeedHead } from '../xml/feed-types.ts';
import { parseDigestDocument } from '../xml/digest-document.ts';
import { FileWriter, MemoryWriter, type BodyFactory } from './chunk-body.ts';
import { ChunkSender, type ContextCounts } from './chunk-sender.ts';
import { invalidWarner } from './invalid.ts';
import type { Logger } from './log.ts';
import { streamPages, type PageSink } from './page-stream.ts';
import { MEMORY_SPOOL_MAX, SpoolTarget } from './spool.ts';
import { ENTRY_TYPE } from './source-feed.ts';
import { newPassStats, type PassStats } from './stats.ts';

export interface PassOptions {
  kind: string;
  /** Dataset base URLs (`http://host/sdata/app/contract/-`). */
  sourceBase: string;
  targetBase: string;
  source: HttpClient;
  target: HttpClient;
  runName: string;
  runStamp: string;
  chunkEntries: number;
  chunkBytes: number;
  maxEntryBytes: number;
  /** Parsing limits (xml/limits.ts) for every document read; default: the defaults. */
  limits?: XmlLimits | undefined;
  strict?: boolean;
  dryRun?: boolean;
  postResults?: boolean;
  poll?: Partial<PollOptions>;
  /** Parent directory of the pass's spool directory. */
  spoolDir: string;
  /**
   * Where chunks wait between planning and sending: in memory (bounded by about (queueDepth + 3) × chunkBytes) or in
   * files. `auto` (default): memory up to 32 MiB chunks, files above.
   */
  spool?: 'memory' | 'disk' | 'auto';
  /** Chunks queued or in flight while the next is produced (default 1). */
  queueDepth?: number;
  signal?: AbortSignal | undefined;
  log: Logger;
  /** Pre-made stats object (so progress can watch it from the start). */
  stats?: PassStats;
  keepInvalid?: number;
  /** `--explain`: lower-cased uuids whose decisions (and results) are reported (plan/explain.ts). */
  explain?: ReadonlySet<string> | undefined;
  /** Records each side's contexts until their DELETE is done (the journal, docs/engine-rules.md §5). */
  contexts?: { source: ContextRecorder; target: ContextRecorder } | undefined;
}

/** An `--explain`ed entry, with what the target answered for it when it was sent. */
export interface ExplainedEntry extends Explained {
  result?: { atomId: string | undefined; status: number | undefined; method: string | undefined; message: string | undefined; diagnoses: string[] };
}

export interface PassResult {
  kind: string;
  ok: boolean;
  /** What ended the pass: an SdataError (classified), or an unexpected Error (a bug: exit code 1). */
  error: Error | undefined;
  dryRun: boolean;
  stats: PassStats;
  plan: PlanStats | undefined;
  /** The target digest the pass started from. */
  targetDigest: Digest | undefined;
  contexts: { source: DeleteOutcome | 'none'; target: ContextCounts };
  invalid: InvalidEntry[];
  invalidNotKept: number;
  /** How the pass ended for the target (PassEnding: final chunk, merge-only chunk, nothing, merge held back). */
  ending: PassEnding | undefined;
  /** The target refused the merge-only chunk (a target that wants entries in every feed): a warning, not a failure. */
  mergeRefused: boolean;
  /** `--explain`: each entry asked about, in source order. */
  explained: ExplainedEntry[];
}

/** The dry run's chunk target: counts what would be sent, keeps nothing. */
class DiscardTarget implements ChunkTarget {
  private readonly w: ChunkWriter = { write: () => true, writeBytes: () => true, needsDrain: false, drained: async () => undefined };
  open(): ChunkWriter {
    return this.w;
  }
  async close(): Promise<void> {}
}

/**
 * One catch-up pass of one kind (docs/protocol.md §1.3): target digest → source context → each page streamed through the
 * planner as it arrives → chunks spooled and POSTed one at a time → results counted → contexts deleted, the source
 * context last and always. Never throws: the result says what happened, including the error that ended it.
 */
export async function runPass(o: PassOptions): Promise<PassResult> {
  const stats = o.stats ?? newPassStats(o.kind);
  stats.startedMs = Date.now();
  const sourceColl = collectionUrl(o.sourceBase, o.kind);
  const targetColl = collectionUrl(o.targetBase, o.kind);
  const run = { runName: o.runName, runStamp: o.runStamp };
  const dryRun = o.dryRun ?? false;
  const invalid: InvalidEntry[] = [];
  const keepInvalid = o.keepInvalid ?? 100;
  const result: PassResult = {
    kind: o.kind, ok: false, error: undefined, dryRun, stats, plan: undefined, targetDigest: undefined,
    contexts: { source: 'none', target: { opened: 0, deleted: 0, gone: 0, synchronous: 0, failed: 0 } }, invalid, invalidNotKept: 0,
    ending: undefined, mergeRefused: false, explained: [],
  };
  // --explain: forwarded entries by planned chunk and position, to attach the target's result.
  const sentExplained = new Map<string, ExplainedEntry>();
  let sourceOp: AsyncOperation | undefined;
  let spoolDir: string | undefined;
  let spool: SpoolTarget | undefined;
  let sender: ChunkSender | undefined;
  /** Page 1's answer until streamPages takes it: a failure before that must still let its body go. */
  let unread: HttpResponse | undefined;
  try {
    stats.phase = 'digest';
    const digestUrl = operationUrl(targetColl, '$syncDigest');
    const dres = await o.target.request({ method: 'GET', url: digestUrl, headers: { accept: ENTRY_TYPE } });
    if (dres.statusCode !== 200) throw await statusError('GET', dres, 'reading the target digest');
    const digestText = await readSmallDocument(dres, MAX_DIGEST_BYTES);
    const digest = parseDigestDocument(digestText, digestUrl);
    result.targetDigest = digest;
    o.log.debug(`${o.kind}: target digest has ${digest.entries.size} endpoint(s)`);

    stats.phase = 'selecting';
    const digestBody = Buffer.from(digestText, 'utf8');
    const trackingProgress = (t: { progress?: number }): void => {
      if (t.progress !== undefined) stats.trackingProgress = t.progress;
    };
    sourceOp = new AsyncOperation(o.source, {
      ...o.poll,
      url: withQuery(operationUrl(sourceColl, '$syncSource'), run),
      body: () => digestBody,
      contentType: ENTRY_TYPE,
      contentLength: digestBody.length,
      onTracking: trackingProgress,
      contexts: o.contexts?.source,
    });
    const res: HttpResponse = await sourceOp.start();
    unread = res;
    stats.trackingProgress = undefined;
    stats.phase = 'transferring';

    let out: ChunkTarget;
    if (dryRun) out = new DiscardTarget();
    else {
      const mode = o.spool === undefined || o.spool === 'auto' ? (o.chunkBytes <= MEMORY_SPOOL_MAX ? 'memory' : 'disk') : o.spool;
      if (mode === 'disk' || o.postResults) spoolDir = await mkdtemp(join(o.spoolDir, `sdata-sync-${o.kind.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
      const dir = spoolDir;
      const bodies: BodyFactory = mode === 'disk' ? (name) => new FileWriter(join(dir!, `${name}.xml`)) : () => new MemoryWriter();
      const s = new ChunkSender({
        bodies,
        ...(spoolDir ? { resultDir: spoolDir } : {}),
        target: o.target,
        targetUrl: withQuery(operationUrl(targetColl, '$syncTarget'), run),
        maxEntryBytes: o.maxEntryBytes,
        limits: o.limits,
        log: o.log,
        signal: o.signal,
        onTracking: trackingProgress,
        onBytesOut: (n) => {
          stats.bytesOut += n;
        },
        onChunkDone: () => {
          stats.chunksSent = s.chunks;
          stats.entriesAcked = s.entries;
          stats.outcomes = s.outcomes;
        },
        onResult: o.explain === undefined ? undefined : (chunk, position, e) => {
          const x = sentExplained.get(`${chunk}:${position}`);
          if (x) x.result = { atomId: e.atomId, status: e.status, method: e.method, message: e.message, diagnoses: e.diagnoses.map(formatDiagnosis) };
        },
        results: o.postResults ? { client: o.source, url: withQuery(operationUrl(sourceColl, '$syncResults'), run) } : undefined,
        contexts: o.contexts?.target,
        ...(o.poll ? { poll: o.poll } : {}),
      });
      sender = s;
      spool = new SpoolTarget(bodies, async (c) => {
        await s.send(c);
        stats.splits = s.splits;
      }, o.queueDepth ?? 1, `${o.kind} `);
      out = spool;
    }
    const warnInvalid = invalidWarner(o.log, o.kind);
    const planner = new Planner({
      target: digest, out, chunkEntries: o.chunkEntries, chunkBytes: o.chunkBytes, strict: o.strict ?? false,
      // The posted chunks are pages of the source feed: its id, the context URL (docs/protocol.md X2).
      ...(sourceOp.location === undefined ? {} : { feedId: sourceOp.location }),
      explain: o.explain,
      onExplain: (x) => {
        result.explained.push(x);
        if (x.chunk !== undefined) sentExplained.set(`${x.chunk}:${x.position}`, x);
      },
      onInvalid: (e) => {
        if (invalid.length < keepInvalid) invalid.push(e);
        else result.invalidNotKept++;
        warnInvalid(e);
      },
    });
    result.plan = planner.stats;
    if (spool) spool.stats = planner.stats;
    const ps = planner.stats;
    const sync = (): void => {
      stats.read = ps.read;
      stats.forwarded = ps.forwarded;
      stats.skipped = ps.skipped;
      stats.invalid = ps.invalid;
    };
    let first = true;
    const head = (h: FeedHead): void => {
      if (first) {
        first = false;
        stats.totalResults = h.totalResults;
      }
      planner.head(h);
    };
    // Pages are read in pieces on this thread, most by the piece scanner (docs/decisions/0021-engine-piece-scanner.md);
    // --explain needs the records, which only the one-pass reader brings (as in plan).
    const segmented = o.explain === undefined
      ? new SegmentedPlan({ target: digest, maxEntryBytes: o.maxEntryBytes, helpers: 0, scheduledGc: true, ...(o.limits ? { limits: o.limits } : {}) })
      : undefined;
    const sink: PageSink = {
      head,
      entry: (r) => planner.entry(r),
      ready: () => planner.ready(),
      ...(segmented ? { readPage: (body, source, hooks) => segmented.page(body, planner, source, hooks) } : {}),
    };
    const op = sourceOp;
    const check = spool ? () => spool!.check() : undefined;
    unread = undefined;
    await streamPages({
      client: o.source, first: res, again: () => op.again(), firstUrl: op.location ?? op.postUrl, sink, poll: o.poll,
      maxEntryBytes: o.maxEntryBytes, limits: o.limits, signal: o.signal, contexts: o.contexts?.source,
      onBytes: (n) => {
        stats.bytesIn += n;
        sync();
      },
      ...(check ? { check } : {}),
      beforePage: (url) => planner.beginPage(url),
      onMovedDeleted: (url, d) => {
        if (d === 'failed' || d === 'unknown') o.log.warn(`${o.kind}: DELETE of the source context ${redactUrl(url)} (a next page's 202 opened it): ${d}; the source's context expiry will clean up`);
        else o.log.debug(`${o.kind}: DELETE ${redactUrl(url)} (a next page's context): ${d}`);
      },
      afterPage: (page, n) => {
        sync();
        stats.pages = n;
        stats.resumedPages += page.resumed;
        o.log.debug(`${o.kind}: page ${n}: ${page.entries} entries, ${page.bytes} bytes${page.resumed ? `, fetched again ${page.resumed}x after a cut-off` : ''}`);
      },
    });
    if (segmented) {
      const c = segmented.counts;
      o.log.debug(`${o.kind}: ${c.here + c.again} piece(s) read, ${c.scanned} by the piece scanner, ${c.again} read again after a cut that was not after an entry`);
    }
    stats.phase = 'finishing';
    await planner.finish();
    sync();
    result.ending = planner.stats.ending;
    if (result.ending === 'merge-only') o.log.info(`${o.kind}: nothing to forward; a chunk without entries lets the target merge the source digest (docs/protocol.md X2)`);
    else if (result.ending === 'held') o.log.warn(`${o.kind}: entries were dropped as invalid: the target is not let merge the source digest and later entries of their endpoints were held back, so the next pass starts from them again (docs/protocol.md X3)`);
    if (spool) await spool.drain();
    if (sender) await sender.settle();
    result.mergeRefused = sender?.mergeRefused ?? false;
    stats.phase = 'done';
    result.ok = true;
  } catch (e) {
    stats.phase = 'failed';
    result.error = asSdataError(e, o);
    if (unread) discardBody(unread);
    if (spool) await spool.abort().catch(() => undefined);
  } finally {
    if (sender) {
      await sender.releaseAll();
      result.contexts.target = sender.contexts;
      stats.outcomes = sender.outcomes;
    }
    if (sourceOp) {
      // Last, and always (docs/engine-rules.md §5): the source context outlives every chunk built from it.
      const d = await sourceOp.delete();
      result.contexts.source = d;
      if (d === 'failed') o.log.warn(`${o.kind}: DELETE of the source context ${redactUrl(sourceOp.location ?? '')} failed; the next run deletes it (the journal of open contexts), or the source's context expiry`);
      else if (d === 'unknown') o.log.warn(`${o.kind}: DELETE of the source context ${redactUrl(sourceOp.location ?? '')}: 404, the context was already gone`);
    }
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true }).catch(() => undefined);
    stats.endedMs = Date.now();
  }
  if (o.explain) explainPass(o, result);
  return result;
}

/** `--explain`: each decision, with the target's answer for what was sent, and the uuids no entry carried. */
function explainPass(o: PassOptions, r: PassResult): void {
  for (const x of r.explained) {
    let answer = '';
    if (x.chunk !== undefined) {
      const res = x.result;
      answer = res ? `; the target answered HTTP ${res.status}${res.method ? ` ${res.method}` : ''}${res.diagnoses.length ? ` (${res.diagnoses.join('; ')})` : res.message ? ` ${res.message}` : ''}`
        : r.dryRun ? '; dry run: not sent' : '; no answer from the target (the pass ended first)';
    }
    o.log.note(`${o.kind}: ${explainLine(x)}${answer}`);
  }
  for (const u of unexplained(o.explain!, r.explained)) o.log.note(`${o.kind}: explain ${u}: no entry of the source feed carries this uuid${r.ok ? '' : ' (as far as the pass read it)'}`);
}

function asSdataError(e: unknown, o: PassOptions): Error {
  if (o.signal?.aborted) {
    return isSdataError(e) && e.code === 'SDATA_E_ABORTED' ? e : new SdataError('SDATA_E_ABORTED', `${o.kind}: interrupted`, { cause: e });
  }
  if (isSdataError(e)) return e;
  if (errnoCode(e) !== undefined) {
    return new SdataError('SDATA_E_IO', `${o.kind}: spool: ${(e as Error).message}`, { cause: e });
  }
  return e instanceof Error ? e : new Error(String(e));
}
