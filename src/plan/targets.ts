import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { TextSink } from '../xml/text-sink.ts';
import type { ChunkTarget, ChunkWriter } from './planner.ts';

export const chunkFileName = (n: number): string => `chunk-${String(n).padStart(6, '0')}.xml`;

/**
 * Chunk files in a directory. Each is written under a temporary name and renamed when complete, so a reader of the
 * directory never sees half a chunk, whatever happens to this process.
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

  open(n: number): ChunkWriter {
    const s = new TextSink(createWriteStream(join(this.dir, `.${chunkFileName(n)}.tmp`)));
    this.sinks.set(n, s);
    return s;
  }

  async close(n: number, final: boolean): Promise<void> {
    const s = this.sinks.get(n)!;
    this.sinks.delete(n);
    await s.end();
    const path = join(this.dir, chunkFileName(n));
    await rename(join(this.dir, `.${chunkFileName(n)}.tmp`), path);
    this.files.push(path);
    if (this.onChunk) await this.onChunk(n, path, final);
  }

  /** Remove temporaries after a failure (completed chunks stay: each is a whole, valid feed). */
  async abort(): Promise<void> {
    for (const [n, s] of this.sinks) {
      s.stream.destroy();
      await rm(join(this.dir, `.${chunkFileName(n)}.tmp`), { force: true });
    }
    this.sinks.clear();
  }
}

/** The single-feed case: everything goes to one stream (stdout), which is not ended here. */
export class StreamChunkTarget implements ChunkTarget {
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
