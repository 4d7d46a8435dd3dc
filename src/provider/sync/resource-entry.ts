import { escapeAttr, escapeText } from '../../protocol/escape.ts';
import { serializeSyncState } from '../../protocol/sync-state.ts';
import type { Catalog, KindInfo, ResourceRow } from '../store/repositories.ts';

/**
 * One resource as an Atom entry body (plain SData: `GET {kind}`, `{kind}('{key}')`), with its ETag (core 9.3) and
 * syncState. No XML declaration, no namespace declarations: the caller's root binds them.
 */
export function resourceEntryXml(store: Pick<Catalog, 'endpoint'>, kind: KindInfo, row: ResourceRow, servingCollection: string, etag: string): string {
  const ep = store.endpoint(row.ep);
  const self = `${servingCollection}('${row.id}')`;
  return `<entry><id>${escapeText(kind.selfUrl)}('${row.id}')</id><title>${escapeText(kind.name)} ${row.id}</title>` +
    `<updated>${row.stamp}</updated><link rel="self" type="application/atom+xml; type=entry" href="${escapeAttr(self)}"/>` +
    `<http:etag>${escapeText(etag)}</http:etag>` +
    serializeSyncState({ endpoint: ep.url, tick: row.tick, stamp: row.stamp, ...(row.user === null ? {} : { user: row.user }) }) +
    (row.deleted ? '' : `<sdata:payload>${row.payload}</sdata:payload>`) + '</entry>\n';
}
