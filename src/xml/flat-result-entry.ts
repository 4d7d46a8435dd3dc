import { NS } from '../protocol/namespaces.ts';
import { GROUP, LINK_TAG_CHARS, resultEntryPattern, type ResultEntryPattern } from './result-entry-pattern.ts';
import type { ResultEntry } from './result-types.ts';
import { BANG, COLON, DQ, GT, isSpace, LT, QMARK, same, SLASH, SQ } from './scan-chars.ts';

/**
 * The result entries a target writes for entries applied without diagnoses, read in one tight pass (ResultScanner's
 * fast path). An engine reads one result entry per entry it sends, ~700 bytes and ~14 elements each; the general
 * scanner spends most of that on per-element work it needs only for rarer shapes. This pass reads an entry whose
 * every construct is plain — start and end tags, text, no comment, CDATA, processing instruction, namespace
 * declaration, payload, diagnosis or reference in a field it keeps — and gives up on anything else, leaving the entry
 * to the general scanner, which reads it (or reports what is wrong with it) exactly as before: this pass changes
 * nothing and throws nothing. It checks what the general scanner checks there: tags nested and closed by their own
 * names, prefixes bound, the depth and the tag-size limits.
 * test/xml/flat-result-entry.test.ts holds it, and the scanner with it, to the saxes-based reader.
 */

/** The fields a result entry's children carry, as the scanner keeps them. */
export const FIELD = { None: 0, Status: 1, Message: 2, Method: 3, Location: 4, Id: 5 } as const;

/** The names this pass compares with, in the namespace bindings of the feed around the entries. */
export interface FlatNames {
  /** The qname of atom:entry as these bindings spell it ('' when atom has no spelling here). */
  entry: string;
  /** The entry our provider writes, read whole (result-entry-pattern.ts). */
  pattern: ResultEntryPattern | undefined;
  /** Qnames of the kept fields, each with its FIELD. */
  fieldNames: string[];
  fieldKinds: number[];
  /** `p:` for every bound prefix. */
  prefixes: string[];
}

/** The names for `ns`, the bindings in force directly inside the root. */
export function flatNames(ns: ReadonlyMap<string, string>): FlatNames {
  const spell = (uri: string, local: string): string[] => {
    const out: string[] = [];
    for (const [p, u] of ns) if (u === uri) out.push(p === '' ? local : `${p}:${local}`);
    return out;
  };
  const fieldNames: string[] = [];
  const fieldKinds: number[] = [];
  const add = (uri: string, local: string, kind: number): void => {
    for (const q of spell(uri, local)) {
      fieldNames.push(q);
      fieldKinds.push(kind);
    }
  };
  add(NS.http, 'httpStatus', FIELD.Status);
  add(NS.http, 'httpMessage', FIELD.Message);
  add(NS.http, 'httpMethod', FIELD.Method);
  add(NS.http, 'location', FIELD.Location);
  add(NS.atom, 'id', FIELD.Id);
  const prefixes: string[] = [];
  for (const p of ns.keys()) if (p !== '') prefixes.push(`${p}:`);
  const entry = spell(NS.atom, 'entry')[0] ?? '';
  return { entry, pattern: resultEntryPattern(ns), fieldNames, fieldKinds, prefixes };
}

export interface FlatLimits {
  /** Depth of the entry's children (the root is 1, the entry 2). */
  maxDepth: number;
  /** A start tag longer than this may break a name or attribute limit: the general scanner reads it. */
  plainTag: number;
  /** A kept field's text longer than this: the general scanner reports it. */
  maxText: number;
}

/** The fields of a result entry this pass and the general scanner keep. */
export type EntryFields = Pick<ResultEntry, 'atomId' | 'status' | 'message' | 'method' | 'location'>;

/** Field `kind`'s text `raw` (references decoded) into `e`: one rule for both scanners. */
export function keepField(e: EntryFields, kind: number, raw: string): void {
  const t = raw.trim();
  switch (kind) {
    case FIELD.Status: {
      const n = Number(t);
      if (t !== '' && Number.isInteger(n)) e.status = n;
      break;
    }
    case FIELD.Message: e.message = t; break;
    case FIELD.Method: e.method = t.toUpperCase(); break;
    case FIELD.Location: e.location = t; break;
    case FIELD.Id: e.atomId = t; break;
    default: break;
  }
}

/** After an entry the whole-entry pattern did not match, how many it leaves to the walk before it tries again. */
const PATTERN_REST = 255;

/** The pass, for one scanner: its limits, its stack of open elements, what it knows of the text it reads. */
export class FlatEntryReader {
  private readonly lim: FlatLimits;
  private readonly openAt: number[] = [];
  private readonly openLen: number[] = [];
  /** The text being read (begin()) and the next `xmlns` in it from where it was last looked for (-2: not yet). */
  private s = '';
  private xmlnsAt = -2;
  /**
   * Entries to walk before trying the whole-entry pattern again: a target that writes its results another way (the
   * bench's null sink, another product) would otherwise pay a failed match on every entry (~0.2 µs; ~1 s per million
   * measured with the null sink). Set after a miss on a whole entry, so our own provider's entries, which always
   * match, never wait; an entry cut short by the end of the text is not a miss.
   */
  private patternRest = 0;
  /** Entries read by the whole-entry pattern (tests and benches: that our provider's entries take it). */
  wholeEntries = 0;

  constructor(lim: FlatLimits) {
    this.lim = lim;
  }

  /** `s` is the text the next calls read. */
  begin(s: string): void {
    this.s = s;
    this.xmlnsAt = -2;
  }

  /**
   * Reads the entry whose start tag begins at `lt` (`names.entry` as the qname, directly inside the root) up to its
   * end tag, keeping its fields in `e`. Returns where the entry ends, or -1 when it does not end in the text or holds
   * anything this pass leaves to the general scanner (`e` then means nothing).
   */
  read(lt: number, names: FlatNames, e: EntryFields): number {
    const s = this.s;
    const n = s.length;
    const lim = this.lim;
    if (names.pattern !== undefined && lim.maxDepth >= 4) {
      if (this.patternRest > 0) this.patternRest--;
      else {
        const end = this.readWhole(names, lt, e);
        if (end >= 0) {
          this.wholeEntries++;
          return end;
        }
        // An entry the text cuts short (the chunk ends in it) is no sign of another spelling.
        if (s.indexOf(`</${names.entry}>`, lt) >= 0) this.patternRest = PATTERN_REST;
      }
    }
    const openAt = this.openAt;
    const openLen = this.openLen;
    /** Open elements of the entry, itself included. */
    let depth = 0;
    let pos = lt;
    let field: number = FIELD.None;
    let fieldFrom = 0;
    for (;;) {
      if (depth > 0) {
        pos = s.indexOf('<', pos);
        if (pos < 0) return -1;
      }
      // Every read below stays inside the text (a read past its end would cost the compiled code its speed).
      if (pos + 2 >= n) return -1;
      const c = s.charCodeAt(pos + 1);
      if (c === SLASH) {
        // An end tag: the name of the element open, optional white space, '>'.
        const len = openLen[depth - 1]!;
        let gt = pos + 2 + len;
        if (gt >= n || !same(s, pos + 2, openAt[depth - 1]!, len)) return -1;
        let ch = s.charCodeAt(gt);
        while (isSpace(ch) && gt + 1 < n) ch = s.charCodeAt(++gt);
        if (ch !== GT) return -1; // another name, or the text ends here
        if (field !== FIELD.None) {
          // Only a kept field's own end tag can come here: an element inside one is left to the general scanner.
          const t = s.slice(fieldFrom, pos);
          if (t.length > lim.maxText || t.includes('&')) return -1;
          keepField(e, field, t);
          field = FIELD.None;
        }
        depth--;
        pos = gt + 1;
        if (depth === 0) return pos;
        continue;
      }
      if (c === BANG || c === QMARK || field !== FIELD.None || depth + 2 > lim.maxDepth) return -1;
      // A start tag: its name (and where its prefix ends), then '>', '/>' or attributes.
      let i = pos + 1;
      let colon = -1;
      let ch = c;
      while (ch !== GT && ch !== SLASH && !isSpace(ch)) {
        if (ch === COLON && colon < 0) colon = i;
        else if (ch === LT || ch === DQ || ch === SQ) return -1;
        if (++i === n) return -1;
        ch = s.charCodeAt(i);
      }
      const nameEnd = i;
      const nameLen = nameEnd - pos - 1;
      if (nameLen === 0) return -1;
      let gt: number;
      if (ch === GT) gt = i;
      else if (ch === SLASH && i + 1 < n && s.charCodeAt(i + 1) === GT) gt = i + 1;
      else {
        // Attributes (white space first: a '/' elsewhere is left to the general scanner): none may declare a namespace.
        gt = tagEnd(s, i);
        if (gt < 0 || s.charCodeAt(i) === SLASH || this.declaresNamespace(i, gt)) return -1;
      }
      if (gt - pos > lim.plainTag) return -1;
      const self = s.charCodeAt(gt - 1) === SLASH;
      if (colon >= 0 && !boundPrefix(s, pos + 1, colon - pos, names.prefixes)) return -1;
      const local = colon >= 0 ? colon + 1 : pos + 1;
      if (isNamed(s, local, nameEnd, 'payload') || isNamed(s, local, nameEnd, 'diagnosis')) return -1;
      if (depth === 0) {
        if (self || nameLen !== names.entry.length) return -1;
      } else if (depth === 1) {
        const k = fieldOf(s, pos + 1, nameLen, names);
        if (k !== FIELD.None) {
          if (self) keepField(e, k, '');
          else {
            field = k;
            fieldFrom = gt + 1;
          }
        }
      }
      if (!self) {
        openAt[depth] = pos + 1;
        openLen[depth] = nameLen;
        depth++;
      }
      pos = gt + 1;
    }
  }

  /**
   * The entry at `lt` when it is the one our provider writes (result-entry-pattern.ts), with what the walk below
   * would check of it: every field's text within maxText (the whole entry is), every tag within plainTag (the self
   * link's by its href's length, the others by the longest of them as spelt here), the depth (4: checked by the
   * caller). -1: not that entry, and `e` untouched.
   */
  private readWhole(names: FlatNames, lt: number, e: EntryFields): number {
    const p = names.pattern!;
    const lim = this.lim;
    if (p.longestTag > lim.plainTag) return -1;
    const re = p.re;
    re.lastIndex = lt;
    const m = re.exec(this.s);
    if (m === null) return -1;
    const end = re.lastIndex;
    const href = m[GROUP.Href];
    if (end - lt > lim.maxText || (href !== undefined && LINK_TAG_CHARS + p.atomPrefix + href.length > lim.plainTag)) return -1;
    keepField(e, FIELD.Id, m[GROUP.Id]!);
    keepField(e, FIELD.Status, m[GROUP.Status]!);
    const message = m[GROUP.Message];
    if (message !== undefined) keepField(e, FIELD.Message, message);
    const method = m[GROUP.Method];
    if (method !== undefined) keepField(e, FIELD.Method, method);
    const location = m[GROUP.Location];
    if (location !== undefined) keepField(e, FIELD.Location, location);
    return end;
  }

  /**
   * Whether the text holds `xmlns` in [from, to). The next occurrence is remembered: tags with attributes would
   * otherwise search the rest of the text each (the general scanner cuts the tag out to search it).
   */
  private declaresNamespace(from: number, to: number): boolean {
    if (this.xmlnsAt === -2 || (this.xmlnsAt >= 0 && this.xmlnsAt < from)) this.xmlnsAt = this.s.indexOf('xmlns', from);
    return this.xmlnsAt >= 0 && this.xmlnsAt < to;
  }
}

/** Whether `s[from, to)` is `name`. */
function isNamed(s: string, from: number, to: number, name: string): boolean {
  return to - from === name.length && s.startsWith(name, from);
}

/** Whether the prefix of the qname at `from` is bound; `len` counts the prefix and its colon. */
function boundPrefix(s: string, from: number, len: number, prefixes: readonly string[]): boolean {
  for (const p of prefixes) if (p.length === len && s.startsWith(p, from)) return true;
  return false;
}

function fieldOf(s: string, from: number, len: number, names: FlatNames): number {
  const q = names.fieldNames;
  for (let k = 0; k < q.length; k++) if (q[k]!.length === len && s.startsWith(q[k]!, from)) return names.fieldKinds[k]!;
  return FIELD.None;
}

/** Index of the `>` ending the start tag that begins at `from`, skipping quoted attribute values; -1 if not yet there. */
export function tagEnd(s: string, from: number): number {
  let i = from;
  const n = s.length;
  for (;;) {
    const gt = s.indexOf('>', i);
    if (gt < 0) return -1;
    // Most tags have no quote before their '>', or only balanced ones: check the stretch for an open quote.
    let q = 0;
    let j = i;
    for (; j < gt; j++) {
      const c = s.charCodeAt(j);
      if (c === DQ || c === SQ) {
        const close = s.indexOf(c === DQ ? '"' : "'", j + 1);
        if (close < 0) return -1;
        if (close > gt) {
          q = close;
          break;
        }
        j = close;
      } else if (c === LT) {
        return -2 - j; // '<' inside a tag: reported by the caller as malformed
      }
    }
    if (q === 0) return gt;
    i = q + 1;
    if (i >= n) return -1;
  }
}
