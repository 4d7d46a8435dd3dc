import type { Diagnosis } from '../protocol/diagnosis.ts';
import { SdataError, type SdataErrorCode } from '../protocol/errors.ts';
import { NS } from '../protocol/namespaces.ts';
import { declarationRefusal, encodingError, Utf8Stream } from './encoding.ts';
import { decodeEntities } from './entities.ts';
import { FIELD, FlatEntryReader, flatNames, keepField, tagEnd, type FlatNames } from './flat-result-entry.ts';
import { limitMessage, shown } from './limit-guard.ts';
import { DEFAULT_MAX_ENTRY_BYTES, MAX_DIAGNOSES, resolveLimits, type XmlLimits } from './limits.ts';
import { LongMarkup } from './long-markup.ts';
import { BANG, DQ, isSpace, LT, QMARK, SLASH, SQ } from './scan-chars.ts';
import type { ResultCopies, ResultEntry, ResultScannerOptions, ResultTail } from './result-types.ts';
import { toDiagnosis } from './tracking-reader.ts';

const SDATA_URIS: ReadonlySet<string> = new Set([NS.sdata, NS.sdataLegacy]);
const DIAG_FIELDS: ReadonlySet<string> = new Set(['severity', 'sdataCode', 'applicationCode', 'message', 'payloadPath']);
const F = { ...FIELD, Diag: 6 } as const;
type F = (typeof F)[keyof typeof F];

type Bindings = ReadonlyMap<string, string>;
const XML_BINDINGS: Bindings = new Map([['xml', NS.xml]]);

/**
 * What an entry read whole may hold that XML does not allow and the pattern does not refuse: a C0 control other than
 * tab, line feed and carriage return, U+FFFE, U+FFFF, or `]]>` in text. Such an entry is not offered for copying.
 */
const NOT_COPYABLE = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|\]\]>/;

/** An unfinished construct longer than this is held by a LongMarkup instead of being searched again per chunk. */
const LONG = 64 * 1024;

/**
 * A fast scanner for `$syncTarget` result feeds, the drop-in twin of a saxes-based reader (same entries, same tail) at a
 * fraction of its cost: the engine reads one result entry per entry it sends, so on a big catch-up this is as
 * much XML as the source feed minus the payloads, and a general parser spent most of its time on elements the
 * engine ignores. It finds markup with `indexOf`, resolves namespaces only where an element declares some, and
 * reads attributes and text only where it needs them.
 *
 * What it checks: one root, balanced and properly nested tags, comments, CDATA and processing instructions closed,
 * the references in the text and attributes it reads (entities.ts), the encoding (encoding.ts), no DOCTYPE
 * (entities are never expanded), and the limits every reader keeps (xml/limits.ts): depth and names per tag;
 * attributes in tags long enough to break a limit (few are); text between entries and captured text as it is
 * added; a construct that does not end within LONG characters through LongMarkup, which reads on without
 * searching it again. It is not a validating parser: this input comes from the target the engine just
 * talked to, and every value read is checked where it is used (a status must be an integer). The saxes-based
 * reader in test/helpers/result-reader.ts is its oracle in the tests.
 */
export class ResultScanner {
  private readonly input = new Utf8Stream((m, cause) => this.fail('SDATA_E_ENCODING', `result feed: ${m}`, cause));
  private readonly onEntry: (e: ResultEntry) => void;
  private readonly source: string;
  private readonly limits: XmlLimits;
  private readonly maxEntryBytes: number;
  /** A tag at most this long cannot break an attribute or name limit (a name or value of n units is ≤ 3n bytes). */
  private readonly plainTag: number;
  private readonly nameUnits: number;
  private buf = '';
  /** The unfinished construct, when it has grown past LONG. */
  private long: LongMarkup | undefined;
  /** Characters of text outside entries since the last tag. */
  private outside = 0;
  /** Line and column (characters since its start) where `buf` begins, for error positions. */
  private line = 1;
  private col = 0;
  private readonly names: string[] = [];
  private scopes: Array<{ depth: number; prev: Bindings }> = [];
  private ns: Bindings = XML_BINDINGS;
  /** Nothing consumed yet: a PI at offset 0 of the buffer may be the XML declaration. */
  private atStart = true;
  private sawRoot = false;
  private rootClosed = false;
  private count = 0;
  private cur: ResultEntry | undefined;
  private inPayload = false;
  private diag: Partial<Record<string, string>> | undefined;
  private diagDepth = -1;
  private field: F = F.None;
  private fieldName = '';
  private fieldDepth = -1;
  private local = '';
  private text = '';
  private next: string | undefined;
  private readonly feedDiagnoses: Diagnosis[] = [];
  /** The fast path for plain result entries, and the names it compares with under the bindings `flatFor`. */
  private readonly flat: FlatEntryReader;
  private flatFor: Bindings | undefined;
  private flatNames: FlatNames | undefined;
  /** Characters of the document before the text the next scan starts with. */
  private consumed = 0;
  /** Where the last entry that waited for the rest of its text starts (characters of the document), or -1. */
  private waitedAt = -1;
  /** ResultTail.copies as far as read; undefined when not asked for, or once an entry cannot be copied (copyable(), or read by the general path). */
  private copies: ResultCopies | undefined;

  constructor(onEntry: (e: ResultEntry) => void, opts: ResultScannerOptions = {}) {
    this.onEntry = onEntry;
    this.source = opts.source ?? '<result feed>';
    this.limits = resolveLimits(opts.limits);
    this.maxEntryBytes = opts.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES;
    const l = this.limits;
    this.nameUnits = Math.floor(l.maxNameBytes / 3);
    // An attribute takes at least 4 characters (` a=""`): a tag this short has at most maxAttributes of them.
    this.plainTag = Math.min(this.nameUnits, Math.floor(l.maxAttributeBytes / 3), 4 * l.maxAttributes);
    this.flat = new FlatEntryReader({ maxDepth: l.maxDepth, plainTag: this.plainTag, maxText: this.maxEntryBytes });
    if (opts.copies === true) this.copies = { spans: [], bindings: {} };
  }

  /** Entries read whole by the pattern of the entry our provider writes (flat-result-entry.ts; tests, benches). */
  get entriesReadWhole(): number {
    return this.flat.wholeEntries;
  }

  /** Bytes pushed so far. */
  get bytes(): number {
    return this.input.bytes;
  }

  push(bytes: Uint8Array): void {
    const text = this.input.decode(bytes);
    if (text) {
      const long = this.long;
      if (long === undefined) this.scan(this.buf.length === 0 ? text : this.buf + text, false);
      else {
        const end = long.feed(text);
        if (end >= 0) {
          // The construct has ended: scanned as usual from its start, with what follows it.
          this.long = undefined;
          this.scan(long.joined() + text.slice(end), false);
        }
      }
    }
    const bad = this.input.invalid;
    if (bad) throw this.fail('SDATA_E_ENCODING', `result feed: ${bad.message}`, bad.cause);
  }

  end(): ResultTail {
    const pending = this.long === undefined ? this.buf : this.long.joined();
    this.long = undefined;
    this.scan(pending + this.input.end(), true);
    if (!this.sawRoot) throw this.fail('SDATA_E_PROTOCOL', 'empty result feed: no root element');
    if (!this.rootClosed) throw this.fail('SDATA_E_MALFORMED', `result feed is not well-formed XML: unexpected end of document inside <${this.names[this.names.length - 1]}>`);
    const copies = this.copies;
    return { next: this.next, entries: this.count, diagnoses: this.feedDiagnoses, ...(copies === undefined ? {} : { copies }) };
  }

  /** An error at `at`'s end (`at`: the unconsumed text up to the problem), or where the consumed text ends. */
  private fail(code: SdataErrorCode, message: string, cause?: unknown, at?: string): SdataError {
    let line = this.line;
    let column = this.col + 1;
    if (at !== undefined) {
      let last = -1;
      for (let i = at.indexOf('\n'); i >= 0; i = at.indexOf('\n', i + 1)) {
        line++;
        last = i;
      }
      column = last >= 0 ? at.length - last : this.col + at.length + 1;
    }
    return new SdataError(code, `${this.source}:${line}:${column}: ${message}`, { source: this.source, line, column, cause });
  }

  private malformed(s: string, at: number, what: string): SdataError {
    return this.fail('SDATA_E_MALFORMED', `result feed is not well-formed XML: ${what}`, undefined, s.slice(0, at));
  }

  /** Processes every complete construct of `s`; keeps the incomplete rest for the next push. */
  private scan(s: string, final: boolean): void {
    let pos = 0;
    const n = s.length;
    this.flat.begin(s);
    while (pos < n) {
      const lt = s.indexOf('<', pos);
      if (lt < 0) {
        // Text up to the end: hand over what cannot be the start of a split reference (nor a name too long for one).
        const amp = s.lastIndexOf('&');
        const cut = final || amp < 0 || n - amp > this.nameUnits * 3 + 2 || s.indexOf(';', amp) >= 0 ? n : amp;
        if (cut > pos) this.onText(s, pos, cut);
        pos = cut;
        break;
      }
      if (lt > pos) this.onText(s, pos, lt);
      pos = lt;
      if (lt + 1 >= n) break;
      const c = s.charCodeAt(lt + 1);
      if (c === SLASH) {
        const gt = s.indexOf('>', lt + 2);
        if (gt < 0) break;
        let e = gt;
        while (e > lt + 2 && isSpace(s.charCodeAt(e - 1))) e--;
        this.onClose(s, s.slice(lt + 2, e), lt);
        pos = gt + 1;
      } else if (c === BANG) {
        if (s.startsWith('<!--', lt)) {
          const end = s.indexOf('-->', lt + 4);
          if (end < 0) break;
          pos = end + 3;
        } else if (s.startsWith('<![CDATA[', lt)) {
          const end = s.indexOf(']]>', lt + 9);
          if (end < 0) break;
          if (this.names.length === 0) throw this.malformed(s, lt, 'CDATA outside the root element');
          if (this.field !== F.None) this.text += s.slice(lt + 9, end);
          pos = end + 3;
        } else if (n - lt < 9 && !final) {
          break;
        } else if (s.startsWith('<!DOCTYPE', lt)) {
          throw this.fail('SDATA_E_DOCTYPE', 'DOCTYPE declarations are refused: entities are never expanded', undefined, s.slice(0, lt));
        } else {
          throw this.malformed(s, lt, `unexpected '${s.slice(lt, lt + 9)}'`);
        }
      } else if (c === QMARK) {
        const end = s.indexOf('?>', lt + 2);
        if (end < 0) break;
        if (lt === 0 && this.atStart) this.xmlDecl(s.slice(0, end + 2));
        pos = end + 2;
      } else {
        if (this.names.length === 1 && this.cur === undefined && this.diag === undefined) {
          const end = this.flatEntry(s, lt);
          if (end >= 0) {
            pos = end;
            continue;
          }
          // An entry the text cuts short waits whole for the rest (up to LONG characters), for the fast path to read,
          // rather than being begun element by element: about one entry per chunk, and with it a page's copies. Once
          // only: an entry that comes a few bytes at a time is not read again from its start for every few bytes.
          if (!final && n - lt < LONG && this.consumed + lt !== this.waitedAt && this.cutShort(s, lt)) {
            this.waitedAt = this.consumed + lt;
            break;
          }
        }
        const gt = tagEnd(s, lt + 1);
        if (gt === -1) break;
        if (gt < -1) throw this.malformed(s, -2 - gt, "'<' inside a start tag");
        this.onOpen(s, lt, gt);
        pos = gt + 1;
      }
    }
    if (final && pos < n) throw this.malformed(s, pos, `unexpected end of document in '${s.slice(pos, pos + 20)}'`);
    if (pos > 0) this.atStart = false;
    let last = -1;
    for (let i = s.indexOf('\n'); i >= 0 && i < pos; i = s.indexOf('\n', i + 1)) {
      this.line++;
      last = i;
    }
    this.col = last >= 0 ? pos - last - 1 : this.col + pos;
    this.consumed += pos;
    this.buf = pos < n ? s.slice(pos) : '';
    if (this.buf.length > LONG && this.buf.charCodeAt(0) === LT) {
      const inEntry = this.cur !== undefined;
      const markupText = !this.buf.startsWith('<!--') && !this.buf.startsWith('<![CDATA[') && !this.buf.startsWith('<?');
      this.long = new LongMarkup(this.buf, {
        limits: this.limits,
        maxChars: inEntry || markupText ? this.maxEntryBytes : this.limits.maxTextBetweenEntries,
        maxCharsKey: inEntry || markupText ? 'maxEntryBytes' : 'maxTextBetweenEntries',
      }, (code, m) => this.fail(code, `result feed: ${m}`));
      this.buf = '';
    }
  }

  /**
   * The entry starting at `lt`, directly inside the root, read by the fast path (flat-result-entry.ts) and reported;
   * -1 when it is not that simple (then the general path reads it, from its start).
   */
  private flatEntry(s: string, lt: number): number {
    if (this.flatFor !== this.ns) {
      this.flatNames = flatNames(this.ns);
      this.flatFor = this.ns;
    }
    const names = this.flatNames!;
    if (names.entry === '' || !s.startsWith(names.entry, lt + 1)) return -1;
    const e: ResultEntry = { index: this.count, atomId: undefined, uuid: undefined, status: undefined, message: undefined, method: undefined, location: undefined, diagnoses: [] };
    const whole = this.flat.wholeEntries;
    const end = this.flat.read(lt, names, e);
    if (end < 0) return -1;
    if (this.copies !== undefined) this.copyable(s, lt, end, this.flat.wholeEntries > whole);
    this.count++;
    this.outside = 0;
    this.onEntry(e);
    return end;
  }

  /**
   * Whether `s` holds the start of an entry at `lt` (flatEntry has just set the names) and neither its end tag nor the
   * root's after it: only then can the rest be still to come. An entry the root's end tag follows is read now, so that
   * a page that is complete but wrong is refused as such, not taken at its end for a page cut short (EndedEarly).
   */
  private cutShort(s: string, lt: number): boolean {
    const entry = this.flatNames!.entry;
    return entry !== '' && s.startsWith(entry, lt + 1) && s.indexOf(`</${entry}>`, lt) < 0 && s.indexOf(`</${this.names[0]!}`, lt) < 0;
  }

  /** Notes where the entry at [lt, end) of `s` stands, when it can be copied (`whole`: read by the pattern); else no copies. */
  private copyable(s: string, lt: number, end: number, whole: boolean): void {
    const c = this.copies!;
    if (!whole || NOT_COPYABLE.test(s.slice(lt, end))) {
      this.copies = undefined;
      return;
    }
    if (this.count === 0) {
      for (const [prefix, uri] of this.ns) if (XML_BINDINGS.get(prefix) !== uri) c.bindings[prefix] = uri;
    }
    c.spans.push(this.consumed + lt, this.consumed + end);
  }

  /** `decl` is a PI at the document's start: when it is the XML declaration, its encoding must be UTF-8. */
  private xmlDecl(decl: string): void {
    const r = declarationRefusal(decl);
    if (r) throw encodingError(this.source, r);
  }

  private onText(s: string, from: number, to: number): void {
    if (this.cur === undefined && (this.outside += to - from) > this.limits.maxTextBetweenEntries) {
      throw this.fail('SDATA_E_LIMIT', `result feed: ${limitMessage('text between entries (or in the feed head)', 'maxTextBetweenEntries', this.limits.maxTextBetweenEntries, ' characters')}`,
        undefined, s.slice(0, from));
    }
    if (this.field !== F.None) {
      this.text += decodeEntities(s.slice(from, to), (at, problem) => this.malformed(s, at, problem), from);
      if (this.text.length > this.maxEntryBytes) {
        throw this.fail('SDATA_E_LIMIT', `result feed: text longer than an entry may be: exceeds the limit of ${this.maxEntryBytes} bytes (raise it with --max-entry-bytes)`, undefined, s.slice(0, from));
      }
      return;
    }
    if (this.names.length === 0) {
      for (let i = from; i < to; i++) {
        if (!isSpace(s.charCodeAt(i))) throw this.malformed(s, i, this.rootClosed ? 'text after the root element' : 'text before the root element');
      }
    }
  }

  /** The namespace URI of `qname`; its local part goes to `this.local` (no object per tag). */
  private resolve(qname: string, s: string, at: number): string {
    const colon = qname.indexOf(':');
    if (colon < 0) {
      this.local = qname;
      return this.ns.get('') ?? '';
    }
    const prefix = qname.slice(0, colon);
    const uri = this.ns.get(prefix);
    if (uri === undefined) throw this.malformed(s, at, `unbound namespace prefix '${prefix}'`);
    this.local = qname.slice(colon + 1);
    return uri;
  }

  private onOpen(s: string, lt: number, gt: number): void {
    const self = s.charCodeAt(gt - 1) === SLASH;
    const close = self ? gt - 1 : gt;
    let i = lt + 1;
    while (i < close && !isSpace(s.charCodeAt(i))) i++;
    const qname = s.slice(lt + 1, i);
    if (qname === '') throw this.malformed(s, lt, "'<' not followed by a name");
    if (this.rootClosed) throw this.malformed(s, lt, 'a second root element');
    const depth = this.names.length + 1;
    this.outside = 0;
    if (depth > this.limits.maxDepth || gt - lt > this.plainTag) this.checkTag(s, lt, i, close, qname, depth);
    // Declarations first: they apply to the element's own name and attributes.
    // Only within the tag: an unbounded indexOf would search the rest of the buffer for every tag.
    if (i < close && s.substring(i, close).includes('xmlns')) this.bindDecls(s, i, close, depth);
    this.names.push(qname);
    const uri = this.resolve(qname, s, lt);
    this.openElement(uri, this.local, depth, s, i, close);
    if (self) this.onClose(s, qname, lt);
  }

  /** The limits on one start tag (depth, name, attributes), for the few tags long enough to break one. */
  private checkTag(s: string, lt: number, from: number, to: number, qname: string, depth: number): void {
    const l = this.limits;
    const limit = (m: string): SdataError => this.fail('SDATA_E_LIMIT', `result feed: ${m}`, undefined, s.slice(0, lt));
    if (depth > l.maxDepth) throw limit(limitMessage(`element <${shown(qname)}> nested ${depth} deep`, 'maxDepth', l.maxDepth, ' levels'));
    const name = (n: string, what: string): void => {
      if (n.length > this.nameUnits && Buffer.byteLength(n) > l.maxNameBytes) throw limit(limitMessage(`${what} name ${shown(n)}`, 'maxNameBytes', l.maxNameBytes, ' bytes'));
    };
    name(qname, 'element');
    let count = 0;
    forEachAttr(s, from, to, (n, value) => {
      if (++count > l.maxAttributes) throw limit(limitMessage('the number of attributes on one element', 'maxAttributes', l.maxAttributes, ''));
      name(n, 'attribute');
      if (value.length * 3 > l.maxAttributeBytes && Buffer.byteLength(value) > l.maxAttributeBytes) {
        throw limit(limitMessage(`the value of attribute ${shown(n)}`, 'maxAttributeBytes', l.maxAttributeBytes, ' bytes'));
      }
    }, (at, problem) => this.malformed(s, at, problem ?? 'malformed attribute'));
  }

  private bindDecls(s: string, from: number, to: number, depth: number): void {
    let map: Map<string, string> | undefined;
    forEachAttr(s, from, to, (name, value) => {
      if (name === 'xmlns' || name.startsWith('xmlns:')) {
        map ??= new Map(this.ns);
        map.set(name === 'xmlns' ? '' : name.slice(6), value);
      }
    }, (at, problem) => this.malformed(s, at, problem ?? 'malformed attribute'));
    if (map) {
      this.scopes.push({ depth, prev: this.ns });
      this.ns = map;
    }
  }

  private attr(s: string, from: number, to: number, uri: string, local: string): string | undefined {
    let found: string | undefined;
    forEachAttr(s, from, to, (name, value) => {
      if (found !== undefined) return;
      const colon = name.indexOf(':');
      if (colon < 0) {
        if (uri === '' && name === local) found = value;
      } else if (name.slice(colon + 1) === local && this.ns.get(name.slice(0, colon)) === uri) {
        found = value;
      }
    }, (at, problem) => this.malformed(s, at, problem ?? 'malformed attribute'));
    return found;
  }

  private openElement(uri: string, local: string, d: number, s: string, attrFrom: number, attrTo: number): void {
    if (d === 1) {
      this.sawRoot = true;
      if (local !== 'feed' || uri !== NS.atom) throw this.fail('SDATA_E_PROTOCOL', `not a result feed: root element is <${this.names[0]}>, expected atom:feed`);
      return;
    }
    if (this.diag) {
      if (d === this.diagDepth + 1 && SDATA_URIS.has(uri) && DIAG_FIELDS.has(local)) this.capture(F.Diag, d, local);
      return;
    }
    if (SDATA_URIS.has(uri) && local === 'diagnosis' && !this.inPayload) {
      this.diag = {};
      this.diagDepth = d;
      return;
    }
    const cur = this.cur;
    if (d === 2) {
      if (uri !== NS.atom) return;
      if (local === 'entry') {
        this.cur = { index: this.count++, atomId: undefined, uuid: undefined, status: undefined, message: undefined, method: undefined, location: undefined, diagnoses: [] };
        // Read element by element: not an entry to copy, so neither is the page.
        this.copies = undefined;
      } else if (local === 'link') {
        const rel = this.attr(s, attrFrom, attrTo, '', 'rel')?.trim();
        const href = this.attr(s, attrFrom, attrTo, '', 'href');
        if (rel === 'next' && href !== undefined) this.next = href.replace(/\s+/g, '');
      }
      return;
    }
    if (!cur) return;
    if (d === 3) {
      if (uri === NS.http) {
        if (local === 'httpStatus') this.capture(F.Status, d);
        else if (local === 'httpMessage') this.capture(F.Message, d);
        else if (local === 'httpMethod') this.capture(F.Method, d);
        else if (local === 'location') this.capture(F.Location, d);
      } else if (uri === NS.atom && local === 'id') {
        this.capture(F.Id, d);
      } else if (SDATA_URIS.has(uri) && local === 'payload') {
        this.inPayload = true;
      }
    } else if (d === 4 && this.inPayload && cur.uuid === undefined) {
      const u = this.attr(s, attrFrom, attrTo, NS.sdata, 'uuid');
      if (u !== undefined) cur.uuid = u.trim();
    }
  }

  private capture(f: F, depth: number, name = ''): void {
    this.field = f;
    this.fieldDepth = depth;
    this.fieldName = name;
    this.text = '';
  }

  private onClose(s: string, qname: string, at: number): void {
    const d = this.names.length;
    this.outside = 0;
    const open = this.names.pop();
    if (open === undefined) throw this.malformed(s, at, `end tag </${qname}> without a start tag`);
    if (open !== qname) throw this.malformed(s, at, `end tag </${qname}> does not match <${open}>`);
    if (this.field !== F.None && d === this.fieldDepth) this.endField();
    if (this.diag) {
      if (d === this.diagDepth) {
        const dg = toDiagnosis(this.diag);
        this.diag = undefined;
        this.diagDepth = -1;
        // A few are all anyone reads; more are not kept (xml/limits.ts).
        const list = this.cur ? this.cur.diagnoses : this.feedDiagnoses;
        if (list.length < MAX_DIAGNOSES) list.push(dg);
      }
    } else if (d === 3) {
      this.inPayload = false;
    } else if (d === 2 && this.cur) {
      const e = this.cur;
      this.cur = undefined;
      this.onEntry(e);
    }
    // Not `scopes[scopes.length - 1]` on an empty array (index -1, a slow property look-up: tag-scope.ts unscope).
    const n = this.scopes.length;
    const top = n === 0 ? undefined : this.scopes[n - 1];
    if (top && top.depth === d) {
      this.ns = top.prev;
      this.scopes.pop();
    }
    if (d === 1) this.rootClosed = true;
  }

  private endField(): void {
    if (this.field === F.Diag) {
      if (this.diag) this.diag[this.fieldName] = this.text.trim();
    } else if (this.cur) {
      keepField(this.cur, this.field, this.text);
    }
    this.field = F.None;
    this.fieldDepth = -1;
    this.text = '';
  }
}

/** Calls `f(name, value)` for each attribute in `s[from, to)` (values entity-decoded). */
function forEachAttr(s: string, from: number, to: number, f: (name: string, value: string) => void, bad: (at: number, problem?: string) => Error): void {
  let i = from;
  while (i < to) {
    while (i < to && isSpace(s.charCodeAt(i))) i++;
    if (i >= to) return;
    const eq = s.indexOf('=', i);
    if (eq < 0 || eq >= to) throw bad(i);
    let ne = eq;
    while (ne > i && isSpace(s.charCodeAt(ne - 1))) ne--;
    const name = s.slice(i, ne);
    let v = eq + 1;
    while (v < to && isSpace(s.charCodeAt(v))) v++;
    const q = s.charCodeAt(v);
    if (q !== DQ && q !== SQ) throw bad(v);
    const end = s.indexOf(q === DQ ? '"' : "'", v + 1);
    if (end < 0 || end >= to) throw bad(v);
    f(name, decodeEntities(s.slice(v + 1, end), (at, problem) => bad(at, problem), v + 1));
    i = end + 1;
  }
}
