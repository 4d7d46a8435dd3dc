import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HEAP_FLAGS } from '../../src/cli/heap-flags.ts';
import { until } from '../helpers/until.ts';
import { node22, npm, run, userEnv } from './npm.ts';

/**
 * The package as users get it: `npm pack` (which builds dist/ at prepack), installed into an empty project and
 * globally, then the bin and the library used on each supported Node line: 24 (the pinned runtime this runs on)
 * and 22 (fetched from the registry once, then kept under the OS temp dir). Nothing here runs from the checkout.
 * Cost: ~30 s with warm caches (the pack's build ~5 s of it); the first run also downloads Node 22 (~12 s).
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const base = userEnv([]);

let work = '';
let tarball = '';
let packed: { size: number; entryCount: number; files: Array<{ path: string }> } | undefined;
let project = '';

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'sdata-pkg-'));
  const env = userEnv([dirname(process.execPath)]);
  const r = await npm(['pack', '--json', '--pack-destination', work], { cwd: ROOT, env });
  const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as Array<{ filename: string; size: number; entryCount: number; files: Array<{ path: string }> }>;
  packed = info!;
  tarball = join(work, info!.filename);
  project = join(work, 'project');
  await mkdir(project);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
  await npm(['install', '--prefer-offline', tarball], { cwd: project, env });
});

after(() => rm(work, { recursive: true, force: true }));

/** Runs the installed bin as a user on `node` would: `sdata-sync` found on PATH, its shebang finding `node`. */
const user = (node: string, bin: string) => userEnv([bin, dirname(node)]);

async function commandLine(t: TestContext, node: string, binDir: string, major: string): Promise<void> {
  const env = user(node, binDir);
  const v = await run('sdata-sync', ['--version'], { env, cwd: work });
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`^sdata-sync \\d+\\.\\d+\\.\\d+ \\(node ${major}\\.`));

  const pipe = await run('sh', ['-c', 'sdata-sync gen 100 | sdata-sync plan'], { env, cwd: work });
  assert.equal(pipe.code, 0, pipe.stderr);
  assert.equal(pipe.stdout.match(/<entry[\s>]/g)?.length, 100);
  assert.match(pipe.stderr, /"read":100,"forwarded":100/);

  // The heap bounds, from inside: started by its bin link, the command runs with them.
  const report = fileURLToPath(new URL('./fixtures/heap-report.mjs', import.meta.url));
  const heap = await run('sdata-sync', ['--version'], { env: { ...env, NODE_OPTIONS: `--import=${report}` }, cwd: work });
  const limit = await run(node, [...HEAP_FLAGS, '-p', 'v8.getHeapStatistics().heap_size_limit / 2 ** 20'], { env });
  assert.match(heap.stderr, new RegExp(`"heapLimitMiB":${limit.stdout.trim()},`), heap.stderr);

  const db = join(await mkdtemp(join(work, 'store-')), 'hub.db');
  const serve = spawn('sdata-sync', ['serve', '--db', db, '--port', '0'], { env, cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  serve.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  serve.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = once(serve, 'exit');
  try {
    await until(() => /^http:\/\/\S+/.test(out), { what: () => `serve to print its URL (stderr: ${err})`, timeoutMs: 30_000 });
    const url = /^(http:\/\/\S+)/.exec(out)![1]!;
    const health = await run('sdata-sync', ['health', `${url}/$health`], { env, cwd: work });
    assert.equal(health.code, 0, health.stderr);
    assert.match(health.stdout, /\/\$health: 200 in \d+ ms\n$/);
    assert.equal(((await (await fetch(`${url}/$health`)).json()) as { app: string }).app, 'hub');
    t.diagnostic(`node ${major}: serve answered GET ${url}/$health with 200`);
  } finally {
    serve.kill('SIGTERM');
  }
  const [code] = await exited as [number | null];
  assert.equal(code, 0, err);
  assert.match(err, /stopped, database closed/);
}

describe('the packed package, installed as users install it', () => {
  test('the tarball holds the build, the bin, the sources its declaration maps point at, README and LICENCE: no tests, benches or CI', (t) => {
    const paths = packed!.files.map((f) => f.path);
    const strays = paths.filter((p) => !/^(bin|dist|src)\//.test(p) && !['package.json', 'README.md', 'LICENSE'].includes(p));
    assert.deepEqual(strays, []);
    for (const p of ['bin/sdata-sync.mjs', 'dist/cli/main.js', 'dist/api/index.js', 'dist/api/index.d.ts', 'dist/api/engine.d.ts.map', 'LICENSE']) assert.ok(paths.includes(p), p);
    assert.ok(!paths.some((p) => p.startsWith('dist/') && p.endsWith('.ts') && !p.endsWith('.d.ts')), 'no sources in dist/');
    t.diagnostic(`tarball ${(packed!.size / 1024).toFixed(1)} KiB, ${packed!.entryCount} files`);
  });

  test('installed in an empty project, on Node 24: --version, gen | plan, serve until $health answers, SIGTERM', async (t) => {
    await commandLine(t, process.execPath, join(project, 'node_modules', '.bin'), '24');
  });

  test('installed in an empty project, on Node 22 (from the registry, cached): the same', async (t) => {
    await commandLine(t, await node22(base), join(project, 'node_modules', '.bin'), '22');
  });

  test('installed globally (npm i -g --prefix): the same', async (t) => {
    const prefix = join(work, 'global');
    await npm(['install', '--global', '--prefer-offline', '--prefix', prefix, tarball], { cwd: work, env: userEnv([dirname(process.execPath)]) });
    await commandLine(t, process.execPath, join(prefix, 'bin'), '24');
  });

  test('the library: every subpath type-checks against the shipped .d.ts, and the docs/library.md examples run on 24 and 22', async () => {
    const doc = await readFile(join(ROOT, 'docs', 'library.md'), 'utf8');
    const examples = [...doc.matchAll(/```ts\n\/\/ example: (\w+)\n([\s\S]*?)```/g)].map((m) => ({ name: m[1]!, code: m[2]! }));
    assert.deepEqual(examples.map((e) => e.name), ['sync', 'plan', 'read']);
    const src = join(project, 'src');
    await mkdir(src, { recursive: true });
    for (const e of examples) await writeFile(join(src, `${e.name}.ts`), e.code);
    await writeFile(join(src, 'types.ts'), TYPES);
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        module: 'nodenext', target: 'es2023', lib: ['es2023'], strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true,
        outDir: 'out', rootDir: 'src', types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')], skipLibCheck: false,
      },
      include: ['src'],
    }));
    const tsc = await run(process.execPath, [TSC, '-p', project], { cwd: project, env: base });
    assert.equal(tsc.code, 0, `tsc against the shipped declarations:\n${tsc.stdout}${tsc.stderr}`);

    const gen = await run(process.execPath, [join(project, 'node_modules', 'sdata-sync', 'bin', 'sdata-sync.mjs'), 'gen', '1000'], { cwd: project, env: base });
    assert.equal(gen.code, 0, gen.stderr);
    await writeFile(join(project, 'source.xml'), gen.stdout);
    const n22 = await node22(base);
    for (const node of [process.execPath, n22]) {
      const go = (name: string, ...args: string[]) => run(node, [join(project, 'out', `${name}.js`), ...args], { cwd: project, env: base });
      const types = await go('types');
      assert.equal(types.code, 0, types.stderr);
      const sync = await go('sync');
      assert.equal(sync.code, 0, sync.stderr);
      assert.equal(sync.stdout, 'accounts: 1 read, 1 created\nin sync\n');
      const plan = await go('plan', 'source.xml', join(work, `chunks-${n22 === node ? 22 : 24}`));
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(plan.stdout, /"read":1000,"forwarded":1000,"skipped":0,"invalid":0,"held":0,"chunks":2,/);
      const read = await go('read', 'source.xml');
      assert.equal(read.code, 0, read.stderr);
      assert.match(read.stdout, /^syncMode catchUp, \d+ digest entries\n1000 entries\n/);
    }
  });
});

/** Each subpath, typed as a user would type against it; run as well, so that the names exist at run time too. */
const TYPES = `import assert from 'node:assert/strict';
import * as all from 'sdata-sync';
import { runSync, SyncRun, type SyncEvent, type SyncOptions, type SyncResult } from 'sdata-sync/engine';
import { Decider, DirChunkTarget, planPage, Planner, SegmentedPlan, StreamChunkTarget, type ChunkTarget, type PlanStats } from 'sdata-sync/plan';
import { hashPassword, startProvider, type Health, type ProviderOptions, type RunningProvider } from 'sdata-sync/provider';
import { FeedReader, parseDigestDocument, SdataError, type Digest, type EntryRecord, type FeedHandler } from 'sdata-sync/reader';

const handler: FeedHandler = { head() {}, entry(_e: EntryRecord) {}, end() {} };
const reader = new FeedReader(handler, { source: 'x', maxEntryBytes: all.DEFAULT_MAX_ENTRY_BYTES });
const digest: Digest | undefined = undefined;
const stats: PlanStats = new Planner({ target: digest, out: new StreamChunkTarget(process.stdout), singleFeed: true }).stats;
const target: ChunkTarget = new DirChunkTarget('.');
const options: SyncOptions = { source: { url: 'http://a/sdata/a/c/-', credentials: { token: 't' } }, target: 'http://b/sdata/b/c/-', kinds: ['accounts'] };
const provider: ProviderOptions = { db: ':memory:', port: 0 };
const onEvent = (e: SyncEvent): string => (e.type === 'passDone' ? e.report.kind : e.type);
const later = (r: RunningProvider): Health => r.health();
const result = (r: SyncResult): boolean => r.ok;
assert.equal(typeof runSync, 'function');
assert.equal(typeof SyncRun, 'function');
assert.equal(typeof startProvider, 'function');
assert.equal(typeof hashPassword, 'function');
assert.equal(typeof planPage, 'function');
assert.equal(typeof SegmentedPlan, 'function');
assert.equal(typeof Decider, 'function');
assert.equal(typeof parseDigestDocument, 'function');
assert.ok(new SdataError('SDATA_E_USAGE', 'x') instanceof Error);
assert.equal(all.ERROR_CODES.SDATA_E_NETWORK.exit, all.EXIT.NETWORK);
assert.ok(!('startProvider' in all));
void [reader, stats, target, options, provider, onEvent, later, result];
`;
