import { digestKey, type Digest } from '../protocol/digest.ts';
import { SdataError } from '../protocol/errors.ts';
import type { SyncMode } from '../protocol/sync-state.ts';
import type { EntryRecord, FeedHandler, FeedHead, FeedTail } from '../xml/feed-types.ts';
import { feedClose, feedOpen, forwardText, pageDecls, type PageDecls } from '../xml/feed-writer.ts';
import { Decider } from './decide.ts';
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

/** The consumer of chunks: a directory of files, stdout, or the engine's spool + POST queue. */
export interface ChunkTarget {
  open(n: number): ChunkWriter;
  /** Chunk n is complete. `final` = no chunk follows. Resolves when the consumer has taken it (bounded overlap). */
  close(n: number, final: boolean): Promise<void>;
}

export interface InvalidEntry {
  source: string;
  index: number;
  line: number;
  column: number;
  atomId: string | undefined;
  reason: string;
}

export interface PlanStats {
  read: number;
  forwarded: number;
  skipped: number;
  invalid: number;
  chunks: number;
  /** Bytes of chunk text produced (UTF-8). */
  bytesOut: number;
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
  /** atom:id of chunk n. */
  chunkId?: (n: number) => string;
  /** The href of chunk n's `next` link (a marker for the target; nobody dereferences it). */
  nextHref?: (n: number) => string;
}

const pad6 = (n: number): string => String(n).padStart(6, '0');

/**
 * Reader records in, target chunks out. Implements FeedHandler so one FeedReader per source page can feed it;
 * call `beginPage()` before each page and `finish()` after the last.
 *
 * Chunk rules (docs/engine-rules.md §2): bounded by entries and bytes; an entry larger than the byte bound goes alone;
 * a chunk never mixes pages whose digest or syncMode differ; every chunk but the final one carries `next`, and a
 * chunk is only closed as non-final once we know another chunk will follow. A pass always ends with a final chunk,
 * even an empty one, so the target performs its end-of-feed digest merge.
 */
export class Planner implements FeedHandler {
  private readonly decider: Decider;
  private readonly o: Required<Omit<PlannerOptions, 'target' | 'onInvalid'>> & Pick<PlannerOptions, 'onInvalid'>;
  readonly stats: PlanStats = { read: 0, forwarded: 0, skipped: 0, invalid: 0, chunks: 0, bytesOut: 0 };

  private source = '<input>';
  private mode: SyncMode | undefined;
  private digest: Digest | undefined;
  private key: string | undefined;
  private decls: PageDecls = [];
  private sawHead = false;

  private writer: ChunkWriter | undefined;
  private chunkEntries = 0;
  private chunkBytes = 0;
  private pending: Promise<void>[] = [];
  private finished = false;

  constructor(opts: PlannerOptions) {
    this.decider = new Decider(opts.target);
    this.o = {
      chunkEntries: opts.chunkEntries ?? 1000,
      chunkBytes: opts.chunkBytes ?? 8 * 1024 * 1024,
      singleFeed: opts.singleFeed ?? false,
      strict: opts.strict ?? false,
      out: opts.out,
      onInvalid: opts.onInvalid,
      chunkId: opts.chunkId ?? ((n) => `urn:sdata-sync:chunk:${pad6(n)}`),
      nextHref: opts.nextHref ?? ((n) => `chunk-${pad6(n)}.xml`),
    };
  }

  beginPage(source: string): void {
    this.source = source;
  }

  head(h: FeedHead): void {
    const key = `${h.syncMode}\u0002${digestKey(h.digest)}`;
    if (this.sawHead && key !== this.key) {
      if (this.o.singleFeed) {
        throw new SdataError('SDATA_E_NOT_SYNC_FEED',
          `${this.source}: this page's syncMode/digest differ from the first page's; one output feed cannot carry both (use --out-dir)`,
          { source: this.source });
      }
      // Close first (docs/engine-rules.md §2): another chunk certainly follows, at least the final one.
      if (this.writer) this.closeChunk(false);
    }
    this.sawHead = true;
    this.key = key;
    this.mode = h.syncMode;
    this.digest = h.digest;
    this.decls = pageDecls(h.bindings);
  }

  entry(rec: EntryRecord): void {
    this.stats.read++;
    const d = this.decider.decide(rec);
    if (d === 'skip') {
      this.stats.skipped++;
      return;
    }
    if (d === 'invalid') {
      this.reject({ source: this.source, index: rec.index, line: rec.line, column: rec.column, atomId: rec.atomId, reason: rec.invalid! });
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
  }

  /**
   * Entries read and decided elsewhere (a piece of the document, see segment.ts), committed here in document order.
   * `at` turns the piece's line:column into the document's; `indexBase` is the number of entries before the piece.
   */
  commitBatch(b: SegmentBatch, indexBase: number, at: (line: number, column: number) => [number, number]): void {
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
        this.reject({ source: this.source, index: indexBase + e.index, line, column, atomId: e.atomId, reason: e.reason });
      } else {
        const n = lens[f++]!;
        const w = this.place(n);
        const bytes = out.subarray(off, off + n);
        off += n;
        if (w.writeBytes !== undefined) w.writeBytes(bytes);
        else w.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
        this.count(n);
      }
    }
  }

  private reject(inv: InvalidEntry): void {
    this.stats.invalid++;
    if (this.o.strict) {
      throw new SdataError(inv.reason.startsWith('entry is larger') ? 'SDATA_E_ENTRY_TOO_LARGE' : 'SDATA_E_INVALID_ENTRY',
        `${inv.source}:${inv.line}:${inv.column}: entry #${inv.index + 1}${inv.atomId ? ` (${inv.atomId})` : ''}: ${inv.reason}`,
        { source: inv.source, line: inv.line, column: inv.column, entryId: inv.atomId });
    }
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

  async finish(): Promise<PlanStats> {
    if (this.finished) return this.stats;
    this.finished = true;
    if (!this.writer) {
      if (!this.sawHead) throw new SdataError('SDATA_E_NOT_SYNC_FEED', 'no source page was read');
      this.openChunk();
    }
    this.closeChunk(true);
    await this.settle();
    return this.stats;
  }

  private openChunk(): void {
    const n = this.stats.chunks + 1;
    const head = feedOpen({ id: this.o.chunkId(n), title: `Synchronization feed chunk ${n}`, syncMode: this.mode, digest: this.digest });
    this.writer = this.o.out.open(n);
    this.writer.write(head);
    this.stats.chunks = n;
    this.chunkEntries = 0;
    this.chunkBytes = Buffer.byteLength(head) + 256; // + the closing part, with room for a next link
    this.stats.bytesOut += this.chunkBytes - 256;
  }

  private closeChunk(final: boolean): void {
    const n = this.stats.chunks;
    const tail = feedClose(final ? undefined : [{ rel: 'next', href: this.o.nextHref(n + 1) }]);
    this.writer!.write(tail);
    this.stats.bytesOut += Buffer.byteLength(tail);
    this.writer = undefined;
    this.pending.push(this.o.out.close(n, final));
  }
}
