import { once } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * Coalesces many small strings into writes of ~64 KiB and reports backpressure: `write()` returns false when the
 * underlying stream asked us to wait, and `drained()` resolves when it may go on. At most one coalescing buffer
 * plus what the stream itself holds (its highWaterMark) is ever in memory.
 */
export class TextSink {
  readonly stream: Writable;
  private pending = '';
  private blocked = false;
  private readonly flushAt: number;
  /** UTF-8 bytes handed to the stream so far. */
  bytes = 0;

  constructor(stream: Writable, flushAt = 64 * 1024) {
    this.stream = stream;
    this.flushAt = flushAt;
  }

  write(s: string): boolean {
    this.pending += s;
    if (this.pending.length >= this.flushAt) this.flush();
    return !this.blocked;
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const buf = Buffer.from(this.pending, 'utf8');
    this.pending = '';
    this.bytes += buf.length;
    if (!this.stream.write(buf)) this.blocked = true;
  }

  get needsDrain(): boolean {
    return this.blocked;
  }

  /** Resolves when the stream has drained (immediately if it never asked us to wait). */
  async drained(): Promise<void> {
    if (!this.blocked) return;
    if (this.stream.writableNeedDrain) {
      // Cancel the loser of the race: a pending `once` keeps its listeners on the stream, and one stream sees
      // thousands of drain waits (MaxListenersExceededWarning, and a leak on a long-lived stdout).
      const ac = new AbortController();
      try {
        await Promise.race([once(this.stream, 'drain', { signal: ac.signal }), once(this.stream, 'close', { signal: ac.signal }).then(() => {
          throw Object.assign(new Error('stream closed before drain'), { code: 'ERR_STREAM_DESTROYED' });
        })]);
      } finally {
        ac.abort();
      }
    }
    this.blocked = false;
  }

  /** Flush and end the stream; resolves once everything is handed to the OS. */
  async end(): Promise<void> {
    this.flush();
    await this.drained();
    await new Promise<void>((resolve, reject) => {
      this.stream.once('error', reject);
      this.stream.end(() => resolve());
    });
  }
}
