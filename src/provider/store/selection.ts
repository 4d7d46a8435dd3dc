import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Digest } from '../../protocol/digest.ts';
import { normalizeEndpoint } from '../../protocol/endpoint.ts';
import { tickLess, type Tick } from '../../protocol/ticks.ts';
import type { Catalog, Cursor, DigestSnapshot, SelectionQueries, SourceRange, SourceRow } from './repositories.ts';
import { tickKey, tickOfKey, TICK_KEY_MIN } from './tick-key.ts';

/**
 * The source side's queries (spec 5.2, 5.6; docs/protocol.md §3.2). A selection is a list of per-endpoint tick ranges
 * `[lower, S[e].tick[` fixed when the context is created: anything changed while the engine pages gets a tick at
 * or above S[e].tick (or another endpoint's state) and belongs to the next pass, so the ranges are a stable snapshot
 * without copying a row. Pages are cut with keyset cursors (range, tick, id) carried in the `next` href.
 *
 * Every query gives SQLite exactly one lower and one upper bound on `tick` as plain column constraints, folded in
 * JS (cursor vs range bounds), plus row-value filters for exactness within a tick. With two lower bounds (the
 * range's and the cursor's) the planner seeks by one of them, possibly the range start, and every page would
 * rescan the range from its beginning: quadratic in the feed size.
 */
export class Selections implements SelectionQueries {
  readonly #catalog: Catalog;
  readonly #sCount: StatementSync;
  readonly #sNth: StatementSync;
  readonly #sAny: StatementSync;
  readonly #sRows: StatementSync;

  constructor(db: DatabaseSync, catalog: Catalog) {
    this.#catalog = catalog;
    const where = 'kind = ? AND ep = ? AND tick >= ? AND tick < ? AND (tick, id) > (?, ?)';
    this.#sCount = db.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM resources WHERE ${where} LIMIT ?)`);
    this.#sNth = db.prepare(`SELECT tick, id FROM resources WHERE ${where} ORDER BY tick, id LIMIT 1 OFFSET ?`);
    this.#sAny = db.prepare(`SELECT 1 AS x FROM resources WHERE ${where} LIMIT 1`);
    this.#sRows = db.prepare('SELECT id, ep, tick, stamp, user, CAST(payload AS BLOB) AS payload FROM resources ' +
      'WHERE kind = ? AND ep = ? AND tick >= ? AND tick <= ? AND (tick, id) > (?, ?) AND (tick, id) <= (?, ?) ORDER BY tick, id');
  }

  ranges(snapshot: DigestSnapshot, target: Digest): SourceRange[] {
    const ranges: Array<SourceRange & { norm: string }> = [];
    for (const e of snapshot.entries) {
      const norm = normalizeEndpoint(e.endpoint);
      const t = target.entries.get(norm);
      if (t !== undefined && !tickLess(t.tick, e.tick)) continue;
      const ep = this.#catalog.knownEndpointId(e.endpoint);
      if (ep === undefined) continue;
      ranges.push({ ep, lower: t === undefined ? TICK_KEY_MIN : safeKey(t.tick), upper: tickKey(e.tick), norm });
    }
    ranges.sort((a, b) => (a.norm < b.norm ? -1 : a.norm > b.norm ? 1 : 0));
    return ranges.map(({ ep, lower, upper }) => ({ ep, lower, upper }));
  }

  count(kind: number, ranges: readonly SourceRange[], limit = Number.MAX_SAFE_INTEGER): number {
    let n = 0;
    for (const r of ranges) n += (this.#sCount.get(kind, r.ep, r.lower, r.upper, TICK_KEY_MIN, 0, limit) as { n: number }).n;
    return n;
  }

  pageEnd(kind: number, ranges: readonly SourceRange[], from: Cursor, size: number): Cursor | undefined {
    let left = size;
    for (let r = from.r; r < ranges.length; r++) {
      const g = ranges[r]!;
      const tick = r === from.r ? from.tick : TICK_KEY_MIN;
      const id = r === from.r ? from.id : 0;
      const lo = lowerOf(g, tick);
      const nth = this.#sNth.get(kind, g.ep, lo, g.upper, tick, id, left - 1) as { tick: string; id: number } | undefined;
      if (nth) return { r, tick: nth.tick, id: nth.id };
      left -= (this.#sCount.get(kind, g.ep, lo, g.upper, tick, id, left) as { n: number }).n;
    }
    return undefined;
  }

  more(kind: number, ranges: readonly SourceRange[], after: Cursor): boolean {
    for (let r = after.r; r < ranges.length; r++) {
      const g = ranges[r]!;
      const tick = r === after.r ? after.tick : TICK_KEY_MIN;
      const id = r === after.r ? after.id : 0;
      if (this.#sAny.get(kind, g.ep, lowerOf(g, tick), g.upper, tick, id)) return true;
    }
    return false;
  }

  *rows(kind: number, ranges: readonly SourceRange[], pos: Cursor, end: Cursor | undefined): Generator<SourceRow> {
    const last = end === undefined ? ranges.length - 1 : end.r;
    while (pos.r <= last) {
      const g = ranges[pos.r]!;
      const endTick = end !== undefined && pos.r === end.r ? end.tick : undefined;
      const hi = endTick ?? lastKeyBelow(g.upper);
      const endId = endTick === undefined ? Number.MAX_SAFE_INTEGER : end!.id;
      for (const row of this.#sRows.iterate(kind, g.ep, lowerOf(g, pos.tick), hi, pos.tick, pos.id, hi, endId) as Iterable<SourceRow>) {
        pos.tick = row.tick;
        pos.id = row.id;
        row.tick = tickOfKey(row.tick);
        yield row;
      }
      pos.r++;
      pos.tick = TICK_KEY_MIN;
      pos.id = 0;
    }
  }

  start(): Cursor {
    return { r: 0, tick: TICK_KEY_MIN, id: 0 };
  }

  encodeCursor(c: Cursor): string {
    return `${c.r}.${c.tick === TICK_KEY_MIN ? '' : tickOfKey(c.tick)}.${c.id}`;
  }

  decodeCursor(s: string | null): Cursor | undefined {
    if (s === null) return undefined;
    const m = /^(\d{1,9})\.(\d*)\.(\d{1,15})$/.exec(s);
    if (!m) return undefined;
    return { r: Number(m[1]), tick: m[2] === '' ? TICK_KEY_MIN : tickKey(m[2]!), id: Number(m[3]) };
  }
}

/** A target tick beyond what keys can hold is above every stored tick: the range is empty, not an error. */
function safeKey(t: Tick): string {
  try {
    return tickKey(t);
  } catch {
    return '\uffff';
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
