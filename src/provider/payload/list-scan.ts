import { NS } from '../../protocol/namespaces.ts';
import { L_COMPLETE, L_DELETED, L_FLAG, L_UUID, ListWatch } from '../../xml/list-watch.ts';
import { toChars } from '../../xml/canonical-text.ts';
import { isBlank, isSpace } from '../../xml/scan-chars.ts';
import { unescapeAttr } from './fragment.ts';

/**
 * Whether a fragment has a child list that needs the merge (element-tree.ts's rule), answered without building
 * anything: it runs on payloads a target stores whose reader did not answer it already (EntryRecord.listWork: the
 * target's scanner counts the same in its own pass), and on local edits. The counting per open element is
 * ListWatch's (xml/list-watch.ts), shared with that scanner; it stops at the first list that needs work. Measured on
 * the seeded and generated ~1 KB payloads: about a tenth of the element tree's cost.
 */

// In-scope declarations, innermost last (prefixes are few: usually all on the root); nDecl of them are live.
const declPrefix: string[] = [];
const declUri: string[] = [];
const declDepth: number[] = [];
let nDecl = 0;
// The attributes of one start tag that may be sdata:uuid, sdata:deleteMissing or sdata/sync:isDeleted: name start,
// colon, value start, value end.
const MAX_CANDIDATES = 16;
const cand = new Int32Array(MAX_CANDIDATES * 4);
let selfClosing = false;
let tooMany = false;
let bytesMode = false;
/** The counting is the target's scanner's (xml/list-watch.ts): one implementation of the rule's bookkeeping. */
const watch = new ListWatch();

/**
 * `bytes`: `f` is UTF-8 as a Latin-1 string (a fragment of the target's scanned records, fragment.ts). Everything
 * read here is ASCII but the flags' values, which are trimmed as characters (isTrue).
 */
export function needsListMerge(f: string, bytes = false): boolean {
  bytesMode = bytes;
  nDecl = 0;
  watch.active = false;
  watch.work = false;
  let d = -1;
  let i = 0;
  const n = f.length;
  while (i < n) {
    // Character data up to the next tag: short runs mostly, where a loop beats indexOf's call.
    let lt = i;
    let x = f.charCodeAt(lt);
    while (x === 32 || x === 10 || x === 9 || x === 13) x = f.charCodeAt(++lt);
    if (x !== 60 /* < */) {
      if (d >= 0) watch.text(d);
      lt = f.indexOf('<', lt);
      if (lt < 0) break;
    }
    const c = f.charCodeAt(lt + 1);
    if (c === 47 /* / */) {
      i = f.indexOf('>', lt + 2) + 1;
      if (close(d)) return true;
      d--;
      continue;
    }
    if (c === 33 /* ! */) {
      if (f.startsWith('<![CDATA[', lt)) {
        const e = f.indexOf(']]>', lt + 9);
        if (d >= 0 && !isBlank(f, lt + 9, e)) watch.text(d);
        i = e + 3;
      } else {
        i = f.indexOf('-->', lt + 4) + 3;
      }
      continue;
    }
    if (c === 63 /* ? */) {
      i = f.indexOf('?>', lt + 2) + 2;
      continue;
    }
    ++d;
    let j = lt + 1;
    for (;;) {
      const y = f.charCodeAt(j);
      if (y === 62 || y === 47 || isSpace(y)) break;
      j++;
    }
    const y = f.charCodeAt(j);
    let bits = 0;
    if (y === 62) {
      i = j + 1;
    } else if (y === 47) {
      i = j + 2;
      selfClosing = true;
    } else {
      i = attributes(f, j, d);
      if (tooMany) return true; // absurd, but the element tree decides exactly
      bits = attrBits;
    }
    if (d === 0) watch.start(0, bits);
    else watch.open(d, bits);
    if (y === 62 || !selfClosing) continue;
    if (close(d)) return true;
    d--;
  }
  return false;
}

/** Closes the element at depth d: whether a list needing work was found; drops its declarations. */
function close(d: number): boolean {
  watch.close(d);
  while (nDecl > 0 && declDepth[nDecl - 1] === d) nDecl--;
  return watch.work;
}

/** The L_* bits of the last start tag read by attributes(). */
let attrBits = 0;

/** Reads the attributes of the start tag whose name ends at j; returns the offset after the tag. */
function attributes(f: string, j: number, d: number): number {
  let i = j;
  let nc = 0;
  tooMany = false;
  attrBits = 0;
  for (;;) {
    while (isSpace(f.charCodeAt(i))) i++;
    const c = f.charCodeAt(i);
    if (c === 62) {
      selfClosing = false;
      i++;
      break;
    }
    if (c === 47) {
      selfClosing = true;
      i += 2;
      break;
    }
    const a = i;
    let colon = -1;
    for (;;) {
      const x = f.charCodeAt(i);
      if (x === 61 || isSpace(x)) break;
      if (x === 58 && colon < 0) colon = i;
      i++;
    }
    const b = i;
    while (f.charCodeAt(i) !== 61) i++;
    i++;
    while (isSpace(f.charCodeAt(i))) i++;
    const vs = i + 1;
    const ve = f.indexOf(f[i]!, vs);
    i = ve + 1;
    if (f.startsWith('xmlns', a) && (b - a === 5 || colon === a + 5)) {
      declPrefix[nDecl] = b - a === 5 ? '' : f.slice(a + 6, b);
      // NS.sdata and NS.sync themselves when they are these, so that the tests below compare pointers.
      declUri[nDecl] = ve - vs === NS.sdata.length && f.startsWith(NS.sdata, vs) ? NS.sdata
        : ve - vs === NS.sync.length && f.startsWith(NS.sync, vs) ? NS.sync : unescapeAttr(f.slice(vs, ve));
      declDepth[nDecl++] = d;
    } else if (colon > 0) {
      const ll = b - colon - 1;
      if ((ll === 4 && f.startsWith('uuid', colon + 1)) || (ll === 13 && f.startsWith('deleteMissing', colon + 1)) ||
        (ll === 9 && f.startsWith('isDeleted', colon + 1))) {
        if (nc === MAX_CANDIDATES) tooMany = true;
        else {
          cand[nc * 4] = a;
          cand[nc * 4 + 1] = colon;
          cand[nc * 4 + 2] = vs;
          cand[nc * 4 + 3] = ve;
          nc++;
        }
      }
    }
  }
  // Declarations first (an attribute may use a prefix its own element declares), then the candidates.
  for (let k = 0; k < nc; k++) {
    const a = cand[k * 4]!;
    const colon = cand[k * 4 + 1]!;
    const uri = lookup(f, a, colon);
    const ll = f.charCodeAt(colon + 1);
    if (uri === NS.sdata) {
      if (ll === 117 /* u */) attrBits |= L_UUID;
      else if (ll === 100 /* d */) attrBits |= L_FLAG | (isTrue(f, cand[k * 4 + 2]!, cand[k * 4 + 3]!) ? L_COMPLETE : 0);
      else if (isTrue(f, cand[k * 4 + 2]!, cand[k * 4 + 3]!)) attrBits |= L_DELETED;
    } else if (uri === NS.sync && ll === 105 /* i */ && isTrue(f, cand[k * 4 + 2]!, cand[k * 4 + 3]!)) {
      attrBits |= L_DELETED;
    }
  }
  return i;
}

function lookup(f: string, a: number, colon: number): string | undefined {
  const len = colon - a;
  for (let k = nDecl - 1; k >= 0; k--) {
    const p = declPrefix[k]!;
    if (p.length === len && f.startsWith(p, a)) return declUri[k];
  }
  return undefined;
}

/** xs:boolean true, as element-tree.ts reads it (whitespace trimmed, references resolved). */
function isTrue(f: string, vs: number, ve: number): boolean {
  let v = f.slice(vs, ve);
  // trim() takes U+00A0 and other non-ASCII spaces: bytes are decoded first, so that they trim as characters do.
  if (bytesMode) v = toChars(v);
  if (v.includes('&')) v = unescapeAttr(v);
  v = v.trim();
  return v === 'true' || v === '1';
}
