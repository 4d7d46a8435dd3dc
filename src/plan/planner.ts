import { randomUUID } from 'node:crypto';
import { sameDigest, serializeDigest, type Digest } from '../protocol/digest.ts';
import { normalizeEndpoint } from '../protocol/endpoint.ts';
import { SdataError } from '../protocol/errors.ts';
import type { SyncMode } from '../protocol/sync-state.ts';
import { tickLess } from '../protocol/ticks.ts';
import type { EntryRecord, FeedHandler, FeedHead, FeedTail } from '../xml/feed-types.ts';
import { feedClose, feedOpenAround, forwardText, pageDecls, type PageDecls } from '../xml/feed-writer.ts';
import { DEFAULT_CHUNK } from './defaults.ts';
import { Decider, type Decision, type Explanation } from './decide.ts';
import { Kind, type SegmentBatch } from './segment.ts';

/** Where chunk text goes. `write` returns false when the consumer wants us to wait for `drained()`. */
export interface ChunkWriter {
  write(s: string): boolean;
  /** Optional: write and return the UTF-8 bytes written (saves measuring a string before writing it). */
  writeCounted?(s: string): number;
  /** Optional: write text that is already UTF-8 (entries decided on another thread). */
  writeBytes?(b: Uint8Array): boolean;
  readonly needsDrain: boolean;
  drained(): Promise<void>;
}

/**
 * A chunk's feed head (XML declaration, root start tag, id, links, syncMode, digest) and its closing tag. The head
 * says whether the chunk is the last (no `next` link), which is known only when the chunk is closed: the entries
 * are written first and the consumer puts the head before them (docs/engine-rules.md §2).
 */
export interface ChunkFrame {
  /** Text, and the digest's element as UTF-8 (shared by every chunk head that carries the same digest: never altered). */
  head: readonly (string | Uint8Array)[];
  tail: string;
}

/** A frame's head written to `w`: its bytes as bytes where the writer takes them. */
export function writeHead(w: ChunkWriter, head: ChunkFrame['head']): void {
  for (const part of head) {
    if (typeof part === 'string') w.write(part);
    else if (w.writeBytes) w.writeBytes(part);
    else w.write(Buffer.from(part.buffer, part.byteOffset, part.length).toString('utf8'));
  }
}

/** The consumer of chunks: a directory of files, stdout, or the engine's spool + POST queue. */
export interface ChunkTarget {
  /**
   * A stream that cannot put a head before what it already wrote (stdout): the planner then writes head and tail
   * through the writer itself, and only in single-feed mode, where the one chunk is final from the start.
   */
  readonly streams?: boolean;
  /** Where chunk n's entries go. */
  open(n: number): ChunkWriter;
  /**
   * Chunk n is complete: `final` = no chunk follows (its head has no `next` link). `frame` is what goes around the
   * entries written so far (undefined for a streaming target: it already has them). Resolves when the consumer has
   * taken the chunk (bounded overlap).
   */
  close(n: number, final: boolean, frame: ChunkFrame | undefined): Promise<void>;
}

export interface InvalidEntry {
  source: string;
  index: number;
  line: number;
  column: number;
  atomId: string | undefined;
  /** The endpoint its syncState names, when it names one: later entries of that endpoint are held back (X3). */
  endpoint: string | undefined;
  reason: string;
}

/**
 * How the pass ends for the target (docs/protocol.md X2, X3): `final` — the last chunk with entries has no `next`,
 * so the target merges the source digest; `merge-only` — nothing was left to forward but the merge moves the
 * target's digest, so a chunk without entries was written for it; `none` — no final chunk, because the merge would
 * move nothing (with no chunk at all, the target is up to date); `held` — an entry was dropped as invalid, so the
 * target must not merge: the last chunk keeps a `next` link, and no chunk is written for the merge alone; `open` — the
 * input was not the whole feed (`push` given pages that end with a `next` link): the last chunk keeps its `next` link,
 * so that the target merges only when the rest of the feed is posted.
 */
export type PassEnding = 'final' | 'merge-only' | 'none' | 'held' | 'open';

export interface PlanStats {
  read: number;
  forwarded: number;
  skipped: number;
  invalid: number;
  /** Valid entries not forwarded because an earlier entry of their endpoint was invalid (docs/protocol.md X3). */
  held: number;
  chunks: number;
  /** Bytes of chunk text produced (UTF-8). */
  bytesOut: number;
  /** Set by `finish()`. */
  ending: PassEnding | undefined;
}

export interface PlannerOptions {
  /** The target's digest; undefined = empty target, forward everything. */
  target?: Digest | undefined;
  /** Chunk bounds (docs/engine-rules.md §2). Infinity for one single feed. */
  chunkEntries?: number;
  chunkBytes?: number;
  /** One output feed only: pages whose digest or syncMode differ are an error instead of a new chunk. */
  singleFeed?: boolean;
  strict?: boolean;
  out: ChunkTarget;
  onInvalid?: (e: InvalidEntry) => void;
  /**
   * The chunks' atom:id (docs/protocol.md X2): the engine gives the source context URL. Default: the first source
   * page's atom:id when it is an absolute URI, else a fresh `urn:uuid:`.
   */
  feedId?: string;
  /** Lower-cased uuids whose decision `onExplain` is told (`--explain`); undefined costs nothing per entry. */
  explain?: ReadonlySet<string> | undefined;
  onExplain?: (x: Explained) => void;
}

/** An `--explain`ed entry: why it was forwarded or not, and where it went. */
export interface Explained extends Explanation {
  source: string;
  index: number;
  line: number;
  column: number;
  atomId: string | undefined;
  uuid: string;
  /** Forwarded: its chunk and 0-based position there (where its result is). */
  chunk: number | undefined;
  position: number | undefined;
}

const pad6 = (n: number): string => String(n).padStart(6, '0');
const TAIL = feedClose();
const TAIL_BYTES = Buffer.byteLength(TAIL);
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

/**
 * The `self` href of chunk n of feed `id` (and the `next` href of chunk n-1): the feed's id with a fragment naming
 * the chunk. Absolute like the provider's own links, unique in the run, and never dereferenced (docs/protocol.md X2).
 */
function chunkHref(id: string, n: number): string {
  const hash = id.indexOf('#');
  return `${hash < 0 ? id : id.slice(0, hash)}#chunk-${pad6(n)}`;
}

/** Whether merging source digest `s` into target digest `t` would raise any tick of `t` (docs/protocol.md §3.9 item 2). */
function mergeMoves(t: Digest | undefined, s: Digest | undefined): boolean {
  if (s === undefined) return false;
  for (const [ep, e] of s.entries) {
    const have = t?.entries.get(ep);
    if (have === undefined || tickLess(have.tick, e.tick)) return true;
  }
  return false;
}

/**
 * Reader records in, target chunks out. Implements FeedHandler so one FeedReader per source page can feed it;
 * call `beginPage()` before each page and `finish()` after the last.
 *
 * Chunk rules (docs/engine-rules.md §2): bounded by entries and bytes; an entry larger than the byte bound goes alone;
 * a chunk never mixes pages whose digest or syncMode differ; every chunk but the final one carries `next`, and a
 * chunk is only closed as non-final once we know another chunk will follow. A chunk's head (with its `next` link)
 * is made when the chunk is closed and goes before its entries. How the pass ends is `PassEnding`: a final chunk
 * without entries is written only when the target's end-of-feed merge would move its digest, and never after an
 * invalid entry (docs/protocol.md X2, X3).
 */
export class Planner implements FeedHandler {
  private readonly decider: Decider;
  private readonly o: Required<Omit<PlannerOptions, 'target' | 'onInvalid' | 'feedId' | 'explain' | 'onExplain'>> &
    Pick<PlannerOptions, 'target' | 'onInvalid' | 'explain' | 'onExplain'>;
  readonly stats: PlanStats = { read: 0, forwarded: 0, skipped: 0, invalid: 0, held: 0, chunks: 0, bytesOut: 0, ending: undefined };

  private source = '<input>';
  private mode: SyncMode | undefined;
  private digest: Digest | undefined;
  /**
   * this.digest's element as UTF-8, once needed: the page's own when it says what ours would (FeedHead.digestWritten),
   * else serializeDigest's. Every chunk's head carries it, ~2.5 MB with 10,000 endpoints: made once, written as is.
   */
  private digestParts: readonly Uint8Array[] | undefined;
  private decls: PageDecls = [];
  private sawHead = false;
  private feedId: string | undefined;
  /** Normalised endpoints whose later entries are held back after one of theirs was invalid (X3). */
  private held: Set<string> | undefined;

  private writer: ChunkWriter | undefined;
  private chunkEntries = 0;
  private chunkBytes = 0;
  /** `<updated>` of the open chunk: the time it was begun. */
  private chunkUpdated = '';
  private pending: Promise<void>[] = [];
  private finished = false;

  constructor(opts: PlannerOptions) {
    this.decider = new Decider(opts.target);
    this.o = {
      target: opts.target,
      chunkEntries: opts.chunkEntries ?? DEFAULT_CHUNK.entries,
      chunkBytes: opts.chunkBytes ?? DEFAULT_CHUNK.bytes,
      singleFeed: opts.singleFeed ?? false,
      strict: opts.strict ?? false,
      out: opts.out,
      onInvalid: opts.onInvalid,
      explain: opts.explain !== undefined && opts.explain.size > 0 ? opts.explain : undefined,
      onExplain: opts.onExplain,
    };
    this.feedId = opts.feedId;
    if (opts.out.streams && !this.o.singleFeed) throw new Error('a streaming chunk target needs singleFeed (its one chunk is final from the start)');
  }

  beginPage(source: string): void {
    this.source = source;
  }

  head(h: FeedHead): void {
    const same = this.sawHead && h.syncMode === this.mode && sameDigest(h.digest, this.digest);
    if (this.sawHead && !same) {
      if (this.o.singleFeed) {
        throw new SdataError('SDATA_E_NOT_SYNC_FEED',
          `${this.source}: this page's syncMode/digest differ from the first page's; one output feed cannot carry both (use --out-dir)`,
          { source: this.source });
      }
      // Close first (docs/engine-rules.md §2); a final chunk follows if the merge with this page's digest needs one.
      if (this.writer) this.closeChunk(false);
    }
    if (!this.sawHead) this.feedId ??= h.atomId !== undefined && ABSOLUTE_URI.test(h.atomId) ? h.atomId : `urn:uuid:${randomUUID()}`;
    this.sawHead = true;
    this.mode = h.syncMode;
    // A page saying what the last one said keeps the last one's digest, and the digest's text made for chunk heads.
    if (!same) {
      this.digest = h.digest;
      // The digest's element as the page wrote it, when it says what ours would: 10,000 entries not written again.
      this.digestParts = h.digest === undefined ? undefined : h.digestWritten;
    }
    this.decls = pageDecls(h.bindings);
  }

  entry(rec: EntryRecord): void {
    this.stats.read++;
    const d = this.decider.decide(rec);
    if (d === 'skip') {
      this.stats.skipped++;
      if (this.o.explain !== undefined) this.explain(rec, d);
      return;
    }
    if (d === 'invalid') {
      if (this.o.explain !== undefined) this.explain(rec, d);
      this.reject({ source: this.source, index: rec.index, line: rec.line, column: rec.column, atomId: rec.atomId, endpoint: rec.state?.endpoint, reason: rec.invalid! });
      return;
    }
    if (this.held !== undefined && this.held.has(normalizeEndpoint(rec.state!.endpoint))) {
      this.stats.held++;
      if (this.o.explain !== undefined) this.explain(rec, 'held');
      return;
    }
    const text = forwardText(rec, this.decls);
    // Measuring the UTF-8 size of every forwarded entry cost ~4% of plan's instructions. The byte bound needs the
    // exact size only when the entry might not fit: 3 bytes per UTF-16 unit is an upper bound that settles the rest,
    // and the writer then reports the size it encoded. Chunk cuts are exactly the same.
    let bytes = -1;
    if (this.writer && this.chunkEntries > 0 && this.chunkEntries < this.o.chunkEntries && this.chunkBytes + text.length * 3 + 1 > this.o.chunkBytes) {
      bytes = Buffer.byteLength(text) + 1;
    }
    const w = this.place(bytes);
    if (bytes < 0 && w.writeCounted !== undefined) {
      bytes = w.writeCounted(text) + 1;
    } else {
      if (bytes < 0) bytes = Buffer.byteLength(text) + 1;
      w.write(text);
    }
    w.write('\n');
    this.count(bytes);
    if (this.o.explain !== undefined) this.explain(rec, d);
  }

  /**
   * `--explain`: the decision on an entry whose uuid was asked about (the common path pays one comparison with
   * undefined). Called after a forwarded entry is written, so its chunk and position are the current ones.
   */
  private explain(rec: EntryRecord, d: Decision | 'held'): void {
    const uuid = rec.uuid?.trim().toLowerCase();
    if (uuid === undefined || !this.o.explain!.has(uuid)) return;
    const x = this.decider.explain(rec);
    if (d === 'held') {
      x.decision = 'held';
      x.rule = `held back: an earlier entry of ${rec.state!.endpoint} was dropped as invalid, and the target's digest must not move past it (docs/protocol.md X3)`;
    }
    const forwarded = d === 'forward';
    this.o.onExplain?.({
      ...x, source: this.source, index: rec.index, line: rec.line, column: rec.column, atomId: rec.atomId, uuid,
      chunk: forwarded ? this.stats.chunks : undefined, position: forwarded ? this.chunkEntries - 1 : undefined,
    });
  }

  /**
   * Entries read and decided elsewhere (a piece of the document, see segment.ts), committed here in document order.
   * `at` turns the piece's line:column into the document's; `indexBase` is the number of entries before the piece.
   * A batch read before this planner held an endpoint back must carry the endpoints of its forwarded entries
   * (`needsEndpoints`); the caller reads such a piece again.
   */
  commitBatch(b: SegmentBatch, indexBase: number, at: (line: number, column: number) => [number, number]): void {
    if (this.needsEndpoints(b)) throw new Error('internal: a batch without endpoints committed while an endpoint is held back');
    const { kinds, lens, out } = b;
    let f = 0;
    let off = 0;
    let inv = 0;
    for (let i = 0; i < kinds.length; i++) {
      this.stats.read++;
      const k = kinds[i];
      if (k === Kind.Skip) {
        this.stats.skipped++;
      } else if (k === Kind.Invalid) {
        const e = b.invalid[inv++]!;
        const [line, column] = at(e.line, e.column);
        this.reject({ source: this.source, index: indexBase + e.index, line, column, atomId: e.atomId, endpoint: e.endpoint, reason: e.reason });
      } else {
        const fi = f++;
        const n = lens[fi]!;
        const bytes = out.subarray(off, off + n);
        off += n;
        if (this.held !== undefined && this.held.has(normalizeEndpoint(b.eps[fi - b.epsFrom]!))) {
          this.stats.held++;
          continue;
        }
        const w = this.place(n);
        if (w.writeBytes !== undefined) w.writeBytes(bytes);
        else w.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
        this.count(n);
      }
    }
  }

  /**
   * Whether `b` cannot be committed as it is: an endpoint is held back, and `b` has forwarded entries whose endpoint
   * it does not carry (it was read before the hold began, without them).
   */
  needsEndpoints(b: SegmentBatch): boolean {
    return this.held !== undefined && b.epsFrom > 0;
  }

  /** Whether an endpoint is held back: pieces read from now on should carry their entries' endpoints. */
  get holding(): boolean {
    return this.held !== undefined;
  }

  private reject(inv: InvalidEntry): void {
    this.stats.invalid++;
    if (this.o.strict) {
      throw new SdataError(inv.reason.startsWith('entry is larger') ? 'SDATA_E_ENTRY_TOO_LARGE' : 'SDATA_E_INVALID_ENTRY',
        `${inv.source}:${inv.line}:${inv.column}: entry #${inv.index + 1}${inv.atomId ? ` (${inv.atomId})` : ''}: ${inv.reason}`,
        { source: inv.source, line: inv.line, column: inv.column, entryId: inv.atomId });
    }
    // docs/protocol.md X3: the target moves its digest per processed entry (§3.9 item 1), so a later entry of the
    // same endpoint would carry its tick past the dropped one, which would then never be sent again.
    if (inv.endpoint !== undefined && inv.endpoint.trim() !== '') (this.held ??= new Set()).add(normalizeEndpoint(inv.endpoint));
    this.o.onInvalid?.(inv);
  }

  /**
   * The writer for the next entry, cutting a chunk first when the entry does not fit (docs/engine-rules.md §2). `bytes` is
   * the entry's UTF-8 size with its newline, or -1 when it is known to fit the byte bound without measuring.
   */
  private place(bytes: number): ChunkWriter {
    if (this.writer && this.chunkEntries > 0) {
      if (this.chunkEntries >= this.o.chunkEntries || (bytes >= 0 && this.chunkBytes + bytes > this.o.chunkBytes)) this.closeChunk(false);
    }
    if (!this.writer) this.openChunk();
    return this.writer!;
  }

  private count(bytes: number): void {
    this.chunkEntries++;
    this.chunkBytes += bytes;
    this.stats.forwarded++;
    this.stats.bytesOut += bytes;
  }

  end(_tail: FeedTail): void {
    // Page boundaries mean nothing to the target: chunks are cut by size and digest only.
  }

  /** A promise to await before pushing more input, or undefined when the output can take more now. */
  ready(): Promise<void> | undefined {
    const w = this.writer;
    if (this.pending.length === 0 && !(w && w.needsDrain)) return undefined;
    return this.settle();
  }

  private async settle(): Promise<void> {
    while (this.pending.length > 0) {
      const p = this.pending;
      this.pending = [];
      await Promise.all(p);
    }
    if (this.writer?.needsDrain) await this.writer.drained();
  }

  /**
   * Ends the pass (docs/protocol.md X2, X3): the open chunk becomes the final one, unless an entry was dropped as
   * invalid (then it keeps its `next` link). With no chunk open, a chunk without entries is written only when the
   * target's merge with the current source digest would raise one of its ticks; a single feed is always written.
   * `endOfFeed: false` (the input stopped on a page with a `next` link) keeps the `next` link like a hold does.
   */
  async finish(o: { endOfFeed?: boolean } = {}): Promise<PlanStats> {
    if (this.finished) return this.stats;
    this.finished = true;
    if (!this.sawHead) throw new SdataError('SDATA_E_NOT_SYNC_FEED', 'no source page was read');
    const hold = this.stats.invalid > 0;
    const open = o.endOfFeed === false;
    let ending: PassEnding;
    if (this.writer) {
      // A single feed streamed its head first, as final: plan's stdout warns about the held merge it cannot show.
      ending = this.o.singleFeed ? 'final' : hold ? 'held' : open ? 'open' : 'final';
      this.closeChunk(ending === 'final');
    } else if (this.o.singleFeed) {
      this.openChunk();
      this.closeChunk(true);
      ending = 'final';
    } else if (hold) {
      ending = 'held';
    } else if (open) {
      ending = 'open';
    } else if (mergeMoves(this.o.target, this.digest)) {
      this.openChunk();
      this.closeChunk(true);
      ending = 'merge-only';
    } else {
      ending = 'none';
    }
    this.stats.ending = ending;
    await this.settle();
    return this.stats;
  }

  /** Chunk n's head text before and after the place of its digest. */
  private headText(n: number, final: boolean): [string, string] {
    const id = this.feedId!;
    const links = [{ rel: 'self', href: chunkHref(id, n) }, { rel: 'first', href: chunkHref(id, 1) }];
    if (!final) links.push({ rel: 'next', href: chunkHref(id, n + 1) });
    return feedOpenAround({ id, title: `Synchronization feed, chunk ${n}`, updated: this.chunkUpdated, links, syncMode: this.mode });
  }

  /** The current digest's element, made once per digest (or the page's own: head()); [] without a digest. */
  private digestElement(): readonly Uint8Array[] {
    if (this.digest === undefined) return [];
    this.digestParts ??= [Buffer.from(serializeDigest(this.digest))];
    return this.digestParts;
  }

  /** The UTF-8 size of chunk n's head. */
  private headBytes(n: number, final: boolean): number {
    const [before, after] = this.headText(n, final);
    return Buffer.byteLength(before) + Buffer.byteLength(after) + this.digestElement().reduce((sum, p) => sum + p.length, 0);
  }

  private frame(n: number, final: boolean): ChunkFrame {
    const [before, after] = this.headText(n, final);
    return { head: [before, ...this.digestElement(), after], tail: TAIL };
  }

  private openChunk(): void {
    const n = this.stats.chunks + 1;
    this.chunkUpdated = new Date().toISOString();
    this.writer = this.o.out.open(n);
    this.stats.chunks = n;
    this.chunkEntries = 0;
    // The bound counts the frame too, with its `next` link (the largest the frame can be).
    this.chunkBytes = this.headBytes(n, false) + TAIL_BYTES;
    if (this.o.out.streams) {
      writeHead(this.writer, this.frame(n, true).head);
      this.stats.bytesOut += this.headBytes(n, true);
    }
  }

  private closeChunk(final: boolean): void {
    const n = this.stats.chunks;
    let frame: ChunkFrame | undefined;
    if (this.o.out.streams) {
      // Its head went first, when it was opened.
      this.writer!.write(TAIL);
    } else {
      frame = this.frame(n, final);
      this.stats.bytesOut += this.headBytes(n, final);
    }
    this.stats.bytesOut += TAIL_BYTES;
    this.writer = undefined;
    this.pending.push(this.o.out.close(n, final, frame));
  }
}
