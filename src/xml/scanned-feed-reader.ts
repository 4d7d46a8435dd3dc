import { SdataError } from '../protocol/errors.ts';
import { FeedReader } from './feed-reader.ts';
import type { EntryRecord, FeedHandler, FeedHead, FeedLink, FeedReaderOptions, FeedTail, ResumePoint } from './feed-types.ts';
import { DEFAULT_MAX_ENTRY_BYTES, MAX_FEED_LINKS, resolveLimits } from './limits.ts';
import { RecordScanner } from './record-scanner.ts';

/** Bytes gathered before a piece is cut (at the last entry end tag in them) and scanned (ScannedFeedReader's default). */
const PIECE_BYTES = 64 * 1024;
/** Bytes the FeedReader is given at a time before it has met the first entry (ScannedFeedReader.read). */
const LEARN_BYTES = 4 * 1024;

/** Where a continuation reader began, in the document: its line 1 starts at `column`, after `primer` characters. */
interface Origin {
  line: number;
  column: number;
  primer: number;
  entries: number;
}

/**
 * A FeedReader for whoever needs every entry's record in one pass over a streamed document (the target provider
 * applying a posted page), reading most of it with a byte scanner: the FeedReader reads the head and the first
 * entries; once it stands right after an entry's end tag (FeedReader.atBoundary), the bytes that follow are gathered
 * into pieces that end after an entry end tag and scanned by a RecordScanner, which makes the same records the
 * FeedReader would (docs/decisions/0025-target-piece-scanner.md). A piece the scanner does not handle exactly
 * (anything odd, an invalid entry, an error) is read by the FeedReader resumed after the last entry scanned
 * (FeedReaderOptions.continuation), on to the next entry end where it stands clean, and the end of the document too:
 * its records, errors and line:column are translated into the document's, so the handler sees what a FeedReader over
 * the whole document reports (test/xml/scanned-feed-reader.test.ts compares them; the saxes reader is the oracle).
 *
 * Memory: one piece (~64 KiB; a piece without an entry end is handed to the FeedReader at 4× that).
 */
export class ScannedFeedReader {
  /** Pieces scanned, and pieces (or stretches) read by the FeedReader: counters for tests and benches. */
  readonly counts = { scanned: 0, read: 0 };
  private readonly reader: FeedReader;
  private readonly relay: Relay;
  private readonly scanner: RecordScanner;
  private resume: ResumePoint | undefined;
  private pattern: Buffer | undefined;
  private scanning = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Document bytes before `pending` (scanning) or pushed so far (reading). */
  private offset = 0;
  /** The document's line and column where `pending` begins (scanning). */
  private readonly at = { line: 1, column: 0 };
  private readonly pieceBytes: number;

  /** `pieceBytes`: see PIECE_BYTES (tests cut small pieces). */
  constructor(handler: FeedHandler, opts: FeedReaderOptions = {}, pieceBytes = PIECE_BYTES) {
    this.pieceBytes = pieceBytes;
    this.relay = new Relay(handler, opts.source ?? '<input>');
    this.reader = new FeedReader(this.relay, opts);
    this.scanner = new RecordScanner(resolveLimits(opts.limits), opts.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES, opts.textBytes === true, opts.resourceBytes === true,
      opts.listWork === true);
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const chunk = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    if (!this.scanning) {
      this.read(chunk);
      return;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= this.pieceBytes) this.scanPending(false);
  }

  /**
   * Reads every entry whose bytes have all been pushed. The target calls it before each commit, so that what a
   * transaction commits is every entry received before it, as with the FeedReader, which reads entries as their end
   * tags come: the scanner otherwise waits for a piece's worth of bytes.
   */
  settle(): void {
    if (this.scanning && this.pendingBytes > 0) this.scanPending(false);
  }

  end(): void {
    if (this.scanning) {
      this.scanPending(true);
      // What is left (the feed's end) is the FeedReader's, from the last entry (scanPending may have handed it over).
      if (this.scanning) this.fallBack(this.takePending());
    }
    this.guard(() => this.reader.end());
  }

  /** The FeedReader reads `chunk`, and gives way to the scanner after the first entry end tag where it stands clean. */
  private read(chunk: Buffer): void {
    let from = 0;
    while (from < chunk.length) {
      const p = this.pattern ?? this.learnPattern();
      if (p === undefined) {
        // The entry's end tag is known once the reader has met an entry's start: until then it gets the bytes a few
        // KiB at a time, so that it hands over after the first entry, not after the whole chunk (a request's first
        // chunk is 64 KiB: ~40 of the engine's entries read by saxes at several times the scanner's cost).
        const cut = Math.min(chunk.length, from + LEARN_BYTES);
        this.readerPush(chunk.subarray(from, cut));
        from = cut;
        continue;
      }
      const idx = chunk.indexOf(p, from);
      const cut = idx < 0 ? chunk.length : idx + p.length;
      this.readerPush(chunk.subarray(from, cut));
      from = cut;
      if (idx >= 0 && this.reader.atBoundary()) {
        this.startScanning();
        if (from < chunk.length) this.push(chunk.subarray(from));
        return;
      }
    }
  }

  private learnPattern(): Buffer | undefined {
    const rp = this.reader.resumePoint;
    if (rp === undefined) return undefined;
    this.resume ??= rp;
    this.pattern = Buffer.from(`</${rp.entryName}>`, 'utf8');
    return this.pattern;
  }

  private readerPush(bytes: Buffer): void {
    this.guard(() => this.reader.push(bytes));
    this.offset += bytes.length;
  }

  private startScanning(): void {
    const [line, column] = this.relay.translate(this.reader.line, this.reader.column);
    this.at.line = line;
    this.at.column = column;
    this.relay.keepLinks(this.reader.linksSeen);
    // Let go of the reader's last text now (FeedReader.restart), not at the next fall-back.
    this.reader.restart({});
    this.scanning = true;
    this.counts.read++;
  }

  /** Scans the pending bytes up to their last entry end tag, if any (`all`: however few they are). */
  private scanPending(all: boolean): void {
    const buf = this.takePending();
    const p = this.pattern!;
    const idx = buf.lastIndexOf(p);
    if (idx < 0) {
      if (buf.length >= 4 * this.pieceBytes && !all) {
        this.fallBack(buf);
        return;
      }
      this.keep(buf);
      return;
    }
    const cut = idx + p.length;
    const at = { line: this.at.line, column: this.at.column };
    const why = this.scanner.scanRecords(buf.subarray(0, cut), this.resume!, at, this.relay.entries);
    if (why !== undefined) {
      this.scanner.release();
      this.fallBack(buf);
      return;
    }
    this.counts.scanned++;
    const { records, resourceBytes } = this.scanner;
    try {
      for (let k = 0; k < records.length; k++) this.relay.scanned(records[k]!, resourceBytes[k]);
    } finally {
      this.scanner.release();
    }
    this.at.line = at.line;
    this.at.column = at.column;
    this.offset += cut;
    this.keep(buf.subarray(cut));
  }

  /** The FeedReader reads `buf` whole (it starts right after an entry), then looks for a place to scan again. */
  private fallBack(buf: Buffer): void {
    this.scanning = false;
    this.relay.origin = { line: this.at.line, column: this.at.column, primer: this.resume!.primerColumns, entries: this.relay.entries };
    this.reader.restart({ continuation: true, byteOffset: this.offset });
    this.guard(() => this.reader.pushText(this.resume!.primer));
    if (buf.length > 0) this.readerPush(buf);
  }

  private takePending(): Buffer {
    const p = this.pending;
    const b = p.length === 1 ? p[0]! : Buffer.concat(p, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return b;
  }

  private keep(rest: Buffer): void {
    if (rest.length === 0) return;
    this.pending.push(rest);
    this.pendingBytes = rest.length;
  }

  /** Runs a FeedReader call; its errors (not the handler's) get the document's line and column. */
  private guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      throw this.relay.documentError(e);
    }
  }
}

/**
 * The handler between the readers and the caller's: entries numbered and placed in the document, one head, and one
 * tail with every feed-level link of the document.
 */
class Relay implements FeedHandler {
  private readonly handler: FeedHandler;
  /** Undefined while the FeedReader reads from the document's start. */
  origin: Origin | undefined;
  entries = 0;
  private readonly links: FeedLink[] = [];
  private readonly fromHandler = new WeakSet<object>();
  private readonly source: string;

  constructor(handler: FeedHandler, source: string) {
    this.handler = handler;
    this.source = source;
  }

  /** A position of the FeedReader in the document's coordinates. */
  translate(line: number, column: number): [number, number] {
    const o = this.origin;
    if (o === undefined) return [line, column];
    return line === 1 ? [o.line, o.column + column - o.primer] : [o.line + line - 1, column];
  }

  /** Links a reader saw (each reader holds at most MAX_FEED_LINKS; so does the document). */
  keepLinks(links: readonly FeedLink[]): void {
    for (const l of links) this.links.push(l);
    if (this.links.length > MAX_FEED_LINKS) throw new SdataError('SDATA_E_LIMIT', `${this.source}: more than ${MAX_FEED_LINKS} feed-level atom:link elements`);
  }

  head(h: FeedHead): void {
    this.call(() => this.handler.head(h));
  }

  /** A record of the FeedReader: resumed after entry `origin.entries`, it counts and places entries from there. */
  entry(rec: EntryRecord): void {
    if (this.origin !== undefined) {
      rec.index += this.origin.entries;
      [rec.line, rec.column] = this.translate(rec.line, rec.column);
    }
    this.scanned(rec);
  }

  /** A record already in the document's coordinates (the scanner's, with its resource's bytes). */
  scanned(rec: EntryRecord, resourceBytes?: Uint8Array): void {
    this.entries++;
    try {
      this.handler.entry(rec, resourceBytes);
    } catch (e) {
      throw this.handlers(e);
    }
  }

  end(tail: FeedTail): void {
    this.keepLinks(tail.links);
    let next: string | undefined;
    for (const l of this.links) if (l.rel === 'next') next = l.href;
    this.call(() => this.handler.end({ links: this.links, next, entries: this.entries }));
  }

  private call(f: () => void): void {
    try {
      f();
    } catch (e) {
      throw this.handlers(e);
    }
  }

  /** Marks an error the handler threw, so that documentError leaves it as it is. */
  private handlers(e: unknown): unknown {
    if (typeof e === 'object' && e !== null) this.fromHandler.add(e);
    return e;
  }

  /** A FeedReader error at a position in the document (the handler's own errors pass unchanged). */
  documentError(e: unknown): unknown {
    if (!(e instanceof SdataError) || this.fromHandler.has(e) || this.origin === undefined) return e;
    const { line, column, source } = e.details;
    const prefix = `${source}:${line}:${column}: `;
    if (line === undefined || column === undefined || !e.message.startsWith(prefix)) return e;
    const [l, c] = this.translate(line, column);
    return new SdataError(e.code, `${source}:${l}:${c}: ${e.message.slice(prefix.length)}`, { ...e.details, line: l, column: c });
  }
}
