import { NS, OUTPUT_ROOT_DECLS } from '../protocol/namespaces.ts';
import { decodeDocument } from '../xml/encoding.ts';
import { FeedReader } from '../xml/feed-reader.ts';
import type { EntryRecord } from '../xml/feed-types.ts';
import { feedClose, feedOpen } from '../xml/feed-writer.ts';
import { TextSink } from '../xml/text-sink.ts';
import { BatchApplier, etagMatches } from './batch.ts';
import type { Call } from './core.ts';
import { storedFragment } from './fragment.ts';
import { ATOM_ENTRY, ATOM_FEED, HttpProblem, methodNotAllowed, readBody, sendText } from './http-io.ts';
import { LocalOps, newUuid, resourceEntryXml } from './local.ts';
import type { ResourceRow } from './store.ts';
import { applyStream, deleteContext, getApplied, postApplying } from './sync-handlers.ts';

/** Plain SData access for seeding and inspection: the collection, single resources, and the core $batch. */

function ops(c: Call): LocalOps {
  let o = c.core.ops.get(c.kind.id);
  if (!o) c.core.ops.set(c.kind.id, (o = new LocalOps(c.core.store, c.kind)));
  return o;
}

/**
 * One Atom entry from a request body. The body goes through the same streaming reader as feeds, inside a
 * synthetic feed element whose prefix binds nothing the body could inherit (positions on line 1 shift by its length).
 */
export function parseSingleEntry(buf: Buffer, source: string, maxEntryBytes: number): EntryRecord {
  const text = decodeDocument(buf, source).replace(/^\s*<\?xml[^?]*\?>/, '');
  const recs: EntryRecord[] = [];
  const r = new FeedReader({ head() {}, entry(e) { recs.push(e); }, end() {} }, { source, requireSyncHead: false, maxEntryBytes });
  r.pushText(`<sdataSyncWrap:feed xmlns:sdataSyncWrap="${NS.atom}">`);
  r.pushText(text);
  r.pushText('</sdataSyncWrap:feed>');
  r.end();
  if (recs.length !== 1) throw new HttpProblem(400, `${source}: expected one atom:entry as the body, found ${recs.length}`);
  const rec = recs[0]!;
  if (rec.text === undefined) throw new HttpProblem(413, `${source}: ${rec.invalid}`);
  return rec;
}

function entryDocument(c: Call, row: ResourceRow, etag: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<entry${OUTPUT_ROOT_DECLS}>` +
    resourceEntryXml(c.core.store, c.kind, row, c.collection, etag).replace(/^<entry>/, '');
}

function sendEntry(c: Call, status: number, row: ResourceRow, extra: Record<string, string> = {}): void {
  const etag = ops(c).etag(row);
  sendText(c.res, status, entryDocument(c, row, etag), ATOM_ENTRY, { etag, ...extra });
}

export async function handleCollection(c: Call): Promise<void> {
  if (c.method === 'GET') return listCollection(c);
  if (c.method !== 'POST') throw methodNotAllowed(c.method, c.url.pathname, 'GET, POST');
  const rec = parseSingleEntry(await readBody(c.req, c.core.maxBodyBytes), `POST ${c.url.pathname}`, c.core.maxEntryBytes);
  const uuid = rec.uuid ?? newUuid();
  const f = storedFragment(rec, uuid);
  if (f === undefined) throw new HttpProblem(400, `POST ${c.url.pathname}: sdata:payload has no resource element`);
  const { row } = ops(c).create(f, uuid);
  sendEntry(c, 201, row, { location: `${c.collection}('${row.id}')` });
}

async function listCollection(c: Call): Promise<void> {
  const { store } = c.core;
  const k = c.kind.id;
  const db = store.db;
  const countParam = Number(c.url.searchParams.get('count'));
  const count = Number.isSafeInteger(countParam) && countParam >= 1 ? Math.min(countParam, c.core.maxPageSize) : c.core.pageSize;
  const afterParam = Number(c.url.searchParams.get('after'));
  const after = Number.isSafeInteger(afterParam) && afterParam > 0 ? afterParam : 0;
  const startParam = Number(c.url.searchParams.get('startIndex'));
  const startIndex = after > 0 && Number.isSafeInteger(startParam) && startParam >= 1 ? startParam : 1;
  const nth = db.prepare('SELECT id FROM resources NOT INDEXED WHERE kind = ? AND deleted = 0 AND id > ? ORDER BY id LIMIT 1 OFFSET ?').get(k, after, count - 1) as { id: number } | undefined;
  const end = nth?.id ?? Number.MAX_SAFE_INTEGER;
  const more = nth !== undefined && db.prepare('SELECT 1 AS x FROM resources NOT INDEXED WHERE kind = ? AND deleted = 0 AND id > ? LIMIT 1').get(k, end) !== undefined;
  const self = c.collection;
  const links = [{ rel: 'self', href: self }, { rel: 'first', href: self }];
  if (more) links.push({ rel: 'next', href: `${self}?startIndex=${startIndex + count}&count=${count}&after=${end}` });
  c.res.writeHead(200, { 'content-type': ATOM_FEED });
  const sink = new TextSink(c.res);
  sink.write(feedOpen({ id: c.kind.selfUrl, title: c.kind.name, links, totalResults: store.counts(k).resources, startIndex, itemsPerPage: count }));
  const rows = db.prepare('SELECT id, uuid, deleted, ep, tick, stamp, user, payload FROM resources NOT INDEXED WHERE kind = ? AND deleted = 0 AND id > ? AND id <= ? ORDER BY id');
  const o = ops(c);
  let from = after;
  for (;;) {
    let paused = false;
    for (const r of rows.iterate(k, from, end) as Iterable<{ id: number; uuid: string; deleted: number; ep: number; tick: string; stamp: string; user: string | null; payload: string }>) {
      const row: ResourceRow = { id: r.id, uuid: r.uuid, deleted: false, ep: r.ep, tick: r.tick.slice(3), stamp: r.stamp, user: r.user, payload: r.payload };
      sink.write(resourceEntryXml(store, c.kind, row, c.collection, o.etag(row)));
      from = r.id;
      if (sink.needsDrain) {
        paused = true;
        break;
      }
    }
    if (!paused) break;
    await sink.drained();
  }
  sink.write(feedClose());
  await sink.end();
}

export async function handleResource(c: Call, key: string): Promise<void> {
  const o = ops(c);
  const find = (): ResourceRow => {
    const row = /^\d{1,15}$/.test(key) ? c.core.store.byId(c.kind.id, Number(key)) : undefined;
    if (!row) throw new HttpProblem(404, `${c.url.pathname}: no such resource`);
    if (row.deleted) throw new HttpProblem(410, `${c.url.pathname}: this resource was deleted`);
    return row;
  };
  const ifMatch = c.req.headers['if-match'];
  if (c.method === 'GET') return sendEntry(c, 200, find());
  if (c.method === 'PUT') {
    const rec = parseSingleEntry(await readBody(c.req, c.core.maxBodyBytes), `PUT ${c.url.pathname}`, c.core.maxEntryBytes);
    const row = find();
    if (ifMatch === undefined) throw new HttpProblem(400, `PUT ${c.url.pathname}: an If-Match header is required (core 9.3; "*" accepts any version)`);
    const current = o.etag(row);
    if (!etagMatches(ifMatch, current)) {
      sendText(c.res, 412, entryDocument(c, row, current), ATOM_ENTRY, { etag: current });
      return;
    }
    const f = storedFragment(rec, row.uuid);
    if (f === undefined) throw new HttpProblem(400, `PUT ${c.url.pathname}: sdata:payload has no resource element`);
    return sendEntry(c, 200, o.update(row, f));
  }
  if (c.method === 'DELETE') {
    const row = find();
    if (ifMatch !== undefined && !etagMatches(ifMatch, o.etag(row))) {
      throw new HttpProblem(412, `DELETE ${c.url.pathname}: If-Match ${ifMatch} does not match the current version ${o.etag(row)}`, 'ApplicationDiagnosis', { etag: o.etag(row) });
    }
    o.remove(row);
    sendText(c.res, 200, '', 'text/plain');
    return;
  }
  throw methodNotAllowed(c.method, c.url.pathname, 'GET, PUT, DELETE');
}

export async function handleBatch(c: Call, context: string | undefined): Promise<void> {
  if (context !== undefined) {
    if (c.method === 'GET') return getApplied(c, 'batch', '$batch', context);
    if (c.method === 'DELETE') return deleteContext(c, 'batch', context);
    throw methodNotAllowed(c.method, c.url.pathname, 'GET, DELETE');
  }
  if (c.method !== 'POST') throw methodNotAllowed(c.method, c.url.pathname, 'POST');
  await postApplying(c, 'batch', '$batch', async (row) => {
    const b = new BatchApplier(ops(c), row.id, c.collection, `POST ${c.url.pathname}`);
    await applyStream(c, row, b, false);
    return { entries: b.stats.entries, info: JSON.stringify({ stats: b.stats }) };
  });
}
