/**
 * SIGINT and SIGTERM from the process's first line of JavaScript until a command handles them. bin/sdata-sync.mjs
 * holds them before it imports anything: loading a command takes ~200 ms (undici, the engine, type stripping),
 * and a signal meanwhile would end the process by the default action (exit 143) with nothing released, where
 * `run` promises exit 130 after deleting its contexts. Node's own start-up (~40 ms before the bin's first line)
 * stays uncovered: nothing is open then.
 */

/** What the bin passes on: the signals it held, and how to stop holding them. */
export interface HeldSignals {
  readonly held: NodeJS.Signals[];
  stop(): void;
}

let early: HeldSignals | undefined;

/** main() receives the bin's holder; the command it runs either takes the signals over or lets them go. */
export function adoptHeldSignals(h: HeldSignals | undefined): void {
  early = h;
}

/**
 * Installs `handler` for SIGINT and SIGTERM, then calls it at once for each signal held since the bin started
 * (so that a run interrupted while it loaded still stops the normal way: nothing sent, or everything released).
 * Returns the uninstaller.
 */
export function handleSignals(handler: (sig: NodeJS.Signals) => void): () => void {
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  const h = early;
  early = undefined;
  if (h) {
    h.stop();
    for (const sig of h.held.splice(0)) handler(sig);
  }
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/**
 * For commands with no signal handling of their own (plan, gen, seed, digest): stop holding, and give a signal
 * that came while the command loaded its default action now.
 */
export function releaseHeldSignals(): void {
  const h = early;
  early = undefined;
  if (!h) return;
  // A signal the kernel has delivered may still wait in libuv's queue, read in the loop's poll phase: let it reach
  // the holder (setImmediate runs after a poll phase) rather than be dropped when the holder goes.
  setImmediate(() => {
    h.stop();
    const sig = h.held[0];
    if (sig !== undefined) process.kill(process.pid, sig);
  });
}
