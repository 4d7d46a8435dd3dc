import { rm } from 'node:fs/promises';
import type { ChunkTarget, ChunkWriter, PlanStats } from '../plan/planner.ts';
import { DirChunkTarget } from '../plan/targets.ts';
import type { SpooledChunk } from './chunk-sender.ts';

/**
 * The engine's ChunkTarget: the planner writes each chunk to a file in a spool directory (temp name, renamed when
 * complete), and `close()` hands it to the sender queue. `close()` resolves only when the queue has room, so at
 * most `depth` chunks wait or travel while the next one is produced (engine rules §2: chunk k is POSTed while
 * chunk k+1 is prepared). Memory is one chunk writer's buffer; disk is at most depth + 1 chunks. A spool file is
 * deleted once the target has answered for it, and it is what a retry re-sends, byte for byte.
 */
export class SpoolTarget implements ChunkTarget {
  readonly dir: DirChunkTarget;
  private readonly send: (c: SpooledChunk) => Promise<void>;
  private readonly depth: number;
  private readonly queue: Promise<void>[] = [];
  private tail: Promise<void> = Promise.resolve();
  private lastForwarded = 0;
  /** The planner's counters, to know how many entries each chunk holds. */
  stats: PlanStats | undefined;
  /** The first sender failure; later closes and `drain()` rethrow it. */
  error: unknown;

  constructor(dir: string, send: (c: SpooledChunk) => Promise<void>, depth = 1) {
    this.dir = new DirChunkTarget(dir);
    this.send = send;
    this.depth = depth;
  }

  open(n: number): ChunkWriter {
    if (this.error !== undefined) throw this.error;
    return this.dir.open(n);
  }

  /**
   * Never rejects: a promise the planner keeps could otherwise reject unobserved. Failures are kept in `error`
   * and surface through `open()`, `check()` and `drain()`.
   */
  async close(n: number, final: boolean): Promise<void> {
    // The planner counts an entry after writing it and closes a chunk before writing the next one's first entry.
    const forwarded = this.stats?.forwarded ?? 0;
    const entries = forwarded - this.lastForwarded;
    this.lastForwarded = forwarded;
    let path: string;
    try {
      await this.dir.close(n, final);
      path = this.dir.files[this.dir.files.length - 1]!;
      this.dir.files.length = 0;
    } catch (e) {
      this.error ??= e;
      return;
    }
    while (this.queue.length >= this.depth) {
      await this.queue[0];
    }
    if (this.error !== undefined) {
      await rm(path, { force: true });
      return;
    }
    const chunk: SpooledChunk = { n, path, final, entries, label: `chunk ${n}` };
    const p = this.tail.then(() => (this.error === undefined ? this.send(chunk) : undefined))
      .catch((e: unknown) => {
        this.error ??= e;
      })
      .finally(() => {
        this.queue.shift();
        return rm(path, { force: true });
      });
    this.tail = p;
    this.queue.push(p);
  }

  /** Throws the first failure, if any (called between input pieces so a failed send stops the source read). */
  check(): void {
    if (this.error !== undefined) throw this.error;
  }

  /** Waits for every queued chunk; rethrows the first failure. */
  async drain(): Promise<void> {
    await this.tail;
    if (this.error !== undefined) throw this.error;
  }

  /** After a failure: wait for the chunk in flight (its context is released by the sender), drop temporaries. */
  async abort(): Promise<void> {
    await this.dir.abort();
    await this.tail;
  }
}
