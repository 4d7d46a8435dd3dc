import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { page } from '../helpers/feeds.ts';
import { NODE, runCli } from '../helpers/cli.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Every module a fresh process resolves while importing `file` (node:module resolve hooks). */
async function moduleGraph(file: string): Promise<string[]> {
  const script = `
    import { registerHooks } from 'node:module';
    const seen = [];
    registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); seen.push(r.url); return r; } });
    await import(${JSON.stringify(pathToFileURL(file).href)});
    process.stdout.write(JSON.stringify(seen));`;
  const { stdout } = await promisify(execFile)(NODE, ['--input-type=module', '-e', script]);
  return JSON.parse(stdout) as string[];
}

test('plan, and the helpers every command shares, load neither undici nor SQLite', async () => {
  for (const f of ['cli/main.ts', 'cli/program.ts', 'cli/plan.ts', 'cli/health.ts']) {
    const graph = await moduleGraph(join(SRC, f));
    assert.deepEqual(graph.filter((u) => u.includes('/undici/') || u === 'node:sqlite'), [], f);
    if (f === 'cli/plan.ts') assert.ok(graph.some((u) => u.endsWith('/src/cli/common.ts')), 'plan imports common.ts');
    // Start-up: commander (help, errors) and valibot (values to check) are loaded when needed, not up front.
    assert.deepEqual(graph.filter((u) => u.includes('/commander/') || u.includes('/valibot/')), [], f);
  }
  assert.ok((await moduleGraph(join(SRC, 'cli/program.ts'))).some((u) => u.endsWith('/src/cli/commands.ts')), 'program.ts reads the declarations');
  // The check can fail: the help module does load commander.
  assert.ok((await moduleGraph(join(SRC, 'cli/commander-program.ts'))).some((u) => u.includes('/commander/')));
  // The check can fail: a networked command does load undici.
  assert.ok((await moduleGraph(join(SRC, 'cli/pull.ts'))).some((u) => u.includes('/undici/')));
});

test('plan --report to a file that cannot be written: exit 4 and the file named, no stack trace', async () => {
  const r = await runCli(['plan', '--report', '/nonexistent-dir/report.json'], { stdin: page({ entries: [{ endpoint: 'http://a/x', tick: 1 }] }) });
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stderr.trim(), 'sdata-sync plan: --report /nonexistent-dir/report.json: cannot write: ENOENT');
});
