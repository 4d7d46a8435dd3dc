import type { StatementSync } from 'node:sqlite';
import { emptyDigest, setDigestEntry, type Digest } from '../protocol/digest.ts';
import { normalizeEndpoint } from '../protocol/endpoint.ts';
import { escapeText } from '../protocol/escape.ts';
import { tickLess, type Tick } from '../protocol/ticks.ts';
import type { FeedLink } from '../xml/feed-types.ts';
import { feedClose, feedOpen } from '../xml/feed-writer.ts';
import type { TextSink } from '../xml/text-sink.ts';
import type { KindInfo, RawResource, Store } from './store.ts';
import { tickKey, tickOfKey, TICK_KEY_MIN } from './tick-key.ts';

/**
 * The source side of a pass (spec 5.2, 5.6; brief §3.2). A selection is a list of per-endpoint tick ranges
 * `[lower, S[e].tick[` fixed when the context is created: anything changed while the engine pages gets a tick at
 * or above S[e].tick (or another endpoint's state) and belongs to the next pass, so the ranges are a stable snapshot
 * without copying a row. Pages are cut with keyset cursors (range, tick, id) carried in the `next` href, and
 * streamed row by row from SQLite into the response.
 */

export interface SourceRange {
  ep: number;
  /** Tick keys: lower inclusive ('' = none), upper exclusive. */
  lower: string;
  upper: string;
}

export interface DigestSnapshot {
  origin: string;
  entries: Array<{ endpoint: string; tick: Tick; stamp: string; prio: number }>;
}

export interface Selection {
  digest: DigestSnapshot;
  ranges: SourceRange[];
  total: number;
}

/** Position after the last row served: range index, tick key, row id. */
export interface Cursor {
  r: number;
  tick: string;
  id: number;
}

export const START: Cursor = { r: 0, tick: TICK_KEY_MIN, id: 0 };

export function snapshotDigest(store: Store, kind: KindInfo): DigestSnapshot {
  const entries: DigestSnapshot['entries'] = [];
  for (const r of store.digestOf(kind.id).values()) {
    entries.push({ endpoint: store.endpoint(r.ep).url, tick: r.tick, stamp: r.stamp, prio: r.prio });
  }
  return { origin: kind.selfUrl, entries };
}

export function digestFromSnapshot(s: DigestSnapshot): Digest {
  const d = emptyDigest(s.origin);
  for (const e of s.entries) setDigestEntry(d, { endpoint: e.endpoint, tick: e.tick, stamp: e.stamp, conflictPriority: e.prio });
  return d;
}

/** Brief §3.2: for each endpoint the source knows further than the target, the ticks the target lacks. */
export function selectRanges(store: Store, kind: KindInfo, snapshot: DigestSnapshot, target: Digest): SourceRange[] {
  const ranges: Array<SourceRange & { norm: string }> = [];
  for (const e of snapshot.entries) {
    const norm = normalizeEndpoint(e.endpoint);
    const t = target.entries.get(norm);
    if (t !== undefined && !tickLess(t.tick, e.tick)) continue;
    const ep = store.knownEndpointId(e.endpoint);
    if (ep === undefined) continue;
    ranges.push({ ep, lower: t === undefined ? TICK_KEY_MIN : safeKey(t.tick), upper: tickKey(e.tick), norm });
  }
  ranges.sort((a, b) => (a.norm < b.norm ? -1 : a.norm > b.norm ? 1 : 0));
  return ranges.map(({ ep, lower, upper }) => ({ ep, lower, upper }));
}

/** A target tick beyond what keys can hold is above every stored tick: the range is empty, not an error. */
function safeKey(t: Tick): string {
  try {
    return tickKey(t);
  } catch {
    return '\uffff';
  }
}

/**
 * Every query gives SQLite exactly one lower and one upper bound on `tick` as plain column constraints, folded in
 * JS (cursor vs range bounds), plus row-value filters for exactness within a tick. With two lower bounds (the
 * range's and the cursor's) the planner seeks by one of them, possibly the range start, and every page would
 * rescan the range from its beginning: quadratic in the feed size.
 */
export class SourceQueries {
  private readonly sCount: StatementSync;
  private readonly sNth: StatementSync;
  private readonly sAny: StatementSync;
  private readonly sRows: StatementSync;

  constructor(store: Store) {
    const db = store.db;
    const where = 'kind = ? AND ep = ? AND tick >= ? AND tick < ? AND (tick, id) > (?, ?)';
    this.sCount = db.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM resources WHERE ${where} LIMIT ?)`);
    this.sNth = db.prepare(`SELECT tick, id FROM resources WHERE ${where} ORDER BY tick, id LIMIT 1 OFFSET ?`);
    this.sAny = db.prepare(`SELECT 1 AS x FROM resources WHERE ${where} LIMIT 1`);
    this.sRows = db.prepare('SELECT id, deleted, ep, tick, stamp, user, payload FROM resources ' +
      'WHERE kind = ? AND ep = ? AND tick >= ? AND tick <= ? AND (tick, id) > (?, ?) AND (tick, id) <= (?, ?) ORDER BY tick, id');
  }

  count(kind: number, ranges: readonly SourceRange[], limit = Number.MAX_SAFE_INTEGER): number {
    let n = 0;
    for (const r of ranges) n += (this.sCount.get(kind, r.ep, r.lower, r.upper, TICK_KEY_MIN, 0, limit) as { n: number }).n;
    return n;
  }

  /** Where a page of `size` rows after `from` ends (inclusive), or undefined when the rest fits in it. */
  pageEnd(kind: number, ranges: readonly SourceRange[], from: Cursor, size: number): Cursor | undefined {
    let left = size;
    for (let r = from.r; r < ranges.length; r++) {
      const g = ranges[r]!;
      const tick = r === from.r ? from.tick : TICK_KEY_MIN;
      const id = r === from.r ? from.id : 0;
      const lo = lowerOf(g, tick);
      const nth = this.sNth.get(kind, g.ep, lo, g.upper, tick, id, left - 1) as { tick: string; id: number } | undefined;
      if (nth) return { r, tick: nth.tick, id: nth.id };
      left -= (this.sCount.get(kind, g.ep, lo, g.upper, tick, id, left) as { n: number }).n;
    }
    return undefined;
  }

  /** Whether any row follows `after`. */
  more(kind: number, ranges: readonly SourceRange[], after: Cursor): boolean {
    for (let r = after.r; r < ranges.length; r++) {
      const g = ranges[r]!;
      const tick = r === after.r ? after.tick : TICK_KEY_MIN;
      const id = r === after.r ? after.id : 0;
      if (this.sAny.get(kind, g.ep, lowerOf(g, tick), g.upper, tick, id)) return true;
    }
    return false;
  }

  /** Rows of range `g` after (afterTick, afterId) up to (endTick, endId) inclusive; endTick undefined = range end. */
  rows(kind: number, g: SourceRange, afterTick: string, afterId: number, endTick: string | undefined, endId: number): IterableIterator<SourceRow> {
    const hi = endTick ?? lastKeyBelow(g.upper);
    return this.sRows.iterate(kind, g.ep, lowerOf(g, afterTick), hi, afterTick, afterId, hi, endTick === undefined ? Number.MAX_SAFE_INTEGER : endId) as IterableIterator<SourceRow>;
  }
}

/** The tighter of the range's lower bound and the cursor (tick keys compare as strings). */
function lowerOf(g: SourceRange, afterTick: string): string {
  return afterTick > g.lower ? afterTick : g.lower;
}

/** The key of the largest tick below an (exclusive) upper key. */
function lastKeyBelow(upper: string): string {
  const t = tickOfKey(upper);
  return t === '0' ? TICK_KEY_MIN : tickKey((BigInt(t) - 1n).toString());
}

/** A row of the source selection: a resource row without its uuid (the payload carries it). */
export type SourceRow = Omit<RawResource, 'uuid'>;

export function encodeCursor(c: Cursor): string {
  return `${c.r}.${c.tick === TICK_KEY_MIN ? '' : tickOfKey(c.tick)}.${c.id}`;
}

export function decodeCursor(s: string | null): Cursor | undefined {
  if (s === null) return undefined;
  const m = /^(\d{1,9})\.(\d*)\.(\d{1,15})$/.exec(s);
  if (!m) return undefined;
  return { r: Number(m[1]), tick: m[2] === '' ? TICK_KEY_MIN : tickKey(m[2]!), id: Number(m[3]) };
}

export interface PageRequest {
  store: Store;
  kind: KindInfo;
  queries: SourceQueries;
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

/**
 * Streams one page. The page's last row is located first with an index-only scan, so `next` goes in the feed
 * head where consumers expect it; then rows are read with an iterating statement and written as they come.
 * When the response pushes back, the statement is closed (no SQLite cursor lives across an await: a rollback
 * on the shared connection would abort it) and reopened after the last row written.
 */
export async function writeSourcePage(p: PageRequest): Promise<number> {
  const { store, kind, queries, selection, sink } = p;
  const ranges = selection.ranges;
  const end = queries.pageEnd(kind.id, ranges, p.after, p.count);
  const hasNext = end !== undefined && queries.more(kind.id, ranges, end);
  const links: FeedLink[] = [{ rel: 'self', href: p.contextUrl }, { rel: 'first', href: p.contextUrl }];
  if (hasNext) {
    links.push({ rel: 'next', href: `${p.contextUrl}?startIndex=${p.startIndex + p.count}&count=${p.count}&after=${encodeCursor(end)}` });
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
  let written = 0;
  const lastRange = end === undefined ? ranges.length - 1 : end.r;
  for (let r = p.after.r; r <= lastRange; r++) {
    const g = ranges[r]!;
    let tick = r === p.after.r ? p.after.tick : TICK_KEY_MIN;
    let id = r === p.after.r ? p.after.id : 0;
    const endTick = end !== undefined && r === end.r ? end.tick : undefined;
    const endId = end !== undefined && r === end.r ? end.id : 0;
    for (;;) {
      let paused = false;
      for (const row of queries.rows(kind.id, g, tick, id, endTick, endId)) {
        const ep = store.endpoint(row.ep);
        const user = row.user === null ? '' : `<sync:user>${escapeText(row.user)}</sync:user>`;
        sink.write(`<entry><id>${identity}('${row.id}')</id><title>${title}${row.id}</title><updated>${row.stamp}</updated>` +
          `<sync:syncState><sync:endpoint>${ep.xml}</sync:endpoint><sync:tick>${tickOfKey(row.tick)}</sync:tick>` +
          `<sync:stamp>${escapeText(row.stamp)}</sync:stamp>${user}</sync:syncState><sdata:payload>${row.payload}</sdata:payload></entry>\n`);
        written++;
        if (sink.needsDrain) {
          tick = row.tick;
          id = row.id;
          paused = true;
          break;
        }
      }
      if (!paused) break;
      await sink.drained();
    }
  }
  sink.write(feedClose());
  return written;
}
