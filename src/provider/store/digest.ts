import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { emptyDigest, setDigestEntry, type Digest } from '../../protocol/digest.ts';
import { maxTick, nextTick, tickLess, type Tick } from '../../protocol/ticks.ts';
import type { Catalog, DigestRow, DigestWrites, KindInfo, LocalState } from './repositories.ts';
import type { ResourceRepo } from './resources.ts';
import { tickKey, tickOfKey } from './tick-key.ts';
import type { TxGuard } from './tx-guard.ts';

export const nowStamp = (): string => new Date().toISOString();

type Tx = <T>(fn: () => T) => T;

/**
 * The `digest` table (one row per kind and endpoint: the vector clock), cached in memory because every applied entry
 * reads and advances it. Changes mark their rows dirty; Store.tx() writes the dirty rows just before COMMIT, so the
 * digest on disk is never ahead of the data it describes.
 */
export class DigestRepo implements DigestWrites {
  readonly #catalog: Catalog;
  readonly #resources: ResourceRepo;
  readonly #guard: TxGuard;
  readonly #tx: Tx;
  readonly #sOf: StatementSync;
  readonly #sUpsert: StatementSync;
  readonly #sDeleteKind: StatementSync;
  readonly #cache = new Map<number, Map<number, DigestRow>>();
  readonly #dirty = new Map<number, Set<number>>();

  constructor(db: DatabaseSync, catalog: Catalog, resources: ResourceRepo, guard: TxGuard, tx: Tx) {
    this.#catalog = catalog;
    this.#resources = resources;
    this.#guard = guard;
    this.#tx = tx;
    this.#sOf = db.prepare('SELECT ep, tick, stamp, prio FROM digest WHERE kind = ?');
    this.#sUpsert = db.prepare('INSERT INTO digest(kind, ep, tick, stamp, prio) VALUES(?, ?, ?, ?, ?) ' +
      'ON CONFLICT(kind, ep) DO UPDATE SET tick = excluded.tick, stamp = excluded.stamp, prio = excluded.prio');
    this.#sDeleteKind = db.prepare('DELETE FROM digest WHERE kind = ?');
  }

  rows(kind: number): Map<number, DigestRow> {
    let d = this.#cache.get(kind);
    if (!d) {
      d = new Map();
      for (const r of this.#sOf.all(kind) as Array<{ ep: number; tick: string; stamp: string; prio: number }>) {
        d.set(r.ep, { ep: r.ep, tick: tickOfKey(r.tick), stamp: r.stamp, prio: r.prio });
      }
      this.#cache.set(kind, d);
    }
    return d;
  }

  get(kind: KindInfo): Digest {
    const out = emptyDigest(kind.selfUrl);
    for (const r of this.rows(kind.id).values()) {
      setDigestEntry(out, { endpoint: this.#catalog.endpoint(r.ep).url, tick: r.tick, stamp: r.stamp, conflictPriority: r.prio });
    }
    return out;
  }

  advance(kind: number, ep: number, next: Tick, prio: number, stamp = nowStamp()): void {
    const d = this.rows(kind);
    const r = d.get(ep);
    if (!r) {
      this.#markDirty(kind, ep);
      d.set(ep, { ep, tick: next, stamp, prio });
    } else if (tickLess(r.tick, next)) {
      this.#markDirty(kind, ep);
      r.tick = next;
      r.stamp = stamp;
    }
  }

  setPriority(kind: number, ep: number, prio: number): void {
    const r = this.rows(kind).get(ep);
    if (r === undefined || r.prio === prio) return;
    this.#markDirty(kind, ep);
    r.prio = prio;
  }

  localState(k: KindInfo): LocalState {
    this.#markDirty(k.id, k.selfEp);
    const r = this.rows(k.id).get(k.selfEp)!;
    const tick = r.tick;
    const stamp = nowStamp();
    r.tick = nextTick(tick);
    r.stamp = stamp;
    return { ep: k.selfEp, tick, stamp };
  }

  replace(k: KindInfo, d: Digest): void {
    this.#tx(() => {
      const own = this.rows(k.id).get(k.selfEp)!;
      const rows = new Map<number, DigestRow>();
      for (const e of d.entries.values()) {
        const ep = this.#catalog.endpointId(e.endpoint);
        tickKey(e.tick); // refuses ticks this store cannot hold, before anything changes
        rows.set(ep, { ep, tick: e.tick, stamp: e.stamp || nowStamp(), prio: e.conflictPriority });
      }
      const max = this.#resources.maxTick(k.id, k.selfEp);
      const floor = max === undefined ? '0' : nextTick(max);
      const self = rows.get(k.selfEp) ?? { ...own };
      self.tick = maxTick(self.tick, floor);
      rows.set(k.selfEp, self);
      this.#sDeleteKind.run(k.id);
      this.#cache.set(k.id, rows);
      for (const ep of rows.keys()) this.#markDirty(k.id, ep);
    });
  }

  /** A new kind's own entry (tick 1). Inside the transaction that creates the kind. */
  init(k: KindInfo, prio: number): void {
    this.#markDirty(k.id, k.selfEp);
    this.rows(k.id).set(k.selfEp, { ep: k.selfEp, tick: '1', stamp: nowStamp(), prio });
  }

  /** Sets the conflictPriority of the kind's own entry, in a transaction of its own. */
  setOwnPriority(k: KindInfo, prio: number): void {
    const row = this.rows(k.id).get(k.selfEp);
    if (row && row.prio !== prio) {
      this.#tx(() => {
        this.#markDirty(k.id, k.selfEp);
        row.prio = prio;
      });
    }
  }

  /** Writes the rows changed in this transaction (Store.tx, before COMMIT). */
  flush(): void {
    for (const [kind, eps] of this.#dirty) {
      const d = this.rows(kind);
      for (const ep of eps) {
        const r = d.get(ep)!;
        this.#sUpsert.run(kind, ep, tickKey(r.tick), r.stamp, r.prio);
      }
    }
    this.#dirty.clear();
  }

  /** After a rollback: the cache may hold changes that never reached the disk. */
  reset(): void {
    this.#dirty.clear();
    this.#cache.clear();
  }

  #markDirty(kind: number, ep: number): void {
    this.#guard.check('a digest change');
    let s = this.#dirty.get(kind);
    if (!s) this.#dirty.set(kind, (s = new Set()));
    s.add(ep);
  }
}
