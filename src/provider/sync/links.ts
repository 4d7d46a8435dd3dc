import { randomUUID } from 'node:crypto';
import { withRootUuid } from '../payload/link-attrs.ts';
import { uuidKey } from '../../protocol/uuid.ts';
import type { KindInfo, LinkRow, ResourceRow, SourceRange, StoreWriter, SyncStore } from '../store/repositories.ts';

/**
 * Which uuid a resource answers to (spec 1.1–1.3; docs/protocol.md §3.11): the operations of `$linked`, and the
 * linking that sync does by itself.
 *
 * - A resource created here without a uuid has no link (spec 1.2): its row holds a random uuid nobody has seen and
 *   its payload carries none. Its first link adopts a uuid (the one posted, else that random one: a real random
 *   uuid, never derived from the local key, 1.1). A resource created by sync takes the entry's uuid: it is linked.
 * - A resource about to go out in a sync feed is linked first (`linkForSync`): every entry carries a uuid, and the
 *   spec's "the first synchronization pass establishes the link" holds.
 * - Re-pointing a uuid to a resource that has another (PUT, the loser's side of 1.2's third case) keeps the old one
 *   as an alias: entries and references naming it still reach the resource while the change propagates (docs/protocol.md A24).
 *   Sources send the current uuid.
 * - Linking is not a change of the resource (1.3: these URLs manipulate link metadata): no tick, no new syncState.
 *   The payload's root `sdata:uuid` follows the link, so what is served and sent shows the current uuid.
 *
 * A uuid belongs to at most one resource here, as its own or as an alias. Refusals are LinkRefused, with the status
 * the `$linked` answer (or batch result) carries.
 */

export class LinkRefused extends Error {
  readonly status: 400 | 404 | 409 | 410;
  constructor(status: 400 | 404 | 409 | 410, message: string) {
    super(message);
    this.name = 'LinkRefused';
    this.status = status;
  }
}

/** UUIDs match in either case (docs/protocol.md §2.2). */
export const sameUuid = (a: string, b: string): boolean => uuidKey(a) === uuidKey(b);

/** Rows linked per transaction when a source selection links what it is about to send. */
const SYNC_LINK_BATCH = 2000;

export class LinkOps {
  readonly store: SyncStore;
  readonly kind: KindInfo;

  constructor(store: SyncStore, kind: KindInfo) {
    this.store = store;
    this.kind = kind;
  }

  /** The linked live resource answering to `uuid`, its own or an alias (GET `$linked('{uuid}')`). */
  get(uuid: string): ResourceRow {
    const row = this.store.resources.byUuid(this.kind.id, uuid);
    if (!row || !row.linked) throw new LinkRefused(404, `no resource of kind ${this.kind.name} is linked to uuid ${uuid}`);
    if (row.deleted) throw new LinkRefused(410, `the ${this.kind.name} linked to uuid ${uuid} (${this.name(row.id)}) was deleted`);
    return row;
  }

  /**
   * POST `$linked` (1.3): links resource `id` to `uuid`, or to a new one. A resource already linked is accepted as it
   * is when no uuid or one of its own is posted (SHOULD), refused with another (MUST): `409`.
   */
  link(id: number, uuid: string | undefined): { row: ResourceRow; created: boolean } {
    return this.store.tx((w) => {
      const row = this.live(w, id);
      if (row.linked) {
        if (uuid === undefined || this.answersTo(w, row, uuid)) return { row, created: false };
        throw new LinkRefused(409, `${this.name(id)} is already linked to uuid ${row.uuid}, not ${uuid}; PUT $linked('${uuid}') re-points a uuid`);
      }
      const u = uuid ?? row.uuid;
      if (uuid !== undefined) this.claim(w, u, id);
      w.links.setUuid(id, u, true, withRootUuid(row.payload, u));
      return { row: w.resources.byId(this.kind.id, id)!, created: true };
    });
  }

  /**
   * PUT `$linked('{uuid}')` (1.3): `uuid` now names resource `id`. Whatever held it before lets it go (a resource
   * whose own uuid it was is left without a link); if `id` had another uuid, that one stays as its alias (1.2).
   */
  repoint(uuid: string, id: number): ResourceRow {
    return this.store.tx((w) => {
      const target = this.live(w, id);
      const holder = w.resources.byUuid(this.kind.id, uuid);
      if (holder && holder.id === id && target.linked && sameUuid(target.uuid, uuid)) return target;
      if (holder && holder.id !== id) this.release(w, holder, uuid);
      else if (holder) w.links.removeAlias(this.kind.id, uuid); // one of the target's aliases becomes its uuid again
      if (target.linked) w.links.addAlias(this.kind.id, target.uuid, id);
      w.links.setUuid(id, uuid, true, withRootUuid(target.payload, uuid));
      return w.resources.byId(this.kind.id, id)!;
    });
  }

  /** DELETE `$linked('{uuid}')` (1.3): the link goes, the resource stays. An alias just stops naming it. */
  unlink(uuid: string): void {
    this.store.tx((w) => {
      const row = w.resources.byUuid(this.kind.id, uuid);
      if (!row || !row.linked || row.deleted) throw new LinkRefused(404, `no live resource of kind ${this.kind.name} is linked to uuid ${uuid}`);
      if (sameUuid(row.uuid, uuid)) this.unlinkRow(w, row);
      else w.links.removeAlias(this.kind.id, uuid);
    });
  }

  /** Links every unlinked row in the source ranges, before they are sent (their own random uuid); returns how many. */
  linkForSync(ranges: readonly SourceRange[]): number {
    let n = 0;
    for (;;) {
      // Read first: the usual case, nothing to link, costs one index probe per range and no transaction.
      const rows: LinkRow[] = this.store.links.unlinkedIn(this.kind.id, ranges, SYNC_LINK_BATCH);
      if (rows.length > 0) {
        this.store.tx((w) => {
          for (const r of rows) w.links.setUuid(r.id, r.uuid, true, r.deleted ? r.payload : withRootUuid(r.payload, r.uuid));
        });
      }
      n += rows.length;
      if (rows.length < SYNC_LINK_BATCH) return n;
    }
  }

  // -------------------------------------------------------------------------------------------------------------

  private name(id: number): string {
    return `${this.kind.name}('${id}')`;
  }

  private live(w: StoreWriter, id: number): ResourceRow {
    const row = w.resources.byId(this.kind.id, id);
    if (!row) throw new LinkRefused(404, `no resource ${this.name(id)}`);
    if (row.deleted) throw new LinkRefused(410, `${this.name(id)} was deleted`);
    return row;
  }

  private answersTo(w: StoreWriter, row: ResourceRow, uuid: string): boolean {
    return sameUuid(row.uuid, uuid) || w.links.aliasOwner(this.kind.id, uuid) === row.id;
  }

  /** Makes sure `uuid` is free for resource `id`: refused if another resource is linked to it. */
  private claim(w: StoreWriter, uuid: string, id: number): void {
    const holder = w.resources.byUuid(this.kind.id, uuid);
    if (!holder || holder.id === id) return;
    if (!holder.linked) {
      this.rehide(w, holder); // the random uuid of a resource without a link: it simply takes another
      return;
    }
    throw new LinkRefused(409, `uuid ${uuid} already links ${this.name(holder.id)}${holder.deleted ? ' (deleted)' : ''}; PUT $linked('${uuid}') re-points it`);
  }

  /** `holder` gives `uuid` up for another resource (a re-point). */
  private release(w: StoreWriter, holder: ResourceRow, uuid: string): void {
    if (!holder.linked) this.rehide(w, holder);
    else if (holder.deleted) throw new LinkRefused(409, `uuid ${uuid} belongs to ${this.name(holder.id)}, which was deleted; it cannot be re-pointed`);
    else if (sameUuid(holder.uuid, uuid)) this.unlinkRow(w, holder);
    else w.links.removeAlias(this.kind.id, uuid);
  }

  private unlinkRow(w: StoreWriter, row: ResourceRow): void {
    w.links.dropAliases(row.id);
    w.links.setUuid(row.id, randomUUID(), false, withRootUuid(row.payload, undefined));
  }

  private rehide(w: StoreWriter, row: ResourceRow): void {
    w.links.setUuid(row.id, randomUUID(), false, row.payload);
  }
}
