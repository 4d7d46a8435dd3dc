import { escapeAttr } from '../../protocol/escape.ts';
import { NS } from '../../protocol/namespaces.ts';
import { usesPrefix } from '../../xml/feed-writer.ts';
import { isBlank } from '../../xml/scan-chars.ts';
import { elementTree, isComplete, scopeAt, uriOf, type Elem } from './element-tree.ts';
import { normalizeFragment, scanRootTag } from './fragment.ts';
import { needsListMerge } from './list-scan.ts';

/**
 * Child lists (spec 4.4, 6.1, core 9.2; docs/protocol.md §3.3 and A9): what the provider stores when a payload
 * arrives whose lists are not complete.
 *
 * - A list flagged complete (`sdata:deleteMissing` true) replaces the stored one, without the children it flags
 *   deleted. A list without the flag is a delta: children are matched by `sdata:uuid` (any case), a matched child is
 *   replaced by the incoming one, a new one is appended after the stored ones (in incoming order), and stored children
 *   the delta does not mention stay where they are.
 * - A delta over a complete list gives a complete list: flagged `deleteMissing="true"`, and a child flagged
 *   `isDeleted` (sdata or sync namespace, A8) removed. A delta with no complete list to apply to (a resource that
 *   reached this store through deltas only) gives what 4.4 calls incomplete storage: the union of what the deltas
 *   said, unflagged, children flagged deleted kept, so that it is sent on as a delta and never makes the next store
 *   delete children this one never had. A local create or PUT (`local`) is all there is: complete.
 * - Lists are found where they are: a list inside a matched child is merged with that stored child's list, and so on
 *   down. Outside lists, the incoming payload is whole (sync payloads are, spec 4.4): its other elements, its
 *   references and its single children replace the stored ones.
 * - Everything is copied as text (comments, CDATA, character references mean what they meant); a stored child placed
 *   under an incoming ancestor re-declares the bindings it inherited and the new place binds otherwise.
 *
 * The merge only runs when hasListWork() says so (a payload whose lists are all complete, or that has none, is
 * stored as it came: the target's fast path). It builds a small element tree of both payloads (elementTree): a
 * payload is at most one entry (`--max-entry-bytes`), a few KB typically.
 */

/** Whether storing `incoming` needs mergeChildLists(); false: store it as it is. */
export function hasListWork(incoming: string, body = scanRootTag(incoming).end, bytes = false): boolean {
  // A list that needs work has a child with a uuid or a deleteMissing flag: text without either, past the root's
  // start tag (`body`: where it ends, if the caller knows), has none (the common payload with no list at all costs
  // two string searches).
  if (incoming.indexOf('uuid', body) < 0 && incoming.indexOf('deleteMissing', body) < 0) return false;
  return needsListMerge(incoming, bytes);
}

/**
 * The fragment to store for `incoming` (a self-contained fragment, storedFragment's form) given the stored version
 * of the same resource (undefined: none, or a tombstone). `local`: a local create or PUT rather than a sync entry.
 * The result is normalised like any stored fragment, so relaying it is a fixpoint.
 */
export function mergeChildLists(stored: string | undefined, incoming: string, local = false): string {
  const it = elementTree(incoming);
  if (!it.work) return incoming;
  const st = stored === undefined ? undefined : elementTree(stored);
  return normalizeFragment(new ListMerge(incoming, stored ?? '', local).element(it, st));
}

const key = (uuid: string): string => uuid.toLowerCase();

function localOf(qname: string): string {
  const c = qname.indexOf(':');
  return c < 0 ? qname : qname.slice(c + 1);
}

function sameName(a: Elem, b: Elem): boolean {
  return localOf(a.qname) === localOf(b.qname) && uriOf(a) === uriOf(b);
}

function declaration(prefix: string, uri: string): string {
  return prefix === '' ? ` xmlns="${escapeAttr(uri)}"` : ` xmlns:${prefix}="${escapeAttr(uri)}"`;
}

class ListMerge {
  private readonly inc: string;
  private readonly sto: string;
  /** Declarations this merge inserted on incoming elements (a list that gets `deleteMissing` and had no sdata prefix). */
  private readonly added = new Map<Elem, Map<string, string>>();

  /** A local edit (create, PUT): a delta list with nothing stored to apply to is all there is. */
  private readonly local: boolean;

  constructor(incoming: string, stored: string, local: boolean) {
    this.inc = incoming;
    this.sto = stored;
    this.local = local;
  }

  /** An incoming element that is not a list, with work inside; `se` its stored counterpart. */
  element(ie: Elem, se: Elem | undefined): string {
    const inc = this.inc;
    let out = inc.slice(ie.start, ie.tagEnd);
    let pos = ie.tagEnd;
    for (const c of ie.children) {
      if (!c.work) continue;
      out += inc.slice(pos, c.start);
      out += this.node(c, counterpart(ie, c, se));
      pos = c.end;
    }
    return out + inc.slice(pos, ie.end);
  }

  /** An incoming element with work, list or not. */
  private node(e: Elem, stored: Elem | undefined): string {
    return e.list ? this.list(e, stored) : this.element(e, stored);
  }

  /** An incoming list with work (a delta, deleted children, or work inside a child); `sl` the stored list. */
  private list(il: Elem, sl: Elem | undefined): string {
    const stored = sl !== undefined && sl.list && sl.matchable ? sl : undefined;
    if (isComplete(il)) return this.rebuild(il, stored, true, this.inc.slice(il.start, il.tagEnd));
    // Children without uuids cannot be matched: the list is taken as it came (work inside its children aside).
    if (!il.matchable) return this.rebuild(il, undefined, false, this.inc.slice(il.start, il.tagEnd));
    // A delta. The result is complete when what it applies to is: the stored list was complete, or, with nothing
    // stored, the edit is local (what a local create or PUT sends is all there is). Else the list is only what deltas
    // told us (4.4's incomplete storage): it stays unflagged and keeps its children flagged deleted, so that it can be
    // passed on as the delta it is.
    const complete = stored === undefined ? this.local : isComplete(stored);
    const start = complete ? this.flagged(il) : this.inc.slice(il.start, il.tagEnd);
    if (stored === undefined) return this.rebuild(il, undefined, complete, start);
    return this.overlay(il, stored, complete, start);
  }

  /** The incoming list's children in order (without the deleted ones when `drop`); nested work merges by uuid. */
  private rebuild(il: Elem, stored: Elem | undefined, drop: boolean, start: string): string {
    const inc = this.inc;
    const latest = latestByUuid(il);
    const storedByKey = new Map<string, Elem>();
    if (stored !== undefined) for (const sc of stored.children) storedByKey.set(key(sc.uuid!), sc);
    let body = '';
    let prev = il.tagEnd;
    for (const ic of il.children) {
      const seg = inc.slice(prev, ic.start);
      prev = ic.end;
      if ((drop && ic.deleted) || (ic.uuid !== undefined && latest.get(key(ic.uuid)) !== ic)) {
        if (!isBlank(seg, 0, seg.length)) body += seg;
        continue;
      }
      body += seg;
      body += ic.work ? this.node(ic, ic.uuid === undefined ? undefined : storedByKey.get(key(ic.uuid))) : inc.slice(ic.start, ic.end);
    }
    return this.close(il, start, body + inc.slice(prev, il.closeStart));
  }

  /**
   * A delta over the stored list: the stored children in place (replaced by the incoming child of the same uuid,
   * kept when not mentioned, removed when flagged deleted and the list is complete), then the new ones in incoming
   * order.
   */
  private overlay(il: Elem, stored: Elem, complete: boolean, start: string): string {
    const inc = this.inc;
    const sto = this.sto;
    const latest = latestByUuid(il);
    const resultScope = scopeAt(il, this.added);
    const storedScope = scopeAt(stored);
    const matched = new Set<Elem>();
    let body = '';
    let pos = stored.tagEnd;
    for (const sc of stored.children) {
      const seg = sto.slice(pos, sc.start);
      pos = sc.end;
      const ic = latest.get(key(sc.uuid!));
      const gone = ic !== undefined ? matched.has(ic) || (complete && ic.deleted) : complete && sc.deleted;
      if (gone) {
        if (!isBlank(seg, 0, seg.length)) body += seg;
        continue;
      }
      body += seg;
      if (ic === undefined) {
        body += this.carried(sc, storedScope, resultScope);
      } else {
        matched.add(ic);
        body += ic.work ? this.node(ic, sc) : inc.slice(ic.start, ic.end);
      }
    }
    let prev = il.tagEnd;
    for (const ic of il.children) {
      const seg = inc.slice(prev, ic.start);
      prev = ic.end;
      if ((complete && ic.deleted) || matched.has(ic) || latest.get(key(ic.uuid!)) !== ic) continue;
      if (isBlank(seg, 0, seg.length)) body += seg;
      body += ic.work ? this.node(ic, undefined) : inc.slice(ic.start, ic.end);
    }
    return this.close(il, start, body + sto.slice(pos, stored.closeStart));
  }

  /** The list element around `body`, with `start` as its start tag. */
  private close(il: Elem, start: string, body: string): string {
    if (il.end === il.tagEnd) {
      // Self-closing: `<x …/>` stays so when nothing goes in, else becomes `<x …>…</x>`.
      if (body === '') return start;
      return `${start.slice(0, start.lastIndexOf('/'))}>${body}</${il.qname}>`;
    }
    return start + body + this.inc.slice(il.closeStart, il.end);
  }

  /** The incoming list's start tag with `sdata:deleteMissing="true"`: what we store is the complete list. */
  private flagged(il: Elem): string {
    const inc = this.inc;
    const dm = il.deleteMissing;
    if (dm !== undefined) {
      if (isComplete(il)) return inc.slice(il.start, il.tagEnd);
      return inc.slice(il.start, dm.at) + 'true' + inc.slice(dm.at + dm.length, il.tagEnd);
    }
    const scope = scopeAt(il, this.added);
    let prefix: string | undefined;
    if (scope.get('sdata') === NS.sdata) prefix = 'sdata';
    else for (const [p, u] of scope) if (u === NS.sdata && p !== '' && prefix === undefined) prefix = p;
    let ins = '';
    if (prefix === undefined) {
      // No prefix binds the sdata namespace here (the children declare it each): bind a free one on the list.
      prefix = 'sdata';
      for (let k = 1; scope.has(prefix); k++) prefix = `sdata${k}`;
      ins = declaration(prefix, NS.sdata);
      this.added.set(il, new Map([[prefix, NS.sdata]]));
    }
    return `${inc.slice(il.start, il.nameEnd)}${ins} ${prefix}:deleteMissing="true"${inc.slice(il.nameEnd, il.tagEnd)}`;
  }

  /** A stored child kept under the incoming list: re-declares what it inherited that the new place binds otherwise. */
  private carried(sc: Elem, storedScope: Map<string, string>, resultScope: Map<string, string>): string {
    const sto = this.sto;
    const text = sto.slice(sc.start, sc.end);
    let ins = '';
    const names = new Set([...storedScope.keys(), '']);
    for (const p of names) {
      // Unprefixed names cannot be searched for; a prefix the child's text never names needs no declaration.
      if (p === 'xml' || sc.decls?.has(p) || (p !== '' && !usesPrefix(text, p))) continue;
      const had = storedScope.get(p) ?? (p === '' ? '' : undefined);
      if (had === undefined) continue;
      if ((resultScope.get(p) ?? (p === '' ? '' : undefined)) !== had) ins += declaration(p, had);
    }
    return ins === '' ? text : text.slice(0, sc.nameEnd - sc.start) + ins + text.slice(sc.nameEnd - sc.start);
  }
}

/** The incoming children by uuid: the last of duplicates is the one that counts. */
function latestByUuid(il: Elem): Map<string, Elem> {
  const m = new Map<string, Elem>();
  for (const ic of il.children) if (ic.uuid !== undefined) m.set(key(ic.uuid), ic);
  return m;
}

/**
 * The stored counterpart of incoming child `c` of `ie`: the child of `se` with the same expanded name and the same
 * position among the children of that name; one carrying a uuid must carry the same uuid.
 */
function counterpart(ie: Elem, c: Elem, se: Elem | undefined): Elem | undefined {
  if (se === undefined) return undefined;
  let nth = 0;
  for (const x of ie.children) {
    if (x === c) break;
    if (sameName(x, c)) nth++;
  }
  for (const s of se.children) {
    if (!sameName(s, c)) continue;
    if (nth-- > 0) continue;
    if (c.uuid !== undefined && (s.uuid === undefined || key(s.uuid) !== key(c.uuid))) return undefined;
    return s;
  }
  return undefined;
}
