import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { ChunkWriter } from '../plan/planner.ts';
import { TextSink } from '../xml/text-sink.ts';

/**
 * A complete chunk, replayable: every POST attempt opens a fresh stream over the same bytes (a retry re-sends an
 * identical body, docs/engine-rules.md §5). In memory for ordinary chunk bounds, on disk when the bound is large.
 */
export interface ChunkBody {
  readonly size: number;
  /**
   * The bytes, from the start: pieces in memory as an array (the HTTP client writes them to the socket one by one,
   * as a stream would, without a stream's machinery: docs/decisions/0024-engine-cpu.md), a file as a stream.
   */
  open(): Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
  /** Frees the bytes (a spool file is deleted; a caller's own file is left alone). */
  release(): Promise<void>;
}

export class MemoryBody implements ChunkBody {
  readonly size: number;
  private parts: Buffer[];
  constructor(parts: Buffer[], size: number) {
    this.parts = parts;
    this.size = size;
  }
  open(): readonly Buffer[] {
    return this.parts;
  }
  async release(): Promise<void> {
    // Called once the body is acknowledged (or the pass has failed): nothing reads these pieces any more.
    for (const b of this.parts) givePiece(b);
    this.parts = [];
  }
}

const PIECE = 64 * 1024;
/**
 * Reused 64 KiB pieces. A chunk body lives while it is POSTed and the next one is produced, long enough for its
 * Buffers to be promoted, so fresh pieces per chunk piled up as ArrayBuffers that only a major GC frees (the
 * engine's external memory reached 35–45 MiB). At most POOL_MAX pieces wait here (the spool keeps ~3 chunks).
 */
const POOL_MAX = 128;
const pool: Buffer[] = [];

function takePiece(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafe(PIECE);
}

function givePiece(b: Buffer): void {
  // Only whole pieces of our own (a full 64 KiB ArrayBuffer of their own), never a shared or partial one.
  if (pool.length < POOL_MAX && b.byteOffset === 0 && b.buffer.byteLength === PIECE && b.length === PIECE) {
    pool.push(Buffer.from(b.buffer, 0, PIECE));
  }
}

export class FileBody implements ChunkBody {
  readonly size: number;
  readonly path: string;
  private readonly owned: boolean;
  constructor(path: string, size: number, owned: boolean) {
    this.path = path;
    this.size = size;
    this.owned = owned;
  }
  open(): AsyncIterable<Uint8Array> {
    return createReadStream(this.path, { highWaterMark: 256 * 1024 });
  }
  async release(): Promise<void> {
    if (this.owned) await rm(this.path, { force: true });
  }
}

/**
 * A chunk body between a head and a tail decided after its entries were written (the head says whether the chunk is
 * the last, docs/engine-rules.md §2). Each `open()` streams the same bytes: head, inner body, tail.
 */
export class FramedBody implements ChunkBody {
  readonly size: number;
  private readonly head: Uint8Array[];
  private readonly inner: ChunkBody;
  private readonly tail: Buffer;
  /** `head`: text, and bytes (a digest's element, shared with other chunks: sent as they are, never altered). */
  constructor(head: readonly (string | Uint8Array)[], inner: ChunkBody, tail: string) {
    this.head = head.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p));
    this.inner = inner;
    this.tail = Buffer.from(tail, 'utf8');
    this.size = this.head.reduce((n, p) => n + p.length, 0) + inner.size + this.tail.length;
  }
  open(): Iterable<Uint8Array> | AsyncIterable<Uint8Array> {
    const { head, tail } = this;
    const inner = this.inner.open();
    if (Symbol.iterator in inner) return [...head, ...inner, tail];
    return (async function* () {
      yield* head;
      yield* inner;
      yield tail;
    })();
  }
  release(): Promise<void> {
    return this.inner.release();
  }
}

/** Where a chunk is written while it is produced; `finish()` seals it into a ChunkBody. */
export interface BodyWriter extends ChunkWriter {
  finish(): Promise<ChunkBody>;
  /** Drops what was written (a failed pass). */
  discard(): Promise<void>;
}

/**
 * Encodes text straight into 64 KiB Buffers as it is written (`Buffer#write` per piece). Concatenating the
 * entries into a string first and converting that cost a flatten plus a copy per 64 KiB, ~5% of the engine's time.
 * No backpressure to honour: the caller bounds the chunk.
 */
export class MemoryWriter implements BodyWriter {
  private readonly parts: Buffer[] = [];
  private cur: Buffer = takePiece();
  private used = 0;
  private size = 0;
  readonly needsDrain = false;

  write(s: string): boolean {
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes: within that bound the piece surely has room.
    if (s.length * 3 <= PIECE - this.used) {
      this.used += this.cur.write(s, this.used, 'utf8');
      return true;
    }
    const b = Buffer.from(s, 'utf8');
    let off = 0;
    while (off < b.length) {
      if (this.used === PIECE) this.seal();
      const n = b.copy(this.cur, this.used, off, Math.min(b.length, off + PIECE - this.used));
      this.used += n;
      off += n;
    }
    return true;
  }

  /** Bytes that are already UTF-8 (a scanned piece's entries, plan/scanned-batch.ts): copied, never kept. */
  writeBytes(b: Uint8Array): boolean {
    let off = 0;
    while (off < b.length) {
      if (this.used === PIECE) this.seal();
      const n = Math.min(b.length - off, PIECE - this.used);
      this.cur.set(off === 0 && n === b.length ? b : b.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
    }
    return true;
  }

  async drained(): Promise<void> {}

  private seal(): void {
    this.parts.push(this.cur.subarray(0, this.used));
    this.size += this.used;
    this.cur = takePiece();
    this.used = 0;
  }

  async finish(): Promise<ChunkBody> {
    if (this.used > 0) {
      // The last piece keeps only what it holds (a copy), so a chunk never pins a mostly empty 64 KiB.
      this.parts.push(Buffer.from(this.cur.subarray(0, this.used)));
      this.size += this.used;
    }
    givePiece(this.cur);
    this.cur = Buffer.alloc(0);
    this.used = 0;
    return new MemoryBody(this.parts, this.size);
  }

  async discard(): Promise<void> {
    for (const b of this.parts) givePiece(b);
    givePiece(this.cur);
    this.cur = Buffer.alloc(0);
    this.parts.length = 0;
    this.used = 0;
  }
}

/** A spool file. Only this process reads it, after `finish()`, so it needs no temporary name. */
export class FileWriter implements BodyWriter {
  private readonly sink: TextSink;
  private readonly path: string;
  constructor(path: string) {
    this.path = path;
    this.sink = new TextSink(createWriteStream(path));
  }
  write(s: string): boolean {
    return this.sink.write(s);
  }
  writeBytes(b: Uint8Array): boolean {
    return this.sink.writeBytes(b);
  }
  get needsDrain(): boolean {
    return this.sink.needsDrain;
  }
  drained(): Promise<void> {
    return this.sink.drained();
  }
  async finish(): Promise<ChunkBody> {
    await this.sink.end();
    return new FileBody(this.path, this.sink.bytes, true);
  }
  async discard(): Promise<void> {
    this.sink.stream.destroy();
    await rm(this.path, { force: true });
  }
}

/** Makes the writer for one chunk body, named for messages and (on disk) for its file. */
export type BodyFactory = (name: string) => BodyWriter;
