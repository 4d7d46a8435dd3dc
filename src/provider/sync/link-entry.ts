import { escapeAttr, escapeText } from '../../protocol/escape.ts';
import { rootDeclarations, rootUuid, scanRootTag } from '../payload/fragment.ts';
import { withSdataAttrs } from '../payload/link-attrs.ts';
import type { KindInfo, ResourceRow } from '../store/repositories.ts';

/**
 * A link as the `$linked` URLs show it (spec 1.3): an Atom entry whose payload element carries `sdata:uuid`,
 * `sdata:url` and `sdata:key`, with the resource's data, or without it (`attrsOnly`, for `?select=`). No ETag:
 * link entries have none (1.3, checklist 59). No namespace declarations on the entry: the caller's root binds them.
 */

export interface LinkUrls {
  /** Serving URL of the kind's collection. */
  collection: string;
  /** `{collection}/$linked('{uuid}')` for a uuid (its selector suitably escaped). */
  linkUrl(uuid: string): string;
}

/** The uuid a linked resource answers to, as it was given (the row keeps it lower-cased). */
export function linkUuidOf(row: ResourceRow): string {
  const rt = scanRootTag(row.payload);
  return rootUuid(rt, rootDeclarations(rt)) ?? row.uuid;
}

/** The payload element of a link: the resource with its uuid, url and key on the root. */
export function linkPayload(row: ResourceRow, urls: LinkUrls, attrsOnly: boolean): string {
  return withSdataAttrs(row.payload, { uuid: linkUuidOf(row), url: `${urls.collection}('${row.id}')`, key: String(row.id) }, attrsOnly);
}

export function linkEntryXml(kind: KindInfo, row: ResourceRow, urls: LinkUrls, attrsOnly: boolean): string {
  const uuid = linkUuidOf(row);
  const self = urls.linkUrl(uuid);
  return `<entry><id>${escapeText(self)}</id><title>Linked ${escapeText(kind.name)} ${escapeText(uuid)}</title>` +
    `<updated>${row.stamp}</updated><link rel="self" type="application/atom+xml; type=entry" href="${escapeAttr(self)}"/>` +
    `<sdata:payload>${linkPayload(row, urls, attrsOnly)}</sdata:payload></entry>\n`;
}
