import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Tick } from '../../protocol/ticks.ts';
import type { ResourceRow, ResourceState, ResourceWrites } from './repositories.ts';
import { tickKey, tickOfKey } from './tick-key.ts';
import type { TxGuard } from './tx-guard.ts';

/** UUIDs match in either case (docs/protocol.md §2.2); rows keep them lower-cased, payloads keep them as written. */
export const uuidKey = (u: string): string => u.trim().toLowerCase();

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
  linked: number;
}

export const RESOURCE_COLUMNS = 'id, uuid, deleted, ep, tick, stamp, user, payload, linked';
/** The same columns of a resources row aliased `r` (queries that join it). */
const R_RESOURCE_COLUMNS = RESOURCE_COLUMNS.split(', ').map((c) => `r.${c}`).join(', ');

/** A row as the rest of the provider sees it: the one place resource rows are decoded. */
export function toResourceRow(r: RawResource): ResourceRow {
  return { id: r.id, uuid: r.uuid, deleted: r.deleted !== 0, ep: r.ep, tick: tickOfKey(r.tick), stamp: r.stamp, user: r.user, payload: r.payload, linked: r.linked !== 0 };
}

/**
 * The `resources` table: live resources and tombstones, one row per uuid, the row id being the local key. The one
 * INSERT and the one UPDATE of resource rows are here; both need an open transaction (Store.tx). A uuid names a
 * resource whether it is the one the row holds or an alias it kept from before a re-point (store/links.ts): lookups
 * by uuid try the row's own first (the uuid index) and the aliases only when that misses.
 */
export class ResourceRepo implements ResourceWrites {
  readonly #guard: TxGuard;
  readonly #sByUuid: StatementSync;
  readonly #sById: StatementSync;
  readonly #sState: StatementSync;
  readonly #sByAlias: StatementSync;
  readonly #sStateByAlias: StatementSync;
  readonly #sPayload: StatementSync;
  readonly #sInsert: StatementSync;
  readonly #sUpdate: StatementSync;
  readonly #sMaxTick: StatementSync;

  constructor(db: DatabaseSync, guard: TxGuard) {
    this.#guard = guard;
    this.#sByUuid = db.prepare(`SELECT ${RESOURCE_COLUMNS} FROM resources WHERE kind = ? AND uuid = ?`);
    this.#sById = db.prepare(`SELECT ${RESOURCE_COLUMNS} FROM resources WHERE kind = ? AND id = ?`);
    this.#sState = db.prepare('SELECT id, deleted, ep, tick, stamp FROM resources WHERE kind = ? AND uuid = ?');
    const alias = 'FROM uuid_aliases a JOIN resources r ON r.id = a.resource WHERE a.kind = ? AND a.uuid = ?';
    this.#sByAlias = db.prepare(`SELECT ${R_RESOURCE_COLUMNS} ${alias}`);
    this.#sStateByAlias = db.prepare(`SELECT r.id, r.deleted, r.ep, r.tick, r.stamp, r.uuid AS "primary" ${alias}`);
    this.#sPayload = db.prepare('SELECT payload FROM resources WHERE id = ?');
    this.#sInsert = db.prepare('INSERT INTO resources(kind, uuid, deleted, ep, tick, stamp, user, payload, linked) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.#sUpdate = db.prepare('UPDATE resources SET deleted = ?, ep = ?, tick = ?, stamp = ?, user = ?, payload = ? WHERE id = ?');
    this.#sMaxTick = db.prepare('SELECT max(tick) AS t FROM resources WHERE kind = ? AND ep = ?');
  }

  byUuid(kind: number, uuid: string): ResourceRow | undefined {
    const u = uuidKey(uuid);
    const r = (this.#sByUuid.get(kind, u) ?? this.#sByAlias.get(kind, u)) as RawResource | undefined;
    return r ? toResourceRow(r) : undefined;
  }

  byId(kind: number, id: number): ResourceRow | undefined {
    const r = this.#sById.get(kind, id) as RawResource | undefined;
    return r ? toResourceRow(r) : undefined;
  }

  stateOf(kind: number, uuid: string): ResourceState | undefined {
    // Decoded in place: the per-entry lookup of a target pass allocates nothing beyond what SQLite returns.
    const u = uuidKey(uuid);
    type Raw = { id: number; deleted: number | boolean; ep: number; tick: string; stamp: string; primary?: string };
    const r = (this.#sState.get(kind, u) ?? this.#sStateByAlias.get(kind, u)) as Raw | undefined;
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

  insert(kind: number, uuid: string, deleted: boolean, ep: number, tick: Tick, stamp: string, user: string | null, payload: string, linked = true): number {
    this.#guard.check('resources.insert');
    return Number(this.#sInsert.run(kind, uuidKey(uuid), deleted ? 1 : 0, ep, tickKey(tick), stamp, user, payload, linked ? 1 : 0).lastInsertRowid);
  }

  update(id: number, deleted: boolean, ep: number, tick: Tick, stamp: string, user: string | null, payload: string): void {
    this.#guard.check('resources.update');
    this.#sUpdate.run(deleted ? 1 : 0, ep, tickKey(tick), stamp, user, payload, id);
  }
}
