import { createHash } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Catalog, KindInfo } from './repositories.ts';
import { tickOfKey } from './tick-key.ts';

export interface Checksum {
  /** Live resources, and the SHA-256 over (uuid, payload) of each, in uuid order. */
  count: number;
  sha256: string;
  /** Tombstones, and the SHA-256 over their uuids. */
  tombstones: number;
  tombstonesSha256: string;
  /** SHA-256 over (uuid, deleted, normalised endpoint, tick) of every row: equal when syncStates agree too. */
  statesSha256: string;
}

/** Counts and checksums for `$health` and `$checksum` (read-only administration). */
export class AdminQueries {
  readonly #catalog: Catalog;
  readonly #sAll: StatementSync;
  readonly #sDead: StatementSync;
  readonly #sChecksum: StatementSync;

  constructor(db: DatabaseSync, catalog: Catalog) {
    this.#catalog = catalog;
    // Both counts come from indexes: all rows (state index), tombstones (partial index).
    this.#sAll = db.prepare('SELECT count(*) AS n FROM resources INDEXED BY resources_state WHERE kind = ?');
    this.#sDead = db.prepare('SELECT count(*) AS n FROM resources INDEXED BY resources_dead WHERE kind = ? AND deleted = 1');
    this.#sChecksum = db.prepare('SELECT uuid, deleted, ep, tick, payload FROM resources WHERE kind = ? ORDER BY uuid');
  }

  counts(kind: number): { resources: number; tombstones: number } {
    const all = (this.#sAll.get(kind) as { n: number }).n;
    const dead = (this.#sDead.get(kind) as { n: number }).n;
    return { resources: all - dead, tombstones: dead };
  }

  /**
   * Two stores hold the same data iff their checksums are equal: payloads are stored as canonical self-contained
   * fragments (payload/fragment.ts), so a relayed version is byte-identical to its origin's.
   */
  checksum(kind: KindInfo): Checksum {
    const live = createHash('sha256');
    const dead = createHash('sha256');
    const states = createHash('sha256');
    let count = 0;
    let tombstones = 0;
    for (const r of this.#sChecksum.iterate(kind.id) as Iterable<{ uuid: string; deleted: number; ep: number; tick: string; payload: string }>) {
      if (r.deleted) {
        tombstones++;
        dead.update(r.uuid).update('\n');
      } else {
        count++;
        live.update(r.uuid).update('\n').update(r.payload).update('\n');
      }
      states.update(`${r.uuid} ${r.deleted} ${this.#catalog.endpoint(r.ep).norm} ${tickOfKey(r.tick)}\n`);
    }
    return { count, sha256: live.digest('hex'), tombstones, tombstonesSha256: dead.digest('hex'), statesSha256: states.digest('hex') };
  }
}
