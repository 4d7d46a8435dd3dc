import type { Writable } from 'node:stream';
import { errnoCode, fileError } from '../protocol/errors.ts';

/**
 * Each written stream's first error (null until there is one), recorded by the one listener put on it however many
 * sinks write to it: a listener per sink would pile up on a long-lived stream (stdout, a library's own writable)
 * and never go.
 */
const failures = new WeakMap<Writable, Error | null>();

/**
 * Listens for `stream`'s errors once. Always listened to: an 'error' event nobody listens to ends the process with a
 * stack trace (seen: plan --out-dir on a full disk). A file's failure is SDATA_E_IO naming the file; a socket's or a
 * pipe's (EPIPE) is passed on as it is, for whoever knows what a closed peer means.
 */
function watch(stream: Writable): void {
  if (failures.has(stream)) return;
  failures.set(stream, null);
  stream.on('error', (e: Error) => {
    if (failures.get(stream) !== null) return;
    const path = (stream as { path?: unknown }).path;
    failures.set(stream, typeof path === 'string' && errnoCode(e) !== undefined ? fileError(path, 'write', e, { source: path }) : e);
  });
}

/**
 * Coalesces many small strings into writes of ~64 KiB and reports backpressure: `write()` returns false when the
 * underlying stream asked us to wait, and `drained()` resolves when it may go on. At most one coalescing buffer
 * plus what the stream itself holds (its highWaterMark) is ever in memory.
 *
 * Each string is UTF-8-encoded into the current buffer as it comes, instead of being appended to a pending string:
 * a pending rope kept every forwarded entry (and, through V8's sliced strings, the decoded input chunks they were cut
 * from) alive until the next flush, long enough to survive scavenges. That raised plan's peak RSS by ~60 MiB on a
 * 250 MB feed (V8 grows the young generation when much survives); encoding at once leaves only short-lived garbage.
 */
export class TextSink {
  readonly stream: Writable;
  private buf: Buffer;
  private off = 0;
  private blocked = false;
  private readonly size: number;
  /** UTF-8 bytes handed to the stream so far. */
  bytes = 0;
  constructor(stream: Writable, flushAt = 64 * 1024) {
    this.stream = stream;
    this.size = Math.max(16, flushAt);
    this.buf = Buffer.allocUnsafe(this.size);
    watch(stream);
  }

  /** The stream's first error, thrown by the next write, flush or wait. */
  private get failure(): Error | undefined {
    return failures.get(this.stream) ?? undefined;
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  write(s: string): boolean {
    this.writeCounted(s);
    return !this.blocked;
  }

  /** Like write(), returning the UTF-8 bytes `s` took (what Buffer.byteLength(s) would say, without a second pass). */
  writeCounted(s: string): number {
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes, so this is a safe bound without measuring.
    if (s.length * 3 > this.size - this.off) {
      this.flush();
      if (s.length * 3 > this.size) {
        const b = Buffer.from(s, 'utf8');
        this.bytes += b.length;
        if (!this.stream.write(b)) this.blocked = true;
        return b.length;
      }
    }
    const n = this.buf.write(s, this.off, 'utf8');
    this.off += n;
    return n;
  }

  /** Bytes that are already UTF-8. The stream may keep `b` (large writes go to it directly): never reuse it. */
  writeBytes(b: Uint8Array): boolean {
    const n = b.length;
    if (n > this.size - this.off) {
      this.flush();
      if (n > this.size) {
        this.bytes += n;
        if (!this.stream.write(b)) this.blocked = true;
        return !this.blocked;
      }
    }
    this.buf.set(b, this.off);
    this.off += n;
    return !this.blocked;
  }

  flush(): void {
    this.check();
    if (this.off === 0) return;
    const b = this.buf.subarray(0, this.off);
    // The stream may hold on to `b` (async writes): never write into it again.
    this.buf = Buffer.allocUnsafe(this.size);
    this.off = 0;
    this.bytes += b.length;
    if (!this.stream.write(b)) this.blocked = true;
  }

  get needsDrain(): boolean {
    return this.blocked;
  }

  /** Resolves when the stream has drained (immediately if it never asked us to wait). */
  async drained(): Promise<void> {
    this.check();
    if (!this.blocked) return;
    if (this.stream.writableNeedDrain) {
      // Plain listeners, both removed whichever fires: a pending `once` would stay registered per wait (thousands
      // on a long-lived stdout), and cancelling it with an AbortController costs a DOMException per wait.
      const stream = this.stream;
      await new Promise<void>((resolve, reject) => {
        const done = (): void => {
          stream.off('drain', onDrain);
          stream.off('close', onClose);
        };
        const onDrain = (): void => {
          done();
          resolve();
        };
        const onClose = (): void => {
          done();
          reject(this.failure ?? Object.assign(new Error('stream closed before drain'), { code: 'ERR_STREAM_DESTROYED' }));
        };
        stream.on('drain', onDrain);
        stream.on('close', onClose);
      });
    }
    this.blocked = false;
  }

  /** Flush and end the stream; resolves once everything is handed to the OS. */
  async end(): Promise<void> {
    this.flush();
    await this.drained();
    await new Promise<void>((resolve, reject) => {
      this.stream.once('error', (e: Error) => reject(this.failure ?? e));
      this.stream.end(() => resolve());
    });
    this.check();
  }
}
