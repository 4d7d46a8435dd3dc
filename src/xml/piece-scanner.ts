import { isUtf8 } from 'node:buffer';
import { NS } from '../protocol/namespaces.ts';
import { parseTick } from '../protocol/ticks.ts';
import { firstControlByte } from './control-bytes.ts';
import { NO_DECLS } from './entry-record.ts';
import type { ResumePoint } from './feed-types.ts';
import type { XmlLimits } from './limits.ts';
import { rawToText } from './raw-text.ts';
import { TagScope, type Refusal } from './tag-scope.ts';
import { BANG, DQ, endPosition, EQ, GT, isSpace, LT, NAME_CLASS, NAME_START, QMARK, qnameEnd, referenceEnd, same, SLASH, SQ } from './scan-chars.ts';

/** Entries of one piece, in order, as byte offsets in the piece and what the decision needs. */
export interface ScannedEntries {
  count: number;
  /** Offset of each entry's `<`, and just after its end tag's `>`. */
  start: number[];
  end: number[];
  /** Bytes from the entry's `<` to just after its qname (where namespace declarations may be inserted). */
  nameEnd: number[];
  /** Prefixes ('' = default) each entry's start tag declares (NO_DECLS when none). */
  own: Array<readonly string[]>;
  /** The syncState's endpoint (trimmed) and tick (canonical). */
  endpoint: string[];
  tick: string[];
  /**
   * Where each endpoint's characters are in the piece's bytes, when those bytes are exactly its characters (ASCII,
   * no reference): a decision hashes and compares them there, faster than a string cut from the piece (decide.ts). -1
   * when not.
   */
  endpointAt: number[];
  /** The first entry's qname as written. */
  firstName: string | undefined;
  /** Where a reader that read the primer and the piece would stand (FeedReader.line/column). */
  line: number;
  column: number;
}

export type { Refusal };

/**
 * A fast reader for the pieces of a sync feed that segmented planning cuts after entries (plan/parallel.ts): each
 * piece starts right after an entry's end tag, directly inside the root (ResumePoint), and usually holds nothing but
 * white space and entries. This scans such a piece as bytes — a Latin-1 view of its UTF-8, where every markup
 * character is itself and `indexOf` runs at memory speed — and finds, per entry, its exact byte span and what the
 * decision needs (the syncState's endpoint and tick, the resource's sdata:uuid), without building a string per
 * element or attribute as saxes does, nor re-encoding forwarded entries (they are copied as bytes).
 *
 * It is exact or it refuses. It accepts only what it checks completely: well-formed XML (XML 1.0 characters, names,
 * attributes, references, comments, CDATA, nesting, namespace prefixes and declarations as saxes checks them) within
 * a subset — ASCII names, no processing instruction or DOCTYPE, only white space between entries, only valid entries
 * (docs/engine-rules.md §1) — and every limit of docs/decisions/0013 with room to spare (a limit it cannot prove
 * unbroken is a refusal). Anything else, any error included, makes `scan` return a refusal, and the caller reads the
 * piece with the saxes reader, whose output, warnings and first error (with its line:column) are then the answer.
 * The saxes reader is the oracle of the tests (test/xml/piece-scanner.test.ts, test/plan/segmented.test.ts).
 *
 * One scanner per thread, reused piece after piece (its arrays are too).
 */
const EMPTY = Buffer.alloc(0);

export class PieceScanner extends TagScope {
  readonly out: ScannedEntries = { count: 0, start: [], end: [], nameEnd: [], own: [], endpoint: [], tick: [], endpointAt: [], firstName: undefined, line: 1, column: 0 };
  private readonly limits: XmlLimits;
  private readonly maxEntryBytes: number;
  /** Next `&` and `]]>` at or after what has been checked (-1: none left). */
  private amp = -1;
  private rbr = -1;
  // The start tag just read (startTag): its end (its name and attributes: TagScope).
  protected tagEnd = 0;
  protected selfClose = false;
  /** The colon of the qname qnameEnd just read. */
  private readonly q = { colon: -1 };
  /** Open elements of the entry: offset of each name and its end. */
  private readonly openAt: number[] = [];
  private readonly openEnd: number[] = [];
  // The entry being read.
  protected own: readonly string[] = NO_DECLS;
  private sawState = false;
  private sawPayload = false;
  protected inState = false;
  protected inPayload = false;
  protected sawResource = false;
  private endpoint: string | undefined;
  private endpointAt = -1;
  private tickText: string | undefined;
  protected uuid: string | undefined;
  /**
   * Capture of sync:endpoint (1), sync:tick (2) or a field of a subclass (more: captured()): its content starts at
   * capFrom, and it ends with the element at capDepth.
   */
  protected cap = 0;
  protected capFrom = 0;
  protected capDepth = 0;

  constructor(limits: XmlLimits, maxEntryBytes: number) {
    super();
    this.limits = limits;
    this.maxEntryBytes = maxEntryBytes;
  }

  /**
   * Scans `bytes`, a piece that resumes a document at `resume` (its primer already read by nobody: the scanner knows
   * the state it stands for). Undefined when the piece was read completely and ends right after an entry (`out`
   * holds its entries); otherwise why not (then `out` means nothing).
   */
  scan(bytes: Uint8Array, resume: ResumePoint): Refusal | undefined {
    const o = this.out;
    o.count = 0;
    o.firstName = undefined;
    // An XML declaration in the primer: the document is not XML 1.0, whose characters and line ends are checked here.
    if (resume.primer.charCodeAt(0) === LT && resume.primer.charCodeAt(1) === QMARK) return 'XML 1.1';
    const n = bytes.length;
    if (n === 0) return 'empty';
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, n);
    if (!isUtf8(buf)) return 'not UTF-8';
    // C0 controls XML 1.0 does not allow (a UTF-8 string holds them only as themselves).
    if (firstControlByte(buf) >= 0) return 'control character';
    const s = buf.toString('latin1', 0, n);
    // U+FFFE and U+FFFF are not XML characters: EF BF BE, EF BF BF.
    for (let i = s.indexOf('\xef\xbf'); i >= 0; i = s.indexOf('\xef\xbf', i + 2)) {
      const c = s.charCodeAt(i + 2);
      if (c === 0xbe || c === 0xbf) return 'U+FFFE or U+FFFF';
    }
    this.s = s;
    this.buf = buf;
    this.amp = s.indexOf('&');
    this.rbr = s.indexOf(']]>');
    this.resetScope(resume.bindings);
    const maxText = this.limits.maxTextBetweenEntries;
    let pos = 0;
    while (pos < n) {
      // Between entries: white space only, then an entry.
      let i = pos;
      while (isSpace(s.charCodeAt(i))) i++;
      if (i === n) return 'white space at the end';
      if (i - pos > maxText) return 'long text between entries';
      if (s.charCodeAt(i) !== LT) return 'text between entries';
      const why = this.entry(s, i);
      if (why !== undefined) return why;
      pos = this.tagEnd;
    }
    if (o.count === 0) return 'no entry';
    this.endOfPiece(s, resume.primerColumns);
    return undefined;
  }

  /**
   * Lets go of the last piece: its text, its bytes, and the strings cut from it (`out`'s endpoints and ticks, the
   * entry being read). Call it once `out` has been used. The scanner lives as long as the thread, in V8's old
   * generation, and a string cut from a piece keeps the whole piece's text alive: held here while the next piece's
   * work runs, they outlived two young collections, were promoted with the text (1 MiB, or 64 KiB for the target's
   * pieces), and only a full collection freed them. The 10,000-endpoint plan ran 10-14 full collections on 100 MB
   * where 7-9 sufficed once the strings were let go (test/xml/piece-scanner.test.ts holds the release).
   */
  release(): void {
    const o = this.out;
    o.count = 0;
    o.endpoint.length = 0;
    o.endpointAt.length = 0;
    o.tick.length = 0;
    o.own.length = 0;
    o.firstName = undefined;
    this.endpoint = this.tickText = this.uuid = undefined;
    this.s = '';
    this.buf = EMPTY;
  }

  /** Reads the entry whose `<` is at `lt`; on success `tagEnd` is just after its end tag. */
  private entry(s: string, lt: number): Refusal | undefined {
    if (s.charCodeAt(lt + 1) === SLASH) return 'end tag between entries';
    if (this.limits.maxDepth <= 1) return 'deep';
    let why = this.startTag(s, lt, 1);
    if (why !== undefined) return why;
    if (this.uriOf(s, lt + 1) !== NS.atom || !this.localIs(s, lt + 1, 'entry')) return 'element between entries';
    if (this.selfClose) return 'empty entry';
    const o = this.out;
    o.firstName ??= s.slice(lt + 1, this.nameEnd);
    this.own = this.declared(s, 1);
    this.begun();
    this.sawState = this.sawPayload = this.inState = this.inPayload = this.sawResource = false;
    this.endpoint = this.tickText = this.uuid = undefined;
    this.cap = 0;
    const openAt = this.openAt;
    const openEnd = this.openEnd;
    openAt[0] = lt + 1;
    openEnd[0] = this.nameEnd;
    /** Open elements of the entry, itself included; the entry is at depth 1 (the root at 0), as in FeedReader. */
    let open = 1;
    let pos = this.tagEnd;
    const maxDepth = this.limits.maxDepth;
    for (;;) {
      const next = s.indexOf('<', pos);
      if (next < 0) return 'entry not ended';
      if (next > pos) {
        why = this.text(s, pos, next);
        if (why !== undefined) return why;
        if (this.wantsCharData) this.charData(open, s, pos, next);
      }
      const c = s.charCodeAt(next + 1);
      if (c === SLASH) {
        // An end tag: the name of the element open, then optional white space.
        const at = openAt[open - 1]!;
        const len = openEnd[open - 1]! - at;
        let i = next + 2;
        for (let k = 0; k < len; k++) if (s.charCodeAt(i + k) !== s.charCodeAt(at + k)) return 'end tag does not match';
        i += len;
        let e = s.charCodeAt(i);
        while (isSpace(e)) e = s.charCodeAt(++i);
        if (e !== GT) return 'malformed end tag';
        pos = i + 1;
        open--;
        // Depth of the element closed, in the entry (1 = the entry itself).
        const d = open + 1;
        if (this.cap !== 0 && d === this.capDepth) this.endCapture(next);
        this.ended(d, pos);
        if (d === 2) {
          if (this.inState && (why = this.closeState()) !== undefined) return why;
          this.inState = this.inPayload = false;
        }
        this.unscope(d);
        if (open === 0) return this.closeEntry(lt, pos);
        continue;
      }
      if (c === BANG) {
        if (s.startsWith('<!--', next)) {
          const e = s.indexOf('--', next + 4);
          if (e < 0 || s.charCodeAt(e + 2) !== GT) return 'comment';
          pos = e + 3;
        } else if (s.startsWith('<![CDATA[', next)) {
          const e = s.indexOf(']]>', next + 9);
          if (e < 0) return 'CDATA section not ended';
          if (this.wantsCharData) this.charData(open, s, next + 9, e);
          pos = e + 3;
        } else return 'markup declaration';
        continue;
      }
      if (c === QMARK) return 'processing instruction';
      // A start tag, at depth `open` + 1 (the root counts, as in saxes' depth limit).
      if (open + 1 >= maxDepth) return 'deep';
      why = this.startTag(s, next, open + 1);
      if (why !== undefined) return why;
      const d = open + 1;
      if ((why = this.element(s, next, d)) !== undefined) return why;
      pos = this.tagEnd;
      if (this.selfClose) {
        if (d === 2 && this.inState && (why = this.closeState()) !== undefined) return why;
        if (d === 2) this.inState = this.inPayload = false;
        if (this.cap !== 0 && d === this.capDepth) this.endCapture(-1);
        this.ended(d, pos);
        this.unscope(d);
      } else {
        openAt[open] = next + 1;
        openEnd[open] = this.nameEnd;
        open++;
      }
    }
  }

  /** Where a reader of the primer and the piece would stand (ScannedEntries.line/column); subclasses may count otherwise. */
  protected endOfPiece(s: string, primerColumns: number): void {
    endPosition(s, primerColumns, this.out);
  }

  /** An entry's start tag has just been read (its end is tagEnd, its declarations `own`): a hook for subclasses. */
  protected begun(): void {}

  /**
   * Character data [from, to) of `s` (a text run, or a CDATA section's content) in the element at depth `d`: a hook,
   * called only when a subclass sets `wantsCharData` (plan's scanner, on the hot path, does not pay for the call).
   */
  protected charData(_d: number, _s: string, _from: number, _to: number): void {}
  protected wantsCharData = false;

  /** The element at depth `d` of the entry has ended just before `end`: a hook for subclasses. */
  protected ended(_d: number, _end: number): void {}

  /** A capture of a subclass's (cap > 2) has ended with text `t`. */
  protected captured(_cap: number, _t: string): void {}

  /** What the reader looks at in a start tag at depth `d` of the entry (2: its children; 3: theirs). */
  protected element(s: string, lt: number, d: number): Refusal | undefined {
    if (d === 2) {
      const from = lt + 1;
      if (this.localIs(s, from, 'syncState')) {
        if (this.uriOf(s, from) !== NS.sync) return undefined;
        if (this.sawState) return 'two syncStates';
        this.sawState = this.inState = true;
      } else if (this.localIs(s, from, 'payload')) {
        if (this.uriOf(s, from) !== NS.sdata) return undefined;
        if (this.sawPayload) return 'two payloads';
        this.sawPayload = this.inPayload = true;
        return this.uuidAttribute(s);
      }
      return undefined;
    }
    if (d !== 3) return undefined;
    if (this.inState) {
      const from = lt + 1;
      const which = this.localIs(s, from, 'endpoint') ? 1 : this.localIs(s, from, 'tick') ? 2 : 0;
      if (which === 0 || this.uriOf(s, from) !== NS.sync) return undefined;
      if ((which === 1 ? this.endpoint : this.tickText) !== undefined) return 'syncState field twice';
      this.cap = which;
      this.capFrom = this.tagEnd;
      this.capDepth = 3;
    } else if (this.inPayload && !this.sawResource) {
      this.sawResource = true;
      return this.uuidAttribute(s);
    }
    return undefined;
  }

  /** The element just read carries sdata:uuid: it becomes the entry's uuid (the resource's wins over the payload's). */
  private uuidAttribute(s: string): Refusal | undefined {
    for (let k = 0; k < this.attrs; k++) {
      const c = this.aColon[k]!;
      if (c < 0 || !this.localIs(s, this.aStart[k]!, 'uuid', c, this.aEnd[k]) || this.ns.get(s.slice(this.aStart[k], c)) !== NS.sdata) continue;
      const v = this.real(this.vStart[k]!, this.vEnd[k]!);
      // References (`&#32;` is a space that trimming removes) are left to saxes.
      if (v.includes('&')) return 'reference in a uuid';
      this.uuid = v.trim();
    }
    return undefined;
  }

  private endCapture(endLt: number): void {
    // A self-closing element has no content (endLt < 0).
    const raw = endLt < 0 ? '' : this.real(this.capFrom, endLt);
    const t = rawToText(raw, () => new Error('unreachable: references are checked'));
    if (this.cap === 1) {
      this.endpoint = t.trim();
      // The bytes are the characters when the text has no reference (rawToText gave it back) and decoding it did not
      // shorten it (ASCII); then trimming took XML white space only (control characters are refused).
      let at = -1;
      if (t === raw && raw.length === endLt - this.capFrom && this.endpoint !== '') {
        at = this.capFrom;
        while (isSpace(this.s.charCodeAt(at))) at++;
      }
      this.endpointAt = at;
    } else if (this.cap === 2) this.tickText = t;
    else this.captured(this.cap, t);
    this.cap = 0;
  }

  /** The end of sync:syncState: the entry is valid only with a tick that is a number and an endpoint. */
  private closeState(): Refusal | undefined {
    this.inState = false;
    if (this.tickText === undefined || this.endpoint === undefined || this.endpoint === '') return 'invalid entry';
    const t = parseTick(this.tickText);
    if (t === undefined) return 'invalid entry';
    this.tickText = t;
    return undefined;
  }

  protected closeEntry(lt: number, end: number): Refusal | undefined {
    if (!this.sawState || this.uuid === undefined || this.uuid === '') return 'invalid entry';
    if (end - lt > this.maxEntryBytes) return 'entry over the cap';
    const o = this.out;
    const k = o.count++;
    o.start[k] = lt;
    o.end[k] = end;
    o.nameEnd[k] = this.openEnd[0]! - lt;
    o.own[k] = this.own;
    o.endpoint[k] = this.endpoint!;
    o.endpointAt[k] = this.endpointAt;
    o.tick[k] = this.tickText!;
    this.tagEnd = end;
    return undefined;
  }

  /** Character data from `from` to `to` (a `<`): references and `]]>` are checked where they are. */
  private text(s: string, from: number, to: number): Refusal | undefined {
    // The pointers may stand in markup passed over since (a comment, a CDATA section, a value): look again from here.
    let r = this.rbr;
    if (r >= 0 && r < from) r = this.rbr = s.indexOf(']]>', from);
    if (r >= 0 && r < to) return '"]]>" in text';
    let a = this.amp;
    if (a >= 0 && a < from) a = s.indexOf('&', from);
    while (a >= 0 && a < to) {
      const e = referenceEnd(s, a);
      if (e < 0) return 'reference';
      a = s.indexOf('&', e);
    }
    this.amp = a;
    return undefined;
  }

  /**
   * Reads the start tag whose `<` is at `lt`, for an element at depth `depth` of the entry (the entry is 1): name, attributes, namespace
   * declarations (applied: the scope is the element's after this), prefixes bound, no attribute twice, the limits.
   */
  private startTag(s: string, lt: number, depth: number): Refusal | undefined {
    const lim = this.limits;
    let i = lt + 1;
    let c = s.charCodeAt(i);
    if (!(c < 128 && (NAME_CLASS[c]! & NAME_START) !== 0)) return 'element name';
    const q = this.q;
    i = qnameEnd(s, i, q);
    if (i < 0) return 'qname';
    const colon = q.colon;
    c = s.charCodeAt(i);
    const nameEnd = i;
    if (nameEnd - lt - 1 > lim.maxNameBytes) return 'long name';
    let attrs = 0;
    const maxValue = lim.maxAttributeBytes;
    const maxAttrs = lim.maxAttributes;
    let decls = false;
    for (;;) {
      let ws = false;
      while (isSpace(c)) {
        ws = true;
        c = s.charCodeAt(++i);
      }
      if (c === GT) {
        this.selfClose = false;
        i++;
        break;
      }
      if (c === SLASH) {
        if (s.charCodeAt(i + 1) !== GT) return 'slash in a tag';
        this.selfClose = true;
        i += 2;
        break;
      }
      if (!ws || !(c < 128 && (NAME_CLASS[c]! & NAME_START) !== 0)) return 'attribute name';
      const as = i;
      i = qnameEnd(s, i, q);
      if (i < 0) return 'qname';
      const ac = q.colon;
      c = s.charCodeAt(i);
      const ae = i;
      if (ae - as > lim.maxNameBytes) return 'long name';
      while (isSpace(c)) c = s.charCodeAt(++i);
      if (c !== EQ) return 'attribute without value';
      c = s.charCodeAt(++i);
      while (isSpace(c)) c = s.charCodeAt(++i);
      if (c !== DQ && c !== SQ) return 'unquoted value';
      const vs = i + 1;
      const ve = s.indexOf(c === DQ ? '"' : "'", vs);
      if (ve < 0) return 'value not ended';
      // A value's UTF-8 bytes after references are expanded are never more than its bytes as written.
      if (ve - vs > maxValue) return 'long value';
      const lt2 = s.indexOf('<', vs);
      if (lt2 >= 0 && lt2 < ve) return "'<' in a value";
      let a = this.amp;
      if (a >= 0 && a < vs) a = s.indexOf('&', vs);
      while (a >= 0 && a < ve) {
        const e = referenceEnd(s, a);
        if (e < 0 || e > ve) return 'reference';
        a = s.indexOf('&', e);
      }
      this.amp = a;
      if (++attrs > maxAttrs || attrs > 32) return 'many attributes';
      const k = attrs - 1;
      this.aStart[k] = as;
      this.aColon[k] = ac;
      this.aEnd[k] = ae;
      this.vStart[k] = vs;
      this.vEnd[k] = ve;
      if ((ac < 0 ? ae - as : ac - as) === 5 && s.startsWith('xmlns', as)) decls = true;
      i = ve + 1;
      c = s.charCodeAt(i);
    }
    this.tagEnd = i;
    this.nameEnd = nameEnd;
    this.colon = colon;
    this.attrs = attrs;
    if (attrs > 1) {
      // No two attributes with the same local part (saxes refuses equal qnames, and equal {uri}local pairs).
      for (let x = 1; x < attrs; x++) {
        const xs = this.aColon[x]! < 0 ? this.aStart[x]! : this.aColon[x]! + 1;
        const xl = this.aEnd[x]! - xs;
        for (let y = 0; y < x; y++) {
          const ys = this.aColon[y]! < 0 ? this.aStart[y]! : this.aColon[y]! + 1;
          if (this.aEnd[y]! - ys === xl && same(s, xs, ys, xl)) return 'attribute twice';
        }
      }
    }
    if (decls) {
      const why = this.bindDecls(s, depth);
      if (why !== undefined) return why;
    }
    if (colon >= 0) {
      const p = s.slice(lt + 1, colon);
      if (p === 'xmlns' || !this.ns.has(p)) return 'element prefix';
    }
    for (let k = 0; k < attrs; k++) {
      const ac = this.aColon[k]!;
      if (ac < 0) continue;
      const p = s.slice(this.aStart[k], ac);
      if (p !== 'xmlns' && !this.ns.has(p)) return 'attribute prefix';
    }
    return undefined;
  }


}
