import { hash } from 'node:crypto';
import { SdataError } from '../protocol/errors.ts';
import { NS } from '../protocol/namespaces.ts';
import { isXsTrue, LIST, listRule } from './child-list-rule.ts';
import { decodeEntities, type BadReference } from './entities.ts';
import type { EntryRecord } from './feed-types.ts';
import { rawToText } from './raw-text.ts';

/**
 * The canonical form of a resource payload (docs/protocol.md X23): what `verify` compares between two applications,
 * so that two payloads that mean the same have the same SHA-256, however each application writes them.
 *
 * Normalised away: namespace prefixes and where they are declared (names are compared expanded), attribute order,
 * references and CDATA (the decoded text counts), comments and processing instructions, line ends, attribute-value
 * white space as XML normalises it, white space between the elements of element-only content, the order of a child
 * list's children (the rule of docs/protocol.md §3.3: sorted by uuid), the children a list flags deleted and the
 * list's `sdata:deleteMissing` flag, the local identifiers `sdata:key`, `sdata:url`, `sdata:lookup` and
 * `sdata:descriptor`, the case of uuids, `isDeleted` and `xsi:nil` written `1` or `false`. Kept: every element and its
 * place, every other attribute, the text of leaves and of mixed content as written (decoded).
 *
 * Serialised like Canonical XML (escaping, attribute order, start and end tags for empty elements) with names made
 * independent of the sender's prefixes and of sibling order: an element is written unprefixed, declaring the default
 * namespace where it differs from its parent's; its namespaced attributes take prefixes `a0`, `a1`, … in the order of
 * their namespace URIs, declared on the element itself (`xml:` stays `xml:`). A subtree's text thus depends only on
 * its ancestors, so a list's children can be sorted as written. SHA-256 of the UTF-8 is the payload digest.
 *
 * The payload is read from its exact source text, which a saxes-based reader has already found well-formed
 * (FeedReader): this is a scanner, not a second parser. It writes as it reads, holding one payload's output.
 * Measured on the seeded ~1 KB payloads: about the cost of a bare saxes parse of the same text.
 */

/** A resource element inside a larger text (an entry's), with the namespace bindings in force above it. */
export interface PayloadText {
  text: string;
  /** Offsets of the resource element's `<` and just after its end. */
  start: number;
  end: number;
  /** Bindings in force above it, outermost first (EntryRecord.scopes). */
  scopes: ReadonlyArray<Readonly<Record<string, string>>>;
}

/** An entry's resource element (undefined: none, or the entry was over the size cap). */
export function payloadOf(rec: EntryRecord): PayloadText | undefined {
  if (rec.text === undefined || rec.resourceStart < 0 || rec.resourceEnd < 0) return undefined;
  return { text: rec.text, start: rec.resourceStart, end: rec.resourceEnd, scopes: rec.scopes };
}

/** A standalone resource element (tests, files). */
export const fragmentPayload = (xml: string): PayloadText => ({ text: xml, start: xml.indexOf('<'), end: xml.lastIndexOf('>') + 1, scopes: [] });

/** The canonical XML of a payload. */
export function canonicalXml(p: PayloadText): string {
  return canonicalizer.run(p);
}

/** SHA-256 of the canonical XML's UTF-8 bytes (32 bytes). */
export function payloadDigest(p: PayloadText): Buffer {
  return hash('sha256', canonicalizer.run(p), 'buffer');
}

/** Attributes that name the sender's own copy of a resource: local to one application (spec 1.1, core 3.9). */
const LOCAL_ATTRS: ReadonlySet<string> = new Set(['key', 'url', 'lookup', 'descriptor']);

/** `sdata:deleteMissing` present (any value). */
const F_FLAGGED = 1;
/** `sdata:isDeleted` or `sync:isDeleted` (A8) true. */
const F_DELETED = 2;
/** Character data other than white space directly inside: mixed content (or a leaf's text). */
const F_TEXT = 4;
/** A child element flagged deleted. */
const F_DELETED_CHILD = 8;
/** `sdata:uuid` on the element itself: a resource, child or reference, never a list. */
const F_UUID = 16;

const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 9 || c === 13;

function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isSpace(s.charCodeAt(i))) return false;
  return true;
}

const bad: BadReference = (at, problem) => new SdataError('SDATA_E_MALFORMED', `payload, character ${at}: ${problem}`);

/** Attribute-value normalisation (XML 1.0 §3.3.3, CDATA type): literal white space is a space, then references. */
function attrValue(raw: string): string {
  const v = /[\t\n\r]/.test(raw) ? raw.replace(/\r\n|[\t\n\r]/g, ' ') : raw;
  return v.indexOf('&') < 0 ? v : decodeEntities(v, bad);
}

const TEXT_SPECIAL = /[&<>\r]/;
const ATTR_SPECIAL = /[&<"\t\n\r]/;

const ESCAPED: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\t': '&#x9;', '\n': '&#xA;', '\r': '&#xD;' };
const escaped = (c: string): string => ESCAPED[c]!;

/** Character data as Canonical XML escapes it. */
function escText(s: string): string {
  return TEXT_SPECIAL.test(s) ? s.replace(/[&<>\r]/g, escaped) : s;
}

/** An attribute value as Canonical XML escapes it. */
function escAttr(s: string): string {
  return ATTR_SPECIAL.test(s) ? s.replace(/[&<"\t\n\r]/g, escaped) : s;
}

/**
 * Namespace URIs as one string object each, so that testing one (NS.sdata, a parent's namespace) is a pointer
 * comparison rather than a character loop over two equal long strings. Bounded: feeds use few namespaces.
 */
const interned = new Map<string, string>(Object.values(NS).map((u) => [u, u]));
function intern(uri: string): string {
  const u = interned.get(uri);
  if (u !== undefined) return u;
  if (interned.size < 1000) interned.set(uri, uri);
  return uri;
}

/** A uuid as compared: trimmed, lower case (most are written so already). */
const uuidKey = (v: string): string => (/[A-Z\s]/.test(v) ? v.trim().toLowerCase() : v);

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** One attribute kept for the canonical form. */
interface Attr {
  uri: string;
  local: string;
  value: string;
}
const attrOrder = (a: Attr, b: Attr): number => (a.uri === b.uri ? cmp(a.local, b.local) : cmp(a.uri, b.uri));

/**
 * The scanner-writer. Per open element (index = depth) it keeps its namespace, local name, flags and counts, where
 * its content starts in the output, and, for the list rule, where each child element's output starts with the
 * child's uuid and deletion; white space between elements waits until the element is known to be mixed or not. One
 * instance, reused: its arrays grow to the deepest payload seen and stay.
 */
class Canonicalizer {
  private f = '';
  private scopes: ReadonlyArray<Readonly<Record<string, string>>> = [];
  private out: string[] = [];
  // Declarations made inside the payload, innermost last, with the depth of the element that made each.
  private readonly declPrefix: string[] = [];
  private readonly declUri: string[] = [];
  private readonly declDepth: number[] = [];
  private nDecl = 0;
  // Open elements.
  private readonly uri: string[] = [];
  private readonly local: string[] = [];
  private readonly flags: number[] = [];
  private readonly elements: number[] = [];
  private readonly uuidElements: number[] = [];
  /** Index in `out` where the element's content starts; where its own segment base and pending white space start. */
  private readonly contentAt: number[] = [];
  private readonly segBase: number[] = [];
  private readonly wsBase: number[] = [];
  // Child elements of the open elements, innermost parent last: output index, lower-cased uuid, deleted.
  private readonly segAt: number[] = [];
  private readonly segUuid: Array<string | undefined> = [];
  private readonly segDeleted: boolean[] = [];
  private nSeg = 0;
  // White space between elements not yet known to be text: output index and the text.
  private readonly wsAt: number[] = [];
  private readonly wsText: string[] = [];
  private nWs = 0;
  private i = 0;
  private selfClosing = false;
  /** The start tag just read: its uuid and flags. */
  private tagUuid: string | undefined;
  private tagFlags = 0;

  run(p: PayloadText): string {
    const f = p.text;
    this.f = f;
    this.scopes = p.scopes;
    // Counters, not array lengths: truncating an array is a slow path in V8 (measured: a fifth of the time).
    this.out = [];
    this.nDecl = this.nSeg = this.nWs = 0;
    const end = p.end;
    let i = p.start;
    if (f.charCodeAt(i) !== 60) throw new Error('canonical: the payload does not start with an element');
    let depth = 0;
    let runStart = i;
    while (i < end) {
      const lt = f.indexOf('<', i);
      if (lt < 0 || lt >= end) break;
      const c = f.charCodeAt(lt + 1);
      if (c === 33 /* ! */) {
        // A comment or CDATA: part of the text run, which rawToText reads as a whole.
        i = f.startsWith('<![CDATA[', lt) ? f.indexOf(']]>', lt + 9) + 3 : f.indexOf('-->', lt + 4) + 3;
        continue;
      }
      if (c === 63 /* ? */) {
        i = f.indexOf('?>', lt + 2) + 2;
        continue;
      }
      if (lt > runStart && depth > 0) this.text(depth - 1, runStart, lt);
      if (c === 47 /* / */) {
        i = f.indexOf('>', lt + 2) + 1;
        this.close(--depth);
        if (depth === 0) return this.out.join('');
      } else {
        this.open(lt, depth);
        i = this.i;
        if (this.selfClosing) {
          this.close(depth);
          if (depth === 0) return this.out.join('');
        } else {
          depth++;
        }
      }
      runStart = i;
    }
    throw new Error('canonical: the payload is not one closed element');
  }

  /** A run of character data (with any comments, CDATA and PIs in it) inside the element at depth `d`. */
  private text(d: number, from: number, to: number): void {
    // Most runs are plain: no reference, markup, CR or '>' to escape. One pass tells, and whether it is blank.
    const f = this.f;
    let plain = true;
    let blank = true;
    for (let i = from; i < to; i++) {
      const c = f.charCodeAt(i);
      if (c === 38 || c === 60 || c === 62 || c === 13) {
        plain = false;
        break;
      }
      if (blank && c !== 32 && c !== 10 && c !== 9) blank = false;
    }
    let t: string;
    let e: string;
    if (plain) {
      e = t = f.slice(from, to);
    } else {
      t = rawToText(f.slice(from, to), bad);
      if (t === '') return;
      blank = isBlank(t);
      e = escText(t);
    }
    const out = this.out;
    if ((this.flags[d]! & F_TEXT) !== 0) {
      out.push(e);
      return;
    }
    if (blank) {
      // Layout between elements, unless the element turns out to be mixed (or a leaf of white space).
      this.wsAt[this.nWs] = out.length;
      this.wsText[this.nWs++] = t;
      return;
    }
    this.flags[d]! |= F_TEXT;
    // Mixed content: the white space held so far is text too, in its place.
    const base = this.wsBase[d]!;
    for (let k = this.nWs - 1; k >= base; k--) out.splice(this.wsAt[k]!, 0, escText(this.wsText[k]!));
    this.nWs = base;
    out.push(e);
  }

  /** The start tag at `lt` of an element at depth `d`: written, and its frame opened. */
  private open(lt: number, d: number): void {
    const f = this.f;
    let j = lt + 1;
    let colon = -1;
    for (;;) {
      const c = f.charCodeAt(j);
      if (c === 62 || c === 47 || isSpace(c)) break;
      if (c === 58 && colon < 0) colon = j;
      j++;
    }
    const hasPrefix = colon > 0;
    const local = f.slice(hasPrefix ? colon + 1 : lt + 1, j);
    this.tagUuid = undefined;
    this.tagFlags = 0;
    let attrs: Attr[] | undefined;
    const c = f.charCodeAt(j);
    if (c === 62) {
      // No attributes: most elements of a payload.
      this.selfClosing = false;
      this.i = j + 1;
    } else if (c === 47) {
      this.selfClosing = true;
      this.i = j + 2;
    } else {
      attrs = this.attributes(j, d);
    }
    const uri = this.lookup(hasPrefix ? f.slice(lt + 1, colon) : '');
    if (this.tagUuid !== undefined) this.tagFlags |= F_UUID;
    if ((this.tagFlags & F_DELETED) !== 0) (attrs ??= []).push({ uri: NS.sdata, local: 'isDeleted', value: 'true' });
    const out = this.out;
    if (d > 0) {
      const p = d - 1;
      this.elements[p]!++;
      if (this.tagUuid !== undefined) this.uuidElements[p]!++;
      if ((this.tagFlags & F_DELETED) !== 0) this.flags[p]! |= F_DELETED_CHILD;
      const n = this.nSeg++;
      this.segAt[n] = out.length;
      this.segUuid[n] = this.tagUuid;
      this.segDeleted[n] = (this.tagFlags & F_DELETED) !== 0;
    }
    const inherited = d > 0 ? this.uri[d - 1]! : '';
    if (attrs === undefined) {
      out.push(uri === inherited ? `<${local}>` : `<${local} xmlns="${escAttr(uri)}">`);
    } else {
      out.push(this.startTag(local, uri, inherited, attrs));
    }
    this.uri[d] = uri;
    this.local[d] = local;
    this.flags[d] = this.tagFlags;
    this.elements[d] = 0;
    this.uuidElements[d] = 0;
    this.contentAt[d] = out.length;
    this.segBase[d] = this.nSeg;
    this.wsBase[d] = this.nWs;
  }

  /** A start tag with attributes: the default namespace where it changes, then `a0`… for the attributes' namespaces. */
  private startTag(local: string, uri: string, inherited: string, attrs: Attr[]): string {
    let s = `<${local}`;
    if (uri !== inherited) s += ` xmlns="${escAttr(uri)}"`;
    if (attrs.length > 1) attrs.sort(attrOrder);
    let prefixes = '';
    let lastUri = '';
    let n = -1;
    let list = '';
    for (const a of attrs) {
      let q: string;
      if (a.uri === '') q = a.local;
      else if (a.uri === NS.xml) q = `xml:${a.local}`;
      else {
        if (a.uri !== lastUri) {
          lastUri = a.uri;
          n++;
          prefixes += ` xmlns:a${n}="${escAttr(a.uri)}"`;
        }
        q = `a${n}:${a.local}`;
      }
      list += ` ${q}="${escAttr(a.value)}"`;
    }
    return `${s}${prefixes}${list}>`;
  }

  /** The attributes from `j` to the end of the start tag of an element at depth `d`; declarations take effect first. */
  private attributes(j: number, d: number): Attr[] | undefined {
    const f = this.f;
    let raw: string[] | undefined;
    let i = j;
    for (;;) {
      while (isSpace(f.charCodeAt(i))) i++;
      const c = f.charCodeAt(i);
      if (c === 62) {
        this.selfClosing = false;
        i++;
        break;
      }
      if (c === 47) {
        this.selfClosing = true;
        i += 2;
        break;
      }
      const a = i;
      while (f.charCodeAt(i) !== 61 && !isSpace(f.charCodeAt(i))) i++;
      const name = f.slice(a, i);
      while (f.charCodeAt(i) !== 61) i++;
      i++;
      while (isSpace(f.charCodeAt(i))) i++;
      const close = f.indexOf(f[i]!, i + 1);
      const value = f.slice(i + 1, close);
      i = close + 1;
      if (name.startsWith('xmlns') && (name.length === 5 || name.charCodeAt(5) === 58)) {
        const n = this.nDecl++;
        this.declPrefix[n] = name.length === 5 ? '' : name.slice(6);
        this.declUri[n] = intern(attrValue(value));
        this.declDepth[n] = d;
      } else {
        (raw ??= []).push(name, value);
      }
    }
    this.i = i;
    if (raw === undefined) return undefined;
    let attrs: Attr[] | undefined;
    for (let k = 0; k < raw.length; k += 2) {
      const a = this.attribute(raw[k]!, raw[k + 1]!);
      if (a !== undefined) (attrs ??= []).push(a);
    }
    return attrs;
  }

  /** One attribute as the canonical form keeps it (undefined: dropped); notes uuid and flags on the tag. */
  private attribute(name: string, raw: string): Attr | undefined {
    const colon = name.indexOf(':');
    const value = attrValue(raw);
    if (colon < 0) return { uri: '', local: name, value };
    const local = name.slice(colon + 1);
    const uri = this.lookup(name.slice(0, colon));
    if (uri === NS.sdata) {
      if (LOCAL_ATTRS.has(local)) return undefined;
      if (local === 'uuid') {
        this.tagUuid = uuidKey(value);
        return { uri, local, value: this.tagUuid };
      }
      if (local === 'deleteMissing') {
        this.tagFlags |= F_FLAGGED;
        return undefined;
      }
      if (local === 'isDeleted') {
        if (isXsTrue(value)) this.tagFlags |= F_DELETED;
        return undefined;
      }
    } else if (uri === NS.sync && local === 'isDeleted') {
      if (isXsTrue(value)) this.tagFlags |= F_DELETED;
      return undefined;
    } else if (uri === NS.xsi && local === 'nil') {
      const t = value.trim();
      if (t === 'false' || t === '0') return undefined;
      return { uri, local, value: isXsTrue(t) ? 'true' : value };
    }
    return { uri, local, value };
  }

  /** The element at depth `d` ends: the list rule and the white space decide its content; its end tag is written. */
  private close(d: number): void {
    while (this.nDecl > 0 && this.declDepth[this.nDecl - 1] === d) this.nDecl--;
    const out = this.out;
    const fl = this.flags[d]!;
    const elements = this.elements[d]!;
    const uuids = this.uuidElements[d]!;
    const list = (listRule((fl & F_UUID) !== 0, (fl & F_TEXT) !== 0, (fl & F_FLAGGED) !== 0, false, elements, uuids, (fl & F_DELETED_CHILD) !== 0) & LIST) !== 0;
    // Held white space: a leaf's whole text (it sits at the end), else layout between elements or inside a list.
    const wsBase = this.wsBase[d]!;
    if (this.nWs > wsBase && elements === 0 && !list) out.push(escText(this.wsText[wsBase]!));
    this.nWs = wsBase;
    const segBase = this.segBase[d]!;
    if (list && (elements > 1 || (fl & F_DELETED_CHILD) !== 0)) this.reorder(d, segBase, uuids === elements);
    this.nSeg = segBase;
    out.push(`</${this.local[d]!}>`);
  }

  /** A list's children: those not flagged deleted, in uuid order when all have one (else as written). */
  private reorder(d: number, base: number, sort: boolean): void {
    const out = this.out;
    const n = this.nSeg - base;
    const kids: Array<{ uuid: string; text: string }> = [];
    for (let k = 0; k < n; k++) {
      if (this.segDeleted[base + k]) continue;
      const from = this.segAt[base + k]!;
      const to = k + 1 < n ? this.segAt[base + k + 1]! : out.length;
      kids.push({ uuid: this.segUuid[base + k] ?? '', text: out.slice(from, to).join('') });
    }
    if (sort && kids.length > 1) kids.sort((a, b) => cmp(a.uuid, b.uuid));
    out.length = this.contentAt[d]!;
    for (const k of kids) out.push(k.text);
  }

  private lookup(prefix: string): string {
    const dp = this.declPrefix;
    for (let k = this.nDecl - 1; k >= 0; k--) if (dp[k] === prefix) return this.declUri[k]!;
    const scopes = this.scopes;
    for (let k = scopes.length - 1; k >= 0; k--) {
      const sc = scopes[k]!;
      if (Object.hasOwn(sc, prefix)) return intern(sc[prefix]!);
    }
    if (prefix === 'xml') return NS.xml;
    if (prefix === '') return '';
    throw new SdataError('SDATA_E_MALFORMED', `payload: prefix '${prefix}' is not declared`);
  }
}

const canonicalizer = new Canonicalizer();
