import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { COMMAND_NAMES, COMMANDS } from '../../src/cli/commands.ts';
import { checkEnvNames, readConfigFile, resolve, type ConfigFile } from '../../src/cli/config.ts';
import { envOf, flagOf, type Opt } from '../../src/cli/option-types.ts';
import { settle } from '../../src/cli/program.ts';
import { isSdataError } from '../../src/protocol/errors.ts';

/** The layers, in process: flags > environment > --config file > defaults, and what each says when a value is wrong. */

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdata-config-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, doc: unknown): Promise<ConfigFile> {
  const path = join(dir, name);
  await writeFile(path, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return readConfigFile(path);
}

/** The usage error a promise rejects with: its message. */
async function usage(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(isSdataError(e) && e.code === 'SDATA_E_USAGE', String(e));
    return e.message;
  }
  assert.fail('no usage error');
}

const RUN = { source: 'http://s.example/sdata/a/c/-', target: 'http://t.example/sdata/a/c/-' };

describe('precedence: flags > environment > file > defaults', () => {
  test('each layer alone', async () => {
    const none = await resolve('run', RUN, {});
    assert.equal(none.values['chunkEntries'], 1000);
    assert.equal(none.origins['chunkEntries']!.layer, 'default');
    const f = await file('alone.json', { run: { chunkEntries: 500 } });
    const byFile = await resolve('run', RUN, {}, f);
    assert.equal(byFile.values['chunkEntries'], 500);
    assert.deepEqual(byFile.origins['chunkEntries'], { layer: 'file', where: `${f.path}: run.chunkEntries`, raw: 500 });
    const byEnv = await resolve('run', RUN, { SDATA_SYNC_CHUNK_ENTRIES: '600' });
    assert.equal(byEnv.values['chunkEntries'], 600);
    assert.deepEqual(byEnv.origins['chunkEntries'], { layer: 'env', where: 'SDATA_SYNC_CHUNK_ENTRIES', raw: '600' });
    const byFlag = await resolve('run', { ...RUN, chunkEntries: '700' }, {});
    assert.equal(byFlag.values['chunkEntries'], 700);
    assert.equal(byFlag.origins['chunkEntries']!.layer, 'flag');
  });

  test('each conflict: the environment over the file, a flag over both', async () => {
    const f = await file('conflict.json', { run: { chunkEntries: 500, retries: 1, concurrency: 2 } });
    const env = { SDATA_SYNC_CHUNK_ENTRIES: '600', SDATA_SYNC_RETRIES: '3' };
    const r = await resolve('run', { ...RUN, chunkEntries: '700' }, env, f);
    assert.equal(r.values['chunkEntries'], 700, 'flag over environment and file');
    assert.equal(r.origins['chunkEntries']!.layer, 'flag');
    assert.equal(r.values['retries'], 3, 'environment over file');
    assert.equal(r.origins['retries']!.layer, 'env');
    assert.equal(r.values['concurrency'], 2, 'file over default');
    assert.equal(r.origins['concurrency']!.layer, 'file');
    const flagOverFile = await resolve('run', { ...RUN, concurrency: '4' }, {}, f);
    assert.equal(flagOverFile.values['concurrency'], 4, 'flag over file');
  });

  test('a switch on in the environment is turned off by --no-X; an empty variable counts as unset', async () => {
    const on = await resolve('run', RUN, { SDATA_SYNC_STRICT: 'true', SDATA_SYNC_DRY_RUN: '1' });
    assert.equal(on.values['strict'], true);
    assert.equal(on.values['dryRun'], true);
    const off = await resolve('run', { ...RUN, strict: false }, { SDATA_SYNC_STRICT: 'true' });
    assert.equal(off.values['strict'], false);
    assert.equal(off.origins['strict']!.where, '--no-strict');
    const empty = await resolve('run', RUN, { SDATA_SYNC_CHUNK_ENTRIES: '' });
    assert.equal(empty.origins['chunkEntries']!.layer, 'default');
  });

  test('lists: repeated flags, comma-separated text, JSON arrays; sizes and durations with units', async () => {
    const f = await file('units.json', { run: { kind: ['accounts', 'contacts'], chunkBytes: '2MiB', timeoutConnect: '30s' }, serve: { contextTtl: 90, maxBody: 1048576 } });
    const r = await resolve('run', RUN, { SDATA_SYNC_TIMEOUT_HEADERS: '1500' }, f);
    assert.deepEqual(r.values['kind'], ['accounts', 'contacts']);
    assert.equal(r.values['chunkBytes'], 2 * 1024 * 1024);
    assert.equal(r.values['timeoutConnect'], 30_000);
    assert.equal(r.values['timeoutHeaders'], 1500, 'a bare number of a millisecond option is milliseconds');
    const flags = await resolve('run', { ...RUN, kind: ['a,b', 'c'] }, { SDATA_SYNC_KIND: 'x,y' }, f);
    assert.deepEqual(flags.values['kind'], ['a', 'b', 'c']);
    const env = await resolve('run', RUN, { SDATA_SYNC_KIND: ' x , y ' }, f);
    assert.deepEqual(env.values['kind'], ['x', 'y']);
    const serve = await resolve('serve', { db: ':memory:' }, {}, f);
    assert.equal(serve.values['contextTtl'], 90_000, 'a bare number of a seconds option is seconds');
    assert.equal(serve.values['maxBody'], 1048576);
  });

  test('--config or SDATA_SYNC_CONFIG names the file; the flag wins', async () => {
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    await writeFile(a, JSON.stringify({ plan: { chunkEntries: 11 } }));
    await writeFile(b, JSON.stringify({ plan: { chunkEntries: 22 } }));
    const byEnv = await settle('plan', { flags: { outDir: dir }, args: [] }, { SDATA_SYNC_CONFIG: a });
    assert.equal(byEnv.input.values['chunkEntries'], 11);
    const byFlag = await settle('plan', { flags: { outDir: dir, config: b }, args: [] }, { SDATA_SYNC_CONFIG: a });
    assert.equal(byFlag.input.values['chunkEntries'], 22);
    assert.equal(byFlag.input.configPath, b);
  });
});

describe('what a wrong value says: where it is (flag, variable, file and key) and what was expected', () => {
  test('the same check in every layer', async () => {
    assert.equal(await usage(file('bad-value.json', { run: { chunkEntries: 'x' } })), `${join(dir, 'bad-value.json')}: run.chunkEntries: expected a whole number ≥ 1, got "x"`);
    assert.equal(await usage(resolve('run', RUN, { SDATA_SYNC_CHUNK_ENTRIES: 'x' })), 'SDATA_SYNC_CHUNK_ENTRIES: expected a whole number ≥ 1, got "x"');
    assert.equal(await usage(resolve('run', { ...RUN, chunkEntries: '0' }, {})), '--chunk-entries: expected a whole number ≥ 1, got "0"');
    assert.equal(await usage(resolve('run', RUN, { SDATA_SYNC_STRICT: 'yes' })), 'SDATA_SYNC_STRICT: expected true, false, 1 or 0, got "yes"');
    assert.match(await usage(resolve('run', RUN, { SDATA_SYNC_CHUNK_BYTES: 'lots' })), /^SDATA_SYNC_CHUNK_BYTES: expected a size such as 8MiB, 16MB or 65536, got "lots"$/);
    assert.equal(await usage(resolve('run', { ...RUN, progress: 'loud' }, {})), '--progress: expected one of auto, tty, json, none, got "loud"');
  });

  test('unknown keys and sections of the file, with the name meant', async () => {
    assert.equal(await usage(file('typo.json', { run: { chunkEntrie: 5 } })), `${join(dir, 'typo.json')}: run.chunkEntrie: no such option of 'run' (did you mean chunkEntries?)`);
    assert.match(await usage(file('section.json', { runn: {} })), /: runn: not a command with options \(did you mean run\?\); sections are plan, gen, serve/);
    assert.match(await usage(file('shape.json', { run: 5 })), /: run: expected an object of options, got 5$/);
    assert.match(await usage(file('array.json', [])), /: expected an object with a section per command/);
    assert.match(await usage(file('json.json', '{"run": ')), /json\.json: not valid JSON: /);
  });

  test('credentials are refused in the file and in SDATA_SYNC_* names, and a mistyped variable is an error', async () => {
    for (const key of ['sourceToken', 'password', 'targetUser']) {
      assert.match(await usage(file(`cred-${key}.json`, { run: { [key]: 'x' } })), new RegExp(`run\\.${key}: credentials are read from the environment only: SDATA_SOURCE_TOKEN, .*never from a file$`));
    }
    assert.match(await usage(checkEnvNames({ SDATA_SYNC_TARGET_PASSWORD: 'x' })), /^SDATA_SYNC_TARGET_PASSWORD: credentials are read from their own variables \(SDATA_SOURCE_\*, SDATA_TARGET_\*, SDATA_SERVE_\*\), never from SDATA_SYNC_\*/);
    assert.equal(await usage(checkEnvNames({ SDATA_SYNC_CHUNK_ENTRIE: '5' })), 'SDATA_SYNC_CHUNK_ENTRIE: no command has this option (did you mean SDATA_SYNC_CHUNK_ENTRIES?)');
    await checkEnvNames({ SDATA_SYNC_PORT: '1', SDATA_SYNC_CONFIG: 'x', SDATA_SYNC_V8_DEFAULTS: '1', SDATA_SOURCE_TOKEN: 't', SDATA_SYNCHRONOUS: 'x' });
  });

  test('rules between options hold across layers, and name where each value came from', async () => {
    assert.equal(await usage(resolve('run', { ...RUN, quiet: true }, { SDATA_SYNC_VERBOSE: '1' })), '--quiet and SDATA_SYNC_VERBOSE=1 exclude each other');
    assert.equal(await usage(resolve('plan', {}, { SDATA_SYNC_CHUNK_ENTRIES: '5' })), 'SDATA_SYNC_CHUNK_ENTRIES=5 needs --out-dir');
    assert.equal(await usage(resolve('run', {}, {})), '--source is required (or SDATA_SYNC_SOURCE, or "source" in the "run" section of --config)');
    const lenient = await resolve('run', {}, {}, undefined, true);
    assert.deepEqual(lenient.problems, ['--source is required (or SDATA_SYNC_SOURCE, or "source" in the "run" section of --config)', '--target is required (or SDATA_SYNC_TARGET, or "target" in the "run" section of --config)']);
    assert.match(await usage(resolve('plan', {}, { SDATA_SYNC_MAX_ENTRY_BYTES: '8GiB' })), /^SDATA_SYNC_MAX_ENTRY_BYTES=8GiB: entries that large need about \d+ MiB of heap/);
  });

  test('URLs: absolute http(s), no credentials in them (and none echoed)', async () => {
    assert.equal(await usage(resolve('run', { ...RUN, source: 'crm.example.com' }, {})), '--source: expected an absolute http(s) URL, got "crm.example.com"');
    const m = await usage(resolve('run', { ...RUN, source: 'https://me:s3cret@crm.example.com/sdata/a/c/-' }, {}));
    assert.match(m, /^--source: credentials in URLs are refused/);
    assert.doesNotMatch(m, /s3cret/);
  });
});

test('every option has a flag, a variable and a key derived from its name, and help; a default, written as help shows it, reads back as itself', async () => {
  const v = await import('valibot');
  for (const name of COMMAND_NAMES) {
    for (const [key, opt] of Object.entries<Opt>(COMMANDS[name].options)) {
      assert.match(key, /^[a-z][A-Za-z0-9]*$/, `${name}.${key}`);
      assert.match(flagOf(key), /^--[a-z][a-z0-9-]*$/);
      assert.match(envOf(key), /^SDATA_SYNC_[A-Z0-9_]+$/);
      assert.ok(opt.help.length > 5, `${name}.${key} has help`);
      if (opt.default !== undefined) {
        const shown = opt.show(opt.default);
        const r = v.safeParse(opt.schema(v), shown);
        assert.ok(r.success, `${name}.${key}: default ${shown} is not valid for itself`);
        assert.deepEqual(r.output, opt.default, `${name}.${key}: default ${shown} reads back as itself`);
      }
    }
  }
});
