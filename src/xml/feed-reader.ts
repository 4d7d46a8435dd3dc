import type { SaxesTagNS, XMLDecl } from 'saxes';
import { SdataError, type SdataErrorCode } from '../protocol/errors.ts';
import { NS } from '../protocol/namespaces.ts';
import { parseSyncMode } from '../protocol/sync-state.ts';
import { SkippedText } from './digest-scanner.ts';
import { declarationRefusal, Utf8Stream } from './encoding.ts';
import type { BadReference } from './entities.ts';
import { closeEntry, closeSyncState, newEntryRecord, payloadOpened, resourceOpened } from './entry-record.ts';
import { feedLink, newFeedHead, resumePointAfter, syncHeadProblem, totalResults } from './feed-head.ts';
import type { EntryRecord, FeedHandler, FeedHead, FeedLink, FeedReaderOptions, ResumePoint } from './feed-types.ts';
import { FeedLimits, SLICE_BYTES } from './feed-limits.ts';
import { DigestElement } from './digest-element.ts';
import { DEFAULT_MAX_ENTRY_BYTES, MAX_FEED_LINKS, resolveLimits, type XmlLimits } from './limits.ts';
import { rawToText } from './raw-text.ts';
import { RetainedText } from './retained-text.ts';
import { createParser, drive, inTextState, openElements, restartParser, setTagHandlers, setTextHandler, UriMatch, type NsParser } from './saxes-adapter.ts';

// What the text handler is collecting (plain numbers: enums are not erasable syntax).
const Cap = {
  None: 0, FeedId: 1, SyncMode: 2, Total: 3, EntryId: 4, StEndpoint: 5, StTick: 6, StStamp: 7, StUser: 8,
  HttpMethod: 9, IfMatch: 10, Digest: 11,
} as const;
type Cap = (typeof Cap)[keyof typeof Cap];

/**
 * The streaming sync-feed reader. Push-based core (like csv-parse's): `push(bytes)` any number of times,
 * then `end()`; the handler is called synchronously with the head, each entry, and the tail.
 *
 * A state machine over saxes events: the feed head, then per entry the few elements the planner needs (id,
 * syncState, payload and its resource element), each entry forwarded as its exact source text (RetainedText).
 * Checks on what may appear where belong in onOpen/onClose, the one place each element outside entries passes
 * through; the limits (depth, names, attributes, text between entries) are FeedLimits', also checked between slices
 * of input (checkpoint()), where what saxes is still accumulating can be measured; the entry cap is RetainedText's.
 */
export class FeedReader {
  private readonly parser: NsParser;
  private readonly input: Utf8Stream;
  private readonly win: RetainedText;
  private readonly handler: FeedHandler;
  private readonly source: string;
  private readonly maxEntryBytes: number;
  private readonly requireSyncHead: boolean;
  private readonly limits: FeedLimits;
  private readonly xmlLimits: XmlLimits;
  private readonly digestScanner: boolean;
  /** Where the reader is in the document: saxes' line and column, past a head digest the scanner read instead. */
  private readonly at: SkippedText;
  /** Offset of the first pushed byte in the document (FeedReaderOptions.byteOffset). */
  private byteOffset = 0;
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
  private head: FeedHead = newFeedHead();
  private headSent = false;
  private links: FeedLink[] = [];
  /** The head's digest, read by the scanner or by saxes (xml/digest-element.ts). */
  private readonly headDigest: DigestElement;

  // text capture
  private cap: Cap = Cap.None;
  private capDepth = -1;
  private capText = '';
  private capStart = 0;

  // current entry
  private inEntry = false;
  private entryCount = 0;
  private rec: EntryRecord | undefined;
  private inState = false;
  private inPayload = false;
  private stTick: string | undefined;
  private readonly sync = new UriMatch(NS.sync);
  private readonly sdata = new UriMatch(NS.sdata);

  constructor(handler: FeedHandler, opts: FeedReaderOptions = {}) {
    this.handler = handler;
    this.source = opts.source ?? '<input>';
    this.maxEntryBytes = opts.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES;
    this.requireSyncHead = opts.requireSyncHead ?? true;
    this.digestScanner = opts.digestScanner ?? true;
    if (opts.continuation) this.headSent = true;
    this.byteOffset = opts.byteOffset ?? 0;
    this.input = new Utf8Stream((m, cause, atStart) => this.fail('SDATA_E_ENCODING', m, cause, atStart ? 1 : undefined, atStart ? 1 : undefined),
      opts.continuation === true, opts.byteOffset);
    this.win = new RetainedText(this.maxEntryBytes);
    const p = createParser(this.source);
    this.parser = p;
    this.at = new SkippedText(p);
    this.xmlLimits = resolveLimits(opts.limits);
    this.limits = new FeedLimits(p, this.win, this.xmlLimits, (code, m) => this.fail(code, m));
    this.headDigest = new DigestElement({
      readText: (t) => this.readText(t),
      checkpoint: () => this.checkpoint(),
      standsAfter: (end) => end === this.win.end && inTextState(p),
      limits: () => ({ maxText: this.xmlLimits.maxTextBetweenEntries, maxNameBytes: this.xmlLimits.maxNameBytes, depthLeft: this.xmlLimits.maxDepth - openElements(p) }),
      scanned: (d, content, written) => {
        this.at.skip(content);
        this.head.digest = d;
        if (written !== undefined) this.head.digestWritten = written;
      },
      // A one-page plan needs only the element as written; the engine compares the pages' digests.
      made: 'asked',
    }, this.source);
    this.stopCapture();
    // No 'error' handler on purpose (see saxes-adapter.ts): saxes then throws from write(), and parse() turns its
    // errors into SdataErrors.
    p.on('xmldecl', (d: XMLDecl) => {
      this.xmlVersion = d.version;
      if (d.encoding === undefined) return;
      const pos = this.parser.position;
      // The declaration is the document's first markup: its '<' is at 0, and its text is held (as any tag is).
      const r = declarationRefusal(this.win.ltBefore(pos) === 0 ? this.win.held(0, pos) : `<?xml encoding="${d.encoding}"?>`);
      if (r) throw this.fail('SDATA_E_ENCODING', r.message, undefined, r.line, r.column);
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
    restartParser(this.parser);
    this.input.reset(opts.continuation === true, opts.byteOffset);
    this.byteOffset = opts.byteOffset ?? 0;
    this.limits.reset();
    this.win.reset();
    this.depth = 0;
    this.sawRoot = this.ended = false;
    this.endLine = this.endColumn = 0;
    this.xmlVersion = this.rootTag = this.entryName = undefined;
    this.entryEnd = -1;
    this.head = newFeedHead();
    this.headSent = opts.continuation === true;
    this.links = [];
    this.headDigest.reset();
    this.at.reset();
    this.inEntry = this.inState = this.inPayload = false;
    this.entryCount = 0;
    this.rec = undefined;
    this.stTick = undefined;
    setTagHandlers(this.parser, this.onOpenTag, this.onCloseTag);
    this.stopCapture();
  }

  /** Head digests the scanner read (tests, benches). */
  get digestsScanned(): number {
    return this.headDigest.count;
  }

  get bytesRead(): number {
    return this.input.bytes;
  }

  /** Feed-level links read so far (the tail reports them all too). */
  get linksSeen(): readonly FeedLink[] {
    return this.links;
  }

  /** Line and column saxes has reached (after the last character pushed). */
  get line(): number {
    return this.at.line;
  }
  get column(): number {
    return this.at.column;
  }

  /** How a reader with `continuation` can take the document over after an entry; undefined before the first entry. */
  get resumePoint(): ResumePoint | undefined {
    if (this.rootTag === undefined || this.entryName === undefined) return undefined;
    return resumePointAfter(this.xmlVersion, this.rootTag, this.entryName, this.head.bindings);
  }

  /**
   * True when everything pushed so far ends exactly after an entry's end tag, directly inside the root: the one
   * state a reader resumed from ResumePoint.primer starts in, so the rest of the document may be read elsewhere.
   */
  atBoundary(): boolean {
    // The parser is between markup after any end tag; the other tests say which one.
    return this.headSent && !this.inEntry && this.depth === 1 && this.cap === Cap.None && !this.headDigest.reading
      && this.entryEnd === this.win.end && inTextState(this.parser);
  }

  /** Characters currently held (one partial tag outside entries, the current entry inside one). */
  get bufferedChars(): number {
    return this.win.chars;
  }

  push(bytes: Uint8Array): void {
    const n = bytes.length;
    for (let i = 0; i < n;) {
      // The next multiple of SLICE_BYTES in the document, or the chunk's end.
      const at = this.byteOffset + this.input.bytes;
      const j = Math.min(n, i + SLICE_BYTES - (at % SLICE_BYTES));
      const slice = i === 0 && j === n ? bytes : bytes.subarray(i, j);
      const text = this.input.decode(slice);
      if (text.length > 0) this.read(text, slice);
      if (this.input.invalid) throw this.invalidBytes(text);
      if ((at + j - i) % SLICE_BYTES === 0) this.checkpoint();
      i = j;
    }
  }

  /** Text entry point (tests, already-decoded input), read in slices of SLICE_BYTES characters. */
  pushText(text: string): void {
    for (let i = 0; i < text.length; i += SLICE_BYTES) {
      this.read(i === 0 && text.length <= SLICE_BYTES ? text : text.slice(i, i + SLICE_BYTES));
      this.checkpoint();
    }
  }

  /** `bytes`: what `text` was decoded from, when it was (the head digest's content can be read from them). */
  private read(text: string, bytes?: Uint8Array): void {
    if (this.headDigest.collecting) this.headDigest.collect(text, bytes);
    else if (this.headSent || this.headDigest.reading || this.at.skipped || !this.digestScanner) this.readText(text);
    else this.headDigest.read(text, bytes);
  }

  private readText(text: string): void {
    this.win.next(text);
    this.parse(text);
    this.win.retain();
  }

  /** Between two slices (FeedLimits; the entry cap is RetainedText's, after every chunk). */
  private checkpoint(): void {
    if (this.headDigest.collecting) {
      this.headDigest.checked();
      return;
    }
    // No handler of ours takes comments or PIs, nor CDATA but while the head's text is captured.
    this.limits.checkpoint(this.inEntry, this.inEntry || this.cap === Cap.None, this.headDigest.reading);
  }

  /** Input that is not UTF-8: refused at the first invalid byte, once the text before it has been read. */
  private invalidBytes(before: string): SdataError {
    // Where the invalid byte is needs everything before it read.
    this.headDigest.giveUp();
    const { message, cause } = this.input.invalid!;
    // saxes holds back a trailing CR until it sees what follows: the invalid byte starts the next line then.
    if (before.endsWith('\r')) return this.fail('SDATA_E_ENCODING', message, cause, this.at.line + 1, 1);
    return this.fail('SDATA_E_ENCODING', message, cause, this.at.line, this.at.column + 1);
  }

  end(): void {
    if (this.ended) return;
    const rest = this.input.end();
    if (rest) this.pushText(rest);
    // What came after the last slice's end (after the root, say) is checked like any slice.
    else this.checkpoint();
    // A digest that never ended: saxes reads it, and says what is wrong.
    this.headDigest.giveUp();
    if (!this.sawRoot) throw this.fail('SDATA_E_NOT_SYNC_FEED', 'empty document: no root element');
    // saxes resets its position on close; messages about the head must still say where the document ended.
    this.endLine = this.at.line;
    this.endColumn = this.at.column;
    this.parse(null);
    this.ended = true;
    if (!this.headSent) this.sendHead();
    let next: string | undefined;
    for (const l of this.links) if (l.rel === 'next') next = l.href;
    this.handler.end({ links: this.links, next, entries: this.entryCount });
  }

  /** Feeds saxes (null = close). Its well-formedness errors carry our source name as fileName prefix. */
  private parse(text: string | null): void {
    drive(this.parser, text, this.source, this.malformed);
  }

  private readonly malformed = (message: string, cause: Error): Error => this.fail('SDATA_E_MALFORMED', `not well-formed XML: ${message}`, cause);

  /** An error at the parser's position, or at the one given. */
  private fail(code: SdataErrorCode, message: string, cause?: unknown, atLine?: number, atColumn?: number): SdataError {
    const line = atLine ?? (this.ended || this.endLine > 0 ? this.endLine : this.at.line);
    const column = atColumn ?? (this.ended || this.endLine > 0 ? this.endColumn : this.at.column);
    return new SdataError(code, `${this.source}:${line}:${column}: ${message}`, { source: this.source, line, column, cause });
  }

  private sendHead(): void {
    this.headSent = true;
    this.head.links = this.links.slice();
    const problem = this.requireSyncHead ? syncHeadProblem(this.head) : undefined;
    if (problem !== undefined) throw this.fail('SDATA_E_NOT_SYNC_FEED', problem);
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
    // Outside entries (feed head), the handler is switched on and off around the few elements we read.
    setTextHandler(this.parser, this.onText);
  }

  /** The text of the element being captured inside an entry, from the retained source text. */
  private rawCapture(nameLength: number): string {
    const w = this.win;
    if (w.overflow) return '';
    const start = this.capStart;
    const pos = this.parser.position;
    // An end tag written `</name>` starts name+3 characters back: check that spot instead of searching for '<'.
    // Anywhere else inside an end tag there is no '<', so a hit is exact; otherwise (white space before '>', a
    // self-closing element, a chunk boundary) search as before.
    let end = pos - nameLength - 3;
    if (!w.endTagAt(end)) end = w.ltBefore(pos);
    if (end <= start) return '';
    return rawToText(w.inEntryText(start, end), this.badReference, this.xmlVersion === '1.1');
  }

  /** saxes has checked every reference already, with the same policy: this only keeps rawToText honest. */
  private readonly badReference: BadReference = (_offset, problem) => this.fail('SDATA_E_MALFORMED', `not well-formed XML: ${problem}`);

  private readonly onText = (t: string): void => {
    if (this.cap === Cap.Digest) this.headDigest.text(t);
    else this.limits.captured((this.capText += t).length);
  };

  private onOpen(tag: SaxesTagNS): void {
    if (!this.inEntry) this.limits.tagOutside();
    const d = this.depth++;
    if (d === 0) {
      this.sawRoot = true;
      if (tag.local !== 'feed' || tag.uri !== NS.atom) {
        throw this.fail('SDATA_E_NOT_SYNC_FEED', `not a sync feed: root element is <${tag.name}>${tag.uri ? ` in namespace ${tag.uri}` : ''}, expected atom:feed`);
      }
      if (tag.ns) this.head.bindings = tag.ns;
      const lt = this.win.ltBefore(this.parser.position);
      if (lt >= 0) this.rootTag = this.win.held(lt, this.parser.position);
      return;
    }
    if (this.inEntry) {
      this.openInEntry(tag, d);
      return;
    }
    if (this.headDigest.reading) {
      this.limits.digestAt(this.parser.position);
      if (this.headDigest.child(tag) && this.cap === Cap.None) this.capture(Cap.Digest);
      return;
    }
    if (d !== 1) return;
    const { uri, local } = tag;
    if (uri === NS.atom) {
      if (local === 'entry') {
        this.startEntry(tag);
      } else if (local === 'link') {
        const link = feedLink(tag);
        if (link) {
          if (this.links.length >= MAX_FEED_LINKS) throw this.fail('SDATA_E_LIMIT', `more than ${MAX_FEED_LINKS} feed-level atom:link elements`);
          this.links.push(link);
        }
      } else if (local === 'id') {
        this.capture(Cap.FeedId);
      }
    } else if (uri === NS.sync) {
      if (local === 'syncMode' || local === 'digest') {
        if (this.headSent) throw this.fail('SDATA_E_NOT_SYNC_FEED', `sync:${local} after the first entry is not supported (a streaming reader must know it first)`);
        if (local === 'digest') {
          this.headDigest.begin(tag.name, this.depth, this.parser.position, this.at);
          this.limits.digestBegins(this.parser.position);
        } else this.capture(Cap.SyncMode);
      }
    } else if (uri === NS.opensearch && local === 'totalResults') {
      this.capture(Cap.Total);
    }
  }

  private startEntry(tag: SaxesTagNS): void {
    if (!this.headSent) this.sendHead();
    this.entryName ??= tag.name;
    this.inEntry = true;
    this.win.beginEntry(this.win.ltBefore(this.parser.position));
    this.inState = false;
    this.inPayload = false;
    this.stTick = undefined;
    this.rec = newEntryRecord(this.entryCount++, this.at.line, this.at.column, tag, this.head.bindings);
  }

  private openInEntry(tag: SaxesTagNS, d: number): void {
    const rec = this.rec!;
    // Local names first: they are short, while namespace URIs are long strings that are equal in content but not
    // identical objects, so each URI comparison is a character compare. Test a URI only once the name matched.
    if (d === 2) {
      const local = tag.local;
      if (local === 'syncState') {
        if (this.sync.is(tag.uri)) {
          this.inState = true;
          rec.state = { endpoint: '', tick: '', stamp: '' };
        }
      } else if (local === 'payload') {
        if (this.sdata.is(tag.uri)) {
          this.inPayload = true;
          payloadOpened(rec, tag, this.sdata);
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
          if (this.sync.is(tag.uri)) this.capture(Cap.StEndpoint);
        } else if (l === 'tick') {
          if (this.sync.is(tag.uri)) this.capture(Cap.StTick);
        } else if (l === 'stamp') {
          if (this.sync.is(tag.uri)) this.capture(Cap.StStamp);
        } else if (l === 'user') {
          if (this.sync.is(tag.uri)) this.capture(Cap.StUser);
        }
      } else if (this.inPayload && rec.resourceStart < 0) {
        this.openResource(tag, rec);
      }
    }
  }

  private openResource(tag: SaxesTagNS, rec: EntryRecord): void {
    if (!this.win.overflow) {
      const lt = this.win.ltBefore(this.parser.position);
      rec.resourceStart = lt - this.win.entryStart;
      rec.resourceNameEnd = rec.resourceStart + 1 + tag.name.length;
    }
    resourceOpened(rec, tag, this.sdata, this.sync);
    // Nothing inside the resource matters to us (saxes still checks it is well-formed), and it is most of the
    // bytes: stop taking open events and only watch for the resource's own end tag.
    setTagHandlers(this.parser, undefined, this.onCloseInResource);
  }

  private readonly onOpenTag = (tag: SaxesTagNS): void => this.onOpen(tag);
  private readonly onCloseTag = (tag: SaxesTagNS): void => this.onClose(tag);
  private readonly onCloseInResource = (tag: SaxesTagNS): void => {
    // feed, entry, payload remain open once the resource element itself has closed.
    if (openElements(this.parser) !== 3) return;
    setTagHandlers(this.parser, this.onOpenTag, this.onCloseTag);
    this.onClose(tag);
  };

  private onClose(tag: SaxesTagNS): void {
    if (!this.inEntry) this.limits.tagOutside();
    const d = --this.depth;
    if (this.cap !== Cap.None && d === this.capDepth - 1) this.endCapture(tag.name.length);
    if (this.headDigest.reading) {
      const digest = this.headDigest.close(tag, d);
      if (digest) {
        this.head.digest = digest;
        if (this.cap === Cap.Digest) this.stopCapture();
      }
      return;
    }
    if (!this.inEntry) return;
    if (d === 1) this.finishEntry();
    else if (d === 2) {
      if (this.inState) {
        this.inState = false;
        closeSyncState(this.rec!, this.stTick);
      }
      this.inPayload = false;
    } else if (d === 3 && this.inPayload && this.rec!.resourceEnd < 0 && this.rec!.resourceStart >= 0) {
      this.rec!.resourceEnd = this.parser.position - this.win.entryStart;
    }
  }

  private stopCapture(): void {
    this.cap = Cap.None;
    this.capDepth = -1;
    setTextHandler(this.parser, undefined);
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
      case Cap.Total: this.head.totalResults = totalResults(t) ?? this.head.totalResults; break;
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

  private finishEntry(): void {
    const rec = this.rec!;
    this.rec = undefined;
    this.inEntry = false;
    closeEntry(rec, this.win.endEntry(this.parser.position), this.maxEntryBytes);
    this.entryEnd = this.parser.position;
    this.limits.entryEnded(this.entryEnd);
    this.handler.entry(rec);
  }
}
