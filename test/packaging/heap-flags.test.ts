import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HEAP_FLAGS, heapFlagsFor, missingEnv, missingHeapFlags, PLAN_HEAP_FLAGS, VERIFY_HEAP_FLAGS, wasRestarted } from '../../src/cli/heap-flags.ts';
import { BIN, NODE } from '../helpers/cli.ts';
import { until } from '../helpers/until.ts';

/**
 * The bin's heap bounds hold however it is started: a start without them (`node bin/sdata-sync.mjs`, npm's bin link
 * on a plain `#!/usr/bin/env node`, npx) starts again with them, in place (process.execve) or, where Node has no
 * execve, as a child. Measured from inside the process that runs the command: a preload reports its V8 heap limit.
 */
const fixture = (f: string): string => fileURLToPath(new URL(`./fixtures/${f}`, import.meta.url));
const REPORT = `--import=${fixture('heap-report.mjs')}`;

interface HeapReport { pid: number; heapLimitMiB: number; execArgv: string[] }

/** V8's heap limit for node started with these flags, as node itself computes it. */
function limitWith(flags: readonly string[]): number {
  return Number(execFileSync(NODE, [...flags, '-p', 'v8.getHeapStatistics().heap_size_limit / 2 ** 20'], { encoding: 'utf8' }).trim());
}

function start(nodeArgs: string[], args: string[], nodeOptions: string, input = '') {
  // Without the start environment the test helpers give every child (bench/bin-flags.ts): the bin adds it itself.
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: nodeOptions };
  delete env['MALLOC_ARENA_MAX'];
  const child = spawn(NODE, [...nodeArgs, BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => undefined);
  child.stdin.end(input);
  const done = once(child, 'close').then(([code]) => ({
    code: code as number | null, stdout, stderr,
    reports: [...stderr.matchAll(/^heap-report (.*)$/gm)].map((m) => JSON.parse(m[1]!) as HeapReport),
  }));
  return { child, done, out: () => stdout };
}

test('missingHeapFlags: a flag the user set, on the command line or in NODE_OPTIONS, in either spelling, is theirs', () => {
  assert.deepEqual(missingHeapFlags([], ''), [...HEAP_FLAGS]);
  assert.deepEqual(missingHeapFlags([...HEAP_FLAGS], ''), []);
  assert.deepEqual(missingHeapFlags(['--max-old-space-size=512'], ''), ['--max-semi-space-size=8']);
  assert.deepEqual(missingHeapFlags(['--max_old_space_size=512', '--max-semi-space-size=32'], ''), []);
  assert.deepEqual(missingHeapFlags([], '--max-old-space-size-percentage=50 --require x'), ['--max-semi-space-size=8']);
  assert.deepEqual(missingHeapFlags(['--inspect'], '  --max-semi-space-size=16  '), ['--max-old-space-size=64']);
  // A boolean V8 flag is one setting whichever way it is spelt: the user's --x keeps our --no-x out.
  assert.deepEqual(missingHeapFlags([...HEAP_FLAGS], '', PLAN_HEAP_FLAGS), ['--no-allocation-site-pretenuring']);
  assert.deepEqual(missingHeapFlags([...HEAP_FLAGS, '--allocation-site-pretenuring'], '', PLAN_HEAP_FLAGS), []);
  assert.deepEqual(missingHeapFlags(['--max-old-space-size=256'], '', PLAN_HEAP_FLAGS), ['--max-semi-space-size=4', '--no-allocation-site-pretenuring']);
  assert.deepEqual(missingHeapFlags([], '--max-old-space-size=64 --max-semi-space-size=8 --no_allocation_site_pretenuring', PLAN_HEAP_FLAGS), []);
});

test('a restarted process knows it (one restart, never a loop) and clears the mark, so that no child of it inherits it', () => {
  assert.equal(wasRestarted(), false);
  process.env['SDATA_HEAP_RESTART'] = '1';
  assert.equal(wasRestarted(), true);
  assert.equal(process.env['SDATA_HEAP_RESTART'], undefined);
  assert.equal(wasRestarted(), false);
});

test('`node bin/sdata-sync.mjs` without flags runs with the bin\'s heap bounds, in the same process', async () => {
  const s = start([], ['--version'], REPORT);
  const r = await s.done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^sdata-sync \d/);
  // One process ran the command: the one we started (execve replaced its program, its pid stayed).
  assert.equal(r.reports.length, 1, r.stderr);
  assert.equal(r.reports[0]!.pid, s.child.pid);
  assert.deepEqual(r.reports[0]!.execArgv.filter((a) => a.startsWith('--max')), [...HEAP_FLAGS]);
  assert.equal(r.reports[0]!.heapLimitMiB, limitWith(HEAP_FLAGS));
  assert.ok(r.reports[0]!.heapLimitMiB < 100, `${r.reports[0]!.heapLimitMiB} MiB`);
  // The restart's mark is gone before the command reads its SDATA_SYNC_* environment (where a stray name is an error).
  const c = await start([], ['config', '--print', '--command', 'plan'], REPORT).done;
  assert.equal(c.code, 0, c.stderr);
  assert.doesNotMatch(c.stdout + c.stderr, /HEAP_RESTART/);
});

/** `command --help` started without flags ran, in the process started, with `flags` (and their heap limit). */
async function runsInPlaceWith(command: string, flags: readonly string[]): Promise<void> {
  const s = start([], [command, '--help'], REPORT);
  const r = await s.done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.reports.length, 1, r.stderr);
  assert.equal(r.reports[0]!.pid, s.child.pid);
  assert.deepEqual(r.reports[0]!.execArgv.filter((a) => a.startsWith('--')), [...flags]);
  assert.equal(r.reports[0]!.heapLimitMiB, limitWith(flags));
}

test('plan runs with a smaller young generation in the same heap, without allocation-site pretenuring, in the same process', async () => {
  assert.deepEqual(heapFlagsFor(['plan', '--digest', 'd.xml']), PLAN_HEAP_FLAGS);
  assert.deepEqual(PLAN_HEAP_FLAGS, ['--max-semi-space-size=4', '--max-old-space-size=76', '--no-allocation-site-pretenuring']);
  // The old generation takes what the young one gives up: an entry at the default cap fits as it does elsewhere.
  assert.equal(limitWith(PLAN_HEAP_FLAGS), limitWith(HEAP_FLAGS));
  await runsInPlaceWith('plan', PLAN_HEAP_FLAGS);
});

test('serve runs with the common bounds (no growing factor of its own: docs/decisions/0040), in the same process', async () => {
  assert.deepEqual(heapFlagsFor(['serve', '--db', 'x.db']), HEAP_FLAGS);
  await runsInPlaceWith('serve', HEAP_FLAGS);
});

test('verify runs with its own bounds; every command, on Linux, with the malloc arena cap; a setting the user gave is kept', async () => {
  assert.deepEqual(heapFlagsFor(['verify', '--help']), VERIFY_HEAP_FLAGS);
  assert.deepEqual(heapFlagsFor(['run']), HEAP_FLAGS);
  if (process.platform === 'linux') {
    assert.deepEqual(missingEnv({}), { MALLOC_ARENA_MAX: '2' });
    assert.deepEqual(missingEnv({ MALLOC_ARENA_MAX: '4' }), {});
  } else {
    assert.deepEqual(missingEnv({}), {});
  }
  const env = `${REPORT} --import=${fixture('env-report.mjs')}`;
  const s = start([], ['verify', '--help'], env);
  const r = await s.done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.reports.length, 1, r.stderr);
  assert.equal(r.reports[0]!.pid, s.child.pid);
  assert.deepEqual(r.reports[0]!.execArgv.filter((a) => a.startsWith('--max')), [...VERIFY_HEAP_FLAGS]);
  assert.equal(r.reports[0]!.heapLimitMiB, limitWith(VERIFY_HEAP_FLAGS));
  if (process.platform === 'linux') assert.match(r.stderr, /^env-report MALLOC_ARENA_MAX=2$/m);
  // Flags given on the command line are the user's: only the environment is added (one start more, in place).
  const given = start(['--max-old-space-size=200'], ['verify', '--help'], env);
  const g = await given.done;
  assert.equal(g.reports.at(-1)!.heapLimitMiB, limitWith(['--max-semi-space-size=2', '--max-old-space-size=200']));
  assert.equal(g.reports.at(-1)!.pid, given.child.pid);
  // Any command, every flag given: the bin starts again, in place, for the environment alone.
  const plain = start([...HEAP_FLAGS], ['run', '--help'], env);
  const p = await plain.done;
  assert.equal(p.code, 0, p.stderr);
  if (process.platform === 'linux') assert.match(p.stderr, /^env-report MALLOC_ARENA_MAX=2$/m);
  assert.equal(p.reports.at(-1)!.pid, plain.child.pid);
});

test('a heap size the user chose is kept (for a large --max-entry-bytes): only the missing flag is added', async () => {
  const r = await start(['--max-old-space-size=256'], ['--version'], REPORT).done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.reports.at(-1)!.heapLimitMiB, limitWith(['--max-semi-space-size=8', '--max-old-space-size=256']));
  const viaEnv = await start([], ['--version'], `${REPORT} --max-old-space-size=300`).done;
  assert.equal(viaEnv.reports.at(-1)!.heapLimitMiB, limitWith(['--max-semi-space-size=8', '--max-old-space-size=300']));
  // Started with both (npm start, the image's health check, the shebang of an older bin): no second start.
  const both = start([...HEAP_FLAGS], ['--version'], REPORT);
  const b = await both.done;
  assert.deepEqual(b.reports.map((x) => x.pid), [both.child.pid]);
});

test('without process.execve the command runs in a child with the bounds; its output, exit code and SIGTERM pass through', async () => {
  const opts = `${REPORT} --import=${fixture('no-execve.mjs')}`;
  const bad = start([], ['plan'], opts, '<feed xmlns="http://www.w3.org/2005/Atom"><entry>');
  const r = await bad.done;
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /sdata-sync plan: <stdin>:1:/);
  const child = r.reports.find((x) => x.pid !== bad.child.pid);
  assert.ok(child, r.stderr);
  assert.equal(child.heapLimitMiB, limitWith(HEAP_FLAGS));

  const serve = start([], ['serve', '--db', ':memory:', '--port', '0'], opts);
  await until(() => serve.out().includes('http://'), { what: 'serve (in a child of the bin) to print its URL' });
  serve.child.kill('SIGTERM');
  const s = await serve.done;
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stderr, /SIGTERM: finishing in-flight requests/);
  assert.match(s.stderr, /stopped, database closed/);
});
