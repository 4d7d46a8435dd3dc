import { Worker } from 'node:worker_threads';
import type { Digest } from '../protocol/digest.ts';
import { runnable } from '../runtime/module-url.ts';
import type { SdataError } from '../protocol/errors.ts';
import type { FeedHead, FeedLink, ResumePoint } from '../xml/feed-types.ts';
import { pageDecls, type PageDecls } from '../xml/feed-writer.ts';
import { resolveLimits, type XmlLimits } from '../xml/limits.ts';
import { Decider } from './decide.ts';
import { GcSchedule } from './gc-schedule.ts';
import type { Planner } from './planner.ts';
import { readSegment, segmentFailure, SegmentReaders, type SegmentBatch, type SegmentJob, type SegmentReader } from './segment.ts';

/**
 * Segmented planning: one source document read by two threads at once, with exactly the result of reading it in
 * one pass (same chunks, same counts, same first error with the same line:column).
 *
 * Why it is sound. Right after an entry's end tag, directly inside the root, a reader's whole state is "inside the
 * root, head read": a fresh parser given the root start tag again (ResumePoint.primer) is in that same state. So the
 * document is cut into pieces after `</entry>` (its qname as the document writes it), and each piece is read by a
 * reader of its own, on the helper thread or on this one. A cut may be wrong: `</entry>` can stand in a comment, a
 * CDATA section, or a payload element of that name. A piece is trusted only if the piece before it ended exactly
 * after an entry, directly inside the root (FeedReader.atBoundary) — otherwise this thread reads it again and goes on
 * with the same reader into the next pieces until that holds. Batches are committed to the planner in document
 * order; each reports lines, columns and entry numbers from its own start, translated here. One decision depends on
 * what came before: after an invalid entry, later entries of its endpoint are held back (docs/protocol.md X3). The
 * committer applies that (Planner.commitBatch); a piece read before the hold began does not carry its entries'
 * endpoints and is read again here (Planner.needsEndpoints), and pieces read afterwards carry them.
 *
 * Memory: a few pieces in flight (each `segmentBytes`, a cut is looked for within 4× that) and their batches.
 */

export interface SegmentedOptions {
  /** Target digest the entries are decided against (undefined = empty target). */
  target: Digest | undefined;
  maxEntryBytes: number;
  /** Parsing limits (xml/limits.ts), the same on every thread; default: the defaults. */
  limits?: XmlLimits;
  /** Piece size (a piece ends at the last cut in the first this-many bytes). Default 64 KiB. */
  segmentBytes?: number;
  /**
   * Helper threads, 0 or 1: default 0, everything on this thread (with the piece scanner one thread beats a bare saxes
   * parse at less memory; a helper adds ~18% for ~45 MiB: docs/decisions/0016-piece-scanner.md).
   */
  helpers?: number;
  /** Told when the helper thread is lost and this thread reads on alone (same output, slower). */
  onWarning?: (message: string) => void;
  /**
   * Full collections between pieces on this thread (gc-schedule.ts): the engine's, whose peak RSS must stay flat over
   * a pass of any length (docs/decisions/0035-pieces-let-go.md). `plan` runs without them.
   */
  scheduledGc?: boolean;
}

interface Piece {
  bytes: Uint8Array;
  byteOffset: number;
  final: boolean;
}

/** Where a reader began, in the document: its local line 1 starts at `column`, after `primer` characters. */
interface Origin {
  line: number;
  column: number;
  primer: number;
  /** Entries before it. */
  entries: number;
}

/**
 * Pieces of 64 KiB (one read of the input), at most 3 waiting for the helper and 8 uncommitted in all. Measured on
 * a 237 MB feed, 2 cores: 1 MiB pieces read 1.4× faster than one thread at 200 MB peak RSS (V8 and the caches
 * suffer with big strings); 256 KiB 1.5× at 140 MB; 64 KiB 1.8× at 121–132 MB. With fewer pieces in flight this
 * thread waits for the helper instead of reading the next piece itself.
 */
const HELPER_QUEUE = 3;
const QUEUE = 8;
/** Larger pieces (large entries, or no cut found) are read here: the helper's heap then never holds a big entry. */
const HELPER_MAX_PIECE = 1024 * 1024;

/** The helper thread is gone (it could not start, or died): its pieces are read on this thread instead. */
class HelperLost extends Error {}

const translate = (o: Origin) => (line: number, column: number): [number, number] =>
  line === 1 ? [o.line, o.column + column - o.primer] : [o.line + line - 1, column];

/** One helper thread; answers come back in the order jobs went in. */
class Helper {
  private readonly worker: Worker;
  private readonly waiting: Array<{ resolve: (b: SegmentBatch) => void; reject: (e: Error) => void }> = [];
  private failure: Error | undefined;

  constructor(target: Digest | undefined) {
    // The heap flags the process was started with (the bin's) apply to this thread too: V8 flags are per process.
    this.worker = new Worker(runnable(new URL('./segment-worker.ts', import.meta.url)), { workerData: { target } });
    this.worker.on('message', (m: SegmentBatch | { crash: string }) => {
      const w = this.waiting.shift();
      if ('crash' in m) w?.reject(new Error(`plan helper thread failed: ${m.crash}`));
      else w?.resolve(m);
    });
    this.worker.on('error', (e: Error) => this.fail(new HelperLost(`plan helper thread failed: ${e.message}`, { cause: e })));
    this.worker.on('exit', (code) => this.fail(new HelperLost(`plan helper thread exited (code ${code})`)));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.splice(0)) w.reject(e);
  }

  get inFlight(): number {
    return this.waiting.length;
  }

  run(job: SegmentJob): Promise<SegmentBatch> {
    if (this.failure) return Promise.reject(this.failure);
    // A copy of exactly the piece, moved (not cloned) to the helper; this thread keeps its own to read it again.
    const bytes = new Uint8Array(job.bytes);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage({ ...job, bytes }, [bytes.buffer]);
    });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

interface Queued {
  piece: Piece;
  batch: SegmentBatch | undefined;
  error: Error | undefined;
  done: Promise<void>;
}

/**
 * Whether the `pattern` at `idx` in `buf` ends an end tag. Before the entry's qname is known the pattern is
 * `entry>`, which also ends every `<entry>` start tag, and a cut there (inside an entry) keeps the document on this
 * thread's reader until some cut happens to fall between an end tag and the next start tag: with entries written
 * back to back, most never do. A cut is only a guess either way (the module comment): this makes a good one come
 * sooner.
 */
function endsEndTag(buf: Buffer, idx: number, pattern: Buffer): boolean {
  if (pattern[0] === LT_BYTE) return true; // `</qname>`: an end tag itself
  // Back over the rest of a qname (its prefix and colon) to `</`.
  let j = idx - 1;
  while (j >= 0 && buf[j] !== SLASH_BYTE && buf[j] !== LT_BYTE && buf[j]! > 32) j--;
  return j > 0 && buf[j] === SLASH_BYTE && buf[j - 1] === LT_BYTE;
}
const SLASH_BYTE = 0x2f;
const LT_BYTE = 0x3c;
const GT_BYTE = 0x3e;

/** The last `pattern` in `buf` that ends an end tag, or -1. */
function lastEndTag(buf: Buffer, pattern: Buffer): number {
  for (let idx = buf.lastIndexOf(pattern); idx >= 0; idx = idx > 0 ? buf.lastIndexOf(pattern, idx - 1) : -1) {
    if (endsEndTag(buf, idx, pattern)) return idx;
  }
  return -1;
}

/** The first `pattern` in `buf` that ends an end tag, or -1. */
function firstEndTag(buf: Buffer, pattern: Buffer): number {
  for (let idx = buf.indexOf(pattern); idx >= 0; idx = buf.indexOf(pattern, idx + 1)) {
    if (endsEndTag(buf, idx, pattern)) return idx;
  }
  return -1;
}

/** Where a cut falls in the bytes gathered: after the pattern found at `idx` of a search that began at `from`, or -1. */
function endAfter(idx: number, from: number, pattern: Buffer): number {
  return idx >= 0 ? from + idx + pattern.length : -1;
}

/** Bytes `from` to `to` of those gathered, as one Buffer: a view when they lie in one chunk, else a copy of just them. */
function range(acc: readonly Uint8Array[], from: number, to: number): Buffer {
  if (from === to) return Buffer.alloc(0);
  let k = 0;
  let at = 0;
  while (at + acc[k]!.length <= from) at += acc[k++]!.length;
  const first = acc[k]!;
  if (to - at <= first.length) return Buffer.from(first.buffer, first.byteOffset + from - at, to - from);
  const parts: Uint8Array[] = [first.subarray(from - at)];
  at += first.length;
  while (at < to) {
    const c = acc[++k]!;
    parts.push(to - at < c.length ? c.subarray(0, to - at) : c);
    at += c.length;
  }
  return Buffer.concat(parts, to - from);
}

/** The chunks gathered after their first `n` bytes (views, not copies). */
function after(acc: readonly Uint8Array[], n: number): Uint8Array[] {
  let k = 0;
  let at = 0;
  while (k < acc.length && at + acc[k]!.length <= n) at += acc[k++]!.length;
  if (k === acc.length) return [];
  const rest = acc.slice(k);
  rest[0] = rest[0]!.subarray(n - at);
  return rest;
}

/**
 * How far before the bytes not yet searched a search starts again: a pattern cut by a chunk's end, and the qname
 * prefix endsEndTag walks back over (a longer one is not taken for an end tag: a cut missed, which is only a guess).
 */
const SEARCH_BACK = 1024;

/**
 * Where to cut the bytes gathered (`acc`, `accLen` of them; searched before `from` already): with `size` 0 (the first
 * piece: a page's head and its first entry) after the first entry end, else after the last within the first `size`
 * bytes, or the first after them. A piece is then at most `size` long unless one entry is longer: pieces as long as
 * whatever had arrived (up to 192 KiB from a socket) made their text a large V8 object and their bytes a fresh mmap,
 * every page of both faulted in on first touch (~10 µs each on our VMs). The engine against the null peers, 250k
 * entries: 25.8k → 22.6k minor page faults, its CPU the same within the noise; plan's 64 KiB file reads made 64 KiB
 * pieces anyway. Also returns the bytes searched last and where they start (`cut` -1: none found).
 */
function findCut(acc: readonly Uint8Array[], accLen: number, from: number, size: number, p: Buffer): { cut: number; bytes: Buffer; from: number } {
  if (size > 0 && from < size) {
    const bytes = range(acc, from, Math.min(accLen, size));
    const cut = endAfter(lastEndTag(bytes, p), from, p);
    if (cut >= 0 || accLen <= size) return { cut, bytes, from };
  }
  const start = size > 0 ? Math.max(from, size - p.length - SEARCH_BACK) : from;
  const bytes = range(acc, start, accLen);
  return { cut: endAfter(firstEndTag(bytes, p), start, p), bytes, from: start };
}

/**
 * Cuts the byte stream into pieces that end with `pattern` where it can (see the module comment). Only pieces that
 * start after an entry, and do not end the document, can go to the fast scanner; the others are read by saxes, ~3×
 * the CPU per byte. So the first piece ends at the first entry's end (the head and one entry), and the document's
 * last bytes are cut after its last entry: saxes reads a page's head, its first entry and its end, not two whole
 * pieces (the engine's pages of 1,000 entries are ~20 pieces each).
 */
async function* pieces(input: AsyncIterable<Uint8Array>, size: number, pattern: () => Buffer, idle?: () => boolean): AsyncGenerator<Piece> {
  let acc: Uint8Array[] = [];
  let accLen = 0;
  let offset = 0;
  /** Bytes of `acc` searched for `searchedFor` without a cut. */
  let searched = 0;
  let searchedFor: Buffer | undefined;
  for await (const chunk of input) {
    if (chunk.length === 0) continue;
    // Joined now and then, so that a search never walks more than a few dozen of a byte-wise writer's chunks.
    if (acc.length >= 64) acc = [range(acc, 0, accLen)];
    acc.push(chunk);
    accLen += chunk.length;
    // Short of a piece, a cut is tried only when the input has nothing more at hand and this chunk may end an end
    // tag (it holds a `>`): a writer that sends a few entries and waits sees them read, a byte-wise one costs no
    // search per byte.
    if (accLen < size && offset > 0 && !(idle !== undefined && chunk.includes(GT_BYTE) && idle())) continue;
    let again = false;
    do {
      const first = offset === 0;
      const p = pattern();
      if (searchedFor === undefined || !p.equals(searchedFor)) searched = 0;
      // Only what was not searched yet (and SEARCH_BACK before it) is joined and searched: a page head of a few MB
      // (a 10,000-endpoint digest) arrives in many chunks, each of which had joined and searched all before it.
      const from = Math.max(0, searched - p.length - SEARCH_BACK);
      const found = findCut(acc, accLen, from, first ? 0 : size, p);
      const cut = found.cut;
      if (cut < 0 && !again && accLen >= 4 * size) {
        // No cut in four pieces' worth (a page head with a large digest, an entry longer than that): whoever reads
        // this reads on into the next, so the chunks go as they came, each a piece, rather than joined into one (a
        // 10,000-endpoint head: ~2.6 MB copied into fresh memory for nothing, ~15 ms).
        for (const c of acc) {
          yield { bytes: c, byteOffset: offset, final: false };
          offset += c.length;
        }
        acc = [];
        accLen = searched = 0;
        break;
      }
      if (cut < 0) {
        searched = accLen;
        searchedFor = p;
        break;
      }
      // A view of the bytes searched when they start where the piece does, not a second copy.
      yield { bytes: found.from === 0 && cut <= found.bytes.length ? found.bytes.subarray(0, cut) : range(acc, 0, cut), byteOffset: offset, final: false };
      offset += cut;
      acc = after(acc, cut);
      accLen -= cut;
      searched = 0;
      // The first piece ends after the first entry; what came with it may hold more entries, which an idle input
      // would otherwise leave unread until its next chunk: cut those at once (only at an entry end). Later pieces:
      // as long as a whole piece's worth is at hand.
      again = first ? accLen > 0 && idle?.() === true : accLen >= size;
    } while (again);
  }
  const rest = range(acc, 0, accLen);
  const p = pattern();
  const idx = offset > 0 ? lastEndTag(rest, p) : -1;
  if (idx >= 0 && idx + p.length < rest.length) {
    yield { bytes: rest.subarray(0, idx + p.length), byteOffset: offset, final: false };
    yield { bytes: rest.subarray(idx + p.length), byteOffset: offset + idx + p.length, final: true };
  } else {
    yield { bytes: rest, byteOffset: offset, final: true };
  }
}

/** What a caller that reads pages itself (the engine's page stream) is told while a page is read. */
export interface PageHooks {
  /** The page's head, instead of the planner, which the hook tells in turn (the engine checks it first). */
  head?: (h: FeedHead) => void;
  /** After each commit: the entries of this page committed so far (a page fetched again skips them). */
  committed?: (entries: number) => void;
  /** What to throw for an error found only at the end of the document (it stopped early), instead of the error. */
  atEnd?: (e: SdataError) => unknown;
  /**
   * Whether the input has nothing more at hand right now (a stream's readableLength is 0): the bytes gathered are
   * then read up to their last entry end rather than held until a piece's worth has come. For a reader whose input
   * may pause while its consumer waits on what was sent (`push` from a pipe).
   */
  idle?: () => boolean;
}

/**
 * Plans documents in pieces across threads. One instance serves the pages of a run in turn (the helper thread is
 * started when a page first has a second piece, and kept); call close() at the end, also after a failure.
 */
export class SegmentedPlan {
  private readonly target: Digest | undefined;
  private readonly maxEntryBytes: number;
  private readonly limits: XmlLimits;
  private readonly size: number;
  private readonly helpers: number;
  private readonly readers: SegmentReaders;
  private helper: Helper | undefined;
  private helperLost = false;
  /**
   * Pieces read by the helper, on this thread, and read again here after a cut that was not after an entry; of all
   * those committed, how many the fast scanner read (xml/piece-scanner.ts) rather than the saxes reader.
   */
  readonly counts = { helper: 0, here: 0, again: 0, scanned: 0 };
  private readonly gc: GcSchedule | undefined;
  private readonly warn: ((message: string) => void) | undefined;

  constructor(o: SegmentedOptions) {
    this.gc = o.scheduledGc === true ? new GcSchedule() : undefined;
    this.target = o.target;
    this.maxEntryBytes = o.maxEntryBytes;
    this.limits = resolveLimits(o.limits);
    this.size = o.segmentBytes ?? 64 * 1024;
    this.helpers = o.helpers ?? 0;
    this.readers = new SegmentReaders(new Decider(o.target));
    this.warn = o.onWarning;
  }

  private lose(why: string): void {
    if (this.helperLost) return;
    this.helperLost = true;
    this.warn?.(`${why}; reading on without it`);
  }

  async close(): Promise<void> {
    const h = this.helper;
    this.helper = undefined;
    await h?.close();
  }

  /** One source document into the planner, like planPage. */
  async page(input: AsyncIterable<Uint8Array>, planner: Planner, source: string, hooks: PageHooks = {}): Promise<{ next: string | undefined; bytesIn: number; entries: number }> {
    planner.beginPage(source);
    let committed = 0;
    const links: FeedLink[] = [];
    let origin: Origin = { line: 1, column: 0, primer: 0, entries: 0 };
    let resume: (ResumePoint & { decls: PageDecls }) | undefined;
    let entryEnd = Buffer.from('entry>');
    let main: { reader: SegmentReader; origin: Origin; entries: number } | undefined;
    const queue: Queued[] = [];
    let bytesIn = 0;

    const commit = (b: SegmentBatch, o: Origin): void => {
      if (b.scanned) this.counts.scanned++;
      if (b.head) {
        if (hooks.head) hooks.head(b.head);
        else planner.head(b.head);
      }
      planner.commitBatch(b, o.entries, translate(o));
      committed += b.kinds.length;
      hooks.committed?.(committed);
      for (const l of b.links) links.push(l);
      if (b.error) {
        const e = segmentFailure(b.error, source, translate(o));
        throw b.error.atEnd && hooks.atEnd ? hooks.atEnd(e) : e;
      }
    };
    /** The document position after a reader that began at `o` stopped at local (line, column). */
    const after = (o: Origin, b: SegmentBatch, entries: number): Origin => {
      const [line, column] = translate(o)(b.line, b.column);
      return { line, column, primer: resume?.primerColumns ?? 0, entries: o.entries + entries };
    };
    const learn = (b: SegmentBatch): void => {
      if (resume !== undefined || b.resume === undefined) return;
      resume = { ...b.resume, decls: pageDecls(b.resume.bindings) };
      entryEnd = Buffer.from(`</${b.resume.entryName}>`);
    };

    /** Reads a piece here, going on with the reader that is open, if any; commits what it produced. */
    const readHere = (piece: Piece): void => {
      if (!main && resume !== undefined && !piece.final) {
        // A piece that starts after an entry: the fast scanner, when it can read it.
        const b = this.readers.scanned({
          source, bytes: piece.bytes, byteOffset: piece.byteOffset, resume, final: false, maxEntryBytes: this.maxEntryBytes,
          endpoints: planner.holding, limits: this.limits,
        });
        if (b !== undefined) {
          this.gc?.betweenPieces();
          this.counts.here++;
          commit(b, origin);
          origin = after(origin, b, b.kinds.length);
          return;
        }
      }
      if (!main) {
        // Only here, where a reader starts, is nothing of an earlier piece alive (gc-schedule.ts).
        this.gc?.betweenPieces();
        const reader = this.readers.for(source, this.maxEntryBytes, this.limits);
        reader.start({ byteOffset: piece.byteOffset, resume });
        main = { reader, origin, entries: 0 };
      }
      const m = main;
      this.counts.here++;
      // Everything before this piece is committed: whether an endpoint is held back is known (docs/protocol.md X3).
      const b = m.reader.read(piece.bytes, piece.final, planner.holding);
      m.entries += b.kinds.length;
      commit(b, m.origin);
      if (b.state === 'clean') learn(b);
      // A clean end hands the rest over only if there is a resume point (there is none when the root start tag
      // was too long to hold): otherwise this reader goes on.
      if (b.state === 'end' || (b.state === 'clean' && resume !== undefined)) {
        main = undefined;
        origin = after(m.origin, b, m.entries);
      }
    };

    /** Commits queued batches in order while they are ready (all of them, waiting, when `all`). */
    const settle = async (all: boolean): Promise<void> => {
      while (queue.length > 0) {
        const q = queue[0]!;
        if (q.batch === undefined && q.error === undefined) {
          if (!all && queue.length < QUEUE) return;
          await q.done;
        }
        queue.shift();
        if (q.error !== undefined && !(q.error instanceof HelperLost)) throw q.error;
        const b = q.batch;
        if (b === undefined || b.state === 'open' || planner.needsEndpoints(b)) {
          // The cut after this piece was not right after an entry, or the helper is gone, or the piece was read
          // before an endpoint was held back and lacks its entries' endpoints: read this piece and the queued ones
          // here, in order, going on with one reader until a cut is good.
          if (b === undefined) this.lose(q.error!.message);
          const rest = queue.splice(0);
          this.counts.again += 1 + rest.length;
          readHere(q.piece);
          for (const r of rest) readHere(r.piece);
          return;
        }
        commit(b, origin);
        origin = after(origin, b, b.kinds.length);
      }
    };

    try {
      for await (const piece of pieces(input, this.size, () => entryEnd, hooks.idle)) {
        bytesIn += piece.bytes.length;
        if (main !== undefined || resume === undefined) {
          await settle(true);
          readHere(piece);
        } else {
          const job: SegmentJob = {
            source, bytes: piece.bytes, byteOffset: piece.byteOffset, resume, final: piece.final, maxEntryBytes: this.maxEntryBytes,
            endpoints: planner.holding,
            limits: this.limits,
          };
          if (this.helpers > 0 && !this.helper && !this.helperLost) {
            try {
              this.helper = new Helper(this.target);
            } catch (e) {
              this.lose(`plan helper thread could not start: ${(e as Error).message}`);
            }
          }
          const h = this.helperLost ? undefined : this.helper;
          if (h && h.inFlight < HELPER_QUEUE && piece.bytes.length <= HELPER_MAX_PIECE) {
            this.counts.helper++;
            const q: Queued = { piece, batch: undefined, error: undefined, done: Promise.resolve() };
            q.done = h.run(job).then((b) => { q.batch = b; }, (e: Error) => { q.error = e; });
            queue.push(q);
          } else {
            this.counts.here++;
            this.gc?.betweenPieces();
            queue.push({ piece, batch: readSegment(job, this.readers), error: undefined, done: Promise.resolve() });
          }
          await settle(false);
        }
        const wait = planner.ready();
        if (wait) await wait;
      }
      await settle(true);
      const wait = planner.ready();
      if (wait) await wait;
    } finally {
      // Answers still to come belong to pieces nobody will commit.
      for (const q of queue) q.done.catch(() => undefined);
    }
    let next: string | undefined;
    for (const l of links) if (l.rel === 'next') next = l.href;
    return { next, bytesIn, entries: committed };
  }
}
