import type { ServerResponse } from 'node:http';
import { escapeAttr } from '../../protocol/escape.ts';
import { contractNamespace, NS } from '../../protocol/namespaces.ts';
import { methodNotAllowed, sendText, XML } from '../http/http-io.ts';
import type { KindInfo } from '../store/repositories.ts';
import type { Store } from '../store/store.ts';
import type { Call, ProviderCore } from './call.ts';

/**
 * `GET {dataset}/$schema` (the kinds, for `run --all-kinds`), and read-only administration for tests and operators:
 * `GET {dataset}/$health` and `GET {kind}/$checksum`. The latter two are JSON, not SData; they exist so that
 * convergence can be checked without pulling whole feeds.
 */

/** `{dataset}/$schema` and `{dataset}/$health`: the requests that name no kind. */
export function handleDatasetOp(core: ProviderCore, op: '$schema' | '$health', method: string, path: string, res: ServerResponse, served: readonly KindInfo[]): void {
  if (method !== 'GET') throw methodNotAllowed(method, path, 'GET');
  if (op === '$schema') sendText(res, 200, schemaXml(core.store, served, contractNamespace(core.store.contract)), XML);
  else sendText(res, 200, `${JSON.stringify(health(core), null, 1)}\n`, 'application/json');
}

/** `{kind}/$checksum`. */
export function handleChecksum(c: Call): void {
  if (c.method !== 'GET') throw methodNotAllowed(c.method, c.url.pathname, 'GET');
  sendText(c.res, 200, `${JSON.stringify(c.core.store.admin.checksum(c.kind))}\n`, 'application/json');
}

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
  /** trackingID (lower case) → times its $syncTarget/$batch body was applied (the last 1000 applied, this process). */
  appliedTrackingIds: Record<string, number>;
  syncResults: number;
  /** process.memoryUsage() in MiB (rss, heapTotal, heapUsed, external, arrayBuffers). */
  memoryMiB: Record<string, number>;
}

export function health(core: ProviderCore): Health {
  const { store, contexts } = core;
  const kinds: Record<string, KindHealth> = {};
  for (const k of store.kinds) {
    const c = store.admin.counts(k.id);
    const digest = [...store.digest.rows(k.id).values()]
      .map((r) => ({ endpoint: store.endpoint(r.ep).url, tick: r.tick, conflictPriority: r.prio, stamp: r.stamp }))
      .sort((a, b) => (a.endpoint < b.endpoint ? -1 : 1));
    kinds[k.name] = { endpoint: k.selfUrl, resources: c.resources, tombstones: c.tombstones, digest };
  }
  return {
    app: store.app, contract: store.contract, dataset: store.dataset, endpointBase: store.endpointBase,
    openContexts: contexts.open(), kinds, appliedTrackingIds: core.applied.toJSON(), syncResults: store.syncResults.count(),
    memoryMiB: Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, Math.round(v / 1048576)])),
  };
}

/**
 * `GET {dataset}/$schema` (spec 4.5, core 4.8), reduced to what sync consumers read: one `xs:element` per kind
 * served, named by its collection segment, with sme:isSyncSource/isSyncTarget, sme:syncOrder (the order the kinds
 * were configured in), sme:syncConflictPriority and the paging/batching/ETag capabilities. `canPageIndex` describes the
 * kind's collection (core 4.8), which pages by index; its sync feeds page only by their next links (X16).
 * SME has no attribute for linking; ours (docs/protocol.md X17) say that `{kind}/$linked` exists
 * (`sme:supportsLinking`) and how its `$linked/$batch` may be called (`sme:linkedBatchingMode`, with `sme:batchingMode`'s values).
 */
export function schemaXml(store: Store, kinds: readonly KindInfo[], contractNs: string): string {
  let s = `<?xml version="1.0" encoding="utf-8"?>\n<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:sme="${NS.sme}"` +
    ` targetNamespace="${escapeAttr(contractNs)}" elementFormDefault="qualified">\n`;
  kinds.forEach((k, i) => {
    const prio = store.digest.rows(k.id).get(k.selfEp)?.prio ?? 5;
    s += `  <xs:element name="${escapeAttr(k.name)}" type="xs:anyType" sme:role="resourceKind" sme:pluralName="${escapeAttr(k.name)}"` +
      ` sme:isSyncSource="true" sme:isSyncTarget="true" sme:syncOrder="${i + 1}" sme:syncConflictPriority="${prio}"` +
      ' sme:hasUuid="true" sme:supportsETag="true" sme:batchingMode="syncOrAsync" sme:canPageNext="true"' +
      ' sme:canPagePrevious="false" sme:canPageIndex="true"' +
      ' sme:supportsLinking="true" sme:linkedBatchingMode="syncOrAsync"/>\n';
  });
  return `${s}</xs:schema>\n`;
}
