import { createWriteStream, type WriteStream } from 'node:fs';
import { fileError } from '../protocol/errors.ts';

/** A JSON Lines file written with backpressure: `line()` waits while the stream's buffer is full. */
export class JsonlFile {
  readonly path: string;
  readonly #ws: WriteStream;
  #error: NodeJS.ErrnoException | undefined;

  constructor(path: string) {
    this.path = path;
    this.#ws = createWriteStream(path);
    this.#ws.on('error', (e) => {
      this.#error ??= e;
    });
  }

  /** Once the file is open: a path that cannot be written fails here (SDATA_E_IO), before any work is done. */
  async opened(): Promise<void> {
    if (this.#ws.pending && this.#error === undefined) await this.#settled('ready');
    this.#check();
  }

  async line(value: unknown): Promise<void> {
    this.#check();
    if (!this.#ws.write(`${JSON.stringify(value)}\n`)) {
      await this.#settled('drain');
      this.#check();
    }
  }

  async close(): Promise<void> {
    // A stream that failed (a path that could not be opened) emits neither 'finish' nor another 'error': no wait.
    if (!this.#ws.writableEnded && !this.#ws.destroyed && this.#error === undefined) {
      this.#ws.end();
      await this.#settled('finish');
    }
    this.#check();
  }

  /** Until `event`, or an error (which #check then reports); no listener outlives the wait. */
  #settled(event: 'ready' | 'drain' | 'finish'): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#ws.off(event, done);
        this.#ws.off('error', done);
        resolve();
      };
      this.#ws.on(event, done);
      this.#ws.on('error', done);
    });
  }

  #check(): void {
    const e = this.#error;
    if (e) throw fileError(`--report ${this.path}`, 'write', e);
  }
}
