import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importsOfSource, importsUnder, layerViolations, reachViolations, staleExceptions, type Exception, type Import } from './imports.ts';

/**
 * The layers of src/ as a graph: each layer lists the layers it may import (type-only imports included). Data flows
 * one way, protocol → xml → plan → http → engine; the provider is a sibling of the engine (neither imports the
 * other); the synthetic data generator (gen) and the seeder that fills a store with it are for the commands that
 * make data, never a dependency of the server or the engine; cli sits on top. runtime/ knows how the code is run
 * (TypeScript sources in a checkout, compiled JS in the package: worker entry points) and imports nothing; api/ is
 * the package's library entry points (package.json "exports"), re-exports only, never the CLI or test data.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  runtime: [],
  protocol: [],
  xml: ['protocol'],
  plan: ['protocol', 'xml', 'runtime'],
  gen: ['protocol'],
  http: ['protocol', 'xml'],
  engine: ['protocol', 'xml', 'plan', 'http', 'runtime'],
  provider: ['protocol', 'xml'],
  seeder: ['protocol', 'xml', 'gen', 'provider'],
  cli: ['protocol', 'xml', 'plan', 'gen', 'http', 'engine', 'provider', 'seeder', 'runtime'],
  api: ['protocol', 'xml', 'plan', 'http', 'engine', 'provider'],
};

/** The only files outside gen/ and seeder/ that may reach them, directly or not: the commands that make data. */
const MAKE_DATA = ['cli/gen.ts', 'cli/seed.ts', 'cli/demo.ts', 'cli/main.ts' /* loads each command on demand */];

/** Tolerated imports that break the graph, each with its reason (none today). */
const EXCEPTIONS: Exception[] = [];

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Who may import gen/ directly: the data-making commands and the seeder. */
function genImportViolations(imports: readonly Import[], exceptions: readonly Exception[]): string[] {
  return imports.filter((i) => i.to.startsWith('gen/') && !i.from.startsWith('gen/') && !i.from.startsWith('seeder/') && !MAKE_DATA.includes(i.from))
    .filter((i) => !exceptions.some((e) => e.from === i.from && e.to === i.to))
    .map((i) => `${i.from} imports ${i.to}: only ${MAKE_DATA.join(', ')} and seeder/ may`);
}

function check(imports: readonly Import[], exceptions: readonly Exception[] = EXCEPTIONS): string[] {
  return [
    ...layerViolations(imports, MAY_IMPORT, exceptions),
    ...genImportViolations(imports, exceptions),
    ...reachViolations(imports, ['gen', 'seeder'], [...MAKE_DATA, ...exceptions.map((e) => e.from)]),
  ];
}

test('src/ follows the layer graph: every import is one its layer may make, and only the data-making commands reach gen/', () => {
  const imports = importsUnder(SRC);
  assert.ok(imports.length > 200, `the scan found the imports (${imports.length})`);
  assert.deepEqual(check(imports), []);
  assert.deepEqual(staleExceptions(imports, EXCEPTIONS), []);
});

// --- the checker on synthetic import lists: it must catch what it is for ---

const imp = (from: string, to: string): Import => ({ from, to });

test('the checker reports provider → engine and engine → provider, the siblings', () => {
  assert.deepEqual(check([imp('provider/server.ts', 'engine/pass.ts'), imp('engine/pass.ts', 'provider/store.ts')]), [
    'provider/server.ts imports engine/pass.ts: provider may import protocol, xml',
    'engine/pass.ts imports provider/store.ts: engine may import protocol, xml, plan, http, runtime',
  ]);
});

test('the checker counts type-only imports, re-exports, import() types and worker entry points', () => {
  const src = `import type { PassStats } from '../engine/stats.ts';
import { type Run, x } from '../engine/run.ts';
export type { Spool } from '../engine/spool.ts';
let y: import('../engine/pull.ts').Pull;
new Worker(new URL('../engine/push.ts', import.meta.url));
// import { z } from '../engine/comment.ts';
const s = "from '../engine/string.ts'";
import { NS } from '../protocol/namespaces.ts';
const pkg = new URL('../../package.json', import.meta.url);`;
  const imports = importsOfSource('provider/x.ts', src);
  assert.deepEqual(imports.map((i) => i.to), ['engine/stats.ts', 'engine/run.ts', 'engine/spool.ts', 'engine/pull.ts', 'protocol/namespaces.ts', 'engine/push.ts']);
  assert.equal(check(imports).length, 5);
});

test('the checker reports gen/ imported outside the data-making commands, and reached through another file', () => {
  assert.deepEqual(check([imp('cli/run.ts', 'gen/synthetic.ts')]), [
    'cli/run.ts imports gen/synthetic.ts: only cli/gen.ts, cli/seed.ts, cli/demo.ts, cli/main.ts and seeder/ may',
    'cli/run.ts reaches gen/synthetic.ts: cli/run.ts → gen/synthetic.ts',
  ]);
  // A seeder inside provider/ (where it used to be) would make gen a dependency of serve.
  assert.deepEqual(check([imp('cli/serve.ts', 'provider/worker.ts'), imp('provider/worker.ts', 'provider/server.ts'),
    imp('provider/server.ts', 'provider/seed.ts'), imp('provider/seed.ts', 'gen/rng.ts')]), [
    'provider/seed.ts imports gen/rng.ts: provider may import protocol, xml',
    'provider/seed.ts imports gen/rng.ts: only cli/gen.ts, cli/seed.ts, cli/demo.ts, cli/main.ts and seeder/ may',
    'cli/serve.ts reaches gen/rng.ts: cli/serve.ts → provider/worker.ts → provider/server.ts → provider/seed.ts → gen/rng.ts',
    'provider/worker.ts reaches gen/rng.ts: provider/worker.ts → provider/server.ts → provider/seed.ts → gen/rng.ts',
    'provider/server.ts reaches gen/rng.ts: provider/server.ts → provider/seed.ts → gen/rng.ts',
    'provider/seed.ts reaches gen/rng.ts: provider/seed.ts → gen/rng.ts',
  ]);
  // Once it is src/seeder/: imported by cli's seed command, fine; by the provider, not.
  assert.deepEqual(check([imp('cli/seed.ts', 'seeder/seed.ts'), imp('seeder/seed.ts', 'gen/rng.ts'), imp('seeder/seed.ts', 'provider/store.ts')], []), []);
  assert.deepEqual(check([imp('provider/server.ts', 'seeder/seed.ts')], []), [
    'provider/server.ts imports seeder/seed.ts: provider may import protocol, xml',
    'provider/server.ts reaches seeder/seed.ts: provider/server.ts → seeder/seed.ts',
  ]);
});

test('the checker reports files in no layer, and exceptions that no longer match an import', () => {
  assert.deepEqual(check([imp('util/x.ts', 'protocol/errors.ts')]), ['util/x.ts is in no layer of the graph (util/)']);
  const old: Exception[] = [{ from: 'provider/seed.ts', to: 'gen/rng.ts', why: 'the seeder, before it moved to src/seeder/' }];
  assert.deepEqual(staleExceptions([imp('seeder/seed.ts', 'gen/rng.ts')], old),
    ['provider/seed.ts no longer imports gen/rng.ts: remove its exception (the seeder, before it moved to src/seeder/)']);
});
