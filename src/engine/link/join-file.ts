import { uuidKey } from '../../protocol/uuid.ts';
import { ScratchFile, type Statement } from '../scratch-file.ts';

/**
 * The scratch space of `link`: every resource of both sides, with its natural key, in the engine's scratch file
 * (../scratch-file.ts), so that matching a million resources per side costs disk, not memory.
 *
 * Rows go in as the collections stream by; `finish()` then builds a covering index in key order, and `groups()`
 * walks it: all resources that share a key, both sides together, at most `keep` rows per side held.
 */

export type Side = 0 | 1;

export interface JoinRow {
  side: Side;
  url: string;
  /** The uuid the resource answers to, as the collection showed it; undefined: no link. */
  uuid: string | undefined;
  /** Its local key (`sdata:key`), if the collection gave one. */
  key: string | undefined;
}

export interface KeyGroup {
  /** The normalised natural key; undefined for a resource whose key fields are missing (a group of its own). */
  key: string | undefined;
  /** How many resources of each side have this key. */
  counts: [number, number];
  /** The first `keep` of them per side. */
  rows: [JoinRow[], JoinRow[]];
}

export class JoinFile {
  readonly #file: ScratchFile;
  readonly #add: (...values: Array<string | number | null>) => void;
  #sHolders: Statement | undefined;
  #rows = 0;

  /** A new, empty scratch file in a directory of its own under `parent`. */
  constructor(parent: string) {
    this.#file = ScratchFile.inNewDir(parent, 'sdata-sync-link-', 'CREATE TABLE rows(side INTEGER NOT NULL, k TEXT, url TEXT NOT NULL, uuid TEXT, u TEXT, lkey TEXT);');
    this.#add = this.#file.inserter('rows', ['side', 'k', 'url', 'uuid', 'u', 'lkey']);
  }

  /** The scratch file's directory (gone once closed). */
  get dir(): string {
    return this.#file.dir;
  }

  get rows(): number {
    return this.#rows;
  }

  add(side: Side, k: string | undefined, r: Omit<JoinRow, 'side'>): void {
    this.#add(side, k ?? null, r.url, r.uuid ?? null, r.uuid === undefined ? null : uuidKey(r.uuid), r.key ?? null);
    this.#rows++;
  }

  /** No more rows: the indexes the matching walks. */
  finish(): void {
    this.#file.exec(`CREATE INDEX rows_k ON rows(k, side, url, uuid, lkey);
      CREATE INDEX rows_u ON rows(side, u) WHERE u IS NOT NULL;`);
    this.#sHolders = this.#file.prepare('SELECT url FROM rows WHERE side = ? AND u = ? LIMIT ?');
  }

  /** Every key with its resources, in key order; resources without a key first, one group each. */
  *groups(keep = 10): Generator<KeyGroup> {
    let cur: KeyGroup | undefined;
    const it = this.#file.prepare('SELECT side, k, url, uuid, lkey FROM rows INDEXED BY rows_k ORDER BY k, side')
      .iterate() as Iterable<{ side: Side; k: string | null; url: string; uuid: string | null; lkey: string | null }>;
    for (const r of it) {
      const row: JoinRow = { side: r.side, url: r.url, uuid: r.uuid ?? undefined, key: r.lkey ?? undefined };
      if (r.k === null) {
        const g: KeyGroup = { key: undefined, counts: [0, 0], rows: [[], []] };
        g.counts[r.side]++;
        g.rows[r.side].push(row);
        yield g;
        continue;
      }
      if (cur === undefined || cur.key !== r.k) {
        if (cur !== undefined) yield cur;
        cur = { key: r.k, counts: [0, 0], rows: [[], []] };
      }
      if (cur.counts[r.side]++ < keep) cur.rows[r.side].push(row);
    }
    if (cur !== undefined) yield cur;
  }

  /** URLs of resources of `side` that answer to `uuid` (any case), at most `limit`. */
  holders(side: Side, uuid: string, limit = 2): string[] {
    if (!this.#sHolders) throw new Error('JoinFile.holders() before finish()');
    return (this.#sHolders.all(side, uuidKey(uuid), limit) as Array<{ url: string }>).map((r) => r.url);
  }

  /** Closes and deletes the file. */
  close(): void {
    this.#file.close();
  }
}
