import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import type { BodyFactory, ChunkBody } from './chunk-body.ts';
import { AsyncOperation, type ContextRecorder, type PollOptions } from '../http/async-op.ts';
import { discardBody, HttpStatusError, statusError } from '../http/body.ts';
import type { HttpClient, HttpResponse } from '../http/client.ts';
import { redactUrl } from '../http/url.ts';
import { SdataError } from '../protocol/errors.ts';
import type { Tracking } from '../protocol/tracking.ts';
import type { ResultEntry, ResultTail } from '../xml/result-types.ts';
import type { Logger } from './log.ts';
import { Outcomes } from './outcomes.ts';
import { readResults } from './results.ts';
import { postedAtomIds, splitChunk } from './split.ts';
import type { XmlLimits } from '../xml/limits.ts';

export const FEED_TYPE = 'application/atom+xml; type=feed';

/** A complete chunk, ready to be POSTed (and re-POSTed identically on retry). */
export interface SpooledChunk {
  n: number;
  body: ChunkBody;
  final: boolean;
  /** Entries in the chunk, to check the result count against; undefined when not known (push). */
  entries: number | undefined;
  /** Human label ("chunk 3", "chunk 3.a.b"). */
  label: string;
  /** Position of its first entry in chunk `n` as planned: 0, or where the second half of a split chunk begins. */
  first?: number;
}

export interface ContextCounts {
  opened: number;
  deleted: number;
  /** DELETE answered 410 (already gone): counts as done (docs/protocol.md §1.3 step 6). */
  gone: number;
  /** Synchronous answers: no context to delete. */
  synchronous: number;
  /** DELETE failed or answered 404: left to the next run (the journal) or the provider's expiry. */
  failed: number;
}

export interface ChunkSenderOptions {
  target: HttpClient;
  /** `…/$syncTarget?runName=…&runStamp=…`; the trackingID is added per POST. */
  targetUrl: string;
  poll?: Partial<PollOptions>;
  maxEntryBytes: number;
  /** Parsing limits (xml/limits.ts) for every document read; default: the defaults. */
  limits?: XmlLimits | undefined;
  /** Where the halves of a split chunk are written. */
  bodies: BodyFactory;
  /** Directory for result pages spooled for $syncResults or `onResultPage`. */
  resultDir?: string;
  log: Logger;
  /** POST each result page to the source's `$syncResults` (docs/protocol.md §1.3 step 7). */
  results?: { client: HttpClient; url: string } | undefined;
  /** Receive each result page as a file, with where its entries stand when they can be copied from it (push's stdout). */
  onResultPage?: ((path: string, tail: ResultTail) => Promise<void>) | undefined;
  onTracking?: (t: Tracking) => void;
  onBytesOut?: (n: number) => void;
  /** A chunk's results are counted. */
  onChunkDone?: () => void;
  /**
   * Each result as it is read, with the planned chunk and position of the entry it answers (`--explain`; unset,
   * it costs nothing per result).
   */
  onResult?: ((chunk: number, position: number, e: ResultEntry) => void) | undefined;
  /** Read a chunk's results while the next chunk is POSTed (default true). */
  overlapResults?: boolean;
  onResultBytes?: (n: number) => void;
  signal?: AbortSignal | undefined;
  /** Records every chunk context until its DELETE is done (the journal, docs/engine-rules.md §5). */
  contexts?: ContextRecorder | undefined;
}

/**
 * Sends spooled chunks to the target one at a time (docs/engine-rules.md §2): POST with a fresh trackingID (a retry
 * re-sends the same file under the same trackingID), poll, page through the result feed counting outcomes,
 * DELETE the context. A 413 splits the chunk in two and sends the halves. Any other refusal of the whole chunk
 * is fatal for the pass (docs/protocol.md §0.4 rule 10); per-entry failures are only counted.
 */
export class ChunkSender {
  readonly outcomes = new Outcomes();
  readonly contexts: ContextCounts = { opened: 0, deleted: 0, gone: 0, synchronous: 0, failed: 0 };
  chunks = 0;
  entries = 0;
  splits = 0;
  /** The target refused the pass's chunk without entries (sent only for its digest merge): see `send`. */
  mergeRefused = false;
  private readonly o: ChunkSenderOptions;
  /** Contexts whose DELETE is still running, awaited by `settle()`. */
  private readonly live = new Set<AsyncOperation>();
  private readonly releasing = new Set<Promise<void>>();
  /** Result feeds being read, one chunk behind the POSTs at most. */
  private resultsTail: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(o: ChunkSenderOptions) {
    this.o = o;
  }

  /**
   * POSTs one chunk and waits until the target has processed it. Its result feed is then read in the background
   * while the caller POSTs the next chunk (the target serves one context's results while it applies the next
   * chunk, instead of idling for a round trip per chunk), but never more than one chunk behind: this resolves
   * only once the previous chunk's results are counted. A synchronous answer is read at once (repeating it
   * would need the body again). Failures surface here, in `settle()` or in `releaseAll()`.
   *
   * The chunk's body is this sender's from now on: it is released once the chunk's results are counted (a result
   * count that does not match names the posted entries from it), or at once when the chunk goes no further.
   */
  async send(c: SpooledChunk): Promise<void> {
    let own = true;
    try {
      this.throwIfFailed();
      const size = c.body.size;
      const onTracking = this.o.onTracking;
      const op = new AsyncOperation(this.o.target, {
        ...this.o.poll,
        url: this.o.targetUrl,
        contentType: FEED_TYPE,
        contentLength: size,
        body: () => c.body.open(),
        // The target applies the chunk before its 202: a run killed meanwhile knows the context by its POST only.
        contexts: this.o.contexts,
        recordPost: true,
        ...(onTracking ? { onTracking: (t: Tracking) => onTracking(t) } : {}),
      });
      this.live.add(op);
      let res: HttpResponse;
      try {
        res = await op.start();
      } catch (e) {
        await this.release(op);
        if (e instanceof HttpStatusError && e.status === 413) {
          own = false;
          await this.split(c);
          return;
        }
        if (e instanceof HttpStatusError && c.entries === 0 && c.final && (e.status === 400 || e.status === 422)) {
          // A target that requires entries in every posted feed (spec 4.4, checklist 16) refuses the chunk that only
          // carries the source digest for its merge (docs/protocol.md X2). Nothing is lost: every change is applied;
          // its digest stays behind for endpoints that had nothing to send, and later passes offer the merge again.
          this.mergeRefused = true;
          this.o.log.warn(`${c.label}: the target refuses a feed without entries (${e.message}); it keeps its digest instead of merging the source's (docs/protocol.md X2)`);
          return;
        }
        throw this.rejected(c, e);
      }
      if (op.location === undefined) this.contexts.synchronous++;
      else this.contexts.opened++;
      this.o.onBytesOut?.(size);
      own = false;
      if (op.location === undefined || this.o.overlapResults === false) {
        await this.collect(c, op, res, size);
        return;
      }
      const prev = this.resultsTail;
      // From the next turn of the event loop: the next chunk's POST goes out first. The result page is usually
      // buffered already; read at once, its chunks resolve one promise after another without yielding to the event
      // loop, and the POST's first bytes (written from a later turn) waited ~4 ms per chunk behind the scanner, with
      // the target idle meanwhile (docs/decisions/0029). Not for a synchronous answer: nothing goes out before it is
      // read, and there the extra turn only made the engine wait.
      this.resultsTail = prev.then(nextTurn).then(() => this.collect(c, op, res, size)).catch((e: unknown) => {
        this.failure ??= e;
        // Unread (an earlier failure) or already read: either way nobody reads it any more.
        discardBody(res);
        return this.release(op);
      });
      await prev;
      this.throwIfFailed();
    } finally {
      if (own) await c.body.release();
    }
  }

  /** Reads one chunk's result feed to the end, counts it, and lets its context and body go. */
  private async collect(c: SpooledChunk, op: AsyncOperation, res: HttpResponse, size: number): Promise<void> {
    let read;
    try {
      this.throwIfFailed();
      read = await readResults(res, () => op.again(), {
        client: this.o.target,
        chunk: c.n,
        label: c.label,
        posted: c.entries,
        postedIds: (from, max) => postedAtomIds(c.body, c.label, from, max, this.o.maxEntryBytes),
        context: op.location,
        contexts: this.o.contexts,
        ...(this.o.onResult ? { onResult: (e: ResultEntry) => this.o.onResult!(c.n, (c.first ?? 0) + e.index, e) } : {}),
        signal: this.o.signal,
        limits: this.o.limits,
        maxEntryBytes: this.o.maxEntryBytes,
        ...(this.o.onResultBytes ? { onBytes: this.o.onResultBytes } : {}),
        ...(this.o.results || this.o.onResultPage ? {
          spoolPage: (p: number) => `${this.o.resultDir ?? '.'}/${c.label.replace(/[^\w.-]+/g, '_')}.result-${p}.xml`,
          onPageFile: (file: string, tail: ResultTail) => this.resultPage(file, tail),
          copies: this.o.onResultPage !== undefined,
        } : {}),
      });
    } catch (e) {
      // Unread if the pass failed before this chunk's turn (a synchronous answer is collected at once).
      discardBody(res);
      await this.release(op);
      throw e;
    } finally {
      await c.body.release();
    }
    // The DELETE need not hold up anything: it runs alongside what follows and settle() waits for it.
    this.releaseLater(op);
    this.outcomes.merge(read.outcomes);
    this.chunks++;
    this.entries += read.entries;
    this.o.onChunkDone?.();
    if (this.o.log.enabled('debug')) {
      const k = read.outcomes.counts;
      this.o.log.debug(`${c.label}: ${read.entries} entries, ${size} bytes, ${op.location ? `${op.polls} poll(s)` : 'synchronous'}, ` +
        `${read.pages} result page(s): ${k.created} created, ${k.updated} updated, ${k.deleted} deleted, ${k.ignored} ignored, ` +
        `${k.conflictsTargetWon} conflicts kept by the target, ${k.failed} failed`, { trackingID: op.trackingId, ...(op.location ? { url: op.location } : {}) });
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private releaseLater(op: AsyncOperation): void {
    const p: Promise<void> = this.release(op).finally(() => this.releasing.delete(p));
    this.releasing.add(p);
  }

  /** Waits for the results still being read and the DELETEs still running; rethrows a failure among them. */
  async settle(): Promise<void> {
    await this.resultsTail;
    while (this.releasing.size > 0) await Promise.all([...this.releasing]);
    this.throwIfFailed();
  }

  /** Sends the two halves of a chunk the target refused as too large (X13); the chunk's own body is let go first. */
  private async split(c: SpooledChunk): Promise<void> {
    let parts;
    try {
      parts = await splitChunk(c.body, c.label.replace(/[^\w.-]+/g, '_'), this.o.bodies, this.o.maxEntryBytes, this.o.limits);
    } finally {
      await c.body.release();
    }
    if (!parts) {
      throw new SdataError('SDATA_E_TARGET_REJECTED',
        `${c.label}: the target refuses it as too large (413) and it holds a single entry, which cannot be split; raise the target's body limit (nothing of this chunk was applied; no later chunk was sent)`,
        { status: 413 });
    }
    this.splits++;
    this.o.log.info(`${c.label} (${parts[0].entries + parts[1].entries} entries) too large for the target (413): split into ${parts[0].entries} + ${parts[1].entries}`);
    // Each half is the sender's once sent (see send); the second only if the first went through.
    try {
      await this.send({ n: c.n, body: parts[0].body, final: false, entries: parts[0].entries, label: `${c.label}.a`, first: c.first ?? 0 });
    } catch (e) {
      await parts[1].body.release();
      throw e;
    }
    await this.send({ n: c.n, body: parts[1].body, final: parts[1].final, entries: parts[1].entries, label: `${c.label}.b`, first: (c.first ?? 0) + parts[0].entries });
  }

  private rejected(c: SpooledChunk, e: unknown): unknown {
    if (e instanceof HttpStatusError && e.code === 'SDATA_E_STORE_FULL') {
      return new SdataError('SDATA_E_STORE_FULL', `the target's disk is full: it could not store ${c.label}${c.entries === undefined ? '' : ` (${c.entries} entries)`} and no later chunk was sent: ${e.message}`,
        { status: e.status, url: e.details.url, cause: e });
    }
    if (e instanceof HttpStatusError && e.code === 'SDATA_E_NETWORK') {
      // Unavailable (429/502/503/504) through every retry: not a refusal of the chunk, which was never applied.
      return new SdataError('SDATA_E_NETWORK', `the target did not take ${c.label}${c.entries === undefined ? '' : ` (${c.entries} entries)`}: ${e.message}`, { status: e.status, url: e.details.url, cause: e });
    }
    if (e instanceof HttpStatusError) {
      return new SdataError('SDATA_E_TARGET_REJECTED', `target refused ${c.label}${c.entries === undefined ? '' : ` (${c.entries} entries)`}: ${e.message}`, { status: e.status, url: e.details.url, cause: e });
    }
    return e;
  }

  private async resultPage(file: string, tail: ResultTail): Promise<void> {
    try {
      if (this.o.onResultPage) await this.o.onResultPage(file, tail);
      if (this.o.results) await this.postResults(file, this.o.results);
    } finally {
      await rm(file, { force: true });
    }
  }

  /** Logging the results at the source is a courtesy (5.7): a failure is a warning, never the end of the pass. */
  private async postResults(file: string, r: { client: HttpClient; url: string }): Promise<void> {
    try {
      const size = (await stat(file)).size;
      // No trackingID on $syncResults (5.7): repeat only what certainly never arrived.
      const res = await r.client.request({
        method: 'POST', url: r.url, retry: 'unsent', uninterruptible: true,
        headers: { 'content-type': FEED_TYPE, 'content-length': String(size) },
        body: () => createReadStream(file, { highWaterMark: 256 * 1024 }),
      });
      if (res.statusCode < 200 || res.statusCode >= 300) {
        const err = await statusError('POST', res, '$syncResults');
        this.o.log.warn(`could not log results at the source: ${err.message}`);
      } else await res.body.dump();
    } catch (e) {
      if (e instanceof SdataError && e.code === 'SDATA_E_ABORTED') throw e;
      this.o.log.warn(`could not log results at the source ${redactUrl(r.url)}: ${(e as Error).message}`);
    }
  }

  private async release(op: AsyncOperation): Promise<void> {
    if (!this.live.has(op)) return;
    this.live.delete(op);
    if (op.location === undefined) return;
    const r = await op.delete();
    if (r === 'deleted') this.contexts.deleted++;
    else if (r === 'gone') this.contexts.gone++;
    else if (r === 'unknown' || r === 'failed') {
      this.contexts.failed++;
      this.o.log.warn(`DELETE ${redactUrl(op.location)}: ${r === 'unknown' ? '404, the context was already gone' : 'failed; the next run deletes it (the journal of open contexts), or the target\'s context expiry'}`);
    }
  }

  /** DELETE every context still open (end of pass, failure, cancellation) and wait for every DELETE. */
  async releaseAll(): Promise<void> {
    await this.resultsTail;
    await Promise.all([...this.live].map((op) => this.release(op)));
    while (this.releasing.size > 0) await Promise.all([...this.releasing]);
  }
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
