import { NS } from '../protocol/namespaces.ts';
import { bad, cmp, escAttr, escText, intern, quickText, TAB_LF_CR, toBytes, toChars, uuidOf } from './canonical-text.ts';
import { isBlank } from './scan-chars.ts';
import { isXsTrue, LIST, listRule } from './child-list-rule.ts';
import { decodeEntities } from './entities.ts';
import { rawToText } from './raw-text.ts';

/**
 * The writer of the canonical payload form (canonical.ts, docs/protocol.md X23), fed one start tag, end tag and text
 * run at a time by canonical.ts's reader of a payload's text. The text is what the writer copies from: what is
 * canonical as written stays in a pending run of it and goes out as one slice; only what must change is written
 * piece by piece. Text read as bytes (PayloadText.bytes) is handled as bytes (canonical-text.ts).
 */

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

/** ` xmlns:a0="`, ` a0:`, … : the canonical attribute prefixes, made once. */
const XMLNS_A = Array.from({ length: 16 }, (_, n) => ` xmlns:a${n}="`);
const A_PREFIX = Array.from({ length: 16 }, (_, n) => ` a${n}:`);

/**
 * Per open element (index = depth, the payload's resource element 0) it keeps its namespace, local name, flags and
 * counts, where its content starts in the output, and, for the list rule, where each child element's output starts
 * with the child's uuid and deletion; white space between elements waits until the element is known to be mixed or
 * not. One instance per reader, reused: its arrays grow to the deepest payload seen and stay.
 */
export class CanonicalWriter {
  private f = '';
  /** `f` holds UTF-8 bytes (PayloadText.bytes). */
  bytes = false;
  private out: string[] = [];
  // Open elements.
  private readonly uri: string[] = [];
  /** Where the element's local name is in the text, and whether it was written with a prefix. */
  private readonly nameFrom: number[] = [];
  private readonly nameTo: number[] = [];
  private readonly prefixed: boolean[] = [];
  private readonly flags: number[] = [];
  private readonly elements: number[] = [];
  private readonly uuidElements: number[] = [];
  /** Index in `out` where the element's content starts; where its own segment base and pending white space start. */
  private readonly contentAt: number[] = [];
  /** Where the content starts in the text, for an element whose start tag is still in the pending run (contentAt -1). */
  private readonly contentSrc: number[] = [];
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
  // The start tag being read: the attributes the canonical form keeps, and their order. Reused tag after tag.
  private nKept = 0;
  private readonly keptUri: string[] = [];
  private readonly keptLocal: string[] = [];
  private readonly keptValue: string[] = [];
  private readonly order: number[] = [];
  /** Text from here on is output as written until the next rewrite (flushTo). */
  private from = 0;
  /** Just after the last tag: a text run goes from here to the next tag. */
  private lastEnd = 0;
  /** The start tag being read: its uuid and flags. */
  private tagUuid: string | undefined;
  private tagFlags = 0;

  /** A payload whose resource element starts at `start` of `f` (`bytes`: `f` holds UTF-8 bytes). */
  begin(f: string, start: number, bytes: boolean): void {
    this.f = f;
    this.bytes = bytes;
    // A new array per payload: truncating one is a slow path in V8 (measured: a fifth of the time).
    this.out = [];
    this.nSeg = this.nWs = 0;
    this.from = this.lastEnd = start;
  }

  /** The output's pieces, once the resource element has ended just before `end` (valid until the next begin()). */
  finish(end: number): readonly string[] {
    this.flushTo(end);
    return this.out;
  }

  /** A namespace URI as this writer compares and writes it (interned; in bytes when the text is read as bytes). */
  nsUri(uri: string): string {
    return intern(this.bytes ? toBytes(uri) : uri);
  }

  /** A start tag begins: its attributes follow (attribute()), then open(). */
  tag(): void {
    this.tagUuid = undefined;
    this.tagFlags = 0;
    this.nKept = 0;
  }

  /** Source text from `from` up to `to` goes to the output as written (nothing when `to` is not past `from`). */
  private flushTo(to: number): void {
    if (to <= this.from) return;
    this.out.push(this.f.slice(this.from, to));
    this.from = to;
  }

  private localName(d: number): string {
    return this.f.slice(this.nameFrom[d], this.nameTo[d]);
  }

  /** A run of character data (with any comments, CDATA and PIs in it) inside the element at depth `d`. */
  private text(d: number, from: number, to: number): void {
    // Most runs are plain: no markup, CR or '>', and no reference but `&amp;`, `&lt;` and `&gt;`, which Canonical XML
    // writes as they are. One pass tells, and whether it is blank.
    const f = this.f;
    let plain = true;
    let blank = true;
    for (let i = from; i < to; i++) {
      const c = f.charCodeAt(i);
      if (c === 38 && f.charCodeAt(i + 3) === 59 && f.charCodeAt(i + 2) === 116 && (f.charCodeAt(i + 1) === 108 || f.charCodeAt(i + 1) === 103)) {
        // &lt; or &gt;
        i += 3;
        blank = false;
      } else if (c === 38 && f.startsWith('amp;', i + 1)) {
        i += 4;
        blank = false;
      } else if (c === 38 || c === 60 || c === 62 || c === 13) {
        plain = false;
        break;
      } else if (blank && c !== 32 && c !== 10 && c !== 9) {
        blank = false;
      }
    }
    const out = this.out;
    // Plain text is canonical as written: it stays in the source run (unless it is white space held back below).
    let t = '';
    // Otherwise its canonical text: appended piece by piece when it holds references but no markup or CR (`quick`),
    // else read whole (rawToText) into `t`.
    let quick = false;
    if (plain) {
      if ((this.flags[d]! & F_TEXT) !== 0) return;
    } else {
      this.flushTo(from);
      this.from = to;
      quick = quickText(f, from, to, this.bytes, out);
      if (!quick) {
        t = this.bytes ? toBytes(rawToText(toChars(f.slice(from, to)), bad)) : rawToText(f.slice(from, to), bad);
        if (t === '') return;
        blank = isBlank(t);
      } else {
        blank = false;
      }
      if ((this.flags[d]! & F_TEXT) !== 0) {
        if (!quick) out.push(escText(t));
        return;
      }
    }
    if (blank) {
      // Layout between elements, unless the element turns out to be mixed (or a leaf of white space).
      if (plain) {
        t = f.slice(from, to);
        this.flushTo(from);
        this.from = to;
      }
      this.wsAt[this.nWs] = out.length;
      this.wsText[this.nWs++] = t;
      return;
    }
    this.flags[d]! |= F_TEXT;
    // Mixed content: the white space held so far is text too, in its place (all of it before this run's pieces).
    const base = this.wsBase[d]!;
    for (let k = this.nWs - 1; k >= base; k--) out.splice(this.wsAt[k]!, 0, escText(this.wsText[k]!));
    this.nWs = base;
    if (!plain && !quick) out.push(escText(t));
  }

  /**
   * The start tag at `lt` of an element at depth `d` (its attributes given since tag()): its local name at
   * [nameFrom, nameTo), `bare` when `>` follows the name at once, in namespace `uri` (nsUri()), ending before `tagEnd`.
   * Written, and its frame opened.
   */
  open(d: number, lt: number, nameFrom: number, nameTo: number, hasPrefix: boolean, bare: boolean, uri: string, tagEnd: number): void {
    if (d > 0 && lt > this.lastEnd) this.text(d - 1, this.lastEnd, lt);
    this.lastEnd = tagEnd;
    if (this.tagUuid !== undefined) this.tagFlags |= F_UUID;
    if ((this.tagFlags & F_DELETED) !== 0) this.keep(NS.sdata, 'isDeleted', 'true');
    const out = this.out;
    const inherited = d > 0 ? this.uri[d - 1]! : '';
    // `<name>` in its parent's namespace is canonical as written; anything else is rewritten. A child of an element
    // that may be a list (no uuid of its own) starts an output segment of its own, for reorder().
    const asWritten = bare && !hasPrefix && uri === inherited;
    if (d > 0 && (this.flags[d - 1]! & F_UUID) === 0) {
      // The parent's content start, if its start tag is still pending, becomes an output index first.
      if (this.contentAt[d - 1]! < 0) {
        this.flushTo(this.contentSrc[d - 1]!);
        this.contentAt[d - 1] = out.length;
      }
      this.flushTo(lt);
    } else if (!asWritten) {
      this.flushTo(lt);
    }
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
    if (!asWritten) {
      // `<name` as written when unprefixed (it joins the run), else `<` and the local name.
      if (hasPrefix) {
        out.push('<');
        this.from = nameFrom;
      }
      this.flushTo(nameTo);
      this.startTag(uri, inherited);
      this.from = tagEnd;
    }
    this.uri[d] = uri;
    this.nameFrom[d] = nameFrom;
    this.nameTo[d] = nameTo;
    this.prefixed[d] = hasPrefix;
    this.flags[d] = this.tagFlags;
    this.elements[d] = 0;
    this.uuidElements[d] = 0;
    this.contentAt[d] = asWritten ? -1 : out.length;
    this.contentSrc[d] = tagEnd;
    this.segBase[d] = this.nSeg;
    this.wsBase[d] = this.nWs;
  }

  /** The rest of a rewritten start tag: the default namespace where it changes, then `a0`… for the attributes' namespaces, the attributes in order. */
  private startTag(uri: string, inherited: string): void {
    const out = this.out;
    if (uri !== inherited) out.push(' xmlns="', escAttr(uri), '"');
    const n = this.nKept;
    if (n > 0) {
      const ord = this.order;
      const U = this.keptUri;
      const L = this.keptLocal;
      // Insertion sort by namespace URI, then local name: a tag has few attributes.
      for (let k = 0; k < n; k++) {
        let m = k;
        while (m > 0 && (U[ord[m - 1]!] === U[k] ? cmp(L[ord[m - 1]!]!, L[k]!) : cmp(U[ord[m - 1]!]!, U[k]!)) > 0) {
          ord[m] = ord[m - 1]!;
          m--;
        }
        ord[m] = k;
      }
      let lastUri = '';
      let p = -1;
      for (let k = 0; k < n; k++) {
        const u = U[ord[k]!]!;
        if (u !== '' && u !== NS.xml && u !== lastUri) {
          lastUri = u;
          p++;
          out.push(p < XMLNS_A.length ? XMLNS_A[p]! : ` xmlns:a${p}="`, escAttr(u), '"');
        }
      }
      lastUri = '';
      p = -1;
      for (let k = 0; k < n; k++) {
        const a = ord[k]!;
        const u = U[a]!;
        if (u === '') out.push(' ');
        else if (u === NS.xml) out.push(' xml:');
        else {
          if (u !== lastUri) {
            lastUri = u;
            p++;
          }
          out.push(p < A_PREFIX.length ? A_PREFIX[p]! : ` a${p}:`);
        }
        out.push(L[a]!, '="', escAttr(this.keptValue[a]!), '"');
      }
    }
    out.push('>');
  }

  /** An attribute the canonical form keeps. */
  private keep(uri: string, local: string, value: string): void {
    const n = this.nKept++;
    this.keptUri[n] = uri;
    this.keptLocal[n] = local;
    this.keptValue[n] = value;
  }

  /**
   * An attribute of the start tag being read (after tag()), in namespace `uri` (as nsUri() gives it), value as
   * written: kept or dropped by the canonical form; notes the tag's uuid and flags.
   */
  attribute(uri: string, local: string, raw: string): void {
    const value = this.attrValue(raw);
    if (uri === NS.sdata) {
      if (LOCAL_ATTRS.has(local)) return;
      if (local === 'uuid') {
        this.tagUuid = uuidOf(value, this.bytes);
        return this.keep(uri, local, this.tagUuid);
      }
      if (local === 'deleteMissing') {
        this.tagFlags |= F_FLAGGED;
        return;
      }
      if (local === 'isDeleted') {
        if (isXsTrue(this.chars(value))) this.tagFlags |= F_DELETED;
        return;
      }
    } else if (uri === NS.sync && local === 'isDeleted') {
      if (isXsTrue(this.chars(value))) this.tagFlags |= F_DELETED;
      return;
    } else if (uri === NS.xsi && local === 'nil') {
      const t = this.chars(value).trim();
      if (t === 'false' || t === '0') return;
      return this.keep(uri, local, isXsTrue(t) ? 'true' : value);
    }
    this.keep(uri, local, value);
  }

  /**
   * The element at depth `d` ends, at its end tag `lt` (-1: it was self-closing) before `after`: the list rule and the
   * white space decide its content; its end tag is written.
   */
  close(d: number, lt: number, after: number): void {
    if (lt > this.lastEnd) this.text(d, this.lastEnd, lt);
    this.lastEnd = after;
    const out = this.out;
    const fl = this.flags[d]!;
    const elements = this.elements[d]!;
    const uuids = this.uuidElements[d]!;
    const list = (listRule((fl & F_UUID) !== 0, (fl & F_TEXT) !== 0, (fl & F_FLAGGED) !== 0, false, elements, uuids, (fl & F_DELETED_CHILD) !== 0) & LIST) !== 0;
    // Held white space: a leaf's whole text (it sits at the end), else layout between elements or inside a list.
    const end = lt < 0 ? this.from : lt;
    const wsBase = this.wsBase[d]!;
    if (this.nWs > wsBase && elements === 0 && !list) {
      this.flushTo(end);
      out.push(escText(this.wsText[wsBase]!));
    }
    this.nWs = wsBase;
    const segBase = this.segBase[d]!;
    if (list && (elements > 1 || (fl & F_DELETED_CHILD) !== 0)) {
      this.flushTo(end);
      this.reorder(d, segBase, uuids === elements);
    }
    this.nSeg = segBase;
    // `</name>` as written stays in the run; a prefixed or spaced end tag, or a self-closing element's, is written.
    if (lt >= 0 && !this.prefixed[d] && this.f.charCodeAt(lt + 2 + this.nameTo[d]! - this.nameFrom[d]!) === 62) return;
    this.flushTo(end);
    out.push(`</${this.localName(d)}>`);
    this.from = after;
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

  /** A value's characters (it is read as bytes or as characters). */
  chars(s: string): string {
    return this.bytes ? toChars(s) : s;
  }

  /** Attribute-value normalisation (XML 1.0 §3.3.3, CDATA type): literal white space is a space, then references. */
  attrValue(raw: string): string {
    const v = TAB_LF_CR.test(raw) ? raw.replace(/\r\n|[\t\n\r]/g, ' ') : raw;
    if (v.indexOf('&') < 0) return v;
    return this.bytes ? toBytes(decodeEntities(toChars(v), bad)) : decodeEntities(v, bad);
  }

}
