import { etagOf } from '../../../src/provider/sync/etag.ts';
import { resultEntryXml, stateXml, type RenderContext } from '../../../src/provider/sync/result-entry.ts';

/**
 * The oracle for ResultRenderer: a stored result rendered the plain way, through resultEntryXml() with each field
 * escaped on its own. Full entries pass through; compact records (U+0002-separated: status, method, local id,
 * endpoint id, tick, stamp) are rendered.
 */
export function renderResult(stored: string, rc: RenderContext): string {
  if (stored.charCodeAt(0) !== 2) return stored;
  const [, status, method, id, ep, tick, stamp] = stored.split('\u0002') as [string, string, string, string, string, string, string];
  const e = rc.store.endpoint(Number(ep));
  return resultEntryXml({
    id: `${rc.kind.selfUrl}('${id}')`, title: `${rc.kind.name} ${id}`, status: Number(status),
    ...(method === '' ? {} : { method }), location: `${rc.serving}('${id}')`, etag: etagOf(e.norm, tick),
    stateXml: stateXml(e.xml, tick, stamp), updated: rc.updated,
  });
}
