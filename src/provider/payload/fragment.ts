import { escapeAttr } from '../../protocol/escape.ts';
import { NS, OUTPUT_ROOT_BINDINGS } from '../../protocol/namespaces.ts';
import { NON_ASCII } from '../../xml/canonical-text.ts';
import { recordInChars } from '../../xml/entry-record.ts';
import { resourceScope, type EntryRecord } from '../../xml/feed-types.ts';
import { decodeEntities } from '../../xml/entities.ts';
import { resourceXml, usesPrefix } from '../../xml/feed-writer.ts';

/**
 * Stored payloads are self-contained resource elements ("fragments"): every namespace they use is declared on their
 * root, so they can be embedded in any feed as they are. These helpers look at and adjust a fragment's root start
 * tag with a small scanner, never a full parse: they run once per applied entry.
 */

export interface RootTag {
  qname: string;
  /** Offset just after the qname: where attributes may be inserted. */
  nameEnd: number;
  /** Offset just after the start tag's `>`. */
  end: number;
  selfClosing: boolean;
  /** Attributes in document order: qualified name, raw (still escaped) value, and the value's offset. */
  attrs: Array<readonly [name: string, value: string, at: number]>;
}

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;

/** Scans the root start tag of a well-formed fragment (which starts with `<`). */
export function scanRootTag(f: string): RootTag {
  return scanStartTag(f, 0);
}

/** Scans the start tag that opens at `at` (the offset of its `<`) in well-formed XML. */
export function scanStartTag(f: string, at: number): RootTag {
  let i = at + 1;
  const n = f.length;
  while (i < n) {
    const c = f.charCodeAt(i);
    if (isSpace(c) || c === 47 /* / */ || c === 62 /* > */) break;
    i++;
  }
  const qname = f.slice(at + 1, i);
  const nameEnd = i;
  const attrs: Array<readonly [string, string, number]> = [];
  for (;;) {
    while (i < n && isSpace(f.charCodeAt(i))) i++;
    const c = f.charCodeAt(i);
    if (c === 62) return { qname, nameEnd, end: i + 1, selfClosing: false, attrs };
    if (c === 47) return { qname, nameEnd, end: i + 2, selfClosing: true, attrs };
    if (i >= n) throw new Error('fragment start tag is not closed');
    const a = i;
    while (i < n) {
      const d = f.charCodeAt(i);
      if (d === 61 /* = */ || isSpace(d)) break;
      i++;
    }
    const name = f.slice(a, i);
    while (i < n && f.charCodeAt(i) !== 61) i++;
    i++;
    while (i < n && isSpace(f.charCodeAt(i))) i++;
    const q = f[i];
    const close = f.indexOf(q!, i + 1);
    if (close < 0) throw new Error('fragment attribute value is not closed');
    attrs.push([name, f.slice(i + 1, close), i + 1]);
    i = close + 1;
  }
}

export function unescapeAttr(v: string): string {
  return decodeEntities(v, (at, problem) => new Error(`fragment attribute value, character ${at}: ${problem}`));
}

/** Namespace declarations on the root: prefix ('' = default) → URI. */
export function rootDeclarations(rt: RootTag): Map<string, string> {
  const m = new Map<string, string>();
  for (const [name, value] of rt.attrs) {
    if (name === 'xmlns') m.set('', unescapeAttr(value));
    else if (name.startsWith('xmlns:')) m.set(name.slice(6), unescapeAttr(value));
  }
  return m;
}

export function prefixOf(qname: string): string {
  const c = qname.indexOf(':');
  return c < 0 ? '' : qname.slice(0, c);
}

/** The root's `sdata:{local}` value (unescaped, trimmed), whatever prefix binds the sdata namespace; undefined if absent. */
export function rootSdataAttr(rt: RootTag, decls: Map<string, string>, local: string): string | undefined {
  for (const [name, value] of rt.attrs) {
    const c = name.indexOf(':');
    if (c > 0 && name.slice(c + 1) === local && decls.get(name.slice(0, c)) === NS.sdata) return unescapeAttr(value).trim();
  }
  return undefined;
}

/** The root's `sdata:uuid` value; undefined if absent. */
export function rootUuid(rt: RootTag, decls: Map<string, string>): string | undefined {
  return rootSdataAttr(rt, decls, 'uuid');
}

/**
 * The fragment to store for an incoming entry: `resourceXml()`, made a fixpoint of relaying so that two stores
 * holding the same version hold the same bytes (convergence checks compare them):
 * - every prefix our output feeds bind on their root (`sdata`, `sync`, `http`, `opensearch`) that the fragment may
 *   use (resourceXml's own test, usesPrefix) is declared on the fragment's own root, so a receiver's
 *   `resourceXml()` has nothing left to add;
 * - a prefixed root whose element is empty gets its own prefix declared (`resourceXml` looks only after the qname);
 * - the resource element carries `sdata:uuid` (the spec's 5.8 example puts it on `sdata:payload`, docs/protocol.md A19), unless
 *   `uuid` is undefined (a local creation without one: a resource without a link, spec 1.2).
 * Undefined when the entry has no resource element.
 */
export function storedFragment(rec: EntryRecord, uuid: string | undefined): string | undefined {
  return storedResource(recordInChars(rec), uuid)?.fragment;
}

/** A stored fragment, and where its root start tag ends (what the list scan skips: child-lists.ts hasListWork). */
export interface StoredResource {
  /** In characters; for a record whose text is bytes (EntryRecord.textBytes), its UTF-8 as a Latin-1 string. */
  fragment: string;
  bodyStart: number;
  /** The fragment is the resource element as received, nothing inserted (the common case of relayed payloads). */
  verbatim: boolean;
}

/**
 * storedFragment, built in one go from the entry's text: the same bytes as resourceXml() followed by the
 * normalisation (fullStoredFragment, which a root whose own prefix is declared nowhere on it still takes, and the
 * oracle of test/provider/payload/fragment.test.ts), without a second scan of the fragment's root, and with one pass
 * over the resource's text for the prefixes it uses instead of one search per prefix (usedPrefixes). This runs once
 * per applied entry: per ~1 KB entry it took ~8 µs of the target's ~75 (decision 0022).
 *
 * A record whose text is UTF-8 bytes (EntryRecord.textBytes, the target's scanned records) is read as such, never
 * decoded: every test here looks at ASCII (`<`, `:`, quotes, names of [\w.-], namespace URIs compared with ours),
 * which reads the same in bytes and in characters. Where that does not hold (a prefix of other characters in scope,
 * a declaration or uuid to insert that is not ASCII, the root's own prefix undeclared on it) the answer is `null`:
 * read the record in characters instead (recordInChars).
 */
export function storedResource(rec: EntryRecord, uuid: string | undefined): StoredResource | undefined | null {
  const text = rec.text;
  const bytes = rec.textBytes === true;
  if (text === undefined || rec.resourceStart < 0 || rec.resourceEnd < 0) return undefined;
  const rs = rec.resourceStart;
  const ne = rec.resourceNameEnd;
  const re = rec.resourceEnd;
  const used = usedPrefixes(text, ne, re);
  // The tail after the qname uses `prefix` (usesPrefix over it; exact here only for names of [\w.-], see usedPrefixes).
  const tailUses = (prefix: string): boolean => WORD_NAME.test(prefix) ? used.includes(prefix) : usesPrefix(text.slice(ne, re), prefix);
  // resourceXml's declarations: every inherited binding the resource may use and does not declare itself.
  const own = rec.resourceOwnDecls;
  const scope = resourceScope(rec);
  // The root's declarations in document order, as rootDeclarations() reads resourceXml's root: its insertions
  // first (uuidDeclaration takes the last prefix bound to sdata), then the element's own.
  const decls = new Map<string, string>();
  let inherited = '';
  for (const prefix of Object.keys(scope)) {
    if (prefix === 'xml' || own.includes(prefix)) continue;
    if (bytes && prefix !== '' && !WORD_NAME.test(prefix)) return null;
    if (prefix !== '' && !tailUses(prefix)) continue;
    const uri = scope[prefix]!;
    inherited += prefix === '' ? ` xmlns="${escapeAttr(uri)}"` : ` xmlns:${prefix}="${escapeAttr(uri)}"`;
    decls.set(prefix, uri);
  }
  if (scope[''] === undefined && !own.includes('')) {
    inherited += ' xmlns=""';
    decls.set('', '');
  }
  const rt = scanStartTag(text, rs);
  for (const [prefix, uri] of rootDeclarations(rt)) decls.set(prefix, uri);
  if (!decls.has(prefixOf(rt.qname))) {
    if (bytes) return null;
    const f = fullStoredFragment(rec, uuid)!;
    return { fragment: f, bodyStart: scanRootTag(f).end, verbatim: false };
  }
  // normalizeFragment's additions, inserted before resourceXml's. Its usesPrefix over the text after the qname
  // (resourceXml's declarations, then the tail) stops after the declarations for a prefix resourceXml has tested on
  // the tail already (see fullStoredFragment).
  let ins = '';
  for (const [prefix, decl] of RECEIVER_PREFIXES) {
    if (decls.has(prefix)) continue;
    if (usesPrefix(inherited, prefix) || (!inheritedUndeclared(rec, prefix) && used.includes(prefix))) {
      ins += decl;
      decls.set(prefix, OUTPUT_ROOT_BINDINGS.get(prefix)!);
    }
  }
  ins += uuidDeclaration(rt, decls, uuid);
  ins += inherited;
  if (bytes && NON_ASCII.test(ins)) return null;
  const fragment = ins === '' ? text.slice(rs, re) : text.slice(rs, ne) + ins + text.slice(ne, re);
  return { fragment, bodyStart: rt.end - rs + ins.length, verbatim: ins === '' };
}

/** Prefix names usedPrefixes can tell exactly: those of the characters usesPrefix's look-behind knows as name characters. */
const WORD_NAME = /^[\w.-]+$/;

const isWordChar = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 45;

/**
 * The prefixes `text.slice(from, to)` uses by usesPrefix's test, in one pass over its colons: for a name of [\w.-]
 * characters, `usesPrefix(slice, name)` holds exactly when `name` is in the result. (A match of `name:` must start
 * where the run of such characters before its colon starts, since usesPrefix refuses one preceded by any of them.)
 */
function usedPrefixes(text: string, from: number, to: number): string[] {
  const out: string[] = [];
  for (let c = text.indexOf(':', from); c >= 0 && c < to; c = text.indexOf(':', c + 1)) {
    // A URL scheme (`http://`) is no use of a prefix; the slice ends at `to`.
    if (c + 2 < to && text.charCodeAt(c + 1) === 47 && text.charCodeAt(c + 2) === 47) continue;
    let b = c;
    while (b > from && isWordChar(text.charCodeAt(b - 1))) b--;
    if (b === c) continue;
    const name = text.slice(b, c);
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/** storedFragment by resourceXml() and a normalisation of its result (see storedResource). */
function fullStoredFragment(rec: EntryRecord, uuid: string | undefined): string | undefined {
  let f = resourceXml(rec);
  if (f === undefined) return undefined;
  let rt = scanRootTag(f);
  let decls = rootDeclarations(rt);
  const p = prefixOf(rt.qname);
  if (!decls.has(p)) {
    const uri = rec.resourceUri ?? '';
    f = insertAt(f, rt.nameEnd, p === '' ? ` xmlns="${escapeAttr(uri)}"` : ` xmlns:${p}="${escapeAttr(uri)}"`);
    rt = scanRootTag(f);
    decls = rootDeclarations(rt);
  }
  // resourceXml() is the source text after the root's qname (the "tail") with declarations inserted before it, and
  // it has already run usesPrefix over that tail for every inherited prefix the element does not declare itself:
  // those it left undeclared are unused there, and only the inserted declarations remain to be tested. This saves
  // scanning the whole fragment again per prefix (the payload is most of an entry). usesPrefix(a + b) equals
  // usesPrefix(a) || usesPrefix(b) here: a match cannot straddle the `"` that ends the declarations.
  const tailStart = f.length - (rec.resourceEnd - rec.resourceNameEnd);
  if (tailStart < rt.nameEnd) return normalizeFragment(f, rt, decls, uuid);
  return normalizeFragment(f, rt, decls, uuid, (prefix) => inheritedUndeclared(rec, prefix) ? tailStart : f.length);
}

/** Whether resourceXml() tested `prefix` on the resource's tail: inherited, and not declared by the element itself. */
function inheritedUndeclared(rec: EntryRecord, prefix: string): boolean {
  if (rec.resourceOwnDecls.includes(prefix)) return false;
  for (const sc of rec.scopes) if (Object.hasOwn(sc, prefix)) return true;
  return false;
}

/** The prefixes our output feeds bind on their root, with what to look for and what to declare. */
const RECEIVER_PREFIXES: ReadonlyArray<readonly [prefix: string, decl: string]> = [...OUTPUT_ROOT_BINDINGS]
  .filter(([prefix]) => prefix !== '')
  .map(([prefix, uri]) => [prefix, ` xmlns:${prefix}="${uri}"`] as const);

/**
 * Stabilises a fragment built elsewhere (seeding, local POST): see storedFragment. `scanEnd(prefix)`, when given,
 * is where the search for a use of `prefix` may stop (what follows is known not to use it).
 */
export function normalizeFragment(f: string, rt = scanRootTag(f), decls = rootDeclarations(rt), uuid?: string,
  scanEnd?: (prefix: string) => number): string {
  let ins = '';
  for (const [prefix, decl] of RECEIVER_PREFIXES) {
    if (decls.has(prefix)) continue;
    // The very test resourceXml applies: then a receiver's resourceXml finds nothing to add.
    if (usesPrefix(f.slice(rt.nameEnd, scanEnd === undefined ? f.length : scanEnd(prefix)), prefix)) {
      ins += decl;
      decls.set(prefix, OUTPUT_ROOT_BINDINGS.get(prefix)!);
    }
  }
  ins += uuidDeclaration(rt, decls, uuid);
  return ins === '' ? f : insertAt(f, rt.nameEnd, ins);
}

/** What puts `sdata:uuid` on a root that lacks it ('' when it has one or `uuid` is undefined); `decls` may gain the prefix. */
function uuidDeclaration(rt: RootTag, decls: Map<string, string>, uuid: string | undefined): string {
  if (uuid === undefined || rootUuid(rt, decls) !== undefined) return '';
  let ins = '';
  let sp = 'sdata';
  if (decls.get(sp) !== NS.sdata) {
    for (const [k, v] of decls) if (v === NS.sdata && k !== '') sp = k;
    if (decls.get(sp) !== NS.sdata) {
      if (decls.has(sp)) sp = 'sdataU';
      ins += ` xmlns:${sp}="${NS.sdata}"`;
    }
  }
  return `${ins} ${sp}:uuid="${escapeAttr(uuid)}"`;
}

function insertAt(s: string, at: number, ins: string): string {
  return s.slice(0, at) + ins + s.slice(at);
}

/**
 * The deletion payload of a resource (docs/protocol.md §2.5): its element, `sdata:uuid` and `sdata:isDeleted="true"`, no
 * children. Built from the live fragment so a local delete yields the same bytes on every store.
 */
export function tombstoneFragment(live: string, uuid: string): string {
  const rt = scanRootTag(live);
  const decls = rootDeclarations(rt);
  const p = prefixOf(rt.qname);
  const uri = decls.get(p) ?? '';
  const u = rootUuid(rt, decls) ?? uuid;
  const sp = p === 'sdata' && uri !== NS.sdata ? 'sdataU' : 'sdata';
  let s = `<${rt.qname}${p === '' ? ` xmlns="${escapeAttr(uri)}"` : ` xmlns:${p}="${escapeAttr(uri)}"`}`;
  if (!(p === sp && uri === NS.sdata)) s += ` xmlns:${sp}="${NS.sdata}"`;
  return `${s} ${sp}:uuid="${escapeAttr(u)}" ${sp}:isDeleted="true"/>`;
}
