import type { SaxesTagNS, XMLDecl } from 'saxes';
import { DigestBuilder, type Digest } from '../protocol/digest.ts';
import { SdataError, type SdataErrorCode } from '../protocol/errors.ts';
import { NS } from '../protocol/namespaces.ts';
import { parseSyncMode, type SyncMode, type SyncState } from '../protocol/sync-state.ts';
import { parseTick } from '../protocol/ticks.ts';
import { rawToText } from './raw-text.ts';
import { createParser, drive, type NsParser } from './saxes.ts';

export interface FeedLink {
  rel: string;
  href: string;
}

/** What the feed says before its first entry. */
export interface FeedHead {
  syncMode: SyncMode | undefined;
  digest: Digest | undefined;
  /** Namespace declarations on the feed element, prefix → URI ('' is the default namespace). */
  bindings: Readonly<Record<string, string>>;
  links: FeedLink[];
  atomId: string | undefined;
  totalResults: number | undefined;
}

/**
 * Where a document can be resumed by another reader (see FeedReaderOptions.continuation): the text that puts a fresh
 * parser in the state the document's own parser has between two entries, and the entry element's qname as written,
 * whose end tag marks the places where that holds.
 */
export interface ResumePoint {
  /** The XML declaration's version (if not 1.0) and the root start tag, white space inside it made spaces: one line. */
  primer: string;
  /** The primer's length as saxes counts columns (code points). */
  primerColumns: number;
  entryName: string;
  /** The root's namespace declarations (FeedHead.bindings). */
  bindings: Readonly<Record<string, string>>;
}

/** One `atom:entry`, decided on by the planner and forwarded as its exact source text. */
export interface EntryRecord {
  /** 0-based position of the entry in its document. */
  index: number;
  line: number;
  column: number;
  atomId: string | undefined;
  uuid: string | undefined;
  isDeleted: boolean;
  state: SyncState | undefined;
  /** `http:httpMethod` / `http:ifMatch` children (batch requests, the 5.3 seed). */
  httpMethod: string | undefined;
  ifMatch: string | undefined;
  /** Exact source text of `<entry …>…</entry>`; undefined when the entry was over the size cap. */
  text: string | undefined;
  /** Offset in `text` just after the start tag's qname: where namespace declarations may be inserted. */
  nameEnd: number;
  /** Prefixes ('' = default) declared on the entry start tag itself. */
  ownDecls: readonly string[];
  /** Span of the resource element inside sdata:payload, as offsets in `text` (-1 when absent). */
  resourceStart: number;
  resourceNameEnd: number;
  resourceEnd: number;
  /**
   * Declarations in force above the resource element, outermost first: the feed's, the entry's, the payload's
   * (shared objects, never copied per entry; `resourceScope()` merges them when someone needs it).
   */
  scopes: ReadonlyArray<Readonly<Record<string, string>>>;
  /** Prefixes ('' = default) the resource element declares itself. */
  resourceOwnDecls: readonly string[];
  resourceLocal: string | undefined;
  resourceUri: string | undefined;
  /** Why the entry cannot be forwarded (engine rules §1), if it cannot. */
  invalid: string | undefined;
}

export interface FeedTail {
  /** Every feed-level link, wherever it stood (Atom allows links after entries). */
  links: FeedLink[];
  next: string | undefined;
  entries: number;
}

export interface FeedHandler {
  head(head: FeedHead): void;
  entry(entry: EntryRecord): void;
  end(tail: FeedTail): void;
}

/** Entries larger than this many UTF-8 bytes are invalid unless the caller says otherwise (--max-entry-bytes). */
export const DEFAULT_MAX_ENTRY_BYTES = 16 * 1024 * 1024;

export interface FeedReaderOptions {
  /** Name used in messages (file name or URL). */
  source?: string;
  /** Entries larger than this (UTF-8 bytes) are invalid and never held whole. Default 16 MiB. */
  maxEntryBytes?: number;
  /** Require sync:syncMode and sync:digest before the first entry (sync feeds). Default true. */
  requireSyncHead?: boolean;
  /**
   * The input resumes a document after one of its entries: it starts with ResumePoint.primer (pushText it first),
   * and the head has been read elsewhere, so no head event is sent and the head rules are those after an entry.
   * Positions are then relative to the primer's start; whoever knows where the piece began translates them.
   */
  continuation?: boolean;
  /** Offset of the first pushed byte in the whole input, for messages about bytes. */
  byteOffset?: number;
}

// What the text handler is collecting (plain numbers: enums are not erasable syntax).
const Cap = {
  None: 0, FeedId: 1, SyncMode: 2, Total: 3, EntryId: 4, StEndpoint: 5, StTick: 6, StStamp: 7, StUser: 8,
  HttpMethod: 9, IfMatch: 10, Digest: 11,
} as const;
type Cap = (typeof Cap)[keyof typeof Cap];

/** Where saxes 6 stores the text and CDATA handlers that `on()`/`off()` set. */
interface SaxesHandlerFields {
  textHandler: ((text: string) => void) | undefined;
  cdataHandler: ((text: string) => void) | undefined;
  openTagHandler: ((tag: SaxesTagNS) => void) | undefined;
  closeTagHandler: ((tag: SaxesTagNS) => void) | undefined;
  /** Open elements; saxes pops before calling the close handler. */
  readonly tags: readonly unknown[];
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
const NO_DECLS: readonly string[] = Object.freeze([]);

/**
 * The streaming sync-feed reader. Push-based core (like csv-parse's): `push(bytes)` any number of times,
 * then `end()`; the handler is called synchronously with the head, each entry, and the tail.
 *
 * Forwarding cuts each entry's exact source text out of the decoded stream instead of re-serialising events:
 * we keep only the text from the last `<` (outside entries) or from the entry's `<` (inside one), so memory is
 * one entry plus one input chunk, whatever the feed size.
 */
export class FeedReader {
  private readonly parser: NsParser;
  private readonly hooks: SaxesHandlerFields;
  private decoder: InstanceType<typeof TextDecoder>;
  private readonly handler: FeedHandler;
  private readonly source: string;
  private readonly maxEntryBytes: number;
  private readonly requireSyncHead: boolean;
  private byteOffset: number;

  // Text retention without ever concatenating chunks (a rope would be flattened, i.e. copied, on first search):
  // `cur` is the chunk saxes is parsing; `tail` is what an unfinished tag outside entries needs (from the last
  // '<'); `parts` are the pieces of the current entry that came in earlier chunks. Positions are global.
  private cur = '';
  private curStart = 0;
  private nextStart = 0;
  private tail = '';
  private tailStart = 0;
  private parts: string[] = [];
  private partsChars = 0;
  private bytesIn = 0;
  private depth = 0;
  private sawRoot = false;
  private ended = false;
  private xmlVersion: string | undefined;
  private rootTag: string | undefined;
  private entryName: string | undefined;
  /** Position just after the last entry's end tag. */
  private entryEnd = -1;
  private endLine = 0;
  private endColumn = 0;

  // feed head
  private head: FeedHead = { syncMode: undefined, digest: undefined, bindings: EMPTY, links: [], atomId: undefined, totalResults: undefined };
  private headSent = false;
  private links: FeedLink[] = [];
  private digestBuilder: DigestBuilder | undefined;
  private digestDepth = 0;

  // text capture
  private cap: Cap = Cap.None;
  private capDepth = -1;
  private capText = '';
  private capStart = 0;

  // current entry
  private inEntry = false;
  private entryCount = 0;
  private entryStart = 0; // global position of '<entry'
  private overflow = false;
  private rec: EntryRecord | undefined;
  private inState = false;
  private inPayload = false;
  private stTick: string | undefined;

  constructor(handler: FeedHandler, opts: FeedReaderOptions = {}) {
    this.handler = handler;
    this.source = opts.source ?? '<input>';
    this.maxEntryBytes = opts.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES;
    this.requireSyncHead = opts.requireSyncHead ?? true;
    this.byteOffset = opts.byteOffset ?? 0;
    if (opts.continuation) this.headSent = true;
    // A continuation starts mid-document, where U+FEFF is a character like any other, not a byte order mark.
    this.decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: opts.continuation === true });
    const p = createParser(this.source);
    this.parser = p;
    this.hooks = p as unknown as SaxesHandlerFields;
    p.on('text', this.onText);
    p.on('cdata', this.onText);
    this.stopCapture();
    // No 'error' handler on purpose: with one registered, V8 stops inlining saxes' hot scanning paths and the
    // whole parse runs ~3x slower (measured: 14k vs 44k entries/s of ~1.2 KB). saxes then throws from write(),
    // and parse() turns its errors into SdataErrors.
    p.on('xmldecl', (d: XMLDecl) => {
      this.xmlVersion = d.version;
      const enc = d.encoding?.toLowerCase();
      if (enc !== undefined && enc !== 'utf-8' && enc !== 'utf8' && enc !== 'us-ascii' && enc !== 'ascii') {
        throw this.fail('SDATA_E_ENCODING', `declared encoding '${d.encoding}' is not supported (only UTF-8)`);
      }
    });
    p.on('doctype', () => {
      throw this.fail('SDATA_E_DOCTYPE', 'DOCTYPE declarations are refused: entities are never expanded');
    });
    p.on('opentag', this.onOpenTag);
    p.on('closetag', this.onCloseTag);
  }

  /**
   * Reads a new piece with the same parser (FeedReaderOptions.continuation/byteOffset as given, the rest unchanged):
   * a thread that reads many pieces keeps one reader, so V8 keeps one set of optimised code and call-site feedback
   * for saxes and our handlers instead of re-optimising for every new parser (measured: 8× the compilations).
   */
  restart(opts: Pick<FeedReaderOptions, 'continuation' | 'byteOffset'>): void {
    (this.parser as unknown as { _init(): void })._init(); // saxes 6 (pinned): what close() does, minus the checks
    this.decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: opts.continuation === true });
    this.byteOffset = opts.byteOffset ?? 0;
    this.cur = '';
    this.curStart = this.nextStart = this.tailStart = 0;
    this.tail = '';
    this.parts = [];
    this.partsChars = this.bytesIn = this.depth = 0;
    this.sawRoot = this.ended = false;
    this.endLine = this.endColumn = 0;
    this.xmlVersion = this.rootTag = this.entryName = undefined;
    this.entryEnd = -1;
    this.head = { syncMode: undefined, digest: undefined, bindings: EMPTY, links: [], atomId: undefined, totalResults: undefined };
    this.headSent = opts.continuation === true;
    this.links = [];
    this.digestBuilder = undefined;
    this.digestDepth = 0;
    this.inEntry = this.overflow = this.inState = this.inPayload = false;
    this.entryCount = this.entryStart = 0;
    this.rec = undefined;
    this.stTick = undefined;
    this.hooks.openTagHandler = this.onOpenTag;
    this.hooks.closeTagHandler = this.onCloseTag;
    this.stopCapture();
  }

  get bytesRead(): number {
    return this.bytesIn;
  }

  /** Feed-level links read so far (the tail reports them all too). */
  get linksSeen(): readonly FeedLink[] {
    return this.links;
  }

  /** Line and column saxes has reached (after the last character pushed). */
  get line(): number {
    return this.parser.line;
  }
  get column(): number {
    return this.parser.column;
  }

  /** How a reader with `continuation` can take the document over after an entry; undefined before the first entry. */
  get resumePoint(): ResumePoint | undefined {
    if (this.rootTag === undefined || this.entryName === undefined) return undefined;
    const decl = this.xmlVersion !== undefined && this.xmlVersion !== '1.0' ? `<?xml version="${this.xmlVersion}"?>` : '';
    const primer = decl + this.rootTag.replace(/[\t\n\r]/g, ' ');
    let primerColumns = 0;
    for (const _ of primer) primerColumns++;
    return { primer, primerColumns, entryName: this.entryName, bindings: this.head.bindings };
  }

  /**
   * True when everything pushed so far ends exactly after an entry's end tag, directly inside the root: the one
   * state a reader resumed from ResumePoint.primer starts in, so the rest of the document may be read elsewhere.
   */
  atBoundary(): boolean {
    // saxes is in its text state after any end tag (13 = S_TEXT in saxes 6, pinned); the other tests say which one.
    // (saxes' `position` is only right inside its handlers: after write() it counts the last chunk twice.)
    return this.headSent && !this.inEntry && this.depth === 1 && this.cap === Cap.None && this.digestBuilder === undefined
      && this.entryEnd === this.nextStart && (this.parser as unknown as { state: number }).state === 13;
  }

  /** Characters currently held (one partial tag outside entries, the current entry inside one). */
  get bufferedChars(): number {
    return this.tail.length + this.partsChars;
  }

  push(bytes: Uint8Array): void {
    if (this.bytesIn === 0 && bytes.length >= 2) {
      const b0 = bytes[0], b1 = bytes[1];
      if ((b0 === 0xfe && b1 === 0xff) || (b0 === 0xff && b1 === 0xfe)) {
        throw this.fail('SDATA_E_ENCODING', 'input is UTF-16; only UTF-8 is supported');
      }
    }
    let text: string;
    try {
      text = this.decoder.decode(bytes, { stream: true });
    } catch (e) {
      const at = this.byteOffset + this.bytesIn;
      throw this.fail('SDATA_E_ENCODING', `invalid UTF-8 within bytes ${at}..${at + bytes.length}`, e);
    }
    this.bytesIn += bytes.length;
    if (text.length > 0) this.pushText(text);
  }

  /** Text entry point (tests, already-decoded input). */
  pushText(text: string): void {
    this.cur = text;
    this.curStart = this.nextStart;
    this.nextStart += text.length;
    this.parse(text);
    this.retain();
  }

  end(): void {
    if (this.ended) return;
    let rest: string;
    try {
      rest = this.decoder.decode();
    } catch (e) {
      throw this.fail('SDATA_E_ENCODING', `input ends inside a UTF-8 sequence (byte ${this.byteOffset + this.bytesIn})`, e);
    }
    if (rest) this.pushText(rest);
    if (!this.sawRoot) throw this.fail('SDATA_E_NOT_SYNC_FEED', 'empty document: no root element');
    // saxes resets its position on close; messages about the head must still say where the document ended.
    this.endLine = this.parser.line;
    this.endColumn = this.parser.column;
    this.parse(null);
    this.ended = true;
    if (!this.headSent) this.sendHead();
    let next: string | undefined;
    for (const l of this.links) if (l.rel === 'next') next = l.href;
    this.handler.end({ links: this.links, next, entries: this.entryCount });
  }

  /** After each chunk: keep what the current entry, or an unfinished start tag, will need. */
  private retain(): void {
    const cur = this.cur;
    if (this.inEntry && !this.overflow) {
      const piece = this.entryStart > this.curStart ? cur.slice(this.entryStart - this.curStart) : cur;
      this.parts.push(piece);
      this.partsChars += piece.length;
      // Characters never exceed UTF-8 bytes, so this test can only under-count: the exact check is at the end tag.
      if (this.partsChars > this.maxEntryBytes) {
        this.overflow = true;
        this.parts = [];
        this.partsChars = 0;
      }
      return;
    }
    // Outside an entry only a start tag in progress matters, and it begins at the last '<' (tags contain none).
    const idx = cur.lastIndexOf('<');
    if (idx >= 0) {
      this.tail = idx === 0 ? cur : cur.slice(idx);
      this.tailStart = this.curStart + idx;
    } else if (this.tail.length + cur.length <= this.maxEntryBytes) {
      this.tail += cur;
    } else {
      // A start tag this long makes its entry invalid anyway (see startEntry); stay bounded.
      this.tail = '';
      this.tailStart = this.nextStart;
    }
  }

  /** Global position of the last '<' before global position `pos`, or -1 when it is no longer held. */
  private ltBefore(pos: number): number {
    const rel = pos - 1 - this.curStart;
    if (rel >= 0) {
      const i = this.cur.lastIndexOf('<', rel);
      if (i >= 0) return this.curStart + i;
    }
    if (this.inEntry) {
      let end = this.curStart;
      for (let k = this.parts.length - 1; k >= 0; k--) {
        const part = this.parts[k]!;
        end -= part.length;
        const i = part.lastIndexOf('<');
        if (i >= 0) return end + i;
      }
      return -1;
    }
    const i = this.tail.lastIndexOf('<');
    return i >= 0 ? this.tailStart + i : -1;
  }

  /** Held text between two global positions, outside entries (the start tag being read may straddle chunks). */
  private heldText(from: number, to: number): string {
    const cs = this.curStart;
    if (from >= cs) return this.cur.slice(from - cs, to - cs);
    return this.tail.slice(from - this.tailStart) + this.cur.slice(0, to - cs);
  }

  /** Feeds saxes (null = close). Its well-formedness errors carry our source name as fileName prefix. */
  private parse(text: string | null): void {
    drive(this.parser, text, this.source, this.malformed);
  }

  private readonly malformed = (message: string, cause: Error): Error => this.fail('SDATA_E_MALFORMED', `not well-formed XML: ${message}`, cause);

  private fail(code: SdataErrorCode, message: string, cause?: unknown): SdataError {
    const line = this.ended || this.endLine > 0 ? this.endLine : this.parser.line;
    const column = this.ended || this.endLine > 0 ? this.endColumn : this.parser.column;
    return new SdataError(code, `${this.source}:${line}:${column}: ${message}`, { source: this.source, line, column, cause });
  }

  private sendHead(): void {
    this.headSent = true;
    this.head.links = this.links.slice();
    if (this.requireSyncHead) {
      if (this.head.syncMode === undefined) throw this.fail('SDATA_E_NOT_SYNC_FEED', 'not a sync feed: no sync:syncMode before the first entry');
      if (this.head.digest === undefined) throw this.fail('SDATA_E_NOT_SYNC_FEED', 'not a sync feed: no sync:digest before the first entry');
    }
    this.handler.head(this.head);
  }

  private capture(kind: Cap): void {
    this.cap = kind;
    this.capDepth = this.depth;
    if (this.inEntry) {
      // Inside entries the text is held anyway: cut it out at the end tag (rawToText) instead of making saxes
      // collect it, which keeps saxes' text handling off for the whole entry.
      this.capStart = this.parser.position;
      return;
    }
    this.capText = '';
    // Outside entries (feed head), the handler is switched on and off around the few elements we read. Direct
    // field writes, because `on()` is a computed-key store (saxes 6 keeps handlers in these fields; pinned).
    this.hooks.textHandler = this.onText;
    this.hooks.cdataHandler = this.onText;
  }

  /** The text of the element being captured inside an entry, from the retained source text. */
  private rawCapture(nameLength: number): string {
    if (this.overflow) return '';
    const start = this.capStart;
    const pos = this.parser.position;
    // An end tag written `</name>` starts name+3 characters back: check that spot instead of searching for '<'.
    // Anywhere else inside an end tag there is no '<', so a hit is exact; otherwise (white space before '>', a
    // self-closing element, a chunk boundary) search as before.
    let end = pos - nameLength - 3;
    const rel = end - this.curStart;
    if (!(rel >= 0 && this.cur.charCodeAt(rel) === 60 && this.cur.charCodeAt(rel + 1) === 47)) end = this.ltBefore(pos);
    if (end <= start) return '';
    const cs = this.curStart;
    if (start >= cs) return rawToText(this.cur.slice(start - cs, end - cs));
    const all = this.parts.join('') + this.cur;
    return rawToText(all.slice(start - this.entryStart, end - this.entryStart));
  }

  private readonly onText = (t: string): void => {
    if (this.cap === Cap.Digest) this.digestBuilder!.addText(t);
    else this.capText += t;
  };

  private onOpen(tag: SaxesTagNS): void {
    const d = this.depth++;
    if (d === 0) {
      this.sawRoot = true;
      if (tag.local !== 'feed' || tag.uri !== NS.atom) {
        throw this.fail('SDATA_E_NOT_SYNC_FEED', `not a sync feed: root element is <${tag.name}>${tag.uri ? ` in namespace ${tag.uri}` : ''}, expected atom:feed`);
      }
      this.head.bindings = tag.ns ?? EMPTY;
      const lt = this.ltBefore(this.parser.position);
      if (lt >= 0) this.rootTag = this.heldText(lt, this.parser.position);
      return;
    }
    if (this.inEntry) {
      this.openInEntry(tag, d);
      return;
    }
    if (this.digestBuilder) {
      if (tag.uri === NS.sync) {
        this.digestBuilder.begin(tag.local);
        if (this.cap === Cap.None) this.capture(Cap.Digest);
      }
      return;
    }
    if (d !== 1) return;
    const { uri, local } = tag;
    if (uri === NS.atom) {
      if (local === 'entry') {
        this.startEntry(tag);
      } else if (local === 'link') {
        const rel = tag.attributes['rel']?.value ?? 'alternate';
        const href = tag.attributes['href']?.value;
        // A URL holds no raw white space; the spec's own example wraps one across lines (brief §6 A32).
        if (href !== undefined) this.links.push({ rel: rel.trim(), href: href.replace(/\s+/g, '') });
      } else if (local === 'id') {
        this.capture(Cap.FeedId);
      }
    } else if (uri === NS.sync) {
      if (local === 'syncMode' || local === 'digest') {
        if (this.headSent) throw this.fail('SDATA_E_NOT_SYNC_FEED', `sync:${local} after the first entry is not supported (a streaming reader must know it first)`);
        if (local === 'digest') {
          this.digestBuilder = new DigestBuilder(`${this.source}: sync:digest`);
          this.digestDepth = this.depth;
        } else this.capture(Cap.SyncMode);
      }
    } else if (uri === NS.opensearch && local === 'totalResults') {
      this.capture(Cap.Total);
    }
  }

  private startEntry(tag: SaxesTagNS): void {
    if (!this.headSent) this.sendHead();
    this.entryName ??= tag.name;
    const lt = this.ltBefore(this.parser.position);
    this.inEntry = true;
    this.parts = [];
    this.partsChars = 0;
    this.overflow = lt < 0;
    this.entryStart = lt;
    if (lt >= 0 && lt < this.curStart) {
      // The start tag straddles chunks: its beginning is in the tail.
      const piece = this.tail.slice(lt - this.tailStart);
      this.parts.push(piece);
      this.partsChars = piece.length;
    }
    this.inState = false;
    this.inPayload = false;
    this.stTick = undefined;
    const own = tag.ns;
    let ownDecls = NO_DECLS;
    if (own) for (const _ in own) {
      ownDecls = Object.keys(own);
      break;
    }
    this.rec = {
      index: this.entryCount++,
      line: this.parser.line,
      column: this.parser.column,
      atomId: undefined,
      uuid: undefined,
      isDeleted: false,
      state: undefined,
      httpMethod: undefined,
      ifMatch: undefined,
      text: undefined,
      nameEnd: 1 + tag.name.length,
      ownDecls,
      resourceStart: -1,
      resourceNameEnd: -1,
      resourceEnd: -1,
      scopes: ownDecls === NO_DECLS ? [this.head.bindings] : [this.head.bindings, own!],
      resourceOwnDecls: NO_DECLS,
      resourceLocal: undefined,
      resourceUri: undefined,
      invalid: undefined,
    };
  }

  // The URI strings saxes hands out are the same objects for every element of one scope, equal in content to NS.*
  // but not identical to it: remember the object that matched last, so the next test is a pointer compare.
  private syncUri = '';
  private sdataUri = '';
  private isSync(u: string): boolean {
    if (u === this.syncUri) return true;
    if (u !== NS.sync) return false;
    this.syncUri = u;
    return true;
  }
  private isSdata(u: string): boolean {
    if (u === this.sdataUri) return true;
    if (u !== NS.sdata) return false;
    this.sdataUri = u;
    return true;
  }

  private openInEntry(tag: SaxesTagNS, d: number): void {
    const rec = this.rec!;
    // Local names first: they are short, while namespace URIs are long strings that are equal in content but not
    // identical objects, so each URI comparison is a character compare. Test a URI only once the name matched.
    if (d === 2) {
      const local = tag.local;
      if (local === 'syncState') {
        if (this.isSync(tag.uri)) {
          this.inState = true;
          rec.state = { endpoint: '', tick: '', stamp: '' };
        }
      } else if (local === 'payload') {
        if (this.isSdata(tag.uri)) {
          this.inPayload = true;
          // Fallback only (brief §6 A19): the resource element's own uuid wins. By namespace, whatever the prefix.
          if (rec.uuid === undefined) {
            const attrs = tag.attributes;
            for (const k in attrs) {
              const a = attrs[k]!;
              if (a.local === 'uuid' && this.isSdata(a.uri)) rec.uuid = a.value.trim();
            }
          }
          const ns = tag.ns;
          if (ns) for (const _ in ns) {
            rec.scopes = [...rec.scopes, ns];
            break;
          }
        }
      } else if (local === 'id') {
        if (tag.uri === NS.atom) this.capture(Cap.EntryId);
      } else if (local === 'httpMethod') {
        if (tag.uri === NS.http) this.capture(Cap.HttpMethod);
      } else if (local === 'ifMatch') {
        if (tag.uri === NS.http) this.capture(Cap.IfMatch);
      }
    } else if (d === 3) {
      if (this.inState) {
        const l = tag.local;
        if (l === 'endpoint') {
          if (this.isSync(tag.uri)) this.capture(Cap.StEndpoint);
        } else if (l === 'tick') {
          if (this.isSync(tag.uri)) this.capture(Cap.StTick);
        } else if (l === 'stamp') {
          if (this.isSync(tag.uri)) this.capture(Cap.StStamp);
        } else if (l === 'user') {
          if (this.isSync(tag.uri)) this.capture(Cap.StUser);
        }
      } else if (this.inPayload && rec.resourceStart < 0) {
        this.openResource(tag, rec);
      }
    }
  }


  private openResource(tag: SaxesTagNS, rec: EntryRecord): void {
    if (!this.overflow) {
      const lt = this.ltBefore(this.parser.position);
      rec.resourceStart = lt - this.entryStart;
      rec.resourceNameEnd = rec.resourceStart + 1 + tag.name.length;
    }
    rec.resourceLocal = tag.local;
    rec.resourceUri = tag.uri;
    const own = tag.ns;
    if (own) for (const _ in own) {
      rec.resourceOwnDecls = Object.keys(own);
      break;
    }
    const attrs = tag.attributes;
    for (const k in attrs) {
      const a = attrs[k]!;
      if (a.local === 'uuid' && this.isSdata(a.uri)) rec.uuid = a.value.trim();
      else if (a.local === 'isDeleted' && (this.isSdata(a.uri) || this.isSync(a.uri))) {
        const v = a.value.trim();
        rec.isDeleted = v === 'true' || v === '1';
      }
    }
    // Nothing inside the resource matters to us (saxes still checks it is well-formed), and it is most of the
    // bytes: stop taking open events and only watch for the resource's own end tag.
    this.hooks.openTagHandler = undefined;
    this.hooks.closeTagHandler = this.onCloseInResource;
  }

  private readonly onOpenTag = (tag: SaxesTagNS): void => this.onOpen(tag);
  private readonly onCloseTag = (tag: SaxesTagNS): void => this.onClose(tag);
  private readonly onCloseInResource = (tag: SaxesTagNS): void => {
    // feed, entry, payload remain open once the resource element itself has closed.
    if (this.hooks.tags.length !== 3) return;
    this.hooks.openTagHandler = this.onOpenTag;
    this.hooks.closeTagHandler = this.onCloseTag;
    this.onClose(tag);
  };

  private onClose(tag: SaxesTagNS): void {
    const d = --this.depth;
    if (this.cap !== Cap.None && d === this.capDepth - 1) this.endCapture(tag.name.length);
    if (this.digestBuilder) {
      if (d === this.digestDepth - 1) {
        this.head.digest = this.digestBuilder.finish();
        this.digestBuilder = undefined;
        if (this.cap === Cap.Digest) this.stopCapture();
      } else if (tag.uri === NS.sync) {
        this.digestBuilder.end(tag.local);
      }
      return;
    }
    if (!this.inEntry) return;
    if (d === 1) this.finishEntry();
    else if (d === 2) {
      if (this.inState) this.closeState();
      this.inPayload = false;
    } else if (d === 3 && this.inPayload && this.rec!.resourceEnd < 0 && this.rec!.resourceStart >= 0) {
      this.rec!.resourceEnd = this.parser.position - this.entryStart;
    }
  }

  private stopCapture(): void {
    this.cap = Cap.None;
    this.capDepth = -1;
    this.hooks.textHandler = undefined;
    this.hooks.cdataHandler = undefined;
  }

  private endCapture(nameLength: number): void {
    const t = this.inEntry ? this.rawCapture(nameLength) : this.capText;
    const rec = this.rec;
    switch (this.cap) {
      case Cap.FeedId: this.head.atomId = t.trim(); break;
      case Cap.SyncMode: {
        const m = parseSyncMode(t);
        if (m === undefined) throw this.fail('SDATA_E_NOT_SYNC_FEED', `sync:syncMode '${t.trim()}' is neither catchUp nor immediate`);
        this.head.syncMode = m;
        break;
      }
      case Cap.Total: {
        const n = Number(t.trim());
        if (Number.isSafeInteger(n) && n >= 0) this.head.totalResults = n;
        break;
      }
      case Cap.EntryId: rec!.atomId = t.trim(); break;
      case Cap.StEndpoint: rec!.state!.endpoint = t.trim(); break;
      case Cap.StTick: this.stTick = t; break;
      case Cap.StStamp: rec!.state!.stamp = t.trim(); break;
      case Cap.StUser: rec!.state!.user = t.trim(); break;
      case Cap.HttpMethod: rec!.httpMethod = t.trim().toUpperCase(); break;
      case Cap.IfMatch: rec!.ifMatch = t.trim(); break;
      case Cap.Digest: return; // digest text capture ends with the digest element
      default: break;
    }
    this.stopCapture();
  }

  private closeState(): void {
    this.inState = false;
    const rec = this.rec!;
    const st = rec.state!;
    if (this.stTick === undefined) {
      rec.invalid ??= 'sync:syncState has no sync:tick';
    } else {
      const t = parseTick(this.stTick);
      if (t === undefined) rec.invalid ??= `sync:tick '${this.stTick.trim()}' is not a non-negative integer`;
      else st.tick = t;
    }
    if (!st.endpoint) rec.invalid ??= 'sync:syncState has no sync:endpoint';
  }

  private finishEntry(): void {
    const rec = this.rec!;
    this.rec = undefined;
    this.inEntry = false;
    if (this.overflow) {
      rec.invalid = `entry is larger than the ${this.maxEntryBytes}-byte limit (--max-entry-bytes)`;
      rec.resourceStart = rec.resourceEnd = rec.resourceNameEnd = -1;
    } else {
      const end = this.parser.position - this.curStart;
      const text = this.parts.length === 0
        ? this.cur.slice(this.entryStart - this.curStart, end)
        : this.parts.join('') + this.cur.slice(0, end);
      if (text.length * 3 > this.maxEntryBytes && Buffer.byteLength(text) > this.maxEntryBytes) {
        rec.invalid = `entry is larger than the ${this.maxEntryBytes}-byte limit (--max-entry-bytes)`;
        rec.resourceStart = rec.resourceEnd = rec.resourceNameEnd = -1;
      } else {
        rec.text = text;
      }
    }
    if (rec.invalid === undefined) {
      if (rec.state === undefined) rec.invalid = 'no sync:syncState';
      else if (rec.uuid === undefined || rec.uuid === '') rec.invalid = 'no sdata:uuid on the payload resource';
    }
    this.overflow = false;
    this.parts = [];
    this.partsChars = 0;
    this.entryEnd = this.parser.position;
    this.handler.entry(rec);
  }
}

/** The namespace bindings a resource element inherits (some may be re-declared by its `resourceOwnDecls`). */
export function resourceScope(rec: EntryRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const sc of rec.scopes) for (const k in sc) out[k] = sc[k]!;
  return out;
}
