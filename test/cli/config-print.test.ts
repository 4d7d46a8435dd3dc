import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.ts';

/** `sdata-sync config --print`: what a command would run with, where each value comes from, secrets unsaid. */

interface Printed {
  command: string;
  configFile: string | null;
  options: Record<string, { value: unknown; source: string | null; from: string | null; flag: string; env: string }>;
  credentials: Record<string, string>;
  problems: string[];
}

test('every layer at once, as JSON: each value with its source; credential variables set or not, never their values', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sdata-config-print-'));
  try {
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify({ run: { source: 'https://crm.example.com/sdata/crm/crm/-', chunkEntries: 500, retries: 1, timeoutConnect: '30s' }, serve: { port: 9000 } }));
    const r = await runCli(['config', '--print', '--json', '--command', 'run', '--config', file, '--', '--retries', '2', '--no-strict'],
      { env: { SDATA_SYNC_CHUNK_ENTRIES: '700', SDATA_SYNC_STRICT: '1', SDATA_TARGET_TOKEN: 'sup3r-secret' } });
    assert.equal(r.code, 2, 'the target is missing: a problem, and the usage exit code');
    assert.doesNotMatch(r.stdout + r.stderr, /sup3r-secret/);
    const p = JSON.parse(r.stdout) as Printed;
    assert.equal(p.configFile, file);
    assert.deepEqual(p.options['source'], { value: 'https://crm.example.com/sdata/crm/crm/-', source: 'file', from: `${file}: run.source`, flag: '--source', env: 'SDATA_SYNC_SOURCE' });
    assert.deepEqual([p.options['chunkEntries']!.value, p.options['chunkEntries']!.source], [700, 'env']);
    assert.deepEqual([p.options['retries']!.value, p.options['retries']!.source, p.options['retries']!.from], [2, 'flag', '--retries']);
    assert.deepEqual([p.options['strict']!.value, p.options['strict']!.from], [false, '--no-strict']);
    assert.deepEqual([p.options['timeoutConnect']!.value, p.options['timeoutConnect']!.source], ['30s', 'file']);
    assert.deepEqual([p.options['chunkBytes']!.value, p.options['chunkBytes']!.source], ['8MiB', 'default']);
    assert.deepEqual([p.options['target']!.value, p.options['target']!.source], [null, null]);
    assert.equal(p.credentials['SDATA_TARGET_TOKEN'], 'set');
    assert.equal(p.credentials['SDATA_SOURCE_TOKEN'], 'not set');
    assert.deepEqual(p.problems, ['--target is required (or SDATA_SYNC_TARGET, or "target" in the "run" section of --config)']);

    const text = await runCli(['config', '--print', '--command', 'serve'], { env: { SDATA_SYNC_CONFIG: file } });
    assert.equal(text.code, 2, text.stderr);
    assert.match(text.stdout, /^# sdata-sync serve: effective configuration \(flags > environment > .*config\.json > defaults\)$/m);
    assert.match(text.stdout, new RegExp(`^port +9000 +file +${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: serve\\.port$`, 'm'));
    assert.match(text.stdout, /^maxBody +64MiB +default$/m);
    assert.match(text.stdout, /^# problem: --db is required/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('config needs --print, and a command that exists', async () => {
  const none = await runCli(['config']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^sdata-sync config: --print is required\n/);
  const typo = await runCli(['config', '--print', '--command', 'srve']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /^sdata-sync config: --command: no command 'srve' \(did you mean serve\?\)\n/);
  const ok = await runCli(['config', '--print', '--command', 'plan']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^chunkEntries +1000 +default$/m);
});
