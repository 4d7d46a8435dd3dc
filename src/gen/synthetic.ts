import { mix32, Rng } from './rng.ts';
import { NS } from '../protocol/namespaces.ts';

/**
 * Deterministic synthetic resources; synthetic-feed.ts writes the sync feed pages around them. Everything about
 * resource i is derived from (seed, i) alone, so any one can be rebuilt without generating the ones before it (random
 * access: the seeder fills a store from the same function, the generator streams feeds of any length, tests
 * recompute what they expect).
 */

export const CONTRACT_NS = 'http://schemas.sage.com/myContract';
/** Extension vocabularies: pages bind the same prefix to different ones (namespace fidelity). */
export const EXT_A_NS = 'http://example.com/sdata-sync/ext/a';
export const EXT_B_NS = 'http://example.com/sdata-sync/ext/b';
export const EXT_C_NS = 'http://example.com/sdata-sync/ext/c';

export interface SyntheticOptions {
  /** Default 1. */
  seed?: number;
  /** Approximate UTF-8 size of one live entry, wrapper included. Default 1024. */
  entryBytes?: number;
  /** Number of origin endpoints the entries' syncStates name. Default 4. */
  endpoints?: number;
  /** Share of deletions (resource with sdata:isDeleted="true" and no children). Default 0.08. */
  deleteRatio?: number;
  /** Resource kind (collection segment) and element name. Default accounts / account. */
  kind?: string;
  element?: string;
}

export interface ResolvedOptions {
  seed: number;
  entryBytes: number;
  endpoints: number;
  deleteRatio: number;
  kind: string;
  element: string;
}

export function resolveOptions(o: SyntheticOptions = {}): ResolvedOptions {
  const endpoints = o.endpoints ?? 4;
  if (!Number.isInteger(endpoints) || endpoints < 1) throw new RangeError(`endpoints must be a whole number ≥ 1 (got ${endpoints})`);
  const deleteRatio = o.deleteRatio ?? 0.08;
  if (!(deleteRatio >= 0 && deleteRatio <= 1)) throw new RangeError(`deleteRatio must be within 0..1 (got ${deleteRatio})`);
  return {
    seed: (o.seed ?? 1) >>> 0,
    entryBytes: Math.max(0, Math.floor(o.entryBytes ?? 1024)),
    endpoints,
    deleteRatio,
    kind: o.kind ?? 'accounts',
    element: o.element ?? 'account',
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Deterministic randomness: a 32-bit hash of (seed, i, stream) seeds a small xorshift-style generator per entry.

/** Stable 32-bit hash of entry i under seed; `salt` separates independent draws. */
export function entryHash(seed: number, i: number, salt = 0): number {
  // i may exceed 2^32 in principle; fold the high part in so distinct indexes stay distinct.
  const lo = i >>> 0;
  const hi = Math.floor(i / 4294967296) >>> 0;
  return mix32(mix32(mix32(seed ^ 0x9e3779b9) ^ lo) ^ mix32(hi + salt * 0x632be5ab));
}

const HEX = '0123456789abcdef';
function uuidFrom(rng: Rng, upper: boolean): string {
  let s = '';
  for (let k = 0; k < 32; k++) {
    if (k === 8 || k === 12 || k === 16 || k === 20) s += '-';
    s += HEX[rng.next() & 15];
  }
  // The spec's own uuids mix cases ("74926A0D-D2C0-4daa-…"): both must work.
  return upper ? s.toUpperCase() : s;
}

/** Which kind of thing a uuid names: its 13th hex digit, so that the families never collide with each other. */
const UUID_FAMILY = { entry: '4', address: 'a', contact: 'c' } as const;

/**
 * A uuid that cannot repeat: random-looking digits from the entry's generator (seeded from a 32-bit hash, so its
 * draws alone repeat after ~77k entries by the birthday bound), then the family digit, then `n` as the last 12 hex
 * digits (distinct up to 2^48 per family).
 */
function uniqueUuid(rng: Rng, family: keyof typeof UUID_FAMILY, n: number, upper: boolean): string {
  const d = uuidFrom(rng, false);
  const u = `${d.slice(0, 14)}${UUID_FAMILY[family]}${d.slice(15, 24)}${(n % 2 ** 48).toString(16).padStart(12, '0')}`;
  return upper ? u.toUpperCase() : u;
}

// ---------------------------------------------------------------------------------------------------------------
// Endpoints and ticks

/** Collection URL of origin endpoint k (the feed's own source is endpoint 0). */
export function endpointUrl(k: number, kind = 'accounts'): string {
  return `http://www.example.com/sdata/app${k + 1}/myContract/-/${kind}`;
}

/**
 * Ticks of entry i are `base(ep) + i`: distinct and ascending per endpoint along the feed, computable without
 * scanning. Endpoint 2's base is past 2^53 so that exact (non-float) tick comparison is always exercised.
 */
export function endpointBase(k: number): bigint {
  if (k === 0) return 1000n;
  if (k === 1) return 5_000_000n;
  if (k === 2) return 9_007_199_254_740_993n;
  return BigInt(k) * 1_000_000_000n;
}

export function entryEndpointIndex(o: ResolvedOptions, i: number): number {
  return o.endpoints === 1 ? 0 : entryHash(o.seed, i, 1) % o.endpoints;
}

export function entryTick(o: ResolvedOptions, i: number, ep = entryEndpointIndex(o, i)): bigint {
  return endpointBase(ep) + BigInt(i);
}

export function entryDeleted(o: ResolvedOptions, i: number): boolean {
  return o.deleteRatio > 0 && entryHash(o.seed, i, 2) / 4294967296 < o.deleteRatio;
}

const BASE_TIME = Date.UTC(2024, 0, 1, 8, 0, 0);
/** ISO-8601 UTC with milliseconds; entry i changed i seconds (and a few ms) after a fixed instant. */
export function entryStamp(i: number): string {
  return new Date(BASE_TIME + i * 1000 + (i % 997)).toISOString();
}

// ---------------------------------------------------------------------------------------------------------------
// Text material: non-ASCII (accents, CJK, astral-plane emoji), entities and character references.

const WORDS_ASCII = ['alpha', 'ledger', 'invoice', 'balance', 'account', 'order', 'north', 'supply', 'retail', 'credit',
  'quarter', 'review', 'payment', 'terms', 'net', 'thirty', 'region', 'branch', 'contact', 'status'];
const WORDS_INTL = ['Société', 'Zürich', 'Ærøskøbing', 'naïve', 'façade', 'Größe', '東京', '株式会社', '顧客', 'データ',
  'Ελλάδα', 'Москва', 'café', 'São Paulo', 'İstanbul', '😀', '🚀', '𝄞', '🇫🇷', 'Łódź'];
/** Already-escaped fragments: entity and character references as a real source would write them. */
const WORDS_ESCAPED = ['R&amp;D', '&lt;none&gt;', 'caf&#233;', 'smile &#x1F600;', '&quot;quoted&quot;', 'it&apos;s', 'A&amp;B&amp;C'];
const CITIES = ['Zürich', 'Paris', '東京', 'München', 'Kraków', 'Reykjavík', 'Montréal', 'København', 'Αθήνα', 'Cluj-Napoca'];
const NAMES = ['Société Générale &amp; Fils', 'Natural Goods Ltd.', 'Chemical Bros Inc.', 'Größenwahn GmbH', '株式会社サンプル',
  'Çağ Ticaret A.Ş.', 'Smith &amp; Wesson', 'Ølbryggeriet', 'Les Délices 🍰', 'O&apos;Neil &amp; Sons'];

const PAD_WORDS = [...WORDS_ASCII, ...WORDS_INTL];
const PAD_BYTES = PAD_WORDS.map((w) => Buffer.byteLength(w) + 1);

// ---------------------------------------------------------------------------------------------------------------
// Resource XML

/** Prefixes a resource body is written with. `contract` '' = default namespace. */
export interface Prefixes {
  contract: string;
  sdata: string;
  xsi: string;
  /** Prefix bound to some extension namespace, for prefixed attributes ('' = none). */
  ext: string;
}

export interface SyntheticResource {
  index: number;
  uuid: string;
  key: string;
  deleted: boolean;
  /** Normalised origin endpoint URL of the resource's last change, its tick (canonical decimal) and stamp. */
  endpoint: string;
  tick: string;
  stamp: string;
  /** The resource element, self-contained (declares every namespace it uses). */
  xml: string;
}

export interface Parts {
  uuid: string;
  key: string;
  deleted: boolean;
  name: string;
}

export function partsOf(o: ResolvedOptions, i: number, rng: Rng): Parts {
  const uuid = uniqueUuid(rng, 'entry', i, (i & 3) === 1);
  const key = `K${String(i).padStart(7, '0')}`;
  return { uuid, key, deleted: entryDeleted(o, i), name: `${NAMES[i % NAMES.length]!} #${i}` };
}

/**
 * The resource element up to (not including) its padding and end tag: start tag with `declare` (namespace
 * declarations) right after the qname, then the children. A deletion is complete already (self-closing, no children).
 */
export function resourceHead(o: ResolvedOptions, i: number, p: Parts, rng: Rng, px: Prefixes, declare: string): string {
  const c = px.contract ? `${px.contract}:` : '';
  const sd = px.sdata;
  const el = `${c}${o.element}`;
  const url = `${endpointUrl(0, o.kind)}('${p.key}')`;
  let s = `<${el}${declare} ${sd}:uuid="${p.uuid}" ${sd}:key="${p.key}"`;
  if ((i & 3) === 0 || p.deleted) s += ` ${sd}:url="${url}"`;
  if (p.deleted) return `${s} ${sd}:isDeleted="true"/>`;
  if (px.ext && (i & 3) === 1) s += ` ${px.ext}:rank="${i % 7}" ${px.ext}:note='a &amp; b &quot;q&quot; &lt;&#10;'`;
  s += '>\n';
  const ind = '  ';
  s += `${ind}<${c}name>${p.name}</${c}name>\n`;
  s += `${ind}<${c}active>${(i & 1) === 0}</${c}active>\n`;
  s += `${ind}<${c}creditLimit>${(rng.int(10_000_000) / 100).toFixed(2)}</${c}creditLimit>\n`;
  // Nulls (docs/protocol.md §3.3): xsi:nil, sometimes in a self-closing element, sometimes with an explicit end tag.
  s += (i & 2) === 0 ? `${ind}<${c}fax ${px.xsi}:nil="true"/>\n` : `${ind}<${c}fax ${px.xsi}:nil="true"></${c}fax>\n`;
  if ((i & 1) === 0) s += `${ind}<${c}memo>${rng.pick(WORDS_ESCAPED)} ${rng.pick(WORDS_INTL)} ${rng.pick(WORDS_ESCAPED)} &#233;&#xE9;&#x1F680; tab&#9;end</${c}memo>\n`;
  // CDATA, including a literal "]]>" split across two sections, markup-like text and non-ASCII.
  if (i % 3 === 0) {
    s += `${ind}<${c}notes><![CDATA[<p>Call ${rng.pick(WORDS_INTL)} about <b>${rng.pick(WORDS_ASCII)}</b> & "terms" ]]]]><![CDATA[>` +
      ` 🙂 ${i}]]></${c}notes>\n`;
  }
  if (i % 5 === 0) s += `${ind}<!-- imported from legacy system, batch ${i % 97} -->\n`;
  // A reference: an element carrying only a uuid (docs/protocol.md §3.3).
  s += `${ind}<${c}primaryContact ${sd}:uuid="${uniqueUuid(rng, 'contact', i, false)}"/>\n`;
  // A child list with children matched by uuid (docs/protocol.md §3.3, A9), in the styles senders use: complete and
  // flagged `deleteMissing` (half the entries, 4.4), or a delta without the flag (6.1), a quarter of them with a child
  // flagged deleted. A target stores each as a complete list without the deleted child.
  const n = rng.int(4) === 0 ? 2 : 1;
  const style = i % 4;
  s += style < 2 ? `${ind}<${c}addresses ${sd}:deleteMissing="true">\n` : `${ind}<${c}addresses>\n`;
  for (let k = 0; k < n; k++) {
    s += `${ind}  <${c}address ${sd}:uuid="${uniqueUuid(rng, 'address', i * 4 + k, (i & 4) === 4)}">` +
      `<${c}street>${1 + rng.int(300)} ${rng.pick(WORDS_INTL)} Street</${c}street>` +
      `<${c}city>${rng.pick(CITIES)}</${c}city>` +
      (k === 1 ? `<${c}postCode ${px.xsi}:nil="true"/>` : `<${c}postCode>${10000 + rng.int(89999)}</${c}postCode>`) +
      `</${c}address>\n`;
  }
  if (style === 3) s += `${ind}  <${c}address ${sd}:uuid="${uniqueUuid(rng, 'address', i * 4 + 3, false)}" ${sd}:isDeleted="true"/>\n`;
  return `${s}${ind}</${c}addresses>\n`;
}

/** Padding (about `padBytes` UTF-8 bytes of mixed-script words) and the end tag. */
export function resourceTail(o: ResolvedOptions, rng: Rng, px: Prefixes, padBytes: number): string {
  const c = px.contract ? `${px.contract}:` : '';
  let s = '';
  if (padBytes > 0) {
    s = `  <${c}description>`;
    let left = padBytes;
    while (left > 0) {
      const w = rng.int(PAD_WORDS.length);
      s += PAD_WORDS[w]!;
      s += ' ';
      left -= PAD_BYTES[w]!;
    }
    s += `</${c}description>\n`;
  }
  return `${s}      </${c}${o.element}>`;
}

const SELF_CONTAINED: Prefixes = { contract: '', sdata: 'sdata', xsi: 'xsi', ext: '' };
const SELF_DECLS = ` xmlns="${CONTRACT_NS}" xmlns:sdata="${NS.sdata}" xmlns:xsi="${NS.xsi}"`;
/** Bytes of the entry wrapper around a resource, roughly; the real figure is measured per entry. */
const WRAPPER_BYTES = 520;

function isResolved(o: SyntheticOptions | ResolvedOptions): o is ResolvedOptions {
  return typeof o.seed === 'number' && typeof o.entryBytes === 'number' && typeof o.endpoints === 'number' &&
    typeof o.deleteRatio === 'number' && typeof o.kind === 'string' && typeof o.element === 'string';
}

/**
 * Resource i as a self-contained element (default-namespace contract payload, `sdata` and `xsi` declared on it),
 * plus its identity and sync state. The same (seed, i) always gives the same resource as the generated feeds carry
 * (same uuid, key, values; feeds may write it with other prefixes).
 */
export function syntheticResource(i: number, opts: SyntheticOptions | ResolvedOptions = {}): SyntheticResource {
  const o = isResolved(opts) ? opts : resolveOptions(opts);
  const rng = new Rng(entryHash(o.seed, i, 0));
  const p = partsOf(o, i, rng);
  const ep = entryEndpointIndex(o, i);
  let xml = resourceHead(o, i, p, rng, SELF_CONTAINED, SELF_DECLS);
  if (!p.deleted) xml += resourceTail(o, rng, SELF_CONTAINED, o.entryBytes - WRAPPER_BYTES - Buffer.byteLength(xml));
  return {
    index: i, uuid: p.uuid, key: p.key, deleted: p.deleted,
    endpoint: endpointUrl(ep, o.kind), tick: entryTick(o, i, ep).toString(), stamp: entryStamp(i), xml,
  };
}
