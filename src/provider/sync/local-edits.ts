import { randomUUID } from 'node:crypto';
import { hasListWork, mergeChildLists } from '../payload/child-lists.ts';
import { tombstoneFragment } from '../payload/fragment.ts';
import { mergeFragment } from '../payload/merge.ts';
import type { KindInfo, ResourceRow, SyncStore } from '../store/repositories.ts';
import { etagOf } from './etag.ts';

/**
 * Local edits (plain SData CRUD and core $batch): every change takes the endpoint's own next tick (docs/protocol.md §3.1), in
 * the same transaction as the data, so local edits are registered the moment they happen and the target side's
 * "tick pending local changes first" step (docs/protocol.md §3.4 item 2) has nothing left to do.
 */
export class LocalOps {
  readonly store: SyncStore;
  readonly kind: KindInfo;

  constructor(store: SyncStore, kind: KindInfo) {
    this.store = store;
    this.kind = kind;
  }

  etag(row: ResourceRow): string {
    return etagOf(this.store.endpoint(row.ep).norm, row.tick);
  }

  /** Resource by local key or, failing that, by uuid. */
  find(key: string | undefined, uuid: string | undefined): ResourceRow | undefined {
    if (key !== undefined && /^\d{1,15}$/.test(key)) {
      const r = this.store.resources.byId(this.kind.id, Number(key));
      if (r) return r;
    }
    return uuid ? this.store.resources.byUuid(this.kind.id, uuid) : undefined;
  }

  /**
   * Creates a resource from a fragment that carries `sdata:uuid` (see normalizeFragment). A live resource with
   * that uuid is returned unchanged (core 8.5: a repeated POST of a consumer-made uuid is not a conflict).
   * `linked` false: a resource without a link (spec 1.2); `uuid` is then a random one its payload does not carry.
   */
  create(fragment: string, uuid: string, linked = true): { row: ResourceRow; created: boolean } {
    // A new resource's lists are all it has: stored complete, without the children it marks deleted (§3.3).
    if (hasListWork(fragment)) fragment = mergeChildLists(undefined, fragment, true);
    return this.store.tx((w) => {
      const had = w.resources.byUuid(this.kind.id, uuid);
      if (had && !had.deleted) return { row: had, created: false };
      const st = w.digest.localState(this.kind);
      let id: number;
      if (had) {
        id = had.id;
        w.resources.update(id, false, st.ep, st.tick, st.stamp, null, fragment);
      } else {
        id = w.resources.insert(this.kind.id, uuid, false, st.ep, st.tick, st.stamp, null, fragment, linked);
      }
      return { row: w.resources.byId(this.kind.id, id)!, created: true };
    });
  }

  /**
   * A PUT: property-level merge of the incoming fragment into the stored one (core 9.1), after its child lists were
   * merged with the stored ones (core 9.2: a list without `deleteMissing` is a delta).
   */
  update(row: ResourceRow, incoming: string): ResourceRow {
    if (hasListWork(incoming)) incoming = mergeChildLists(row.payload, incoming, true);
    return this.store.tx((w) => {
      const st = w.digest.localState(this.kind);
      w.resources.update(row.id, false, st.ep, st.tick, st.stamp, null, mergeFragment(row.payload, incoming));
      return w.resources.byId(this.kind.id, row.id)!;
    });
  }

  remove(row: ResourceRow): ResourceRow {
    return this.store.tx((w) => {
      const st = w.digest.localState(this.kind);
      w.resources.update(row.id, true, st.ep, st.tick, st.stamp, null, tombstoneFragment(row.payload, row.uuid));
      return w.resources.byId(this.kind.id, row.id)!;
    });
  }
}

export const newUuid = (): string => randomUUID();
