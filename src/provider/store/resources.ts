import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Tick } from '../../protocol/ticks.ts';
import type { ResourceRow, ResourceState, ResourceWrites } from './repositories.ts';
import { tickKey, tickOfKey } from './tick-key.ts';
import type { TxGuard } from './tx-guard.ts';

/** UUIDs match in either case (docs/protocol.md §2.2); rows keep them lower-cased, payloads keep them as written. */
const uuidKey = (u: string): string => u.trim().toLowerCase();

/** A resource row as SQLite returns it (ticks as tick keys, flags as integers). */
export interface RawResource {
  id: number;
  uuid: string;
  deleted: number;
  ep: number;
  tick: string;
  stamp: string;
  user: string | null;
  payload: string;
}

export const RESOURCE_COLUMNS = 'id, uuid, deleted, ep, tick, stamp, user, payload';

/** A row as the rest of the provider sees it: the one place resource rows are decoded. */
export function toResourceRow(r: RawResource): ResourceRow {
  return { id: r.id, uuid: r.uuid, deleted: r.deleted !== 0, ep: r.ep, tick: tickOfKey(r.tick), stamp: r.stamp, user: r.user, payload: r.payload };
}

/**
 * The `resources` table: live resources and tombstones, one row per uuid, the row id being the local key. The one
 * INSERT and the one UPDATE of resource rows are here; both need an open transaction (Store.tx).
 */
export class ResourceRepo implements ResourceWrites {
  readonly #guard: TxGuard;
  readonly #sByUuid: StatementSync;
  readonly #sById: StatementSync;
  readonly #sState: StatementSync;
  readonly #sPayload: StatementSync;
  readonly #sInsert: StatementSync;
  readonly #sUpdate: StatementSync;
  readonly #sMaxTick: StatementSync;

  constructor(db: DatabaseSync, guard: TxGuard) {
    this.#guard = guard;
    this.#sByUuid = db.prepare(`SELECT ${RESOURCE_COLUMNS} FROM resources WHERE kind = ? AND uuid = ?`);
    this.#sById = db.prepare(`SELECT ${RESOURCE_COLUMNS} FROM resources WHERE kind = ? AND id = ?`);
    this.#sState = db.prepare('SELECT id, deleted, ep, tick, stamp FROM resources WHERE kind = ? AND uuid = ?');
    this.#sPayload = db.prepare('SELECT payload FROM resources WHERE id = ?');
    this.#sInsert = db.prepare('INSERT INTO resources(kind, uuid, deleted, ep, tick, stamp, user, payload) VALUES(?, ?, ?, ?, ?, ?, ?, ?)');
    this.#sUpdate = db.prepare('UPDATE resources SET deleted = ?, ep = ?, tick = ?, stamp = ?, user = ?, payload = ? WHERE id = ?');
    this.#sMaxTick = db.prepare('SELECT max(tick) AS t FROM resources WHERE kind = ? AND ep = ?');
  }

  byUuid(kind: number, uuid: string): ResourceRow | undefined {
    const r = this.#sByUuid.get(kind, uuidKey(uuid)) as RawResource | undefined;
    return r ? toResourceRow(r) : undefined;
  }

  byId(kind: number, id: number): ResourceRow | undefined {
    const r = this.#sById.get(kind, id) as RawResource | undefined;
    return r ? toResourceRow(r) : undefined;
  }

  stateOf(kind: number, uuid: string): ResourceState | undefined {
    // Decoded in place: the per-entry lookup of a target pass allocates nothing beyond what SQLite returns.
    const r = this.#sState.get(kind, uuidKey(uuid)) as { id: number; deleted: number | boolean; ep: number; tick: string; stamp: string } | undefined;
    if (r === undefined) return undefined;
    r.deleted = r.deleted !== 0;
    r.tick = tickOfKey(r.tick);
    return r as ResourceState;
  }

  payloadOf(id: number): string | undefined {
    return (this.#sPayload.get(id) as { payload: string } | undefined)?.payload;
  }

  /** The highest tick of the rows whose state names `ep`. */
  maxTick(kind: number, ep: number): Tick | undefined {
    const t = (this.#sMaxTick.get(kind, ep) as { t: string | null }).t;
    return t === null ? undefined : tickOfKey(t);
  }

  insert(kind: number, uuid: string, deleted: boolean, ep: number, tick: Tick, stamp: string, user: string | null, payload: string): number {
    this.#guard.check('resources.insert');
    return Number(this.#sInsert.run(kind, uuidKey(uuid), deleted ? 1 : 0, ep, tickKey(tick), stamp, user, payload).lastInsertRowid);
  }

  update(id: number, deleted: boolean, ep: number, tick: Tick, stamp: string, user: string | null, payload: string): void {
    this.#guard.check('resources.update');
    this.#sUpdate.run(deleted ? 1 : 0, ep, tickKey(tick), stamp, user, payload, id);
  }
}
