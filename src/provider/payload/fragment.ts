import { escapeAttr } from '../../protocol/escape.ts';
import { NS, OUTPUT_ROOT_BINDINGS } from '../../protocol/namespaces.ts';
import type { EntryRecord } from '../../xml/feed-types.ts';
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
  if (uuid !== undefined && rootUuid(rt, decls) === undefined) {
    let sp = 'sdata';
    if (decls.get(sp) !== NS.sdata) {
      for (const [k, v] of decls) if (v === NS.sdata && k !== '') sp = k;
      if (decls.get(sp) !== NS.sdata) {
        if (decls.has(sp)) sp = 'sdataU';
        ins += ` xmlns:${sp}="${NS.sdata}"`;
      }
    }
    ins += ` ${sp}:uuid="${escapeAttr(uuid)}"`;
  }
  return ins === '' ? f : insertAt(f, rt.nameEnd, ins);
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
