import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../bin/sdata-sync.mjs', import.meta.url));

/**
 * The node flags the bin's shebang gives users (`#!/usr/bin/env -S node FLAGS`). Benches start the bin as
 * `node FLAGS BIN …` (to add a preload), which skips the shebang: pass these so that it runs as users run it.
 */
export function binFlags(): string[] {
  const first = readFileSync(BIN, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env\s+-S\s+node\s+(.*)$/.exec(first);
  return m ? m[1]!.trim().split(/\s+/).filter((f) => f.startsWith('--')) : [];
}
