import { createParser } from '../../xml/saxes-adapter.ts';
import { escapeAttr } from '../../protocol/escape.ts';
import { rootDeclarations, scanRootTag } from './fragment.ts';

/**
 * Property-level merge for plain PUTs (core 9.1: an element absent from a PUT payload is unchanged). The top-level
 * children of the incoming resource replace the stored children of the same expanded name (all of them, at the
 * position of the first); new names are appended; everything else of the stored resource stays byte for byte.
 * Nested content is replaced whole; child lists that are not flagged complete were merged with the stored ones
 * before (child-lists.ts, core 9.2), so what arrives here is the whole list. Sync payloads are always whole and
 * never go through this merge (docs/protocol.md §3.3).
 */

interface Child {
  key: string;
  start: number;
  end: number;
  /** Offset just after the child's qname, and the prefixes it declares itself. */
  nameEnd: number;
  ownDecls: string[];
}

interface Parsed {
  children: Child[];
  /** Offset of the root's end tag (or of its self-closing `/>`). */
  contentEnd: number;
}

function children(f: string): Parsed {
  const p = createParser();
  const out: Child[] = [];
  let depth = 0;
  let cur: Child | undefined;
  let contentEnd = -1;
  // saxes reports a self-closing element with both events: positions are just after the tag that closes it.
  p.on('opentag', (t) => {
    depth++;
    if (depth === 2) {
      const lt = f.lastIndexOf('<', p.position - 1);
      cur = { key: `${t.uri}\u0000${t.local}`, start: lt, end: -1, nameEnd: lt + 1 + t.name.length, ownDecls: Object.keys(t.ns ?? {}) };
    }
  });
  p.on('closetag', (t) => {
    if (depth === 2 && cur) {
      cur.end = p.position;
      out.push(cur);
      cur = undefined;
    } else if (depth === 1 && !t.isSelfClosing) {
      contentEnd = f.lastIndexOf('</', p.position - 1);
    }
    depth--;
  });
  p.write(f).close();
  return { children: out, contentEnd };
}

export function mergeFragment(stored: string, incoming: string): string {
  const srt = scanRootTag(stored);
  const irt = scanRootTag(incoming);
  const sDecls = rootDeclarations(srt);
  const iDecls = rootDeclarations(irt);
  // Incoming children move under the stored root: re-declare what they inherited from the incoming root and the
  // stored root binds differently (or not at all).
  const carry: Array<[string, string]> = [];
  for (const [prefix, uri] of iDecls) if (sDecls.get(prefix) !== uri) carry.push([prefix, uri]);
  const inc = children(incoming);
  const replacement = new Map<string, string>();
  const order: string[] = [];
  for (const c of inc.children) {
    let text = incoming.slice(c.start, c.end);
    let ins = '';
    for (const [prefix, uri] of carry) {
      if (c.ownDecls.includes(prefix)) continue;
      ins += prefix === '' ? ` xmlns="${escapeAttr(uri)}"` : ` xmlns:${prefix}="${escapeAttr(uri)}"`;
    }
    if (ins) text = text.slice(0, c.nameEnd - c.start) + ins + text.slice(c.nameEnd - c.start);
    const had = replacement.get(c.key);
    if (had === undefined) order.push(c.key);
    replacement.set(c.key, had === undefined ? text : `${had}${text}`);
  }
  if (replacement.size === 0) return stored;
  const st = children(stored);
  let out = '';
  let pos: number;
  if (srt.selfClosing) {
    // `<a …/>` becomes `<a …>` + children + `</a>`.
    const close = stored.lastIndexOf('/', srt.end - 1);
    out = `${stored.slice(0, close)}>`;
    pos = stored.length;
  } else {
    out = stored.slice(0, srt.end);
    pos = srt.end;
  }
  const done = new Set<string>();
  for (const c of st.children) {
    out += stored.slice(pos, c.start);
    pos = c.end;
    const r = replacement.get(c.key);
    if (r === undefined) out += stored.slice(c.start, c.end);
    else if (!done.has(c.key)) {
      out += r;
      done.add(c.key);
    }
  }
  const tailStart = srt.selfClosing ? stored.length : st.contentEnd;
  if (!srt.selfClosing) out += stored.slice(pos, tailStart);
  for (const k of order) if (!done.has(k)) out += replacement.get(k)!;
  return srt.selfClosing ? `${out}</${srt.qname}>` : out + stored.slice(tailStart);
}
