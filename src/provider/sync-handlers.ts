import { randomUUID } from 'node:crypto';
import { serializeDigestEntry, type Digest } from '../protocol/digest.ts';
import { SdataError } from '../protocol/errors.ts';
import { FeedReader } from '../xml/feed-reader.ts';
import type { FeedHandler } from '../xml/feed-types.ts';
import { feedClose, feedOpen } from '../xml/feed-writer.ts';
import { parseDigestDocument } from '../xml/digest-document.ts';
import { TextSink } from '../xml/text-sink.ts';
import type { ContextRow, ContextType } from './contexts.ts';
import { checkTracking, type Call } from './core.ts';
import { ATOM_ENTRY, ATOM_FEED, bodyChunks, drain, HttpProblem, methodNotAllowed, readBody, sendText, sendTracking } from './http-io.ts';
import { contextSelector, queryParam } from './routes.ts';
import { decodeCursor, selectRanges, snapshotDigest, START, writeSourcePage, type Selection } from './source.ts';
import { readResults, ResultRenderer } from './results.ts';
import { TargetApplier } from './target.ts';

/** `$syncDigest`, `$syncSource`, `$syncTarget`, `$syncResults` (spec 4.1, 5.1–5.8). */

const utf8 = new TextDecoder('utf-8', { fatal: true });

function bodyText(buf: Buffer, where: string): string {
  try {
    return utf8.decode(buf);
  } catch {
    throw new SdataError('SDATA_E_ENCODING', `${where}: the body is not valid UTF-8`);
  }
}

function intParam(url: URL, name: string, min: number, max: number, dflt: number): number {
  const v = url.searchParams.get(name);
  if (v === null) return dflt;
  const n = Number(v);
  // Core 2.11: parameters a provider cannot use are ignored, not refused.
  return Number.isSafeInteger(n) && n >= min ? Math.min(n, max) : dflt;
}

export function contextUrl(c: Call, op: string, row: ContextRow): string {
  return `${c.collection}/${op}${contextSelector(row.trackingRaw)}`;
}

// -----------------------------------------------------------------------------------------------------------------
// $syncDigest (A3: GET; PUT replaces, POST is a synonym)

export async function handleDigest(c: Call): Promise<void> {
  const { store } = c.core;
  const self = `${c.collection}/$syncDigest`;
  if (c.method === 'GET') {
    sendText(c.res, 200, serializeDigestEntry(store.digest(c.kind), self), ATOM_ENTRY);
    return;
  }
  if (c.method === 'PUT' || c.method === 'POST') {
    const text = bodyText(await readBody(c.req, c.core.maxBodyBytes), c.url.pathname);
    const d = parseDigestDocument(text, c.url.pathname);
    store.replaceDigest(c.kind, d);
    sendText(c.res, 200, serializeDigestEntry(store.digest(c.kind), self), ATOM_ENTRY);
    return;
  }
  throw methodNotAllowed(c.method, c.url.pathname, 'GET, PUT, POST');
}

// -----------------------------------------------------------------------------------------------------------------
// Shared context plumbing

function findContext(c: Call, type: ContextType, id: string): ContextRow {
  const row = c.core.contexts.find(c.kind.id, type, id);
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

export function deleteContext(c: Call, type: ContextType, id: string): void {
  const row = findContext(c, type, id);
  c.core.contexts.markDeleted(row);
  sendText(c.res, 200, '', 'text/plain');
}

function storedError(row: ContextRow): string {
  try {
    return (JSON.parse(row.info) as { error?: string }).error ?? 'the operation failed';
  } catch {
    return 'the operation failed';
  }
}

// -----------------------------------------------------------------------------------------------------------------
// $syncSource

interface SourceInfo {
  runName?: string;
  runStamp?: string;
  selection?: Selection;
}

export async function handleSource(c: Call, context: string | undefined): Promise<void> {
  if (context !== undefined) {
    if (c.method === 'GET') return getSourcePage(c, context);
    if (c.method === 'DELETE') return deleteContext(c, 'source', context);
    throw methodNotAllowed(c.method, c.url.pathname, 'GET, DELETE');
  }
  if (c.method !== 'POST') throw methodNotAllowed(c.method, c.url.pathname, 'POST');
  const { contexts } = c.core;
  const text = bodyText(await readBody(c.req, c.core.maxBodyBytes), c.url.pathname);
  const target = parseDigestDocument(text, c.url.pathname);
  const info: SourceInfo = {};
  const runName = queryParam(c.url, 'runName');
  const runStamp = queryParam(c.url, 'runStamp');
  if (runName !== undefined) info.runName = runName;
  if (runStamp !== undefined) info.runStamp = runStamp;
  const trackingRaw = queryParam(c.url, 'trackingID');
  if (trackingRaw === undefined) {
    // Core 11.5: no trackingID, a synchronous answer: page 1 now. Its context still holds the selection for `next`.
    const row = contexts.create(c.kind.id, 'source', randomUUID(), 'selecting', JSON.stringify(info));
    select(c, row, target, info);
    return getSourcePage(c, row.trackingRaw);
  }
  const tracking = checkTracking(trackingRaw);
  const had = contexts.find(c.kind.id, 'source', tracking);
  if (had) {
    // A retried POST (11.6, 13.5): the same context, never a second selection.
    if (had.status === 'deleted') throw new HttpProblem(410, `${c.url.pathname}: the context of trackingID ${tracking} was deleted`);
    reply202(c, contextUrl(c, '$syncSource', had), had, had.status === 'selecting' ? 'Selecting' : 'Ready', 'repeated POST: same context');
    return;
  }
  const row = contexts.create(c.kind.id, 'source', tracking, 'selecting', JSON.stringify(info));
  const run = (): void => {
    try {
      if (c.core.store.isOpen) select(c, row, target, info);
    } catch (e) {
      if (c.core.store.isOpen) contexts.update(row, 'failed', 0, JSON.stringify({ error: (e as Error).message }));
    }
  };
  if (c.core.selectDelayMs > 0) setTimeout(run, c.core.selectDelayMs).unref();
  else setImmediate(run);
  reply202(c, contextUrl(c, '$syncSource', row), row, 'Selecting', 'comparing digests');
}

/** Brief §3.2: snapshot of the source digest, per-endpoint tick ranges, total count. */
function select(c: Call, row: ContextRow, target: Digest, info: SourceInfo): void {
  const { store, contexts, queries } = c.core;
  const now = contexts.find(c.kind.id, 'source', row.tracking);
  if (!now || now.status !== 'selecting') return; // deleted (or expired) meanwhile
  const snapshot = snapshotDigest(store, c.kind);
  const ranges = selectRanges(store, c.kind, snapshot, target);
  const total = queries.count(c.kind.id, ranges);
  info.selection = { digest: snapshot, ranges, total };
  contexts.update(row, 'ready', total, JSON.stringify(info));
}

async function getSourcePage(c: Call, id: string): Promise<void> {
  const { core } = c;
  const row = findContext(c, 'source', id);
  const url = contextUrl(c, '$syncSource', row);
  if (row.status === 'selecting') return reply202(c, url, row, 'Selecting', 'comparing digests');
  if (row.status === 'failed') throw new HttpProblem(500, `${c.url.pathname}: ${storedError(row)}`);
  const info = JSON.parse(row.info) as SourceInfo;
  const selection = info.selection!;
  const afterParam = c.url.searchParams.get('after');
  const after = decodeCursor(afterParam);
  if (afterParam !== null && after === undefined) throw new HttpProblem(400, `${c.url.pathname}: 'after=${afterParam}' is not a page cursor of this provider (use the next links as given)`, 'BadQueryParameter');
  const count = intParam(c.url, 'count', 1, core.maxPageSize, core.pageSize);
  const startIndex = after === undefined ? 1 : intParam(c.url, 'startIndex', 1, Number.MAX_SAFE_INTEGER, 1);
  core.contexts.touch(row);
  c.res.writeHead(200, { 'content-type': ATOM_FEED });
  const sink = new TextSink(c.res);
  await writeSourcePage({
    store: core.store, kind: c.kind, queries: core.queries, selection, contextUrl: url,
    title: `${c.kind.name} synchronization feed ${row.trackingRaw}`, after: after ?? START, startIndex, count, sink,
  });
  await sink.end();
}

// -----------------------------------------------------------------------------------------------------------------
// $syncTarget and $batch: a body applied as it streams in, results to `result_rows`

export interface AppliedBody {
  entries: number;
  info: string;
}

/** What applyStream drives: a FeedHandler with per-transaction hooks (see target.ts). */
export interface TxHandler extends FeedHandler {
  tick(): void;
  flush(): void;
  discard(): void;
}

/** Applies a streamed body with `handler`, one store transaction per ~TX_BYTES of body (see target.ts). */
export async function applyStream(c: Call, row: ContextRow, handler: TxHandler, requireSyncHead: boolean): Promise<void> {
  const { store, contexts } = c.core;
  const reader = new FeedReader(handler, { source: `${c.method} ${c.url.pathname}`, maxEntryBytes: c.core.maxEntryBytes, requireSyncHead });
  let touched = Date.now();
  // Chunks are applied in groups of about TX_BYTES: each COMMIT rewrites the pages it dirtied (hot index and
  // result pages again and again), so per-chunk transactions cost more; but a group whose dirty pages outgrow the
  // page cache spills them mid-transaction (1 MiB groups: 18k entries/s at 1M; 256 KiB: 21-23k without background
  // checkpoints). Memory stays bounded by the group.
  let group: Buffer[] = [];
  let groupBytes = 0;
  const run = (last: boolean): void => {
    const g = group;
    group = [];
    groupBytes = 0;
    try {
      store.tx(() => {
        handler.tick();
        for (const chunk of g) reader.push(chunk);
        if (last) reader.end();
        handler.flush();
      });
    } catch (e) {
      handler.discard();
      throw e;
    }
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

/** Body bytes applied per transaction. */
const TX_BYTES = 256 * 1024;

export type BodyWork = (row: ContextRow) => Promise<AppliedBody>;

/**
 * The asynchronous-POST lifecycle shared by $syncTarget and $batch. With a trackingID: the body is applied once
 * (a repeated POST drains its body and gets the same context), then 202 + Location; GET serves the results.
 * Without one: applied, then the whole result feed in the 200 response, and the context is gone.
 */
export async function postApplying(c: Call, type: 'target' | 'batch', op: string, work: BodyWork): Promise<void> {
  const { contexts } = c.core;
  const trackingRaw = queryParam(c.url, 'trackingID');
  const declared = Number(c.req.headers['content-length']);
  if (Number.isFinite(declared) && declared > c.core.maxBodyBytes) {
    throw new HttpProblem(413, `request body of ${declared} bytes exceeds this provider's limit of ${c.core.maxBodyBytes} bytes (--max-body)`, 'ApplicationDiagnosis', { connection: 'close' });
  }
  if (trackingRaw === undefined) {
    const row = contexts.create(c.kind.id, type, randomUUID(), 'applying');
    try {
      const r = await work(row);
      contexts.update(row, 'done', r.entries, r.info);
      await serveResults(c, row, `${c.collection}/${op}`, 1, Math.max(1, r.entries), true);
    } finally {
      contexts.purge(row.id);
    }
    return;
  }
  const tracking = checkTracking(trackingRaw);
  let row = contexts.find(c.kind.id, type, tracking);
  if (row && row.status !== 'incomplete') {
    await drain(c.req);
    if (row.status === 'deleted') throw new HttpProblem(410, `${c.url.pathname}: the context of trackingID ${tracking} was deleted`);
    reply202(c, contextUrl(c, op, row), row, row.status === 'applying' ? 'Applying' : 'Complete', 'repeated POST: same context, body not applied again');
    return;
  }
  if (row) {
    // The first attempt's body broke off: what it applied stays applied (and R1 makes it a no-op now); redo it all.
    contexts.clearData(row.id);
    contexts.update(row, 'applying', 0, '{}');
  } else {
    row = contexts.create(c.kind.id, type, tracking, 'applying');
  }
  let r: AppliedBody;
  try {
    r = await work(row);
  } catch (e) {
    if (!c.req.complete && !(e instanceof HttpProblem) && !(e instanceof SdataError)) {
      contexts.update(row, 'incomplete', 0, JSON.stringify({ error: 'the request body broke off; POST it again with the same trackingID' }));
    } else {
      contexts.purge(row.id);
    }
    throw e;
  }
  contexts.update(row, 'done', r.entries, r.info);
  contexts.countApplied(tracking);
  reply202(c, contextUrl(c, op, row), row, 'Complete', `${r.entries} entries processed`);
}

export async function getApplied(c: Call, type: 'target' | 'batch', op: string, id: string): Promise<void> {
  const row = findContext(c, type, id);
  const url = contextUrl(c, op, row);
  if (row.status === 'applying') return reply202(c, url, row, 'Applying', 'receiving the request body');
  if (row.status === 'incomplete' || row.status === 'failed') throw new HttpProblem(500, `${c.url.pathname}: ${storedError(row)}`);
  c.core.contexts.touch(row);
  const startIndex = intParam(c.url, 'startIndex', 1, Number.MAX_SAFE_INTEGER, 1);
  const count = intParam(c.url, 'count', 1, c.core.maxPageSize, c.core.pageSize);
  await serveResults(c, row, url, startIndex, count, false);
}

/** A page of a result feed (sequential paging by position; every page but the last is full). */
async function serveResults(c: Call, row: ContextRow, url: string, startIndex: number, count: number, whole: boolean): Promise<void> {
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
  for (const stored of readResults(c.core.store, row.id, startIndex - 1, to)) {
    if (!sink.write(renderer.render(stored))) await sink.drained();
  }
  sink.write(feedClose());
  await sink.end();
}

export async function handleTarget(c: Call, context: string | undefined): Promise<void> {
  if (context !== undefined) {
    if (c.method === 'GET') return getApplied(c, 'target', '$syncTarget', context);
    if (c.method === 'DELETE') return deleteContext(c, 'target', context);
    throw methodNotAllowed(c.method, c.url.pathname, 'GET, DELETE');
  }
  if (c.method !== 'POST') throw methodNotAllowed(c.method, c.url.pathname, 'POST');
  await postApplying(c, 'target', '$syncTarget', async (row) => {
    const applier = new TargetApplier({
      store: c.core.store, kind: c.kind, ctx: row.id, servingCollection: c.collection, source: `POST ${c.url.pathname}`,
    });
    await applyStream(c, row, applier, true);
    return { entries: applier.stats.entries, info: JSON.stringify({ mode: applier.mode, merged: applier.merged, stats: applier.stats }) };
  });
}

// -----------------------------------------------------------------------------------------------------------------
// $syncResults (5.7): the result feed, stored as it streams in

const KEEP_RESULT_FEEDS = 100;

export async function handleResults(c: Call): Promise<void> {
  if (c.method !== 'POST') throw methodNotAllowed(c.method, c.url.pathname, 'POST');
  const { store } = c.core;
  const db = store.db;
  const id = store.tx(() => Number(db.prepare('INSERT INTO sync_results(kind, run_name, run_stamp, received) VALUES(?, ?, ?, ?)')
    .run(c.kind.id, queryParam(c.url, 'runName') ?? null, queryParam(c.url, 'runStamp') ?? null, new Date().toISOString()).lastInsertRowid));
  const ins = db.prepare('INSERT INTO sync_results_chunks(result, seq, data) VALUES(?, ?, ?)');
  let entries = 0;
  let bytes = 0;
  let seq = 0;
  const reader = new FeedReader({ head() {}, entry() { entries++; }, end() {} },
    { source: `POST ${c.url.pathname}`, requireSyncHead: false, maxEntryBytes: c.core.maxEntryBytes });
  try {
    for await (const chunk of bodyChunks(c.req, c.core.maxBodyBytes)) {
      store.tx(() => {
        reader.push(chunk);
        ins.run(id, seq++, chunk);
      });
      bytes += chunk.length;
    }
    reader.end();
  } catch (e) {
    store.tx(() => {
      db.prepare('DELETE FROM sync_results_chunks WHERE result = ?').run(id);
      db.prepare('DELETE FROM sync_results WHERE id = ?').run(id);
    });
    throw e;
  }
  store.tx(() => {
    db.prepare('UPDATE sync_results SET entries = ?, bytes = ?, complete = 1 WHERE id = ?').run(entries, bytes, id);
    const old = db.prepare('SELECT id FROM sync_results WHERE kind = ? ORDER BY id DESC LIMIT -1 OFFSET ?').all(c.kind.id, KEEP_RESULT_FEEDS) as Array<{ id: number }>;
    for (const o of old) {
      db.prepare('DELETE FROM sync_results_chunks WHERE result = ?').run(o.id);
      db.prepare('DELETE FROM sync_results WHERE id = ?').run(o.id);
    }
  });
  sendText(c.res, 200, '', 'text/plain');
}
