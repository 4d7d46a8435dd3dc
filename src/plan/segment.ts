import { SdataError, type SdataErrorCode } from '../protocol/errors.ts';
import { FeedReader } from '../xml/feed-reader.ts';
import type { EntryRecord, FeedHandler, FeedHead, FeedLink, FeedTail, ResumePoint } from '../xml/feed-types.ts';
import { forwardText, pageDecls, type PageDecls } from '../xml/feed-writer.ts';
import type { XmlLimits } from '../xml/limits.ts';
import { PieceScanner } from '../xml/piece-scanner.ts';
import { Decider } from './decide.ts';
import type { InvalidEntry } from './planner.ts';
import { scannedBatch } from './scanned-batch.ts';

/**
 * One piece of a source document, read and decided on by whichever thread takes it (segmented planning: see
 * parallel.ts). Everything a piece reports is in its own coordinates (lines, columns, entry numbers from its
 * start); only the committer, which takes pieces in document order, knows where each began.
 */
export interface SegmentJob {
  source: string;
  bytes: Uint8Array;
  /** Offset of `bytes` in the document, for messages about bytes. */
  byteOffset: number;
  /** Undefined: the document's start. Otherwise the piece starts right after an entry (FeedReader continuation). */
  resume: (ResumePoint & { decls: PageDecls }) | undefined;
  /** The document's last piece: the reader is ended after it. */
  final: boolean;
  maxEntryBytes: number;
  /** Record the endpoint of every forwarded entry (the committer holds an endpoint back: Planner.needsEndpoints). */
  endpoints: boolean;
  limits: XmlLimits;
}

export const Kind = { Skip: 0, Forward: 1, Invalid: 2 } as const;

/** An invalid entry, in its piece's coordinates (the committer knows the source). */
export type InvalidAt = Omit<InvalidEntry, 'source'>;

export interface SegmentError {
  code: SdataErrorCode;
  /** The message after its `source:line:column: ` prefix (when it had one). */
  message: string;
  line: number | undefined;
  column: number | undefined;
  entryId: string | undefined;
  /** Found only when the reader was ended: the document stopped early (engine/ended-early.ts). */
  atEnd?: true;
}

/** What reading (part of) a piece produced, in the piece's coordinates. */
export interface SegmentBatch {
  /** The document head, when the piece is the document's start and the head was complete. */
  head: FeedHead | undefined;
  /** One Kind per entry, in order. */
  kinds: number[];
  /** UTF-8 of the forwarded entries as they go out (namespace re-declarations inserted), each followed by '\n'. */
  out: Uint8Array;
  /** Byte length of each forwarded entry in `out`, its '\n' included. */
  lens: number[];
  invalid: InvalidAt[];
  /**
   * Endpoints (as written) of forwarded entries `epsFrom`, `epsFrom + 1`, … (counted among forwarded entries). A
   * piece read with `endpoints` has them all (`epsFrom` 0); otherwise they start at its first invalid entry that
   * names an endpoint, since the committer holds that endpoint back from there (docs/protocol.md X3), and
   * `epsFrom` is the number of forwarded entries when none does.
   */
  eps: string[];
  epsFrom: number;
  /** Feed-level links seen in the piece. */
  links: FeedLink[];
  /** Where the reader stands after the piece (relative to the piece's start, primer included). */
  line: number;
  column: number;
  /** 'clean': ends right after an entry; 'open': needs the next piece to be read by the same reader; 'end'. */
  state: 'clean' | 'open' | 'end';
  /** Set on the document's start piece once it has seen an entry. */
  resume: ResumePoint | undefined;
  error: SegmentError | undefined;
  /** Read by the fast scanner (xml/piece-scanner.ts), not by the saxes reader: the same batch, for counters. */
  scanned?: boolean;
}

/**
 * Reader handler that decides each entry at once and keeps only what the committer needs: a kind per entry and the
 * UTF-8 of the forwarded ones (so a batch crosses threads as one transferable buffer).
 */
export class SegmentCollector implements FeedHandler {
  private readonly decider: Decider;
  private decls: PageDecls;
  private kinds: number[] = [];
  private lens: number[] = [];
  private invalid: InvalidAt[] = [];
  private eps: string[] = [];
  /** Forwarded entries before `eps` began; -1 while they have not (see SegmentBatch.eps). */
  private epsFrom = -1;
  private headSeen: FeedHead | undefined;
  private buf: Buffer;
  private off = 0;

  constructor(decider: Decider) {
    this.decider = decider;
    this.decls = [];
    this.buf = Buffer.allocUnsafeSlow(64 * 1024);
  }

  /** A new piece: forget the page declarations of the last one (take() has emptied the rest). */
  reset(decls: PageDecls | undefined): void {
    this.decls = decls ?? [];
    this.headSeen = undefined;
  }

  /** Whether the next batch records every forwarded entry's endpoint (set before each read). */
  recordEndpoints(on: boolean): void {
    this.epsFrom = on ? this.lens.length : -1;
  }

  head(h: FeedHead): void {
    this.headSeen = h;
    this.decls = pageDecls(h.bindings);
  }

  entry(rec: EntryRecord): void {
    const d = this.decider.decide(rec);
    if (d === 'skip') {
      this.kinds.push(Kind.Skip);
    } else if (d === 'invalid') {
      this.kinds.push(Kind.Invalid);
      const endpoint = rec.state?.endpoint;
      this.invalid.push({ index: rec.index, line: rec.line, column: rec.column, atomId: rec.atomId, endpoint, reason: rec.invalid! });
      if (endpoint !== undefined && this.epsFrom < 0) this.epsFrom = this.lens.length;
    } else {
      this.kinds.push(Kind.Forward);
      if (this.epsFrom >= 0) this.eps.push(rec.state!.endpoint);
      const text = forwardText(rec, this.decls);
      // 3 bytes per UTF-16 unit bounds the UTF-8 size without measuring it.
      const need = text.length * 3 + 1;
      if (this.off + need > this.buf.length) this.grow(need);
      const n = this.buf.write(text, this.off, 'utf8');
      this.buf[this.off + n] = 10;
      this.off += n + 1;
      this.lens.push(n + 1);
    }
  }

  end(_tail: FeedTail): void {
    // Links are taken from the reader piece by piece (SegmentReader), the tail's are the same.
  }

  private grow(need: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.off + need));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  /** What was collected since the last take(); the collector starts afresh (keeping its decisions' context). */
  take(reader: FeedReader, state: SegmentBatch['state'], error: SegmentError | undefined, links: FeedLink[]): SegmentBatch {
    const b: SegmentBatch = {
      head: this.headSeen, kinds: this.kinds, out: this.buf.subarray(0, this.off), lens: this.lens,
      invalid: this.invalid, eps: this.eps, epsFrom: this.epsFrom < 0 ? this.lens.length : this.epsFrom,
      links, line: reader.line, column: reader.column, state, resume: reader.resumePoint, error,
    };
    this.headSeen = undefined;
    this.kinds = [];
    this.lens = [];
    this.invalid = [];
    this.eps = [];
    this.epsFrom = -1;
    this.buf = Buffer.allocUnsafeSlow(Math.max(4096, this.buf.length));
    this.off = 0;
    return b;
  }
}

/** Pushing at most this much at a time keeps decoded strings (and what saxes scans) in cache-sized pieces. */
const PUSH_BYTES = 64 * 1024;

/**
 * A reader and collector over consecutive pieces, from a document start or a resume point, until it ends clean.
 * One per thread, reused for piece after piece (see FeedReader.restart).
 */
export class SegmentReader {
  readonly reader: FeedReader;
  private readonly collector: SegmentCollector;
  readonly source: string;
  private failed: SegmentError | undefined;
  private linksTaken = 0;

  constructor(source: string, maxEntryBytes: number, limits: XmlLimits, decider: Decider) {
    this.source = source;
    this.collector = new SegmentCollector(decider);
    this.reader = new FeedReader(this.collector, { source, maxEntryBytes, limits });
  }

  /** Starts reading at a document start (no resume) or a resume point. */
  start(job: Pick<SegmentJob, 'byteOffset' | 'resume'>): void {
    this.reader.restart({ continuation: job.resume !== undefined, byteOffset: job.byteOffset });
    this.collector.reset(job.resume?.decls);
    this.failed = undefined;
    this.linksTaken = 0;
    if (job.resume) this.reader.pushText(job.resume.primer);
  }

  /**
   * Reads one more piece; the batch holds what it produced. After an error, nothing more can be read. `endpoints`:
   * record every forwarded entry's endpoint (SegmentJob.endpoints).
   */
  read(bytes: Uint8Array, final: boolean, endpoints = false): SegmentBatch {
    this.collector.recordEndpoints(endpoints);
    let state: SegmentBatch['state'] = 'open';
    if (this.failed === undefined) {
      let ending = false;
      try {
        for (let i = 0; i < bytes.length; i += PUSH_BYTES) this.reader.push(bytes.subarray(i, Math.min(bytes.length, i + PUSH_BYTES)));
        if (final) {
          ending = true;
          this.reader.end();
          state = 'end';
        } else if (this.reader.atBoundary()) {
          state = 'clean';
        }
      } catch (e) {
        this.failed = toSegmentError(e);
        if (ending) this.failed.atEnd = true;
      }
    }
    const links = this.reader.linksSeen;
    const fresh = links.slice(this.linksTaken);
    this.linksTaken = links.length;
    const batch = this.collector.take(this.reader, this.failed ? 'end' : state, this.failed, fresh);
    // Done with this reading: let go of the piece's text (saxes and the reader hold the last chunk) now rather than
    // at the next start, or it outlives scavenges between pieces and is promoted to the old generation.
    if (batch.state !== 'open') this.reader.restart({});
    return batch;
  }
}

/** One SegmentReader and one PieceScanner per thread and page source. */
export class SegmentReaders {
  private current: SegmentReader | undefined;
  private scanner: PieceScanner | undefined;
  private scannerFor: { maxEntryBytes: number; limits: XmlLimits } | undefined;
  private readonly decider: Decider;
  constructor(decider: Decider) {
    this.decider = decider;
  }
  for(source: string, maxEntryBytes: number, limits: XmlLimits): SegmentReader {
    if (this.current?.source !== source) this.current = new SegmentReader(source, maxEntryBytes, limits, this.decider);
    return this.current;
  }

  /**
   * The batch of a piece that resumes a document after an entry, read by the fast scanner; undefined when the scanner
   * leaves the piece to the saxes reader (anything it does not handle completely, errors and invalid entries included).
   */
  scanned(job: SegmentJob): SegmentBatch | undefined {
    if (job.resume === undefined || job.final) return undefined;
    const f = this.scannerFor;
    if (this.scanner === undefined || f!.maxEntryBytes !== job.maxEntryBytes || !sameLimits(f!.limits, job.limits)) {
      this.scanner = new PieceScanner(job.limits, job.maxEntryBytes);
      this.scannerFor = { maxEntryBytes: job.maxEntryBytes, limits: job.limits };
    }
    const scanner = this.scanner;
    try {
      if (scanner.scan(job.bytes, job.resume) !== undefined) return undefined;
      const b = scannedBatch(job, scanner.out, this.decider);
      b.scanned = true;
      return b;
    } finally {
      scanner.release();
    }
  }
}

function sameLimits(a: XmlLimits, b: XmlLimits): boolean {
  return a.maxDepth === b.maxDepth && a.maxAttributeBytes === b.maxAttributeBytes && a.maxAttributes === b.maxAttributes &&
    a.maxNameBytes === b.maxNameBytes && a.maxTextBetweenEntries === b.maxTextBetweenEntries;
}

/** Reads one whole piece from its start (a helper thread's job, or the main thread's): fast where it can be. */
export function readSegment(job: SegmentJob, readers: SegmentReaders): SegmentBatch {
  const fast = readers.scanned(job);
  if (fast !== undefined) return fast;
  const r = readers.for(job.source, job.maxEntryBytes, job.limits);
  r.start(job);
  return r.read(job.bytes, job.final, job.endpoints);
}

function toSegmentError(e: unknown): SegmentError {
  if (!(e instanceof SdataError)) throw e;
  const { line, column, source, entryId } = e.details;
  const prefix = `${source}:${line}:${column}: `;
  if (line !== undefined && column !== undefined && e.message.startsWith(prefix)) {
    return { code: e.code, message: e.message.slice(prefix.length), line, column, entryId };
  }
  return { code: e.code, message: e.message, line: undefined, column: undefined, entryId };
}

/** The error a batch reports, in document coordinates. */
export function segmentFailure(err: SegmentError, source: string, at: (line: number, column: number) => [number, number]): SdataError {
  if (err.line === undefined || err.column === undefined) return new SdataError(err.code, err.message, { source, entryId: err.entryId });
  const [line, column] = at(err.line, err.column);
  return new SdataError(err.code, `${source}:${line}:${column}: ${err.message}`, { source, line, column, entryId: err.entryId });
}

