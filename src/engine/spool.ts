import type { ChunkFrame, ChunkTarget, ChunkWriter, PlanStats } from '../plan/planner.ts';
import { FramedBody, type BodyFactory, type BodyWriter } from './chunk-body.ts';
import type { SpooledChunk } from './chunk-sender.ts';

/** Chunk bounds up to this many bytes spool in memory, larger ones in files (docs/decisions/0010-chunks-spooled-in-memory.md). */
export const MEMORY_SPOOL_MAX = 32 * 1024 * 1024;

/**
 * The engine's ChunkTarget: the planner writes each chunk into a replayable body (memory, or a spool file for
 * large chunk bounds), and `close()` hands it to the sender queue. `close()` resolves only when the queue has room,
 * so at most `depth` chunks wait or travel while the next one is produced (docs/engine-rules.md §2: chunk k is POSTed
 * while chunk k+1 is prepared): memory and disk stay within (depth + 1) chunk bounds, plus the start of the next
 * chunk (the planner awaits closes between input pieces, so up to one piece's entries), plus the chunk whose
 * results are still being read (the sender keeps its body until they are counted: a result count that does not
 * match names the posted entries from it). A body is what a retry re-sends, byte for byte.
 */
export class SpoolTarget implements ChunkTarget {
  private readonly make: BodyFactory;
  private readonly send: (c: SpooledChunk) => Promise<void>;
  private readonly depth: number;
  private readonly writers = new Map<number, BodyWriter>();
  private readonly queue: Promise<void>[] = [];
  private tail: Promise<void> = Promise.resolve();
  private lastForwarded = 0;
  /** The planner's counters, to know how many entries each chunk holds. */
  stats: PlanStats | undefined;
  /** The first failure; later calls and `drain()` rethrow it. */
  error: unknown;

  private readonly labelPrefix: string;

  constructor(make: BodyFactory, send: (c: SpooledChunk) => Promise<void>, depth = 1, labelPrefix = '') {
    this.make = make;
    this.send = send;
    this.depth = depth;
    this.labelPrefix = labelPrefix;
  }

  open(n: number): ChunkWriter {
    if (this.error !== undefined) throw this.error;
    const w = this.make(`chunk-${String(n).padStart(6, '0')}`);
    this.writers.set(n, w);
    return w;
  }

  /**
   * Never rejects: the planner keeps these promises, and one could otherwise reject unobserved. Failures are kept
   * in `error` and surface through `open()`, `check()` and `drain()`.
   */
  async close(n: number, final: boolean, frame: ChunkFrame | undefined): Promise<void> {
    // The planner counts an entry after writing it and closes a chunk before writing the next one's first entry.
    const forwarded = this.stats?.forwarded ?? 0;
    const entries = forwarded - this.lastForwarded;
    this.lastForwarded = forwarded;
    const w = this.writers.get(n)!;
    this.writers.delete(n);
    let chunk: SpooledChunk;
    try {
      // The entries are spooled; the head (with or without `next`) and the tail go around them.
      chunk = { n, body: new FramedBody(frame!.head, await w.finish(), frame!.tail), final, entries, label: `${this.labelPrefix}chunk ${n}` };
    } catch (e) {
      this.error ??= e;
      return;
    }
    while (this.queue.length >= this.depth) await this.queue[0];
    if (this.error !== undefined) {
      await chunk.body.release();
      return;
    }
    // A chunk handed to `send` is the sender's to release (after its results are counted); one never sent is ours.
    const p = this.tail.then(() => (this.error === undefined ? this.send(chunk) : chunk.body.release()))
      .catch((e: unknown) => {
        this.error ??= e;
      })
      .finally(() => {
        void this.queue.shift(); // p itself: its failure is kept by the catch above
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

  /** After a failure: drop half-written chunks, wait for the one in flight (the sender releases its context). */
  async abort(): Promise<void> {
    for (const w of this.writers.values()) await w.discard().catch(() => undefined);
    this.writers.clear();
    await this.tail;
  }
}
