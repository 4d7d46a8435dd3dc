import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { HEAP_FLAGS } from '../../src/cli/heap-flags.ts';

/**
 * The V8 flags that keep memory flat are the bin's (src/cli/heap-flags.ts: started without them, it starts itself
 * again with them). npm start and the Dockerfile's HEALTHCHECK pass them on node's command line, so that those
 * starts need no second one; they must not drift apart. The ENTRYPOINT passes none: it runs every command, and
 * verify's bounds are not the others' (heapFlagsFor), so the bin chooses them, in place (execve keeps PID 1).
 */
const root = new URL('../../', import.meta.url);
const read = (p: string): string => readFileSync(new URL(p, root), 'utf8');

test('npm start and the Dockerfile\'s HEALTHCHECK start node with the bin\'s heap flags; its ENTRYPOINT leaves them to the bin', () => {
  const flags = [...HEAP_FLAGS];
  assert.ok(flags.includes('--max-semi-space-size=8') && flags.some((f) => f.startsWith('--max-old-space-size=')), flags.join(' '));
  const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts['start']!;
  assert.equal(start, `node ${flags.join(' ')} bin/sdata-sync.mjs demo`);
  const entry = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(read('Dockerfile'));
  assert.ok(entry, 'Dockerfile has an exec-form ENTRYPOINT');
  assert.deepEqual(JSON.parse(entry[1]!), ['node', '/app/bin/sdata-sync.mjs']);
  const health = /^HEALTHCHECK\s[^\n]*(?:\\\n[^\n]*)*?CMD\s+(\[.*\])\s*$/m.exec(read('Dockerfile'));
  assert.ok(health, 'Dockerfile has an exec-form HEALTHCHECK');
  assert.deepEqual((JSON.parse(health[1]!) as string[]).slice(0, flags.length + 3), ['node', ...flags, '/app/bin/sdata-sync.mjs', 'health']);
});
