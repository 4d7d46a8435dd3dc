import { createHash } from 'node:crypto';
import { escapeAttr } from '../../protocol/escape.ts';
import { NS } from '../../protocol/namespaces.ts';
import type { Contexts } from '../store/contexts.ts';
import type { KindInfo, Store } from '../store/store.ts';

/**
 * Read-only administration for tests and operators: `GET {dataset}/$health` and `GET {kind}/$checksum`.
 * Both are JSON, not SData; they exist so that convergence can be checked without pulling whole feeds.
 */

export interface KindHealth {
  endpoint: string;
  resources: number;
  tombstones: number;
  digest: Array<{ endpoint: string; tick: string; conflictPriority: number; stamp: string }>;
}

export interface Health {
  app: string;
  contract: string;
  dataset: string;
  endpointBase: string;
  openContexts: number;
  kinds: Record<string, KindHealth>;
  /** trackingID (lower case) → times its $syncTarget/$batch body was applied (process lifetime). */
  appliedTrackingIds: Record<string, number>;
  syncResults: number;
  /** process.memoryUsage() in MiB (rss, heapTotal, heapUsed, external, arrayBuffers). */
  memoryMiB: Record<string, number>;
}

export function health(store: Store, contexts: Contexts): Health {
  const kinds: Record<string, KindHealth> = {};
  for (const k of store.kinds) {
    const c = store.counts(k.id);
    const digest = [...store.digestOf(k.id).values()]
      .map((r) => ({ endpoint: store.endpoint(r.ep).url, tick: r.tick, conflictPriority: r.prio, stamp: r.stamp }))
      .sort((a, b) => (a.endpoint < b.endpoint ? -1 : 1));
    kinds[k.name] = { endpoint: k.selfUrl, resources: c.resources, tombstones: c.tombstones, digest };
  }
  const n = store.db.prepare('SELECT count(*) AS n FROM sync_results').get() as { n: number };
  return {
    app: store.app, contract: store.contract, dataset: store.dataset, endpointBase: store.endpointBase,
    openContexts: contexts.open(), kinds, appliedTrackingIds: Object.fromEntries(contexts.applied), syncResults: n.n,
    memoryMiB: Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, Math.round(v / 1048576)])),
  };
}

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

/**
 * Two stores hold the same data iff their checksums are equal: payloads are stored as canonical self-contained
 * fragments (see fragment.ts), so a relayed version is byte-identical to its origin's.
 */
export function checksum(store: Store, kind: KindInfo): Checksum {
  const live = createHash('sha256');
  const dead = createHash('sha256');
  const states = createHash('sha256');
  let count = 0;
  let tombstones = 0;
  const q = store.db.prepare('SELECT uuid, deleted, ep, tick, payload FROM resources WHERE kind = ? ORDER BY uuid');
  for (const r of q.iterate(kind.id) as Iterable<{ uuid: string; deleted: number; ep: number; tick: string; payload: string }>) {
    if (r.deleted) {
      tombstones++;
      dead.update(r.uuid).update('\n');
    } else {
      count++;
      live.update(r.uuid).update('\n').update(r.payload).update('\n');
    }
    states.update(`${r.uuid} ${r.deleted} ${store.endpoint(r.ep).norm} ${r.tick.slice(3)}\n`);
  }
  return { count, sha256: live.digest('hex'), tombstones, tombstonesSha256: dead.digest('hex'), statesSha256: states.digest('hex') };
}

/**
 * `GET {dataset}/$schema` (spec 4.5, core 4.8), reduced to what sync consumers read: one `xs:element` per kind
 * served, named by its collection segment, with sme:isSyncSource/isSyncTarget, sme:syncOrder (the order the kinds
 * were configured in), sme:syncConflictPriority and the paging/batching/ETag capabilities.
 */
export function schemaXml(store: Store, kinds: readonly KindInfo[], contractNs: string): string {
  let s = `<?xml version="1.0" encoding="utf-8"?>\n<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:sme="${NS.sme}"` +
    ` targetNamespace="${escapeAttr(contractNs)}" elementFormDefault="qualified">\n`;
  kinds.forEach((k, i) => {
    const prio = store.digestOf(k.id).get(k.selfEp)?.prio ?? 5;
    s += `  <xs:element name="${escapeAttr(k.name)}" type="xs:anyType" sme:role="resourceKind" sme:pluralName="${escapeAttr(k.name)}"` +
      ` sme:isSyncSource="true" sme:isSyncTarget="true" sme:syncOrder="${i + 1}" sme:syncConflictPriority="${prio}"` +
      ' sme:hasUuid="true" sme:supportsETag="true" sme:batchingMode="syncOrAsync" sme:canPageNext="true"' +
      ' sme:canPagePrevious="false" sme:canPageIndex="false"/>\n';
  });
  return `${s}</xs:schema>\n`;
}
