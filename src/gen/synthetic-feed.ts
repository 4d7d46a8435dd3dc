import { NS } from '../protocol/namespaces.ts';
import { Rng } from './rng.ts';
import {
  CONTRACT_NS, endpointBase, endpointUrl, entryEndpointIndex, entryHash, entryStamp, entryTick, EXT_A_NS, EXT_B_NS, EXT_C_NS,
  partsOf, resolveOptions, resourceHead, resourceTail, type Prefixes, type ResolvedOptions, type SyntheticOptions,
} from './synthetic.ts';

/**
 * Synthetic sync feed pages around the resources of synthetic.ts: any page, or any entry of it, rebuilt from (seed,
 * page, i) alone. Three page styles cycle by page index, so a multi-page feed binds the same prefix to different URIs
 * on different pages; within a page, entries cycle through styles of their own (default-namespace payloads, prefixed
 * payloads, entry-level re-declarations, the spec's xmlns-on-every-element style).
 */

export interface FeedOptions extends SyntheticOptions {
  /** Total number of entries in the feed (all pages). */
  count: number;
  /** Entries per page. Default: everything on one page. */
  pageSize?: number;
  /**
   * Endpoints the pages' head digest names, at least `endpoints` (the entries name only those): a source that knows
   * many peers whose changes it has not forwarded in this feed. Default `endpoints`.
   */
  digestEndpoints?: number;
}

export interface ResolvedFeedOptions extends ResolvedOptions {
  count: number;
  digestEndpoints: number;
  pageSize: number;
  pages: number;
}

export function resolveFeedOptions(o: FeedOptions): ResolvedFeedOptions {
  if (!Number.isSafeInteger(o.count) || o.count < 0) throw new RangeError(`count must be a whole number ≥ 0 (got ${o.count})`);
  const pageSize = o.pageSize ?? Math.max(1, o.count);
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a whole number ≥ 1 (got ${pageSize})`);
  const base = resolveOptions(o);
  const digestEndpoints = Math.max(base.endpoints, o.digestEndpoints ?? 0);
  if (!Number.isSafeInteger(digestEndpoints)) throw new RangeError(`digestEndpoints must be a whole number (got ${o.digestEndpoints})`);
  return { ...base, count: o.count, pageSize, pages: Math.max(1, Math.ceil(o.count / pageSize)), digestEndpoints };
}

/** The source context URL pages are served from (a provider would hand it out in `Location`). */
export function contextUrl(o: ResolvedOptions): string {
  return `${endpointUrl(0, o.kind)}/$syncSource('synthetic-${o.seed}')`;
}

const FEED_UPDATED = '2024-06-01T00:00:00.000Z';

/** The source digest every page of the feed carries: each endpoint's next tick after the feed's last entry. */
export function sourceDigestXml(o: ResolvedFeedOptions, prefix: string): string {
  const p = prefix ? `${prefix}:` : '';
  const decl = prefix ? '' : ` xmlns="${NS.sync}"`;
  let s = `<${p}digest${decl}>\n    <${p}origin>${endpointUrl(0, o.kind)}</${p}origin>\n`;
  for (let k = 0; k < o.digestEndpoints; k++) {
    s += `    <${p}digestEntry><${p}endpoint>${endpointUrl(k, o.kind)}</${p}endpoint>` +
      `<${p}tick>${endpointBase(k) + BigInt(o.count)}</${p}tick><${p}stamp>${FEED_UPDATED}</${p}stamp>` +
      `<${p}conflictPriority>${k === 0 ? 1 : 5}</${p}conflictPriority></${p}digestEntry>\n`;
  }
  return `${s}  </${p}digest>\n`;
}

interface EntryStyle {
  /** Start tag of the entry element (may re-declare prefixes). */
  open: string;
  close: string;
  /** Atom prefix with colon ('' = default namespace). */
  a: string;
  /** syncState start tag and the prefix (with colon) of its children. */
  stateOpen: string;
  stateClose: string;
  s: string;
  payloadOpen: string;
  payloadClose: string;
  px: Prefixes;
  /** Declarations on the resource element. */
  declare: string;
  /** Extra child in no namespace (only where unprefixed names are in no namespace). */
  extra: string;
}

function style(a: string, entryDecl: string, syncPrefix: string | null, sdataPayload: string, px: Prefixes, declare: string, extra = ''): EntryStyle {
  const s = syncPrefix === null ? '' : `${syncPrefix}:`;
  const stateDecl = syncPrefix === null ? ` xmlns="${NS.sync}"` : '';
  const pl = sdataPayload === '' ? `payload xmlns="${NS.sdata}"` : `${sdataPayload}:payload`;
  return {
    open: `  <${a}entry${entryDecl}>\n`, close: `  </${a}entry>\n`, a,
    stateOpen: `    <${s}syncState${stateDecl}>`, stateClose: `</${s}syncState>\n`, s,
    payloadOpen: `    <${pl}>\n      `, payloadClose: `\n    </${sdataPayload === '' ? '' : `${sdataPayload}:`}payload>\n`,
    px, declare, extra,
  };
}

interface PageStyle {
  rootOpen: string;
  rootClose: string;
  a: string;
  os: string;
  osDecl: string;
  syncPrefix: string;
  /** Whether the next link goes after the entries (Atom allows feed links anywhere). */
  nextAtEnd: boolean;
  entries: readonly EntryStyle[];
}

const PAGE_STYLES: readonly PageStyle[] = [
  // 0: the common shape: atom default, conventional prefixes, contract bound to `c`, `x` = extension A.
  {
    rootOpen: `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}" xmlns:opensearch="${NS.opensearch}"` +
      ` xmlns:xsi="${NS.xsi}" xmlns:c="${CONTRACT_NS}" xmlns:x="${EXT_A_NS}">\n`,
    rootClose: '</feed>\n', a: '', os: 'opensearch:', osDecl: '', syncPrefix: 'sync', nextAtEnd: false,
    entries: [
      style('', '', 'sync', 'sdata', { contract: '', sdata: 'sdata', xsi: 'xsi', ext: 'x' }, ` xmlns="${CONTRACT_NS}"`),
      style('', '', 'sync', 'sdata', { contract: 'c', sdata: 'sdata', xsi: 'xsi', ext: 'x' }, ''),
      // The entry re-binds `x` (to extension C) and spells the sdata namespace `s`.
      style('', ` xmlns:x="${EXT_C_NS}" xmlns:s="${NS.sdata}"`, 'sync', 's', { contract: '', sdata: 's', xsi: 'xsi', ext: 'x' }, ` xmlns="${CONTRACT_NS}"`),
      // The spec's 5.2 style: default namespaces declared element by element.
      style('', '', null, '', { contract: '', sdata: 'sdata', xsi: 'xsi', ext: '' }, ` xmlns="${CONTRACT_NS}"`),
    ],
  },
  // 1: atom prefixed, no default namespace on the root, and `c` bound to extension B (the contract is `k`).
  {
    rootOpen: `<a:feed xmlns:a="${NS.atom}" xmlns:s="${NS.sdata}" xmlns:sync="${NS.sync}" xmlns:os="${NS.opensearch}"` +
      ` xmlns:i="${NS.xsi}" xmlns:c="${EXT_B_NS}" xmlns:k="${CONTRACT_NS}">\n`,
    rootClose: '</a:feed>\n', a: 'a:', os: 'os:', osDecl: '', syncPrefix: 'sync', nextAtEnd: true,
    entries: [
      style('a:', '', 'sync', 's', { contract: '', sdata: 's', xsi: 'i', ext: 'c' }, ` xmlns="${CONTRACT_NS}"`),
      style('a:', '', 'sync', 's', { contract: 'k', sdata: 's', xsi: 'i', ext: 'c' }, ''),
      // The entry re-binds `c` to the contract itself.
      style('a:', ` xmlns:c="${CONTRACT_NS}"`, 'sync', 's', { contract: 'c', sdata: 's', xsi: 'i', ext: '' }, ''),
      // Unprefixed names here are in no namespace and must stay so once forwarded.
      style('a:', '', 'sync', 's', { contract: 'k', sdata: 's', xsi: 'i', ext: 'c' }, '',
        '    <a:content type="xml"><summary lang="fr">Résumé sans espace de noms</summary></a:content>\n'),
    ],
  },
  // 2: the spec's 5.2 page shape: only atom and sdata on the root, sync and contract declared where used.
  {
    rootOpen: `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}">\n`,
    rootClose: '</feed>\n', a: '', os: '', osDecl: ` xmlns="${NS.opensearch}"`, syncPrefix: '', nextAtEnd: false,
    entries: [
      style('', '', null, '', { contract: '', sdata: 'sdata', xsi: 'xsi', ext: '' }, ` xmlns:xsi="${NS.xsi}" xmlns="${CONTRACT_NS}"`),
      style('', ` xmlns:sync="${NS.sync}" xmlns:xsi="${NS.xsi}"`, 'sync', 'sdata', { contract: '', sdata: 'sdata', xsi: 'xsi', ext: '' }, ` xmlns="${CONTRACT_NS}"`),
    ],
  },
];

export const PAGE_STYLE_COUNT = PAGE_STYLES.length;

function linkTag(a: string, rel: string, href: string): string {
  return `  <${a}link rel="${rel}" type="application/atom+xml; type=feed" href="${href}"/>\n`;
}

function pageHref(o: ResolvedFeedOptions, page: number): string {
  return `${contextUrl(o)}?startIndex=${page * o.pageSize + 1}&amp;count=${o.pageSize}`;
}

/** Feed head of page `page` (0-based): root start tag through the digest. */
export function pageHead(o: ResolvedFeedOptions, page: number): string {
  const ps = PAGE_STYLES[page % PAGE_STYLES.length]!;
  const a = ps.a;
  const ctx = contextUrl(o);
  let s = `<?xml version="1.0" encoding="UTF-8"?>\n${ps.rootOpen}`;
  s += `  <${a}title>Synthetic ${o.kind} synchronization feed — seed ${o.seed}, page ${page + 1} of ${o.pages}</${a}title>\n`;
  s += `  <${a}id>${ctx}</${a}id>\n  <${a}updated>${FEED_UPDATED}</${a}updated>\n`;
  s += linkTag(a, 'self', page === 0 ? ctx : pageHref(o, page));
  s += linkTag(a, 'first', ctx);
  if (!ps.nextAtEnd && page + 1 < o.pages) s += linkTag(a, 'next', pageHref(o, page + 1));
  const first = page * o.pageSize;
  const n = Math.max(0, Math.min(o.pageSize, o.count - first));
  s += `  <${ps.os}totalResults${ps.osDecl}>${o.count}</${ps.os}totalResults>\n`;
  s += `  <${ps.os}startIndex${ps.osDecl}>${first + 1}</${ps.os}startIndex>\n`;
  s += `  <${ps.os}itemsPerPage${ps.osDecl}>${n}</${ps.os}itemsPerPage>\n`;
  const sp = ps.syncPrefix;
  s += `  <${sp ? `${sp}:` : ''}syncMode${sp ? '' : ` xmlns="${NS.sync}"`}>catchUp</${sp ? `${sp}:` : ''}syncMode>\n`;
  s += `  ${sourceDigestXml(o, sp)}`;
  return s;
}

export function pageTail(o: ResolvedFeedOptions, page: number): string {
  const ps = PAGE_STYLES[page % PAGE_STYLES.length]!;
  let s = '';
  if (ps.nextAtEnd && page + 1 < o.pages) s += linkTag(ps.a, 'next', pageHref(o, page + 1));
  return s + ps.rootClose;
}

/** Bytes of an entry after the padding point (end tags), roughly: the padding aims at the total. */
const ENTRY_SUFFIX_BYTES = 40;

/** The endpoint as the entry's syncState writes it: sometimes spelled differently, always normalising the same. */
function stateEndpoint(o: ResolvedOptions, ep: number, i: number): string {
  if (i % 16 === 7) return endpointUrl(ep, o.kind).replace('http://www.example.com', 'HTTP://WWW.Example.COM') + '/';
  return endpointUrl(ep, o.kind);
}

function stateTick(tick: bigint, i: number): string {
  // XML integers may carry white space and leading zeros; readers must canonicalise.
  if (i % 50 === 13) return `\n        00${tick}\n      `;
  return String(tick);
}

/** The exact text of entry i (global index) on page `page`. */
export function syntheticEntry(o: ResolvedFeedOptions, i: number, page: number): string {
  const ps = PAGE_STYLES[page % PAGE_STYLES.length]!;
  const es = ps.entries[i % ps.entries.length]!;
  const rng = new Rng(entryHash(o.seed, i, 0));
  const p = partsOf(o, i, rng);
  const ep = entryEndpointIndex(o, i);
  const a = es.a;
  const stamp = entryStamp(i);
  const url = `${endpointUrl(0, o.kind)}('${p.key}')`;
  let s = es.open;
  s += `    <${a}id>${url}</${a}id>\n`;
  if (p.deleted) {
    s += `    <${a}title/>\n    <${a}updated>${stamp}</${a}updated>\n    <${a}content/>\n`;
  } else {
    s += `    <${a}title>Account ${p.key}</${a}title>\n    <${a}updated>${stamp}</${a}updated>\n`;
    if (i % 8 === 0) s += `    <${a}link rel="self" type="application/atom+xml; type=entry" href="${url}"/>\n`;
    if (es.extra) s += es.extra;
    else if ((i & 1) === 1) s += `    <${a}content type="text">${p.name}</${a}content>\n`;
  }
  const st = es.s;
  s += `${es.stateOpen}<${st}endpoint>${stateEndpoint(o, ep, i)}</${st}endpoint><${st}tick>${stateTick(entryTick(o, i, ep), i)}</${st}tick>` +
    `<${st}stamp>${stamp}</${st}stamp>${i % 9 === 4 ? `<${st}user>usér-${i % 13}</${st}user>` : ''}${es.stateClose}`;
  s += es.payloadOpen;
  s += resourceHead(o, i, p, rng, es.px, es.declare);
  if (!p.deleted) s += resourceTail(o, rng, es.px, o.entryBytes - ENTRY_SUFFIX_BYTES - Buffer.byteLength(s));
  return s + es.payloadClose + es.close;
}

/** The first entry index and the entry count of page `page`. */
export function pageRange(o: ResolvedFeedOptions, page: number): { first: number; count: number } {
  const first = page * o.pageSize;
  return { first, count: Math.max(0, Math.min(o.pageSize, o.count - first)) };
}

/**
 * The text of page `page` as a lazy sequence of pieces (head, one string per entry, tail): the core that the
 * stream adapters in stream.ts wrap. Nothing is generated before it is pulled.
 */
export function* pageTexts(o: ResolvedFeedOptions, page: number): Generator<string, void, undefined> {
  if (page < 0 || page >= o.pages) throw new RangeError(`page ${page} out of range 0..${o.pages - 1}`);
  yield pageHead(o, page);
  const { first, count } = pageRange(o, page);
  for (let i = first; i < first + count; i++) yield syntheticEntry(o, i, page);
  yield pageTail(o, page);
}

/**
 * Options for a single-page feed of about `mb` megabytes (benches and profiles): the entry count is scaled from
 * the measured size of a `probe`-entry feed with the same seed.
 */
export function feedOptionsForSize(mb: number, probe = 2000, seed = 1): ResolvedFeedOptions {
  let sample = 0;
  for (const s of pageTexts(resolveFeedOptions({ count: probe, seed }), 0)) sample += Buffer.byteLength(s);
  return resolveFeedOptions({ count: Math.round((mb * 1e6) / (sample / probe)), seed });
}
