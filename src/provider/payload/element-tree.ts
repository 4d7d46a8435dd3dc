import { NS } from '../../protocol/namespaces.ts';
import { isXsTrue as isTrue, LIST, listRule, WORK } from '../../xml/child-list-rule.ts';
import { isBlank } from '../../xml/scan-chars.ts';
import { prefixOf, scanStartTag, unescapeAttr } from './fragment.ts';

/**
 * The element structure of one stored fragment, as offsets into its text: what the child-list rule
 * (docs/protocol.md §3.3, A9) needs to know, and where each element's tags are so that a merge can copy text
 * verbatim. A small scanner, not a parser: fragments are well-formed already (saxes read them, or we wrote them),
 * so it only has to find tags, skip comments, CDATA and processing instructions, and resolve the prefixes of the
 * three attributes the rule reads (`sdata:uuid`, `sdata:deleteMissing`, `sdata:isDeleted` or `sync:isDeleted`, A8)
 * by namespace URI, never by their spelling.
 */

export interface Elem {
  /** Offset of the start tag's `<`, just after its qname, and just after the start tag. */
  start: number;
  nameEnd: number;
  tagEnd: number;
  /** Offset of the end tag's `</` (`tagEnd` for a self-closing element), and just after the element. */
  closeStart: number;
  end: number;
  qname: string;
  parent: Elem | undefined;
  /** Namespace declarations on this element (prefix '' = default), unescaped. */
  decls: Map<string, string> | undefined;
  children: Elem[];
  /** `sdata:uuid` as written (trimmed). */
  uuid: string | undefined;
  /** `sdata:deleteMissing`: its trimmed value and where its raw value sits. */
  deleteMissing: { value: string; at: number; length: number } | undefined;
  /** `sdata:isDeleted` or `sync:isDeleted` is true. */
  deleted: boolean;
  /** Character data other than whitespace directly inside (text, CDATA, references). */
  text: boolean;
  /** A child list (docs/protocol.md §3.3): see finish(). */
  list: boolean;
  /** Every element child carries `sdata:uuid` (vacuously true without children): children can be matched. */
  matchable: boolean;
  /** This element or one inside it needs the child-list merge (listRule). */
  work: boolean;
}

/** Whether `deleteMissing` says the list is complete. */
export const isComplete = (e: Elem): boolean => e.deleteMissing !== undefined && isTrue(e.deleteMissing.value);

/** The element tree of a well-formed fragment (its root element starts at offset 0). */
export function elementTree(f: string): Elem {
  // In-scope bindings; each element that declares some restores the previous ones when it closes.
  const scope = new Map<string, string>();
  const saved: Array<Array<[string, string | undefined]> | undefined> = [];
  let cur: Elem | undefined;
  let root: Elem | undefined;
  const n = f.length;
  let i = 0;
  while (i < n) {
    const lt = f.indexOf('<', i);
    if (lt < 0) break;
    if (lt > i && cur !== undefined && !cur.text && !isBlank(f, i, lt)) cur.text = true;
    const c = f.charCodeAt(lt + 1);
    if (c === 47 /* / */) {
      const gt = f.indexOf('>', lt + 2);
      const e = cur!;
      e.closeStart = lt;
      e.end = gt + 1;
      restore(scope, saved.pop());
      finish(e);
      cur = e.parent;
      i = gt + 1;
      continue;
    }
    if (c === 33 /* ! */) {
      if (f.startsWith('<![CDATA[', lt)) {
        const e = f.indexOf(']]>', lt + 9);
        if (cur !== undefined && !cur.text && !isBlank(f, lt + 9, e)) cur.text = true;
        i = e + 3;
      } else {
        i = f.indexOf('-->', lt + 4) + 3; // a comment: no DOCTYPE inside an element
      }
      continue;
    }
    if (c === 63 /* ? */) {
      i = f.indexOf('?>', lt + 2) + 2;
      continue;
    }
    const e = startTag(f, lt, cur, scope, saved);
    if (cur === undefined) root = e;
    else cur.children.push(e);
    if (e.closeStart >= 0) {
      restore(scope, saved.pop());
      finish(e);
    } else {
      cur = e;
    }
    i = e.tagEnd;
  }
  if (root === undefined || cur !== undefined) throw new Error('fragment is not one closed element');
  return root;
}

function startTag(f: string, lt: number, parent: Elem | undefined, scope: Map<string, string>, saved: Array<Array<[string, string | undefined]> | undefined>): Elem {
  // Most elements of a payload have no attributes: their tag ends right after the name.
  let j = lt + 1;
  for (;;) {
    const d = f.charCodeAt(j);
    if (d === 62 /* > */ || d === 47 /* / */ || d === 32 || d === 10 || d === 9 || d === 13) break;
    j++;
  }
  const e: Elem = {
    start: lt, nameEnd: j, tagEnd: 0, closeStart: -1, end: -1, qname: f.slice(lt + 1, j), parent, decls: undefined,
    children: [], uuid: undefined, deleteMissing: undefined, deleted: false, text: false, list: false, matchable: true, work: false,
  };
  const d = f.charCodeAt(j);
  if (d === 62) {
    e.tagEnd = j + 1;
    saved.push(undefined);
    return e;
  }
  if (d === 47) {
    e.tagEnd = e.end = j + 2;
    e.closeStart = e.tagEnd;
    saved.push(undefined);
    return e;
  }
  const t = scanStartTag(f, lt);
  e.tagEnd = t.end;
  if (t.selfClosing) e.closeStart = e.end = t.end;
  let undo: Array<[string, string | undefined]> | undefined;
  for (const [name, value] of t.attrs) {
    if (name !== 'xmlns' && !name.startsWith('xmlns:')) continue;
    const p = name === 'xmlns' ? '' : name.slice(6);
    const uri = unescapeAttr(value);
    (e.decls ??= new Map()).set(p, uri);
    (undo ??= []).push([p, scope.get(p)]);
    scope.set(p, uri);
  }
  saved.push(undo);
  for (const [name, value, at] of t.attrs) {
    const colon = name.indexOf(':');
    if (colon < 0) continue;
    const local = name.slice(colon + 1);
    if (local !== 'uuid' && local !== 'deleteMissing' && local !== 'isDeleted') continue;
    const uri = scope.get(name.slice(0, colon));
    if (uri === NS.sdata) {
      if (local === 'uuid') e.uuid = unescapeAttr(value).trim();
      else if (local === 'deleteMissing') e.deleteMissing = { value: unescapeAttr(value).trim(), at, length: value.length };
      else e.deleted = isTrue(unescapeAttr(value).trim());
    } else if (uri === NS.sync && local === 'isDeleted') {
      e.deleted = isTrue(unescapeAttr(value).trim());
    }
  }
  return e;
}

function restore(scope: Map<string, string>, undo: Array<[string, string | undefined]> | undefined): void {
  if (undo === undefined) return;
  for (let k = undo.length - 1; k >= 0; k--) {
    const [p, old] = undo[k]!;
    if (old === undefined) scope.delete(p);
    else scope.set(p, old);
  }
}

function finish(e: Elem): void {
  let uuids = 0;
  let deletedChild = false;
  let workBelow = false;
  for (const k of e.children) {
    if (k.uuid !== undefined) uuids++;
    if (k.deleted) deletedChild = true;
    if (k.work) workBelow = true;
  }
  e.matchable = uuids === e.children.length;
  const r = listRule(e.uuid !== undefined, e.text, e.deleteMissing !== undefined, isComplete(e), e.children.length, uuids, deletedChild);
  e.list = (r & LIST) !== 0;
  e.work = workBelow || (r & WORK) !== 0;
}

/** In-scope bindings at `e` (its own declarations included); `added` are declarations a merge inserts on elements. */
export function scopeAt(e: Elem, added?: ReadonlyMap<Elem, ReadonlyMap<string, string>>): Map<string, string> {
  const out = new Map<string, string>();
  for (let x: Elem | undefined = e; x !== undefined; x = x.parent) {
    if (x.decls) for (const [p, u] of x.decls) if (!out.has(p)) out.set(p, u);
    const a = added?.get(x);
    if (a) for (const [p, u] of a) if (!out.has(p)) out.set(p, u);
  }
  return out;
}

/** The namespace URI of an element's name ('' = none). */
export function uriOf(e: Elem): string {
  const p = prefixOf(e.qname);
  for (let x: Elem | undefined = e; x !== undefined; x = x.parent) {
    const u = x.decls?.get(p);
    if (u !== undefined) return u;
  }
  return '';
}
