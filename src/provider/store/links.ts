import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { LinkRow, LinkWrites, SourceRange } from './repositories.ts';
import { nowStamp } from './digest.ts';
import { uuidKey } from '../../protocol/uuid.ts';
import type { ResourceRepo } from './resources.ts';
import type { TxGuard } from './tx-guard.ts';

/**
 * Links (spec 1.2, 1.3): the `linked` flag and uuid of resource rows, and `uuid_aliases`, the uuids a resource
 * held before a re-point and still answers to while the change propagates (docs/protocol.md A24). Which uuid goes where is decided
 * in sync/links.ts; this only reads and writes rows.
 */
export class LinkRepo implements LinkWrites {
  readonly #guard: TxGuard;
  readonly #resources: ResourceRepo;
  readonly #sOwner: StatementSync;
  readonly #sAliases: StatementSync;
  readonly #sUnlinked: StatementSync;
  readonly #sSetUuid: StatementSync;
  readonly #sAddAlias: StatementSync;
  readonly #sRemoveAlias: StatementSync;
  readonly #sDropAliases: StatementSync;

  constructor(db: DatabaseSync, guard: TxGuard, resources: ResourceRepo) {
    this.#guard = guard;
    this.#resources = resources;
    this.#sOwner = db.prepare('SELECT resource FROM uuid_aliases WHERE kind = ? AND uuid = ?');
    this.#sAliases = db.prepare('SELECT uuid FROM uuid_aliases WHERE resource = ? ORDER BY created, uuid');
    this.#sUnlinked = db.prepare('SELECT id, uuid, deleted, linked, payload FROM resources INDEXED BY resources_unlinked ' +
      'WHERE kind = ? AND linked = 0 AND ep = ? AND tick >= ? AND tick < ? LIMIT ?');
    this.#sSetUuid = db.prepare('UPDATE resources SET uuid = ?, linked = ?, payload = ? WHERE id = ?');
    this.#sAddAlias = db.prepare('INSERT OR REPLACE INTO uuid_aliases(kind, uuid, resource, created) VALUES(?, ?, ?, ?)');
    this.#sRemoveAlias = db.prepare('DELETE FROM uuid_aliases WHERE kind = ? AND uuid = ?');
    this.#sDropAliases = db.prepare('DELETE FROM uuid_aliases WHERE resource = ?');
  }

  aliasOwner(kind: number, uuid: string): number | undefined {
    return (this.#sOwner.get(kind, uuidKey(uuid)) as { resource: number } | undefined)?.resource;
  }

  aliasesOf(id: number): string[] {
    return (this.#sAliases.all(id) as Array<{ uuid: string }>).map((r) => r.uuid);
  }

  unlinkedIn(kind: number, ranges: readonly SourceRange[], limit: number): LinkRow[] {
    const out: LinkRow[] = [];
    for (const r of ranges) {
      if (out.length >= limit) break;
      for (const row of this.#sUnlinked.all(kind, r.ep, r.lower, r.upper, limit - out.length) as Array<{ id: number; uuid: string; deleted: number; linked: number; payload: string }>) {
        out.push({ id: row.id, uuid: row.uuid, deleted: row.deleted !== 0, linked: row.linked !== 0, payload: row.payload });
      }
    }
    return out;
  }

  setUuid(id: number, uuid: string, linked: boolean, payload: string): void {
    this.#guard.check('links.setUuid');
    this.#sSetUuid.run(uuidKey(uuid), linked ? 1 : 0, payload, id);
  }

  addAlias(kind: number, uuid: string, id: number): void {
    this.#guard.check('links.addAlias');
    this.#sAddAlias.run(kind, uuidKey(uuid), id, nowStamp());
    this.#resources.aliasAdded();
  }

  removeAlias(kind: number, uuid: string): void {
    this.#guard.check('links.removeAlias');
    this.#sRemoveAlias.run(kind, uuidKey(uuid));
  }

  dropAliases(id: number): void {
    this.#guard.check('links.dropAliases');
    this.#sDropAliases.run(id);
  }
}
