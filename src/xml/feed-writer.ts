import { serializeDigest, type Digest } from '../protocol/digest.ts';
import { escapeAttr, escapeText } from '../protocol/escape.ts';
import { OUTPUT_ROOT_BINDINGS, OUTPUT_ROOT_DECLS } from '../protocol/namespaces.ts';
import type { SyncMode } from '../protocol/sync-state.ts';
import { resourceScope, type EntryRecord, type FeedLink } from './feed-types.ts';

export interface FeedOpenOptions {
  id: string;
  title?: string;
  updated?: string;
  links?: readonly FeedLink[];
  syncMode?: SyncMode;
  digest?: Digest;
  totalResults?: number;
  startIndex?: number;
  itemsPerPage?: number;
  /** Extra raw XML placed after the head (e.g. feed-level diagnoses). */
  extra?: string;
}

/** XML declaration, root start tag with our standard bindings, and the feed head. */
export function feedOpen(o: FeedOpenOptions): string {
  const [before, after] = feedOpenAround(o);
  return o.digest === undefined ? before + after : before + serializeDigest(o.digest) + after;
}

/**
 * feedOpen's text before and after the place of the digest (`o.digest` is not written): for a head whose digest goes
 * as bytes, made once and shared by every chunk head that carries it (~2.5 MB for 10,000 endpoints, which a string
 * made per head cost a copy into V8's heap and another into a Buffer, each of fresh pages).
 */
export function feedOpenAround(o: FeedOpenOptions): [before: string, after: string] {
  let s = `<?xml version="1.0" encoding="utf-8"?>\n<feed${OUTPUT_ROOT_DECLS}>`;
  s += `<id>${escapeText(o.id)}</id><title>${escapeText(o.title ?? 'Synchronization feed')}</title>`;
  s += `<updated>${o.updated ?? new Date().toISOString()}</updated>`;
  if (o.links) for (const l of o.links) s += linkXml(l);
  if (o.totalResults !== undefined) s += `<opensearch:totalResults>${o.totalResults}</opensearch:totalResults>`;
  if (o.startIndex !== undefined) s += `<opensearch:startIndex>${o.startIndex}</opensearch:startIndex>`;
  if (o.itemsPerPage !== undefined) s += `<opensearch:itemsPerPage>${o.itemsPerPage}</opensearch:itemsPerPage>`;
  if (o.syncMode !== undefined) s += `<sync:syncMode>${o.syncMode}</sync:syncMode>`;
  return [s, `${o.extra ?? ''}\n`];
}

export function linkXml(l: FeedLink): string {
  return `<link rel="${escapeAttr(l.rel)}" type="application/atom+xml; type=feed" href="${escapeAttr(l.href)}"/>`;
}

/** Closing part: links that can only be known at the end (Atom allows them after entries), then `</feed>`. */
export function feedClose(links?: readonly FeedLink[]): string {
  let s = '';
  if (links) for (const l of links) s += linkXml(l);
  return `${s}</feed>\n`;
}

/**
 * The namespace declarations a forwarded entry needs so that it means in our output feed exactly what it meant in
 * its source page (docs/engine-rules.md §3): every binding of the source feed element that our root does not already make,
 * plus `xmlns=""` when the source had no default namespace but ours does. Computed once per page.
 */
export type PageDecls = ReadonlyArray<readonly [prefix: string, decl: string]>;

export function pageDecls(bindings: Readonly<Record<string, string>>): PageDecls {
  const out: Array<readonly [string, string]> = [];
  for (const prefix of Object.keys(bindings)) {
    const uri = bindings[prefix]!;
    if (OUTPUT_ROOT_BINDINGS.get(prefix) === uri) continue;
    out.push([prefix, prefix === '' ? ` xmlns="${escapeAttr(uri)}"` : ` xmlns:${prefix}="${escapeAttr(uri)}"`]);
  }
  if (bindings[''] === undefined) out.push(['', ' xmlns=""']);
  return out;
}

/** The entry text to write: the source text with whatever re-declarations it needs inserted after its qname. */
export function forwardText(rec: EntryRecord, decls: PageDecls): string {
  const text = rec.text!;
  if (decls.length === 0) return text;
  let ins = '';
  for (const [prefix, decl] of decls) if (!rec.ownDecls.includes(prefix)) ins += decl;
  return ins === '' ? text : text.slice(0, rec.nameEnd) + ins + text.slice(rec.nameEnd);
}

/**
 * Whether `xml` may use `prefix`: any `prefix:` that is not the start of a URL (`http://…` in text is not a use of
 * a prefix named http). Conservative: a prefix inside an attribute value (a QName like xsi:type="p:T") counts.
 */
export function usesPrefix(xml: string, prefix: string): boolean {
  const needle = `${prefix}:`;
  for (let i = xml.indexOf(needle); i >= 0; i = xml.indexOf(needle, i + needle.length)) {
    const before = i === 0 ? '' : xml[i - 1]!;
    // Part of a longer name (e.g. 'xhttp:'), or a URL scheme: not this prefix.
    if (/[\w.-]/.test(before)) continue;
    if (!xml.startsWith('//', i + needle.length)) return true;
  }
  return false;
}

/**
 * The resource element of an entry (the child of sdata:payload) as a self-contained XML fragment: every binding it
 * inherits and may use is declared on it, so it can be stored and re-emitted anywhere. Undefined without a resource.
 */
export function resourceXml(rec: EntryRecord): string | undefined {
  const text = rec.text;
  if (text === undefined || rec.resourceStart < 0 || rec.resourceEnd < 0) return undefined;
  const body = text.slice(rec.resourceNameEnd, rec.resourceEnd);
  let ins = '';
  const scope = resourceScope(rec);
  const own = rec.resourceOwnDecls;
  for (const prefix of Object.keys(scope)) {
    if (prefix === 'xml' || own.includes(prefix)) continue;
    // Only prefixes the fragment can use; an unused declaration would be harmless but bloats every stored row.
    if (prefix !== '' && !usesPrefix(body, prefix)) continue;
    ins += prefix === '' ? ` xmlns="${escapeAttr(scope[prefix]!)}"` : ` xmlns:${prefix}="${escapeAttr(scope[prefix]!)}"`;
  }
  // Unprefixed names in no namespace must stay so wherever the fragment is embedded later.
  if (scope[''] === undefined && !own.includes('')) ins += ' xmlns=""';
  return text.slice(rec.resourceStart, rec.resourceNameEnd) + ins + body;
}
