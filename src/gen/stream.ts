import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pageTexts, resolveFeedOptions, type FeedOptions, type ResolvedFeedOptions } from './synthetic-feed.ts';

/** Pieces are encoded into buffers of this many bytes, each handed on whole. */
const CHUNK_BYTES = 64 * 1024;

function resolved(o: FeedOptions | ResolvedFeedOptions): ResolvedFeedOptions {
  return 'pages' in o && typeof o.pages === 'number' ? o : resolveFeedOptions(o);
}

/**
 * Pulls pieces of page text and UTF-8-encodes each into the current buffer at once: no piece outlives its
 * encoding, so the generator's garbage dies young (accumulating a 64 Ki-char string first made V8 promote the
 * pieces and grow its heap with the output size).
 */
class Chunker {
  private readonly it: Iterator<string, void, undefined>;
  private buf = Buffer.allocUnsafe(CHUNK_BYTES);
  private off = 0;
  private done = false;
  /** A piece too large for any buffer, due right after the buffer that was handed on before it. */
  private queued: Buffer | undefined;

  constructor(it: Iterator<string, void, undefined>) {
    this.it = it;
  }

  /** The next ~64 KiB of the page, or undefined at its end. */
  next(): Buffer | undefined {
    if (this.queued !== undefined) {
      const q = this.queued;
      this.queued = undefined;
      return q;
    }
    while (!this.done) {
      const r = this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      const piece = r.value;
      // A UTF-16 code unit takes at most 3 UTF-8 bytes: a safe bound without measuring.
      if (piece.length * 3 <= CHUNK_BYTES - this.off) {
        this.off += this.buf.write(piece, this.off, 'utf8');
        continue;
      }
      const full = this.take();
      if (piece.length * 3 > CHUNK_BYTES) {
        const big = Buffer.from(piece, 'utf8');
        if (full === undefined) return big;
        this.queued = big;
        return full;
      }
      this.off = this.buf.write(piece, 0, 'utf8');
      if (full !== undefined) return full;
    }
    return this.take();
  }

  private take(): Buffer | undefined {
    if (this.off === 0) return undefined;
    const b = this.buf.subarray(0, this.off);
    // The consumer keeps `b`: never write into it again.
    this.buf = Buffer.allocUnsafe(CHUNK_BYTES);
    this.off = 0;
    return b;
  }
}

/**
 * One page of a synthetic feed as a byte stream. Text is generated only when the consumer reads: `_read` stops as
 * soon as `push` says the buffer is full, so a slow consumer holds at most one highWaterMark plus one chunk.
 */
export function generatePage(opts: FeedOptions | ResolvedFeedOptions, page = 0): Readable {
  const chunks = new Chunker(pageTexts(resolved(opts), page));
  return new Readable({
    highWaterMark: CHUNK_BYTES,
    read() {
      for (;;) {
        const b = chunks.next();
        if (b === undefined) {
          this.push(null);
          return;
        }
        if (!this.push(b)) return;
      }
    },
  });
}

/** A single-page feed (the whole `count` on one page, whatever `pageSize` says). */
export function generateFeed(opts: FeedOptions): Readable {
  return generatePage({ ...opts, pageSize: Math.max(1, opts.count) }, 0);
}

async function drain(out: Writable): Promise<void> {
  const ac = new AbortController();
  try {
    await Promise.race([
      once(out, 'drain', { signal: ac.signal }),
      once(out, 'close', { signal: ac.signal }).then(() => {
        throw Object.assign(new Error('output closed before it drained'), { code: 'ERR_STREAM_DESTROYED' });
      }),
    ]);
  } finally {
    ac.abort();
  }
}

/**
 * Writes page `page` to `out` (not ended), waiting for 'drain' whenever `write()` returns false. Resolves with the
 * number of bytes written.
 */
export async function writePage(opts: FeedOptions | ResolvedFeedOptions, page: number, out: Writable): Promise<number> {
  const chunks = new Chunker(pageTexts(resolved(opts), page));
  let bytes = 0;
  let writes = 0;
  for (let b = chunks.next(); b !== undefined; b = chunks.next()) {
    bytes += b.length;
    if (!out.write(b)) await drain(out);
    // A synchronous destination (a file or /dev/null as stdout) never says wait, and awaiting a settled promise only
    // runs microtasks: give the event loop a turn now and then, so whatever V8 and Node defer to it does run.
    else if (++writes % 16 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return bytes;
}

/** `page-000001.xml`, … */
export const pageFileName = (page: number): string => `page-${String(page + 1).padStart(6, '0')}.xml`;

async function endStream(out: Writable): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    out.once('error', reject);
    out.end(() => resolve());
  });
}

/** Writes one file (temporary name, renamed when complete). Resolves with its size in bytes. */
export async function writePageFile(opts: FeedOptions | ResolvedFeedOptions, page: number, path: string): Promise<number> {
  const tmp = `${path}.tmp`;
  const out = createWriteStream(tmp);
  try {
    const bytes = await writePage(opts, page, out);
    await endStream(out);
    await rename(tmp, path);
    return bytes;
  } catch (e) {
    out.destroy();
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Every page of the feed as `dir/page-NNNNNN.xml`. */
export async function writePageFiles(opts: FeedOptions | ResolvedFeedOptions, dir: string): Promise<{ files: string[]; bytes: number }> {
  const o = resolved(opts);
  const files: string[] = [];
  let bytes = 0;
  for (let p = 0; p < o.pages; p++) {
    const path = join(dir, pageFileName(p));
    bytes += await writePageFile(o, p, path);
    files.push(path);
  }
  return { files, bytes };
}
