import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deadExports } from './imports.ts';

/**
 * tsc's noUnusedLocals sees inside a file only: an export nobody imports is dead code it cannot see (requireTick and
 * tickFromNumber shipped that way). Uses count from everywhere in the repository: src, tests, benches, scripts, bin.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? sources(join(dir, d.name)) : /\.(ts|mjs)$/.test(d.name) ? [join(dir, d.name)] : []));
}

test('every export of src/ is used somewhere: imported by another file, or used in its own', () => {
  const files = new Map(['src', 'test', 'bench', 'scripts', 'bin'].flatMap(sources).map((p) => [relative('', p).split('\\').join('/'), readFileSync(join(ROOT, p), 'utf8')] as const));
  assert.ok(files.size > 100, `the scan found the sources (${files.size})`);
  assert.deepEqual(deadExports(files, (p) => p.startsWith('src/')), []);
});

test('the dead-export check finds an export nobody uses, and only that one', () => {
  const files = new Map([
    ['src/a.ts', 'export function used(): void {}\nexport function dead(): void {}\nexport const home = 1;\nexport const alsoHome = home + 1;\nexport type T = number;\nexport { re };\nimport { re } from "./c.ts";'],
    ['src/b.ts', 'import { used, type T } from "./a.ts";\nconst { alsoHome } = await import("./a.ts");\nexport const x: T = used() ?? alsoHome;'],
    ['src/c.ts', 'export const re = 1;\nexport const lazy = 2;'],
    ['src/d.ts', 'export const y = (await import("./c.ts")).lazy;'],
    ['test/e.ts', 'import * as b from "../src/b.ts";\nimport { y } from "../src/d.ts";\nimport { re } from "../src/a.ts";'],
  ]);
  assert.deepEqual(deadExports(files, (p) => p.startsWith('src/')), ['src/a.ts: dead']);
});
