import { ScratchFile } from '../scratch-file.ts';
import type { SideRow } from './side-file.ts';

/**
 * The comparison of `verify`: both sides' files (side-file.ts, each sorted by uuid by the thread that wrote it)
 * attached to one scratch connection and walked together. Both feeds come ordered by syncState, not by uuid, so they
 * are joined here, not in memory: SQLite merges the two covering indexes (a MERGE of two index scans, no sort) and
 * groups by uuid, leaving out every uuid that is plainly equal, so that only candidates reach JavaScript.
 */

/**
 * One uuid whose rows may disagree: how many entries of each side's feed carry it (more than one: the feed repeated
 * the uuid), and the last `rowsPerUuid` of them per side, in feed order.
 */
export interface Candidate {
  uuid: string;
  counts: [number, number];
  rows: [SideRow[], SideRow[]];
}

/** What the comparison may hold in memory, whatever the number of resources. */
export interface CompareWindow {
  /** Rows per side of one uuid held at once (a feed that repeats a uuid more often is counted, not held). */
  rowsPerUuid: number;
  /** Page cache of each scratch connection, KiB (scratch-file.ts). */
  cacheKiB: number;
}

interface Row {
  del: number;
  dg: string | null;
  url: string | null;
  ep: number | null;
  tick: string | null;
}

export class CompareFile {
  readonly #file: ScratchFile;
  readonly window: CompareWindow;

  /** A new scratch directory under `parent`; the side files go in it (sidePath), and all of it is removed by close(). */
  constructor(parent: string, window: CompareWindow) {
    this.window = window;
    this.#file = ScratchFile.inNewDir(parent, 'sdata-sync-verify-', '', window.cacheKiB);
  }

  /** The comparison connection's page cache, KiB, as SQLite holds it. */
  cacheKiB(): number {
    return this.#file.cacheKiB();
  }

  /** Where side 0 (the source) or 1 (the target) writes its file. */
  sidePath(side: 0 | 1): string {
    return `${this.#file.dir}/${side === 0 ? 'source' : 'target'}.db`;
  }

  /**
   * The uuids that are not plainly equal, in uuid order, with their rows. Left out in SQL: every uuid with one row
   * per side that agree (deletion, digest and, with `states`, endpoint and tick), and every uuid held only by
   * tombstones (deleted on both sides, or deleted on one and absent on the other; with `states`, only the latter).
   * The comparison rule (decide.ts) decides the rest.
   */
  *differences(states: boolean): Generator<Candidate> {
    this.#file.attach(this.sidePath(0), 's0');
    this.#file.attach(this.sidePath(1), 's1');
    const agree = states ? 'AND min(ep) IS max(ep) AND min(tick) IS max(tick) AND count(ep) IN (0, 2) AND count(tick) IN (0, 2)' : '';
    const uuids = this.#file.prepare(`SELECT u, sum(side = 0) AS n0, sum(side = 1) AS n1 FROM (
        SELECT u, 0 AS side, del, dg, ep, tick FROM s0.rows UNION ALL SELECT u, 1 AS side, del, dg, ep, tick FROM s1.rows ORDER BY u)
      GROUP BY u
      HAVING NOT (count(*) = 2 AND min(side) = 0 AND max(side) = 1 AND min(del) = max(del) AND (min(del) = 1 OR min(dg) = max(dg)) ${agree})
        AND NOT (min(del) = 1 ${states ? 'AND count(*) < 2' : ''})`).iterate() as Iterable<{ u: string; n0: number; n1: number }>;
    // The last rows of a uuid (the last entry is the one compared), newest first, then put back in feed order.
    const rows = [0, 1].map((s) => this.#file.prepare(`SELECT del, dg, url, ep, tick FROM s${s}.rows WHERE u = ? ORDER BY rowid DESC LIMIT ?`));
    for (const { u, n0, n1 } of uuids) {
      const c: Candidate = { uuid: u, counts: [n0, n1], rows: [[], []] };
      for (const s of [0, 1] as const) {
        for (const r of rows[s]!.iterate(u, this.window.rowsPerUuid) as Iterable<Row>) {
          c.rows[s].push({ deleted: r.del === 1, digest: r.dg ?? undefined, url: r.url ?? undefined, endpoint: r.ep ?? undefined, tick: r.tick ?? undefined });
        }
        c.rows[s].reverse();
      }
      yield c;
    }
  }

  /** Closes the connection and removes the scratch directory with both side files. */
  close(): void {
    this.#file.close();
  }
}
