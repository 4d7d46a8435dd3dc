import { ownString } from '../protocol/digest.ts';
import { NS } from '../protocol/namespaces.ts';
import { NO_DECLS } from './entry-record.ts';

/** Why a piece was left to the saxes reader (tests and counters; never shown to users). */
export type Refusal = string;

const XML_NS = NS.xml;
const XMLNS_NS = NS.xmlns;
const NON_ASCII = /[\x80-\xff]/;

/**
 * What the byte scanners of XML pieces (piece-scanner.ts and its subclass, record-scanner.ts) know of the start tag
 * they just read, and the namespace scope they stand in: the tag's name and attributes as offsets in the Latin-1 view
 * `s` of the piece's UTF-8 (`buf`), the prefixes in scope, the scopes of the open elements that declared some, and
 * how declarations are bound (with the memo that lets each entry's payload reuse the scope the last one made).
 */
export class TagScope {
  /** The piece being read: its bytes, and their Latin-1 view. */
  protected s = '';
  protected buf: Buffer = Buffer.alloc(0);
  // The start tag just read: where its name ends, its colon (-1: none), its attributes (name start, colon, end; value).
  protected nameEnd = 0;
  protected colon = -1;
  protected attrs = 0;
  protected readonly aStart: number[] = [];
  protected readonly aColon: number[] = [];
  protected readonly aEnd: number[] = [];
  protected readonly vStart: number[] = [];
  protected readonly vEnd: number[] = [];
  // Namespace scope: prefixed bindings (copied when an element declares one), the default namespace, and the saved
  // scopes of the elements that declared something, with their depths.
  protected ns = new Map<string, string>();
  protected dflt = '';
  protected readonly saved: Array<{ depth: number; ns: Map<string, string>; dflt: string }> = [];

  /** The scope a piece starts in: the bindings in force right after an entry (ResumePoint.bindings). */
  protected resetScope(bindings: Readonly<Record<string, string>>): void {
    const ns = new Map<string, string>([['xml', XML_NS]]);
    let dflt = '';
    for (const k of Object.keys(bindings)) {
      if (k === '') dflt = bindings[k]!;
      else ns.set(k, bindings[k]!);
    }
    this.ns = ns;
    this.dflt = dflt;
    this.saved.length = 0;
  }

  /** The real text of bytes [a, b) (which hold whole characters). */
  protected real(a: number, b: number): string {
    const t = this.s.slice(a, b);
    return NON_ASCII.test(t) ? this.buf.toString('utf8', a, b) : t;
  }

  // The last declarations bound (bindDecls): the scope they were made in, their text as written, the scope they made.
  // Every entry's payload declares the same few namespaces in the same scope: the scope made last time is used again
  // (scopes are never changed once made), rather than a new map and a decoded string per declaration per entry.
  private memoParent: Map<string, string> | undefined;
  private memoParentDflt = '';
  private readonly memoRaw: string[] = [];
  private memoCount = 0;
  private memoNs: Map<string, string> | undefined;
  private memoDflt = '';

  /** The namespace declarations of the start tag just read, applied for its element (at `depth`). */
  protected bindDecls(s: string, depth: number): Refusal | undefined {
    if (this.ns === this.memoParent && this.dflt === this.memoParentDflt && this.sameDecls(s)) {
      this.saved.push({ depth, ns: this.ns, dflt: this.dflt });
      this.ns = this.memoNs!;
      this.dflt = this.memoDflt;
      return undefined;
    }
    const parent = this.ns;
    const parentDflt = this.dflt;
    this.memoParent = undefined;
    let count = 0;
    let ns: Map<string, string> | undefined;
    let dflt = this.dflt;
    for (let k = 0; k < this.attrs; k++) {
      const as = this.aStart[k]!;
      const ac = this.aColon[k]!;
      const ae = this.aEnd[k]!;
      const prefixed = ac - as === 5 && s.startsWith('xmlns', as);
      if (!prefixed && !(ac < 0 && ae - as === 5 && s.startsWith('xmlns', as))) continue;
      const vs = this.vStart[k]!;
      const ve = this.vEnd[k]!;
      // saxes normalises white space and expands references before trimming: leave such values to it.
      for (let i = vs; i < ve; i++) {
        const c = s.charCodeAt(i);
        if (c === 38 || c === 9 || c === 10 || c === 13) return 'declaration value';
      }
      // Copies, not slices: the memo and the scopes outlive the piece, whose whole text a slice would keep alive
      // (PieceScanner.release).
      const uri = ownString(this.real(vs, ve).trim());
      if (uri === XMLNS_NS || uri === XML_NS) return 'reserved namespace';
      this.memoRaw[count++] = ownString(s.slice(as, ve + 1));
      if (prefixed) {
        const p = s.slice(ac + 1, ae);
        if (p === 'xml' || p === 'xmlns' || uri === '') return 'reserved prefix';
        (ns ??= new Map(this.ns)).set(p, uri);
      } else {
        dflt = uri;
      }
    }
    this.saved.push({ depth, ns: this.ns, dflt: this.dflt });
    if (ns !== undefined) this.ns = ns;
    this.dflt = dflt;
    this.memoParent = parent;
    this.memoParentDflt = parentDflt;
    this.memoCount = count;
    this.memoNs = this.ns;
    this.memoDflt = dflt;
    return undefined;
  }

  /** Whether the start tag just read declares exactly what was bound last (memoRaw), in the same order and spelling. */
  private sameDecls(s: string): boolean {
    let n = 0;
    for (let k = 0; k < this.attrs; k++) {
      const as = this.aStart[k]!;
      const ac = this.aColon[k]!;
      if (!((ac - as === 5 || (ac < 0 && this.aEnd[k]! - as === 5)) && s.startsWith('xmlns', as))) continue;
      const raw = this.memoRaw[n++];
      if (n > this.memoCount || raw === undefined || raw.length !== this.vEnd[k]! + 1 - as || !s.startsWith(raw, as)) return false;
    }
    return n === this.memoCount;
  }

  /** The element at `depth` (in the entry: the entry is 1) has ended: its declarations go out of scope. */
  protected unscope(depth: number): void {
    const saved = this.saved;
    const n = saved.length;
    // Never `saved[saved.length - 1]` on an empty array: V8 looks up index -1 as a property name, ~70 ns a call
    // where this one costs ~5 (it runs at every end tag: most of the entry's elements have no scope of their own).
    if (n === 0) return;
    const top = saved[n - 1]!;
    if (top.depth === depth) {
      this.ns = top.ns;
      this.dflt = top.dflt;
      saved.pop();
    }
  }

  /** Prefixes the start tag just read (at `depth` of the entry) declares. */
  protected declared(s: string, depth: number): readonly string[] {
    const saved = this.saved;
    const n = saved.length;
    if (n === 0 || saved[n - 1]!.depth !== depth) return NO_DECLS;
    const own: string[] = [];
    for (let k = 0; k < this.attrs; k++) {
      const as = this.aStart[k]!;
      const ac = this.aColon[k]!;
      if (ac - as === 5 && s.startsWith('xmlns', as)) own.push(s.slice(ac + 1, this.aEnd[k]));
      else if (ac < 0 && this.aEnd[k]! - as === 5 && s.startsWith('xmlns', as)) own.push('');
    }
    return own;
  }

  /** The namespace of the name of the start tag just read, which begins at `from`. */
  protected uriOf(s: string, from: number): string | undefined {
    const colon = this.colon;
    return colon < 0 ? this.dflt : this.ns.get(s.slice(from, colon));
  }

  /** Whether the local part of the qname at `from` (ending at the tag's name end, or at `to`) is `local`. */
  protected localIs(s: string, from: number, local: string, colon = this.colon, to = this.nameEnd): boolean {
    const ls = colon < 0 ? from : colon + 1;
    return to - ls === local.length && s.startsWith(local, ls);
  }
}
