import { fileURLToPath } from 'node:url';
import { heapFlagsFor, missingEnv } from '../src/cli/heap-flags.ts';

export const BIN = fileURLToPath(new URL('../bin/sdata-sync.mjs', import.meta.url));

/**
 * The node flags the bin runs the command `args` with (src/cli/heap-flags.ts: started without them, it starts itself
 * again with them).
 * Benches and tests start the bin as `node FLAGS BIN …` (to add a preload, or to watch one process): with these it
 * runs as users run it, and without a restart.
 */
export function binFlags(args: readonly string[] = []): string[] {
  return [...heapFlagsFor(args)];
}

// And the environment the bin starts every command with (MALLOC_ARENA_MAX on Linux): set here, in the process of
// every bench and test that starts the bin, so that each child inherits it and runs as users run it, without a
// restart (which the bin makes, in place, when it is missing).
Object.assign(process.env, missingEnv());
