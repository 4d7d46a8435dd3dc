import { OUTPUT_ROOT_DECLS } from '../../protocol/namespaces.ts';
import { feedClose, feedOpen } from '../../xml/feed-writer.ts';
import { TextSink } from '../../xml/text-sink.ts';
import { ATOM_ENTRY, ATOM_FEED, HttpProblem, methodNotAllowed, readBody, sendText } from '../http/http-io.ts';
import { contextSelector, intParam, parseRoute } from '../http/routes.ts';
import type { ResourceRow } from '../store/repositories.ts';
import { LinkBatchApplier, linkRequestOf } from '../sync/link-batch.ts';
import { linkEntryXml, linkUuidOf, type LinkUrls } from '../sync/link-entry.ts';
import { LinkOps, LinkRefused, sameUuid } from '../sync/links.ts';
import { streamRows } from '../sync/stream-rows.ts';
import { applyBody, applyStream, handleAsync, serveResultPage, type AsyncOp } from './async-context.ts';
import type { Call } from './call.ts';
import { parseSingleEntry } from './crud.ts';

/**
 * `{kind}/$linked` (spec 1.3; docs/protocol.md §1.5, §3.11): the links between uuids and this provider's resources.
 *   GET  $linked               the linked resources, paged sequentially (`next`) and by index (`startIndex`, `count`)
 *   POST $linked               link the resource named by the payload's `sdata:url`, to its `sdata:uuid` or a new one
 *   GET  $linked('{uuid}')     one link (`?select=`: the payload element's attributes only)
 *   PUT  $linked('{uuid}')     re-point the uuid to the resource named by `sdata:url`
 *   DELETE $linked('{uuid}')   unlink (the resource stays)
 *   POST $linked/$batch        many of these at once (core 13.3), synchronous, or asynchronous with a trackingID
 * No ETags (1.3). The decisions are sync/links.ts's.
 */

function urlsOf(c: Call): LinkUrls {
  return { collection: c.collection, linkUrl: (uuid) => `${c.collection}/$linked${contextSelector(uuid)}` };
}

function problem(e: unknown): unknown {
  if (!(e instanceof LinkRefused)) return e;
  return new HttpProblem(e.status, e.message, 'ApplicationDiagnosis', {}, e.status === 409 ? 'LinkConflict' : 'LinkRefused');
}

/** The local key an `sdata:url` names, which must be a resource of this kind in this dataset (any host: proxies). */
function resolver(c: Call): (url: string) => number {
  const { store } = c.core;
  const ds = { app: store.app, contract: store.contract, dataset: store.dataset };
  return (raw) => {
    let path: string;
    try {
      path = new URL(raw.trim(), c.collection).pathname;
    } catch {
      throw new LinkRefused(400, `sdata:url '${raw}' is not a URL`);
    }
    let route;
    try {
      route = parseRoute(path, ds);
    } catch (e) {
      throw new LinkRefused(e instanceof HttpProblem && e.status === 404 ? 404 : 400, `sdata:url ${raw}: ${(e as Error).message}`);
    }
    if (route.op !== 'resource') throw new LinkRefused(400, `sdata:url ${raw} does not name a resource (…/${c.kind.name}('{key}'))`);
    if (route.kind !== c.kind.name) throw new LinkRefused(400, `sdata:url ${raw} names a resource of kind '${route.kind}', not '${c.kind.name}'`);
    if (!/^\d{1,15}$/.test(route.key!)) throw new LinkRefused(404, `sdata:url ${raw}: no such resource`);
    return Number(route.key);
  };
}

function sendLink(c: Call, status: number, row: ResourceRow, headers: Record<string, string> = {}): void {
  const attrsOnly = c.url.searchParams.get('select') === '';
  const xml = `<?xml version="1.0" encoding="utf-8"?>\n<entry${OUTPUT_ROOT_DECLS}>` +
    linkEntryXml(c.kind, row, urlsOf(c), attrsOnly).replace(/^<entry>/, '');
  sendText(c.res, status, xml, ATOM_ENTRY, headers);
}

export async function handleLinked(c: Call, uuid: string | undefined): Promise<void> {
  const ops = new LinkOps(c.core.store, c.kind);
  try {
    if (uuid === undefined) {
      if (c.method === 'GET') return await listLinks(c);
      if (c.method !== 'POST') throw methodNotAllowed(c.method, c.url.pathname, 'GET, POST');
      const req = linkRequestOf(parseSingleEntry(await readBody(c.req, c.core.maxBodyBytes), `POST ${c.url.pathname}`, c.core.maxEntryBytes, c.core.limits));
      if (req.url === undefined) throw new HttpProblem(400, `POST ${c.url.pathname}: the payload element has no sdata:url naming the resource to link (spec 1.3)`);
      const { row, created } = ops.link(resolver(c)(req.url), req.uuid);
      return created ? sendLink(c, 201, row, { location: urlsOf(c).linkUrl(linkUuidOf(row)) }) : sendLink(c, 200, row);
    }
    if (c.method === 'GET') return sendLink(c, 200, ops.get(uuid));
    if (c.method === 'PUT') {
      const req = linkRequestOf(parseSingleEntry(await readBody(c.req, c.core.maxBodyBytes), `PUT ${c.url.pathname}`, c.core.maxEntryBytes, c.core.limits));
      if (req.url === undefined) throw new HttpProblem(400, `PUT ${c.url.pathname}: the payload element has no sdata:url naming the resource the uuid is to name (spec 1.3)`);
      if (req.uuid !== undefined && !sameUuid(req.uuid, uuid)) {
        throw new HttpProblem(400, `PUT ${c.url.pathname}: the payload's sdata:uuid ${req.uuid} is not the uuid of the URL`);
      }
      return sendLink(c, 200, ops.repoint(uuid, resolver(c)(req.url)));
    }
    if (c.method === 'DELETE') {
      ops.unlink(uuid);
      return sendText(c.res, 200, '', 'text/plain');
    }
    throw methodNotAllowed(c.method, c.url.pathname, 'GET, PUT, DELETE');
  } catch (e) {
    throw problem(e);
  }
}

/**
 * GET `$linked`: linked live resources in local-key order. `next` links carry a keyset cursor (`after`) besides
 * `startIndex`; a URL with `startIndex` alone is indexed paging (1.3 requires both kinds).
 */
async function listLinks(c: Call): Promise<void> {
  const { store } = c.core;
  const k = c.kind.id;
  const listing = store.linkedListing;
  const count = intParam(c.url, 'count', 1, c.core.maxPageSize, c.core.pageSize);
  const startIndex = intParam(c.url, 'startIndex', 1, Number.MAX_SAFE_INTEGER, 1);
  const cursor = intParam(c.url, 'after', 1, Number.MAX_SAFE_INTEGER, 0);
  const after = cursor > 0 ? cursor : listing.before(k, startIndex);
  const { end, more } = listing.page(k, after, count);
  const self = `${c.collection}/$linked`;
  const select = c.url.searchParams.get('select');
  const q = select === null ? '' : `&select=${encodeURIComponent(select)}`;
  const total = listing.count(k);
  const links = [
    { rel: 'self', href: `${self}?startIndex=${startIndex}&count=${count}${q}` },
    { rel: 'first', href: `${self}?startIndex=1&count=${count}${q}` },
    { rel: 'last', href: `${self}?startIndex=${Math.max(1, total - ((total - 1) % count))}&count=${count}${q}` },
  ];
  if (startIndex > 1) links.push({ rel: 'previous', href: `${self}?startIndex=${Math.max(1, startIndex - count)}&count=${count}${q}` });
  if (more) links.push({ rel: 'next', href: `${self}?startIndex=${startIndex + count}&count=${count}&after=${end}${q}` });
  c.res.writeHead(200, { 'content-type': ATOM_FEED });
  const sink = new TextSink(c.res);
  sink.write(feedOpen({ id: self, title: `Linked ${c.kind.name}`, links, totalResults: total, startIndex, itemsPerPage: count }));
  const urls = urlsOf(c);
  const attrsOnly = select === '';
  let from = after;
  await streamRows(sink, () => listing.rows(k, from, end), (row) => {
    sink.write(linkEntryXml(c.kind, row, urls, attrsOnly));
    from = row.id;
  });
  sink.write(feedClose());
  await sink.end();
}

const LINKED_BATCH: AsyncOp = {
  type: 'batch',
  op: '$linked/$batch',
  busy: { status: 'applying', phase: 'Applying', detail: 'receiving the request body' },
  donePhase: 'Complete',
  serve: serveResultPage,
};

/** `$linked/$batch` (1.3, core 13.3): as `$batch`, each entry a `$linked` operation. */
export function handleLinkedBatch(c: Call, context: string | undefined): Promise<void> {
  return handleAsync(c, context, LINKED_BATCH, () => applyBody(c, LINKED_BATCH, async (row) => {
    const b = new LinkBatchApplier(new LinkOps(c.core.store, c.kind), row.id, urlsOf(c), resolver(c), `POST ${c.url.pathname}`);
    await applyStream(c, row, b, false);
    return { entries: b.stats.entries, info: JSON.stringify({ stats: b.stats }) };
  }));
}
