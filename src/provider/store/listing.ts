import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ResourceRow } from './repositories.ts';
import { RESOURCE_COLUMNS, toResourceRow, type RawResource } from './resources.ts';

/**
 * Live resources of a kind in local-key order, for `GET {kind}` (plain SData listing). There is no index of live
 * rows (every index costs a page write per applied entry), so these walk the rowids: NOT INDEXED keeps SQLite from
 * choosing the tombstone index.
 */
export class ListingQueries {
  readonly #sNth: StatementSync;
  readonly #sAny: StatementSync;
  readonly #sRows: StatementSync;

  constructor(db: DatabaseSync) {
    this.#sNth = db.prepare('SELECT id FROM resources NOT INDEXED WHERE kind = ? AND deleted = 0 AND id > ? ORDER BY id LIMIT 1 OFFSET ?');
    this.#sAny = db.prepare('SELECT 1 AS x FROM resources NOT INDEXED WHERE kind = ? AND deleted = 0 AND id > ? LIMIT 1');
    this.#sRows = db.prepare(`SELECT ${RESOURCE_COLUMNS} FROM resources NOT INDEXED WHERE kind = ? AND deleted = 0 AND id > ? AND id <= ? ORDER BY id`);
  }

  /** The local key of the last row of a page of `count` after `after`, and whether rows follow it. */
  page(kind: number, after: number, count: number): { end: number; more: boolean } {
    const nth = this.#sNth.get(kind, after, count - 1) as { id: number } | undefined;
    const end = nth?.id ?? Number.MAX_SAFE_INTEGER;
    return { end, more: nth !== undefined && this.#sAny.get(kind, end) !== undefined };
  }

  /** Live rows with keys in (after, end]. Break to pause; call again after the last key served to resume. */
  *rows(kind: number, after: number, end: number): Generator<ResourceRow> {
    for (const r of this.#sRows.iterate(kind, after, end) as Iterable<RawResource>) yield toResourceRow(r);
  }
}
