import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Tick } from '../../protocol/ticks.ts';
import { uuidKey } from '../../protocol/uuid.ts';
import type { Payload, ResourceRow, ResourceState, ResourceWrites } from './repositories.ts';
import { tickKey, tickOfKey } from './tick-key.ts';
import type { TxGuard } from './tx-guard.ts';

// UUIDs match in either case (docs/protocol.md §2.2): rows keep them as uuidKey makes them, payloads as written.

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
  readonly #sInsertNew: StatementSync;
  readonly #sAnyAlias: StatementSync;
  readonly #sUpdate: StatementSync;
  readonly #sMaxTick: StatementSync;
  /** The transaction (TxGuard.serial) in which #aliases was read, and whether `uuid_aliases` had any row then. */
  #aliasesTx = -1;
  #aliases = true;

  constructor(db: DatabaseSync, guard: TxGuard) {
    this.#guard = guard;
    this.#sByUuid = db.prepare(`SELECT ${RESOURCE_COLUMNS} FROM resources WHERE kind = ? AND uuid = ?`);
    this.#sById = db.prepare(`SELECT ${RESOURCE_COLUMNS} FROM resources WHERE kind = ? AND id = ?`);
    this.#sState = db.prepare('SELECT id, deleted, ep, tick, stamp FROM resources WHERE kind = ? AND uuid = ?');
    const alias = 'FROM uuid_aliases a JOIN resources r ON r.id = a.resource WHERE a.kind = ? AND a.uuid = ?';
    this.#sByAlias = db.prepare(`SELECT ${R_RESOURCE_COLUMNS} ${alias}`);
    this.#sStateByAlias = db.prepare(`SELECT r.id, r.deleted, r.ep, r.tick, r.stamp, r.uuid AS "primary" ${alias}`);
    this.#sPayload = db.prepare('SELECT payload FROM resources WHERE id = ?');
    // Payloads are bound as strings or as their UTF-8 bytes (a Payload); CAST makes bytes the TEXT they encode, so the
    // column holds text either way (SQLite's CAST of a BLOB to TEXT takes its bytes as UTF-8, the database's encoding).
    this.#sInsert = db.prepare('INSERT INTO resources(kind, uuid, deleted, ep, tick, stamp, user, payload, linked) VALUES(?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?)');
    // Nothing is written when a row holds the uuid already (the UNIQUE index is checked before the table is touched).
    this.#sInsertNew = db.prepare('INSERT INTO resources(kind, uuid, deleted, ep, tick, stamp, user, payload, linked) VALUES(?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), 1) ' +
      'ON CONFLICT(kind, uuid) DO NOTHING');
    this.#sAnyAlias = db.prepare('SELECT EXISTS(SELECT 1 FROM uuid_aliases) AS e');
    this.#sUpdate = db.prepare('UPDATE resources SET deleted = ?, ep = ?, tick = ?, stamp = ?, user = ?, payload = CAST(? AS TEXT) WHERE id = ?');
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
    const aliases = this.#aliasesMayExist();
    type Raw = { id: number; deleted: number | boolean; ep: number; tick: string; stamp: string; primary?: string };
    const r = (this.#sState.get(kind, u) ?? (aliases ? this.#sStateByAlias.get(kind, u) : undefined)) as Raw | undefined;
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

  /**
   * Whether `uuid_aliases` may hold a row. Inside a transaction (BEGIN IMMEDIATE: no other connection writes until it
   * ends) it is read once and kept until the next transaction, so a look-up that misses the uuid index costs no
   * second statement in a store without aliases (nearly all of them: only re-pointed links make aliases).
   */
  #aliasesMayExist(): boolean {
    const g = this.#guard;
    if (g.depth === 0) return true;
    if (this.#aliasesTx !== g.serial) {
      this.#aliasesTx = g.serial;
      this.#aliases = (this.#sAnyAlias.get() as { e: number }).e !== 0;
    }
    return this.#aliases;
  }

  insert(kind: number, uuid: string, deleted: boolean, ep: number, tick: Tick, stamp: string, user: string | null, payload: Payload, linked = true): number {
    this.#guard.check('resources.insert');
    return Number(this.#sInsert.run(kind, uuidKey(uuid), deleted ? 1 : 0, ep, tickKey(tick), stamp, user, payload, linked ? 1 : 0).lastInsertRowid);
  }

  /**
   * A new linked row, as insert(), unless a resource of the kind answers to `uuid` already (its own or an alias):
   * then nothing is written and the result is undefined. One statement where stateOf() and insert() are two or
   * three: a target pass into an empty kind creates nearly every resource it is sent.
   */
  insertNew(kind: number, uuid: string, deleted: boolean, ep: number, tick: Tick, stamp: string, user: string | null, payload: Payload): number | undefined {
    this.#guard.check('resources.insertNew');
    const u = uuidKey(uuid);
    if (this.#aliasesMayExist() && this.#sStateByAlias.get(kind, u) !== undefined) return undefined;
    const r = this.#sInsertNew.run(kind, u, deleted ? 1 : 0, ep, tickKey(tick), stamp, user, payload);
    return r.changes === 0 ? undefined : Number(r.lastInsertRowid);
  }

  /** Aliases were added in this transaction (store/links.ts): look-ups must read them. */
  aliasAdded(): void {
    this.#aliases = true;
  }

  update(id: number, deleted: boolean, ep: number, tick: Tick, stamp: string, user: string | null, payload: Payload): void {
    this.#guard.check('resources.update');
    this.#sUpdate.run(deleted ? 1 : 0, ep, tickKey(tick), stamp, user, payload, id);
  }
}
