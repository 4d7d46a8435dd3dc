import { ScratchFile } from '../scratch-file.ts';

/**
 * One side's resources for `verify`, in a scratch file of their own (../scratch-file.ts): written by whichever thread
 * reads that side, then attached by the comparison (compare-file.ts). Rows arrive in feed order (the rowid keeps it,
 * for a uuid a feed repeats); `finish()` sorts them once into a covering index by uuid, which the comparison walks
 * merged with the other side's.
 */

/** What a side's feed says about one uuid. */
export interface SideRow {
  deleted: boolean;
  /** SHA-256 of the canonical payload in base64 (src/xml/canonical.ts); undefined for a tombstone. */
  digest: string | undefined;
  /** The entry's atom:id (the resource's URL at that application). */
  url: string | undefined;
  /**
   * The syncState's endpoint as a number both sides compute alike (a hash of the normalised URL: endpointKey), and its
   * tick; undefined when the entry had no syncState.
   */
  endpoint: number | undefined;
  tick: string | undefined;
}

const SCHEMA = 'CREATE TABLE rows(u TEXT NOT NULL, del INTEGER NOT NULL, dg TEXT, url TEXT, ep INTEGER, tick TEXT);';

export class SideFile {
  readonly #file: ScratchFile;
  readonly #add: (...values: Array<string | number | Uint8Array | null>) => void;

  /** A new file at `path` (in the comparison's scratch directory); `cacheKiB`: its page cache (scratch-file.ts). */
  constructor(path: string, cacheKiB?: number) {
    this.#file = ScratchFile.at(path, SCHEMA, cacheKiB);
    this.#add = this.#file.inserter('rows', ['u', 'del', 'dg', 'url', 'ep', 'tick']);
  }

  /** A row (SideRow's fields, in order), `uuid` trimmed and lower-cased. */
  add(uuid: string, deleted: boolean, digest: string | undefined, url: string | undefined, endpoint: number | undefined, tick: string | undefined): void {
    this.#add(uuid, deleted ? 1 : 0, digest ?? null, url ?? null, endpoint ?? null, tick ?? null);
  }

  /** No more rows: the index by uuid the comparison walks (covering what it compares), then closed. */
  finish(): void {
    this.#file.exec('CREATE INDEX rows_u ON rows(u, del, dg, ep, tick);');
    this.#file.close();
  }

  close(): void {
    this.#file.close();
  }
}
