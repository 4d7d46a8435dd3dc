import { randomUUID } from 'node:crypto';
import { SdataError } from '../../protocol/errors.ts';
import { FeedReader } from '../../xml/feed-reader.ts';
import { ScannedFeedReader } from '../../xml/scanned-feed-reader.ts';
import { feedClose, feedOpen } from '../../xml/feed-writer.ts';
import { TextSink } from '../../xml/text-sink.ts';
import { ATOM_FEED, bodyChunks, drain, HttpProblem, methodNotAllowed, sendText, sendTracking } from '../http/http-io.ts';
import { contextSelector, intParam, queryParam } from '../http/routes.ts';
import { trackingKey, type ContextRow, type ContextStatus, type ContextType } from '../store/contexts.ts';
import type { BodyApplier } from '../sync/body-applier.ts';
import { ResultRenderer } from '../sync/result-entry.ts';
import type { Call } from './call.ts';

/**
 * The asynchronous-operation lifecycle (core 11.5, 11.6, 13.5), one for `$syncSource`, `$syncTarget` and `$batch`:
 *
 * - POST with a trackingID: a context named by it, `202` + `Location: …/{op}('{trackingID}')` + `sdata:tracking`.
 *   A repeated POST with the same trackingID (any case of the parameter name, docs/protocol.md A1) answers for the same context and
 *   never does the work twice (`410` if that context was deleted).
 * - GET `{op}('{id}')`: `202` while the work runs, then the operation's feed, paged; `500` with the stored error if
 *   it failed or its body broke off; `410` if the work was interrupted (the provider restarted while it ran).
 * - DELETE `{op}('{id}')`: `200`; then `410` until the marker expires, then `404`.
 * - POST without a trackingID: the work is done before answering, and the `200` response carries the feed.
 * - A context belongs to the principal that created it (`Call.principal`, http/auth.ts): to any other, it does not
 *   exist (GET and DELETE `404`), and the same trackingID names another context of that principal's own.
 *
 * The operations differ in when their work runs: a source selection after the `202` (startInBackground), a posted
 * body while it streams in, before the `202` (applyBody).
 */

/** One kind of asynchronous operation. */
export interface AsyncOp {
  type: ContextType;
  /** Its URL segment: `$syncSource`, `$syncTarget`, `$batch`. */
  op: string;
  /** The status while its work runs, and how tracking payloads name that phase. */
  busy: { status: ContextStatus; phase: string; detail: string };
  /** How tracking payloads name the phase after the work. */
  donePhase: string;
  /** Serves a GET of a context whose work is done (touched just before). */
  serve(c: Call, row: ContextRow, url: string): Promise<void>;
}

/** `{kind}/{op}` and `{kind}/{op}('{id}')`: POST starts an operation; GET and DELETE address its context. */
export async function handleAsync(c: Call, context: string | undefined, op: AsyncOp, post: () => Promise<void>): Promise<void> {
  if (context !== undefined) {
    if (c.method === 'GET') return getContext(c, op, context);
    if (c.method === 'DELETE') return deleteContext(c, op, context);
    throw methodNotAllowed(c.method, c.url.pathname, 'GET, DELETE');
  }
  if (c.method !== 'POST') throw methodNotAllowed(c.method, c.url.pathname, 'POST');
  return post();
}

const TRACKING = /^[A-Za-z0-9._~:{}-]{1,200}$/;

/** A consumer's trackingID, checked: it becomes part of a URL. */
export function checkTracking(t: string): string {
  const v = t.trim();
  if (!TRACKING.test(v)) throw new HttpProblem(400, `trackingID '${t.slice(0, 60)}' is not usable: expected a UUID (letters, digits, - . _ ~ : { }; at most 200)`, 'BadQueryParameter');
  return v;
}

export function contextUrl(c: Call, op: AsyncOp, row: ContextRow): string {
  return `${c.collection}/${op.op}${contextSelector(row.trackingRaw)}`;
}

function findContext(c: Call, type: ContextType, id: string): ContextRow {
  const row = c.core.contexts.find(c.kind.id, type, c.principal, id);
  if (!row) throw new HttpProblem(404, `${c.url.pathname}: no such context (never created, or expired after ${Math.round(c.core.contexts.ttlMs / 1000)} s idle)`);
  if (row.status === 'deleted') throw new HttpProblem(410, `${c.url.pathname}: this context was deleted`);
  return row;
}

function reply202(c: Call, location: string, row: ContextRow, phase: string, detail: string): void {
  const elapsed = (Date.now() - row.created) / 1000;
  const done = row.status !== 'selecting' && row.status !== 'applying';
  sendTracking(c.res, location, {
    phase, phaseDetail: detail, progress: done ? 100 : 0, elapsedSeconds: elapsed, pollingMillis: c.core.pollingMillis,
    ...(done ? { remainingSeconds: 0 } : {}),
  });
}

/** A retried POST (11.6, 13.5): the same context, whose work is never done twice. */
function replyRepeated(c: Call, op: AsyncOp, row: ContextRow, tracking: string, detail: string): void {
  if (row.status === 'deleted') throw new HttpProblem(410, `${c.url.pathname}: the context of trackingID ${tracking} was deleted`);
  const busy = c.core.contexts.busy(row);
  reply202(c, contextUrl(c, op, row), row, busy ? op.busy.phase : op.donePhase, detail);
}

function storedError(row: ContextRow): string {
  try {
    return (JSON.parse(row.info) as { error?: string }).error ?? 'the operation failed';
  } catch {
    return 'the operation failed';
  }
}

/** What a consumer can do about an interrupted context, per operation. */
const AGAIN: Record<ContextType, string> = {
  source: 'POST $syncSource again (the same trackingID selects again)',
  target: 'what was committed before stays applied, each entry with its digest update; POST the page again with the same trackingID to apply it all (entries already applied are no-ops, 5.4 R1)',
  batch: 'the entries processed before stay processed; a POST with the same trackingID processes every entry again',
};

/** GET of a context whose work stopped without finishing (Contexts.interrupted): gone for good. */
function interruptedProblem(c: Call, op: AsyncOp, row: ContextRow): HttpProblem {
  const why = row.status === 'interrupted' ? storedError(row) : 'the operation stopped without recording its outcome (the provider could not write to its store: see its log)';
  return new HttpProblem(410, `${c.url.pathname}: ${why}, so it will never finish: ${AGAIN[op.type]}`, 'ApplicationDiagnosis', {}, 'ContextInterrupted');
}

export async function getContext(c: Call, op: AsyncOp, id: string): Promise<void> {
  const row = findContext(c, op.type, id);
  const url = contextUrl(c, op, row);
  if (c.core.contexts.interrupted(row)) throw interruptedProblem(c, op, row);
  if (row.status === op.busy.status) return reply202(c, url, row, op.busy.phase, op.busy.detail);
  if (row.status === 'failed' || row.status === 'incomplete') throw new HttpProblem(500, `${c.url.pathname}: ${storedError(row)}`);
  c.core.contexts.touch(row);
  await op.serve(c, row, url);
}

function deleteContext(c: Call, op: AsyncOp, id: string): void {
  const row = findContext(c, op.type, id);
  c.core.contexts.markDeleted(row);
  sendText(c.res, 200, '', 'text/plain');
}

// -----------------------------------------------------------------------------------------------------------------
// Work after the 202 ($syncSource)

/**
 * Creates the context (`info` is its initial JSON) and runs `work` after answering `202`; the work moves the context
 * out of its busy status, and a failure is stored for GET to report. Without a trackingID, `work` runs now and the
 * answer is the context's first page (the context stays, for the feed's next links).
 */
export async function startInBackground(c: Call, op: AsyncOp, info: string, work: (row: ContextRow) => void): Promise<void> {
  const { contexts, store } = c.core;
  const trackingRaw = queryParam(c.url, 'trackingID');
  if (trackingRaw === undefined) {
    const row = contexts.create(c.kind.id, op.type, c.principal, randomUUID(), op.busy.status, info);
    try {
      work(row);
    } catch (e) {
      contexts.release(row.id);
      throw e;
    }
    return getContext(c, op, row.trackingRaw);
  }
  const tracking = checkTracking(trackingRaw);
  let row = contexts.find(c.kind.id, op.type, c.principal, tracking);
  if (row && !contexts.interrupted(row)) return replyRepeated(c, op, row, tracking, 'repeated POST: same context');
  if (row) {
    // The provider restarted while this context's work ran: it is done again, from this request.
    contexts.clearData(row.id);
    contexts.update(row, op.busy.status, 0, info);
  } else {
    row = contexts.create(c.kind.id, op.type, c.principal, tracking, op.busy.status, info);
  }
  const ctx = row;
  const run = (): void => {
    try {
      if (store.isOpen) work(ctx);
    } catch (e) {
      try {
        if (store.isOpen) contexts.update(ctx, 'failed', 0, JSON.stringify({ error: (e as Error).message }));
      } catch {
        // Not even that could be written (a full disk): the context is no longer live, so GET says it stopped.
      }
    }
  };
  const gate = c.core.selectGate;
  if (gate) void gate().then(run, run);
  else setImmediate(run);
  reply202(c, contextUrl(c, op, ctx), ctx, op.busy.phase, op.busy.detail);
}

// -----------------------------------------------------------------------------------------------------------------
// Work on the request body, before the 202 ($syncTarget, $batch)

export interface AppliedBody {
  entries: number;
  /** The context's JSON once done (mode, statistics). */
  info: string;
}

/**
 * Applies the body with `work`. With a trackingID: once (a repeated POST drains its body and gets the same
 * context; only a POST whose body broke off, or whose processing a restart interrupted, is processed again), then
 * `202`; GET serves the result feed. Without one: the whole result feed in the `200` response, and the context is
 * gone. A request that fails as a whole (a store fault, a malformed body) leaves no context.
 */
export async function applyBody(c: Call, op: AsyncOp, work: (row: ContextRow) => Promise<AppliedBody>): Promise<void> {
  const { contexts } = c.core;
  const trackingRaw = queryParam(c.url, 'trackingID');
  const declared = Number(c.req.headers['content-length']);
  if (Number.isFinite(declared) && declared > c.core.maxBodyBytes) {
    throw new HttpProblem(413, `request body of ${declared} bytes exceeds this provider's limit of ${c.core.maxBodyBytes} bytes (--max-body)`, 'ApplicationDiagnosis', { connection: 'close' });
  }
  if (trackingRaw === undefined) {
    const row = contexts.create(c.kind.id, op.type, c.principal, randomUUID(), op.busy.status);
    try {
      const r = await work(row);
      contexts.update(row, 'done', r.entries, r.info);
      await serveResultFeed(c, row, `${c.collection}/${op.op}`, 1, Math.max(1, r.entries), true);
    } finally {
      contexts.release(row.id);
    }
    return;
  }
  const tracking = checkTracking(trackingRaw);
  let row = contexts.find(c.kind.id, op.type, c.principal, tracking);
  if (row && row.status !== 'incomplete' && !contexts.interrupted(row)) {
    await drain(c.req, c.core.maxBodyBytes);
    return replyRepeated(c, op, row, tracking, 'repeated POST: same context, body not applied again');
  }
  if (row) {
    // The first attempt's body broke off, or the provider restarted while applying it: what it applied stays applied
    // (and R1 makes it a no-op now); redo it all.
    contexts.clearData(row.id);
    contexts.update(row, op.busy.status, 0, '{}');
  } else {
    row = contexts.create(c.kind.id, op.type, c.principal, tracking, op.busy.status);
  }
  let r: AppliedBody;
  try {
    r = await work(row);
  } catch (e) {
    if (!c.req.complete && !(e instanceof HttpProblem) && !(e instanceof SdataError)) {
      try {
        contexts.update(row, 'incomplete', 0, JSON.stringify({ error: 'the request body broke off; POST it again with the same trackingID' }));
      } catch {
        // The store cannot write now: the context is no longer live, which a retried POST treats alike.
      }
    } else {
      contexts.release(row.id);
    }
    throw e;
  }
  contexts.update(row, 'done', r.entries, r.info);
  c.core.applied.count(tracking);
  reply202(c, contextUrl(c, op, row), row, op.donePhase, `${r.entries} entries processed`);
}

/** Body bytes applied per transaction. */
const TX_BYTES = 256 * 1024;

/**
 * Feeds the streamed body to `applier` (`scanned`: through the ScannedFeedReader), one store transaction per ~TX_BYTES of body. A store fault (a full disk, a
 * lock held elsewhere) fails the request as a whole: its transaction rolls back whole, the ones committed before it
 * stay, each entry with its digest update (the state a crash there would leave, which the next pass repairs), and
 * the message says how many entries that is. Answering 200 with a 5xx result for each entry not applied (core
 * 13.4) would need result rows, and failure records that hold the digest back on later pages, written to the store
 * that just failed to write (docs/decisions/0012-store-faults.md).
 */
export async function applyStream(c: Call, row: ContextRow, applier: BodyApplier, requireSyncHead: boolean, scanned = false): Promise<void> {
  const { store, contexts } = c.core;
  const opts = { source: `${c.method} ${c.url.pathname}`, maxEntryBytes: c.core.maxEntryBytes, limits: c.core.limits, requireSyncHead };
  // `scanned`: most of the body is read by a byte scanner, the rest by the FeedReader, with the same records but for
  // http:ifMatch, which only $batch reads (xml/scanned-feed-reader.ts; docs/decisions/0025-target-piece-scanner.md).
  // The scanner's records keep their text as UTF-8 bytes, hand over each resource's bytes, and say whether their
  // child lists need merging: the applier decodes and scans again only where it must (docs/decisions/0029).
  const scanOpts = { ...opts, resourceBytes: true, textBytes: true, listWork: true };
  const reader = scanned ? new ScannedFeedReader(applier, scanOpts) : new FeedReader(applier, opts);
  let touched = Date.now();
  // Chunks are applied in groups of about TX_BYTES: each COMMIT rewrites the pages it dirtied (hot index and
  // result pages again and again), so per-chunk transactions cost more; but a group whose dirty pages outgrow the
  // page cache spills them mid-transaction (1 MiB groups: 18k entries/s at 1M; 256 KiB: 21-23k without background
  // checkpoints). Memory stays bounded by the group.
  let group: Buffer[] = [];
  let groupBytes = 0;
  /** Entries in committed transactions. */
  let committed = 0;
  const run = (last: boolean): void => {
    const g = group;
    group = [];
    groupBytes = 0;
    try {
      store.tx((w) => {
        applier.begin(w);
        for (const chunk of g) reader.push(chunk);
        if (last) reader.end();
        else if (reader instanceof ScannedFeedReader) reader.settle();
        applier.flush();
      });
    } catch (e) {
      applier.discard();
      const fault = store.fault(e);
      if (!fault) throw e;
      const done = committed === 0 ? 'nothing of this request was applied'
        : `its first ${committed === 1 ? 'entry was' : `${committed} entries were`} applied and committed, each with its digest update (as after a crash there: the next pass skips them); none after them was`;
      throw new SdataError(fault.code, `${c.method} ${c.url.pathname}: ${fault.message}; ${done}`, { ...fault.details, cause: fault });
    }
    committed = applier.stats.entries;
  };
  for await (const chunk of bodyChunks(c.req, c.core.maxBodyBytes)) {
    group.push(chunk);
    groupBytes += chunk.length;
    if (groupBytes >= TX_BYTES) run(false);
    if (Date.now() - touched > 1000) {
      contexts.touch(row);
      touched = Date.now();
    }
  }
  run(true);
}

/** GET of a done $syncTarget or $batch context: a page of its result feed (`startIndex`, `count`). */
export function serveResultPage(c: Call, row: ContextRow, url: string): Promise<void> {
  const startIndex = intParam(c.url, 'startIndex', 1, Number.MAX_SAFE_INTEGER, 1);
  const count = intParam(c.url, 'count', 1, c.core.maxPageSize, c.core.pageSize);
  return serveResultFeed(c, row, url, startIndex, count, false);
}

/** A page of a result feed (sequential paging by position; every page but the last is full). */
async function serveResultFeed(c: Call, row: ContextRow, url: string, startIndex: number, count: number, whole: boolean): Promise<void> {
  const total = row.total;
  const links = [{ rel: 'self', href: url }, { rel: 'first', href: url }];
  if (!whole && startIndex - 1 + count < total) links.push({ rel: 'next', href: `${url}?startIndex=${startIndex + count}&count=${count}` });
  c.res.writeHead(200, { 'content-type': ATOM_FEED });
  const sink = new TextSink(c.res);
  sink.write(feedOpen({
    id: url, title: `${c.kind.name} ${row.type === 'batch' ? 'batch' : 'synchronization'} results ${row.trackingRaw}`,
    links, totalResults: total, startIndex, itemsPerPage: whole ? total : count,
  }));
  const to = whole ? total : Math.min(total, startIndex - 1 + count);
  const renderer = new ResultRenderer({ store: c.core.store, kind: c.kind, serving: c.collection, updated: new Date().toISOString() });
  for (const stored of c.core.store.results.read(row.id, startIndex - 1, to)) {
    if (!sink.write(renderer.render(stored))) await sink.drained();
  }
  sink.write(feedClose());
  await sink.end();
}

// -----------------------------------------------------------------------------------------------------------------

/**
 * How many times a $syncTarget/$batch body carrying a trackingID was applied, per trackingID (lower case), for
 * $health: tests and operators check that a retried POST was not applied twice. Only the MAX_TRACKED most recently
 * applied trackingIDs are kept, so a long-running server does not grow with the number of POSTs it has served.
 */
export class AppliedCounts {
  readonly #counts = new Map<string, number>();

  count(tracking: string): void {
    const k = trackingKey(tracking);
    const n = (this.#counts.get(k) ?? 0) + 1;
    // Re-inserted, so that the Map's order is least recently applied first.
    this.#counts.delete(k);
    this.#counts.set(k, n);
    if (this.#counts.size > MAX_TRACKED) this.#counts.delete(this.#counts.keys().next().value!);
  }

  get size(): number {
    return this.#counts.size;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}

const MAX_TRACKED = 1000;
