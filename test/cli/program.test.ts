import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CommandName } from '../../src/cli/commands.ts';
import { parseCommand } from '../../src/cli/commander-program.ts';
import { quickParse } from '../../src/cli/program.ts';
import { runCli } from '../helpers/cli.ts';

/**
 * The command line: parseArgs reads what it can (fast start-up), commander the rest and the help; the two must read
 * a command line alike. And what a usage error looks like: one line, where to look, exit 2.
 */

const AGREE: Array<[CommandName, string[]]> = [
  ['plan', []],
  ['plan', ['--digest', 'd.xml', 'a.xml', 'b.xml']],
  ['plan', ['--out-dir=o', '--chunk-entries', '5', '-q', '--strict']],
  ['plan', ['--no-strict', '-', '--threads=1']],
  ['plan', ['--', '--odd-name.xml']],
  ['plan', ['--config', 'c.json', '--report', 'r.json']],
  ['run', ['--kind', 'a', '--kind', 'b,c', '--source', 'http://s/x', '--no-dry-run', '--timeout-connect', '30s']],
  ['gen', ['10', '--pages', '2', '--seed=3']],
  ['push', ['http://t/c', 'f1.xml', 'f2.xml', '--run-name', 'nightly', '--verbose']],
  ['serve', ['--db', ':memory:', '--kinds', 'a,b', '--port', '0']],
  ['health', ['http://h/x', '--auth', 'target', '-q']],
];

test('parseArgs (the fast path) and commander read command lines alike', async () => {
  for (const [name, argv] of AGREE) {
    const quick = quickParse(name, argv);
    assert.ok(quick, `${name} ${argv.join(' ')}: parseArgs takes it`);
    assert.deepEqual(quick, await parseCommand(name, argv), `${name} ${argv.join(' ')}`);
  }
});

test('what parseArgs does not take goes to commander: help, values that look like flags, unknown flags', async () => {
  assert.equal(quickParse('plan', ['--help']), undefined);
  assert.equal(quickParse('plan', ['-h']), undefined);
  assert.equal(quickParse('plan', ['--strct']), undefined);
  assert.equal(quickParse('config', ['--no-print']), undefined, 'no --no-X for a command-line-only switch');
  assert.equal(quickParse('plan', ['--digest', '-odd.xml']), undefined);
  assert.deepEqual(await parseCommand('plan', ['--digest', '-odd.xml']), { flags: { digest: '-odd.xml' }, args: [] });
  const dir = await mkdtemp(join(tmpdir(), 'sdata-program-'));
  try {
    const r = await runCli(['gen', '5', '--out', '-odd.xml'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(await readFile(join(dir, '-odd.xml'), 'utf8'), /<\/feed>\n$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A usage error: the message on one line, then where to look, and nothing else. */
function assertUsage(r: { code: number | null; stdout: string; stderr: string }, line: RegExp, help: string): void {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n');
  assert.equal(lines.length, 3, r.stderr);
  assert.match(lines[0]!, line);
  assert.equal(lines[1], `see '${help}'`);
  assert.doesNotMatch(lines[0]!, /sdata-sync (\w+): \1:/, 'no doubled prefix');
}

test('usage errors: one line naming the problem, "did you mean" where a name was mistyped, then where to look; exit 2', async () => {
  assertUsage(await runCli(['plna']), /^sdata-sync: unknown command 'plna' \(did you mean plan\?\)$/, 'sdata-sync --help');
  assertUsage(await runCli(['plan', '--strct']), /^sdata-sync plan: unknown option '--strct' \(did you mean --strict\?\)$/, 'sdata-sync plan --help');
  assertUsage(await runCli(['plan', '--frobnicate']), /^sdata-sync plan: unknown option '--frobnicate'$/, 'sdata-sync plan --help');
  assertUsage(await runCli(['run', '--chunk-entries', 'x']), /^sdata-sync run: --chunk-entries: expected a whole number ≥ 1, got "x"$/, 'sdata-sync run --help');
  assertUsage(await runCli(['run', 'http://s/x']), /^sdata-sync run: unexpected argument 'http:\/\/s\/x' \(URLs go with --source\/--target\)$/, 'sdata-sync run --help');
  assertUsage(await runCli(['gen']), /^sdata-sync gen: missing N \(the number of entries\)$/, 'sdata-sync gen --help');
  assertUsage(await runCli(['plan', '--digest']), /^sdata-sync plan: --digest needs a value \(FILE\)$/, 'sdata-sync plan --help');
  assertUsage(await runCli(['run', '--source-token', 'x']), /^sdata-sync run: unknown option '--source-token'; credentials are read from the environment only: SDATA_SOURCE_TOKEN/, 'sdata-sync run --help');
  assertUsage(await runCli(['plan'], { env: { SDATA_SYNC_CHUNK_ENTRIE: '5' } }), /^sdata-sync plan: SDATA_SYNC_CHUNK_ENTRIE: no command has this option \(did you mean SDATA_SYNC_CHUNK_ENTRIES\?\)$/, 'sdata-sync plan --help');
  assertUsage(await runCli(['gen', '10', '--pages', '2', '--page-size', '3']), /^sdata-sync gen: --pages 2 and --page-size 3 exclude each other$/, 'sdata-sync gen --help');
});

test('help: the root lists every command; a command shows its options with their defaults; exit 0, on stdout', async () => {
  const root = await runCli(['--help']);
  assert.equal(root.code, 0);
  for (const c of ['plan', 'gen', 'serve', 'seed', 'run', 'digest', 'pull', 'push', 'demo', 'health', 'config']) assert.match(root.stdout, new RegExp(`^  ${c} `, 'm'));
  const bare = await runCli([]);
  assert.equal(bare.code, 2, 'no command: the list of them, and the usage exit code');
  assert.equal(bare.stdout, root.stdout);
  const help = await runCli(['help', 'run']);
  const flag = await runCli(['run', '-h']);
  assert.equal(help.code, 0);
  assert.equal(help.stdout, flag.stdout);
  assert.match(help.stdout, /^Usage: sdata-sync run --source URL --target URL \[options\]$/m);
  assert.match(help.stdout, /--chunk-bytes <SIZE> +bytes per target chunk; a 413 from the target splits a chunk\s+\(default 8MiB\)/);
  assert.match(help.stdout, /SDATA_SYNC_<OPTION>/);
  assert.match(help.stdout, /SDATA_SOURCE_TOKEN \(Bearer\)/);
});
