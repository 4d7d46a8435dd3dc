import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Data flows one way (architecture.md): a layer imports only layers before it in this list, never one after. */
const LAYERS = ['protocol', 'xml', 'plan', 'gen', 'http', 'engine', 'provider', 'seeder', 'cli'];
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
}

test('lower layers never import higher ones', () => {
  const violations: string[] = [];
  for (const file of files(SRC)) {
    const layer = relative(SRC, file).split('/')[0]!;
    const rank = LAYERS.indexOf(layer);
    assert.ok(rank >= 0, `${relative(SRC, file)} is in no known layer`);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2]!;
      const target = relative(SRC, resolve(dirname(file), spec)).split('/')[0]!;
      const trank = LAYERS.indexOf(target);
      if (trank > rank) violations.push(`${relative(SRC, file)} (${layer}) imports ${spec} (${target})`);
    }
  }
  assert.deepEqual(violations, []);
});
