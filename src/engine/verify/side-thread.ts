import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { ContextRecorder } from '../../http/async-op.ts';
import type { HttpClientOptions } from '../../http/client.ts';
import { runnable } from '../../runtime/module-url.ts';
import { isSdataError, SdataError, type SdataErrorCode, type SdataErrorDetails } from '../../protocol/errors.ts';
import type { LogLevel } from '../log.ts';
import type { SideRead, SideReadJob } from './read-side.ts';

/**
 * One side of `verify` read in a thread of its own (side-worker.ts), so that the two sides' parsing, canonical forms
 * and hashing use two cores, as two `pull` processes would. The thread gets what it needs as data: the side's
 * collection, its side file, and its HTTP client's options (credentials for that side's origin only); it answers with
 * log lines, progress and the side's read, or its error, which is rebuilt here with its code. `abort()` stops the
 * reading; the thread still DELETEs its `$syncSource` context before it ends.
 */

/** The client's options that can cross to a thread (no callbacks, no agent, no signal: the thread makes its own). */
export type PortableClientOptions = Omit<HttpClientOptions, 'signal' | 'onRetry' | 'agent' | 'clock'>;

export interface SideJob extends SideReadJob {
  client: PortableClientOptions;
}

/** A ContextRecorder call made in the thread, by the thread's own handle (its recorder answers at once). */
export type ContextCall =
  | { call: 'posting' | 'opened'; handle: number; url: string }
  | { call: 'located'; handle: number; url: string }
  | { call: 'closed'; handle: number };

export type FromSide =
  | { type: 'log'; level: LogLevel; msg: string }
  | { type: 'progress'; entries: number }
  | { type: 'context'; c: ContextCall }
  | { type: 'done'; read: SideRead }
  | { type: 'failed'; error: PortableError };

interface PortableError {
  code: SdataErrorCode | undefined;
  message: string;
  details: Omit<SdataErrorDetails, 'cause'> | undefined;
  stack: string | undefined;
}

export function serializeError(e: unknown): PortableError {
  if (isSdataError(e)) {
    const { cause: _cause, ...details } = e.details;
    return { code: e.code, message: e.message, details, stack: undefined };
  }
  return { code: undefined, message: e instanceof Error ? e.message : String(e), details: undefined, stack: e instanceof Error ? e.stack : undefined };
}

function rebuild(p: PortableError): Error {
  if (p.code !== undefined) return new SdataError(p.code, p.message, p.details ?? {});
  const e = new Error(p.message);
  if (p.stack !== undefined) e.stack = p.stack;
  return e;
}

/** A thread's context call, into the journal's recorder: the thread's handles mapped to the journal's. */
function replay(r: ContextRecorder | undefined, handles: Map<number, number>, c: ContextCall): void {
  if (r === undefined) return;
  if (c.call === 'posting' || c.call === 'opened') handles.set(c.handle, r[c.call](c.url));
  const h = handles.get(c.handle);
  if (h === undefined) return;
  if (c.call === 'located') r.located(h, c.url);
  else if (c.call === 'closed') {
    r.closed(h);
    handles.delete(c.handle);
  }
}

/** In the thread: a recorder whose calls go to the parent (replay), with handles of the thread's own. */
export function portRecorder(post: (c: ContextCall) => void): ContextRecorder {
  let n = 0;
  return {
    posting: (url) => (post({ call: 'posting', handle: ++n, url }), n),
    opened: (url) => (post({ call: 'opened', handle: ++n, url }), n),
    located: (handle, url) => post({ call: 'located', handle, url }),
    closed: (handle) => post({ call: 'closed', handle }),
  };
}

/**
 * The thread's young generation, MiB: what it holds is one page's entry and one payload's canonical form at a time.
 * Its old generation is as large as this thread's whole heap: the bound the CLI checked --max-entry-bytes against
 * (cli/verify.ts, cli/heap-flags.ts heapRoomFor), which an entry that large needs on whichever thread reads it.
 */
const YOUNG_MB = 4;
const oldGenerationMb = (): number => Math.floor(getHeapStatistics().heap_size_limit / 2 ** 20);

export class SideThread {
  readonly #worker: Worker;
  readonly done: Promise<SideRead>;

  /** `contexts`: the journal's recorder of this side, which the thread's context calls are replayed into, in order. */
  constructor(job: SideJob, log: (level: LogLevel, msg: string) => void, onProgress: (entries: number) => void, contexts?: ContextRecorder) {
    const handles = new Map<number, number>();
    this.#worker = new Worker(runnable(new URL('./side-worker.ts', import.meta.url)), {
      workerData: job, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB, maxOldGenerationSizeMb: oldGenerationMb() },
    });
    this.done = new Promise((resolve, reject) => {
      let settled = false;
      this.#worker.on('message', (m: FromSide) => {
        if (m.type === 'log') log(m.level, m.msg);
        else if (m.type === 'progress') onProgress(m.entries);
        else if (m.type === 'context') replay(contexts, handles, m.c);
        else {
          settled = true;
          if (m.type === 'done') resolve(m.read);
          else reject(rebuild(m.error));
        }
      });
      this.#worker.on('error', (e: Error) => {
        settled = true;
        reject(new Error(`${job.side}: the thread reading it failed: ${e.message}`, { cause: e }));
      });
      this.#worker.on('exit', (code) => {
        if (!settled) reject(new Error(`${job.side}: the thread reading it ended (exit ${code}) before it finished`));
      });
    });
    // Its outcome is awaited by the caller; until then a rejection must not count as unhandled.
    this.done.catch(() => undefined);
  }

  /** Stops the reading at its next step (the thread then DELETEs its context and ends). */
  abort(): void {
    this.#worker.postMessage({ type: 'abort' });
  }
}
