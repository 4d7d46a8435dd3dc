import { setTimeout as sleep } from 'node:timers/promises';

export interface UntilOptions {
  /** What is awaited, for the failure message (a function: computed at failure, e.g. to show the output so far). */
  what: string | (() => string);
  /** The bound (default 10 s: far above what any wait here needs on a loaded 2-core machine, far below --test-timeout). */
  timeoutMs?: number;
  /** Between two looks (default 5 ms). */
  everyMs?: number;
}

/**
 * Waits until `cond` holds, looking every `everyMs`; fails after `timeoutMs` with a message naming what it waited for.
 * For conditions only observable by looking (another process's progress, a peer's state); where the code under test
 * can be told the time or signal an event, prefer that.
 */
export async function until(cond: () => boolean | Promise<boolean>, o: UntilOptions): Promise<void> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (performance.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof o.what === 'function' ? o.what() : o.what}`);
    }
    await sleep(o.everyMs ?? 5);
  }
}
