import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pageTexts, resolveFeedOptions, type FeedOptions, type ResolvedFeedOptions } from './synthetic.ts';

/** Pieces are coalesced into writes of about this many characters. */
const CHUNK_CHARS = 64 * 1024;

function resolved(o: FeedOptions | ResolvedFeedOptions): ResolvedFeedOptions {
  return 'pages' in o && typeof o.pages === 'number' ? (o as ResolvedFeedOptions) : resolveFeedOptions(o);
}

/**
 * One page of a synthetic feed as a byte stream. Text is generated only when the consumer reads: `_read` stops as
 * soon as `push` says the buffer is full, so a slow consumer holds at most one highWaterMark plus one chunk.
 */
export function generatePage(opts: FeedOptions | ResolvedFeedOptions, page = 0): Readable {
  const it = pageTexts(resolved(opts), page);
  return new Readable({
    highWaterMark: CHUNK_CHARS,
    read() {
      for (;;) {
        let s = '';
        let done = false;
        while (s.length < CHUNK_CHARS) {
          const r = it.next();
          if (r.done) {
            done = true;
            break;
          }
          s += r.value;
        }
        const more = s.length > 0 ? this.push(Buffer.from(s, 'utf8')) : true;
        if (done) {
          this.push(null);
          return;
        }
        if (!more) return;
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
  let s = '';
  let bytes = 0;
  const flush = async (): Promise<void> => {
    const b = Buffer.from(s, 'utf8');
    s = '';
    bytes += b.length;
    if (!out.write(b)) await drain(out);
  };
  for (const piece of pageTexts(resolved(opts), page)) {
    s += piece;
    if (s.length >= CHUNK_CHARS) await flush();
  }
  if (s.length > 0) await flush();
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
