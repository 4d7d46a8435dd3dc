import { decodeDocument } from '../../xml/encoding.ts';
import { NS, OUTPUT_ROOT_DECLS } from '../../protocol/namespaces.ts';
import { FeedReader } from '../../xml/feed-reader.ts';
import type { EntryRecord } from '../../xml/feed-types.ts';
import type { XmlLimits } from '../../xml/limits.ts';
import { feedClose, feedOpen } from '../../xml/feed-writer.ts';
import { TextSink } from '../../xml/text-sink.ts';
import { ATOM_ENTRY, ATOM_FEED, HttpProblem, methodNotAllowed, readBody, sendText } from '../http/http-io.ts';
import { intParam } from '../http/routes.ts';
import { storedFragment } from '../payload/fragment.ts';
import type { ResourceRow } from '../store/repositories.ts';
import { etagHeader, etagMatches } from '../sync/etag.ts';
import { LocalOps, newUuid } from '../sync/local-edits.ts';
import { resourceEntryXml } from '../sync/resource-entry.ts';
import { streamRows } from '../sync/stream-rows.ts';
import type { Call } from './call.ts';

/**
 * Plain SData access (core 9): `{kind}` (GET lists live resources, POST creates) and `{kind}('{key}')` (GET, PUT with
 * If-Match and a property merge, DELETE). Every change is a local edit (sync/local-edits.ts).
 */

/** The kind's local edits (one per kind and provider). */
export function localOps(c: Call): LocalOps {
  let o = c.core.ops.get(c.kind.id);
  if (!o) c.core.ops.set(c.kind.id, (o = new LocalOps(c.core.store, c.kind)));
  return o;
}

/**
 * One Atom entry from a request body. The body goes through the same streaming reader as feeds, inside a
 * synthetic feed element whose prefix binds nothing the body could inherit (positions on line 1 shift by its length).
 */
export function parseSingleEntry(buf: Buffer, source: string, maxEntryBytes: number, limits: XmlLimits): EntryRecord {
  const text = decodeDocument(buf, source).replace(/^\s*<\?xml[^?]*\?>/, '');
  const recs: EntryRecord[] = [];
  const r = new FeedReader({ head() {}, entry(e) { recs.push(e); }, end() {} }, { source, requireSyncHead: false, maxEntryBytes, limits });
  r.pushText(`<sdataSyncWrap:feed xmlns:sdataSyncWrap="${NS.atom}">`);
  r.pushText(text);
  r.pushText('</sdataSyncWrap:feed>');
  r.end();
  if (recs.length !== 1) throw new HttpProblem(400, `${source}: expected one atom:entry as the body, found ${recs.length}`);
  const rec = recs[0]!;
  if (rec.text === undefined) throw new HttpProblem(413, `${source}: ${rec.invalid}`);
  return rec;
}

/** Room for an XML declaration and white space around the one entry of a body. */
const ENTRY_BODY_SLACK = 64 * 1024;

/** A one-entry body, whole: read only up to what an entry may be (the entry cap), or 413. */
function readEntryBody(c: Call): Promise<Buffer> {
  const limit = Math.min(c.core.maxBodyBytes, c.core.maxEntryBytes + ENTRY_BODY_SLACK);
  return readBody(c.req, limit, limit === c.core.maxBodyBytes ? '--max-body' : `one entry: --max-entry-bytes ${c.core.maxEntryBytes}`);
}

function entryDocument(c: Call, row: ResourceRow, etag: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<entry${OUTPUT_ROOT_DECLS}>` +
    resourceEntryXml(c.core.store, c.kind, row, c.collection, etag).replace(/^<entry>/, '');
}

function sendEntry(c: Call, status: number, row: ResourceRow, extra: Record<string, string> = {}): void {
  const etag = localOps(c).etag(row);
  sendText(c.res, status, entryDocument(c, row, etag), ATOM_ENTRY, { etag: etagHeader(etag), ...extra });
}

export async function handleCollection(c: Call): Promise<void> {
  if (c.method === 'GET') return listCollection(c);
  if (c.method !== 'POST') throw methodNotAllowed(c.method, c.url.pathname, 'GET, POST');
  const rec = parseSingleEntry(await readEntryBody(c), `POST ${c.url.pathname}`, c.core.maxEntryBytes, c.core.limits);
  // Without a uuid the resource has no link yet (spec 1.2): it gets one from $linked, or when sync first sends it.
  const f = storedFragment(rec, rec.uuid);
  if (f === undefined) throw new HttpProblem(400, `POST ${c.url.pathname}: sdata:payload has no resource element`);
  const { row } = localOps(c).create(f, rec.uuid ?? newUuid(), rec.uuid !== undefined);
  sendEntry(c, 201, row, { location: `${c.collection}('${row.id}')` });
}

async function listCollection(c: Call): Promise<void> {
  const { store } = c.core;
  const k = c.kind.id;
  const count = intParam(c.url, 'count', 1, c.core.maxPageSize, c.core.pageSize);
  const startIndex = intParam(c.url, 'startIndex', 1, Number.MAX_SAFE_INTEGER, 1);
  // Our next links carry the last key served (`after`); indexed paging (core 6.4) finds the key before the page's
  // first row by walking startIndex - 1 live rows (a plain listing over live data: positions move as rows come and go).
  const afterParam = intParam(c.url, 'after', 1, Number.MAX_SAFE_INTEGER, 0);
  const after = afterParam > 0 || startIndex === 1 ? afterParam : store.listing.page(k, 0, startIndex - 1).end;
  const { end, more } = store.listing.page(k, after, count);
  const self = c.collection;
  const links = [{ rel: 'self', href: self }, { rel: 'first', href: self }];
  if (more) links.push({ rel: 'next', href: `${self}?startIndex=${startIndex + count}&count=${count}&after=${end}` });
  c.res.writeHead(200, { 'content-type': ATOM_FEED });
  const sink = new TextSink(c.res);
  sink.write(feedOpen({ id: c.kind.selfUrl, title: c.kind.name, links, totalResults: store.admin.counts(k).resources, startIndex, itemsPerPage: count }));
  const o = localOps(c);
  let from = after;
  await streamRows(sink, () => store.listing.rows(k, from, end), (row) => {
    sink.write(resourceEntryXml(store, c.kind, row, c.collection, o.etag(row)));
    from = row.id;
  });
  sink.write(feedClose());
  await sink.end();
}

export async function handleResource(c: Call, key: string): Promise<void> {
  const o = localOps(c);
  const find = (): ResourceRow => {
    const row = /^\d{1,15}$/.test(key) ? c.core.store.resources.byId(c.kind.id, Number(key)) : undefined;
    if (!row) throw new HttpProblem(404, `${c.url.pathname}: no such resource`);
    if (row.deleted) throw new HttpProblem(410, `${c.url.pathname}: this resource was deleted`);
    return row;
  };
  const ifMatch = c.req.headers['if-match'];
  if (c.method === 'GET') return sendEntry(c, 200, find());
  if (c.method === 'PUT') {
    const rec = parseSingleEntry(await readEntryBody(c), `PUT ${c.url.pathname}`, c.core.maxEntryBytes, c.core.limits);
    const row = find();
    if (ifMatch === undefined) throw new HttpProblem(400, `PUT ${c.url.pathname}: an If-Match header is required (core 9.3; "*" accepts any version)`);
    const current = o.etag(row);
    if (!etagMatches(ifMatch, current)) {
      sendText(c.res, 412, entryDocument(c, row, current), ATOM_ENTRY, { etag: etagHeader(current) });
      return;
    }
    const f = storedFragment(rec, row.uuid);
    if (f === undefined) throw new HttpProblem(400, `PUT ${c.url.pathname}: sdata:payload has no resource element`);
    return sendEntry(c, 200, o.update(row, f));
  }
  if (c.method === 'DELETE') {
    const row = find();
    if (ifMatch !== undefined && !etagMatches(ifMatch, o.etag(row))) {
      throw new HttpProblem(412, `DELETE ${c.url.pathname}: If-Match ${ifMatch} does not match the current version ${etagHeader(o.etag(row))}`, 'ApplicationDiagnosis', { etag: etagHeader(o.etag(row)) });
    }
    o.remove(row);
    sendText(c.res, 200, '', 'text/plain');
    return;
  }
  throw methodNotAllowed(c.method, c.url.pathname, 'GET, PUT, DELETE');
}
