import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ResourceRow } from './repositories.ts';
import { RESOURCE_COLUMNS, toResourceRow, type RawResource } from './resources.ts';

/**
 * Live resources of a kind in local-key order, for `GET {kind}` (plain SData listing), or only the linked ones, for
 * `GET {kind}/$linked` (spec 1.3). There is no index of live rows (every index costs a page write per applied
 * entry), so these walk the rowids: NOT INDEXED keeps SQLite from choosing the tombstone index.
 */
export class ListingQueries {
  readonly #sNth: StatementSync;
  readonly #sAny: StatementSync;
  readonly #sRows: StatementSync;
  readonly #sAll: StatementSync;
  readonly #sDead: StatementSync;
  readonly #sUnlinked: StatementSync | undefined;

  constructor(db: DatabaseSync, linkedOnly = false) {
    const live = linkedOnly ? 'deleted = 0 AND linked = 1' : 'deleted = 0';
    this.#sNth = db.prepare(`SELECT id FROM resources NOT INDEXED WHERE kind = ? AND ${live} AND id > ? ORDER BY id LIMIT 1 OFFSET ?`);
    this.#sAny = db.prepare(`SELECT 1 AS x FROM resources NOT INDEXED WHERE kind = ? AND ${live} AND id > ? LIMIT 1`);
    this.#sRows = db.prepare(`SELECT ${RESOURCE_COLUMNS} FROM resources NOT INDEXED WHERE kind = ? AND ${live} AND id > ? AND id <= ? ORDER BY id`);
    // Counts from indexes: all rows (state index), tombstones and unlinked rows (partial indexes).
    this.#sAll = db.prepare('SELECT count(*) AS n FROM resources INDEXED BY resources_state WHERE kind = ?');
    this.#sDead = db.prepare('SELECT count(*) AS n FROM resources INDEXED BY resources_dead WHERE kind = ? AND deleted = 1');
    this.#sUnlinked = linkedOnly
      ? db.prepare('SELECT count(*) AS n FROM resources INDEXED BY resources_unlinked WHERE kind = ? AND linked = 0 AND deleted = 0')
      : undefined;
  }

  /** The local key of the last row of a page of `count` after `after`, and whether rows follow it. */
  page(kind: number, after: number, count: number): { end: number; more: boolean } {
    const nth = this.#sNth.get(kind, after, count - 1) as { id: number } | undefined;
    const end = nth?.id ?? Number.MAX_SAFE_INTEGER;
    return { end, more: nth !== undefined && this.#sAny.get(kind, end) !== undefined };
  }

  /** The local key just before the `startIndex`-th row (1-based): indexed paging, for a URL without a cursor. */
  before(kind: number, startIndex: number): number {
    if (startIndex <= 1) return 0;
    return (this.#sNth.get(kind, 0, startIndex - 2) as { id: number } | undefined)?.id ?? Number.MAX_SAFE_INTEGER;
  }

  /** Live rows with keys in (after, end]. Break to pause; call again after the last key served to resume. */
  *rows(kind: number, after: number, end: number): Generator<ResourceRow> {
    for (const r of this.#sRows.iterate(kind, after, end) as Iterable<RawResource>) yield toResourceRow(r);
  }

  /** How many rows the listing has. */
  count(kind: number): number {
    const n = (s: StatementSync): number => (s.get(kind) as { n: number }).n;
    return n(this.#sAll) - n(this.#sDead) - (this.#sUnlinked ? n(this.#sUnlinked) : 0);
  }
}
