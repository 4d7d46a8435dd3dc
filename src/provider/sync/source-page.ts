import { emptyDigest, setDigestEntry, type Digest } from '../../protocol/digest.ts';
import { escapeText } from '../../protocol/escape.ts';
import type { FeedLink } from '../../xml/feed-types.ts';
import { feedClose, feedOpen } from '../../xml/feed-writer.ts';
import type { TextSink } from '../../xml/text-sink.ts';
import type { Cursor, DigestSnapshot, KindInfo, Selection, SyncStore } from '../store/repositories.ts';
import { etagFrom, etagSeed } from './etag.ts';
import { streamRows } from './stream-rows.ts';

/**
 * The source side of a pass (spec 5.2, 5.6; docs/protocol.md §3.2): the digest snapshot a selection is made against, and the
 * pages of its feed. Entries carry `atom:id` (the resource's identity URL), `http:etag` (core 9.3), `sync:syncState`
 * and the stored payload; deletions go out as their stored `sdata:isDeleted="true"` payloads with the tombstone's
 * syncState.
 */

export function snapshotDigest(store: SyncStore, kind: KindInfo): DigestSnapshot {
  const entries: DigestSnapshot['entries'] = [];
  for (const r of store.digest.rows(kind.id).values()) {
    entries.push({ endpoint: store.endpoint(r.ep).url, tick: r.tick, stamp: r.stamp, prio: r.prio });
  }
  return { origin: kind.selfUrl, entries };
}

export function digestFromSnapshot(s: DigestSnapshot): Digest {
  const d = emptyDigest(s.origin);
  for (const e of s.entries) setDigestEntry(d, { endpoint: e.endpoint, tick: e.tick, stamp: e.stamp, conflictPriority: e.prio });
  return d;
}

export interface PageRequest {
  store: SyncStore;
  kind: KindInfo;
  selection: Selection;
  /** The context URL as served (feed id, self, first; base of next). */
  contextUrl: string;
  title: string;
  after: Cursor;
  /** 1-based index of the page's first entry. */
  startIndex: number;
  count: number;
  sink: TextSink;
}

const PAYLOAD_END = '</sdata:payload></entry>\n';

/**
 * Streams one page. The page's last row is located first with an index-only scan, so `next` goes in the feed
 * head where consumers expect it; then rows are read with an iterating statement and written as they come
 * (streamRows: paused and resumed from `pos` when the response pushes back).
 */
export async function writeSourcePage(p: PageRequest): Promise<number> {
  const { store, kind, selection, sink } = p;
  const queries = store.selection;
  const ranges = selection.ranges;
  const end = queries.pageEnd(kind.id, ranges, p.after, p.count);
  const hasNext = end !== undefined && queries.more(kind.id, ranges, end);
  const links: FeedLink[] = [{ rel: 'self', href: p.contextUrl }, { rel: 'first', href: p.contextUrl }];
  if (hasNext) {
    links.push({ rel: 'next', href: `${p.contextUrl}?startIndex=${p.startIndex + p.count}&count=${p.count}&after=${queries.encodeCursor(end)}` });
  }
  sink.write(feedOpen({
    id: p.contextUrl,
    title: p.title,
    links,
    totalResults: selection.total,
    startIndex: p.startIndex,
    itemsPerPage: p.count,
    syncMode: 'catchUp',
    digest: digestFromSnapshot(selection.digest),
  }));
  const identity = escapeText(kind.selfUrl);
  const title = `${escapeText(kind.name)} `;
  const pos = { ...p.after };
  // Per endpoint: its syncState opening and its ETag hash state (core 9.3: with ETags on, every entry has one).
  const eps = new Map<number, { state: string; a: number; b: number }>();
  const written = await streamRows(sink, () => queries.rows(kind.id, ranges, pos, end), (row) => {
    let ep = eps.get(row.ep);
    if (ep === undefined) {
      const e = store.endpoint(row.ep);
      const [a, b] = etagSeed(e.norm);
      eps.set(row.ep, (ep = { state: `<sync:syncState><sync:endpoint>${e.xml}</sync:endpoint><sync:tick>`, a, b }));
    }
    const user = row.user === null ? '' : `<sync:user>${escapeText(row.user)}</sync:user>`;
    sink.write(`<entry><id>${identity}('${row.id}')</id><title>${title}${row.id}</title><updated>${row.stamp}</updated>` +
      `<http:etag>${etagFrom(ep.a, ep.b, row.tick)}</http:etag>${ep.state}${row.tick}</sync:tick>` +
      `<sync:stamp>${escapeText(row.stamp)}</sync:stamp>${user}</sync:syncState><sdata:payload>`);
    sink.writeBytes(row.payload);
    sink.write(PAYLOAD_END);
  });
  sink.write(feedClose());
  return written;
}
