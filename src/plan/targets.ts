import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TextSink } from '../xml/text-sink.ts';
import type { ChunkFrame, ChunkTarget, ChunkWriter } from './planner.ts';

export const chunkFileName = (n: number): string => `chunk-${String(n).padStart(6, '0')}.xml`;

/**
 * Chunk files in a directory. Entries are written to a temporary file as they come; when the chunk is closed, its
 * head (which says whether it is the last, docs/engine-rules.md §2) goes first into the chunk's own temporary file,
 * then the entries, then the tail, and that file is renamed into place: a reader of the directory never sees half a
 * chunk, whatever happens to this process.
 */
export class DirChunkTarget implements ChunkTarget {
  readonly dir: string;
  private readonly sinks = new Map<number, TextSink>();
  readonly files: string[] = [];
  /** Called after a chunk file is complete and renamed into place. */
  onChunk: ((n: number, path: string, final: boolean) => Promise<void> | void) | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  private temp(n: number, what: 'entries' | 'chunk'): string {
    return join(this.dir, `.${chunkFileName(n)}.${what}.tmp`);
  }

  open(n: number): ChunkWriter {
    const s = new TextSink(createWriteStream(this.temp(n, 'entries')));
    this.sinks.set(n, s);
    return s;
  }

  async close(n: number, final: boolean, frame: ChunkFrame | undefined): Promise<void> {
    const s = this.sinks.get(n)!;
    this.sinks.delete(n);
    await s.end();
    const entries = this.temp(n, 'entries');
    const whole = this.temp(n, 'chunk');
    const out = createWriteStream(whole);
    for (const part of frame!.head) out.write(part);
    await pipeline(createReadStream(entries, { highWaterMark: 256 * 1024 }), out, { end: false });
    await new Promise<void>((resolve, reject) => {
      out.once('error', reject);
      out.end(frame!.tail, () => resolve());
    });
    await rm(entries, { force: true });
    const path = join(this.dir, chunkFileName(n));
    await rename(whole, path);
    this.files.push(path);
    if (this.onChunk) await this.onChunk(n, path, final);
  }

  /** Remove temporaries after a failure (completed chunks stay: each is a whole, valid feed). */
  async abort(): Promise<void> {
    for (const [n, s] of this.sinks) {
      s.stream.destroy();
      await rm(this.temp(n, 'entries'), { force: true });
      await rm(this.temp(n, 'chunk'), { force: true });
    }
    this.sinks.clear();
  }
}

/**
 * The single-feed case: everything goes to one stream (stdout), which is not ended here. It cannot put a head before
 * what it already wrote, so the planner writes the one chunk's head first (`streams`).
 */
export class StreamChunkTarget implements ChunkTarget {
  readonly streams = true;
  readonly sink: TextSink;
  constructor(stream: Writable) {
    this.sink = new TextSink(stream);
  }
  open(): ChunkWriter {
    return this.sink;
  }
  async close(): Promise<void> {
    this.sink.flush();
    await this.sink.drained();
  }
}
