import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LOG_EVENTS, LOG_KEYS } from '../../src/engine/log.ts';
import { seedStore } from '../../src/seeder/seed-store.ts';
import { runCli, type CliResult } from '../helpers/cli.ts';
import { serveProcess, type Served } from '../helpers/serve.ts';

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const LEVELS = ['error', 'warn', 'info', 'debug'];

/** Every stderr line is one JSON object of the schema: known keys only, each of its type, time/level/event always. */
function schemaLines(stderr: string, what: string): Array<Record<string, unknown>> {
  const lines = stderr.split('\n').filter((l) => l !== '');
  assert.ok(lines.length > 0, `${what}: no stderr line`);
  return lines.map((line) => {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      assert.fail(`${what}: not a JSON line: ${line}`);
    }
    for (const [k, v] of Object.entries(o)) {
      const type = (LOG_KEYS as Record<string, string>)[k];
      assert.ok(type !== undefined, `${what}: unknown key '${k}' in ${line}`);
      assert.equal(typeof v, type, `${what}: '${k}' is not a ${type} in ${line}`);
    }
    assert.match(o['time'] as string, ISO_MS, line);
    assert.ok(LEVELS.includes(o['level'] as string), line);
    assert.ok((LOG_EVENTS as readonly string[]).includes(o['event'] as string), line);
    return o;
  });
}

/** The last line is the command's summary, with its exit code. */
function endsWithSummary(r: CliResult, what: string): Array<Record<string, unknown>> {
  const lines = schemaLines(r.stderr, what);
  const last = lines.at(-1)!;
  assert.equal(last['event'], 'summary', `${what}: the last line is the summary: ${r.stderr}`);
  assert.equal(last['exitCode'], r.code, what);
  assert.equal(lines.filter((l) => l['event'] === 'summary').length, 1, `${what}: one summary`);
  return lines;
}

describe('JSON logs: every stderr line of run, push, pull, link, verify and serve in one schema (README "Logs")', () => {
  let dir = '';
  let source: Served;
  let target: Served;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdata-log-schema-'));
    await seedStore({ db: join(dir, 's.db'), app: 'crm', contract: 'crm', kind: 'accounts', count: 300, priority: 1, endpointBase: 'http://crm.example/sdata/crm/crm/-' });
    source = await serveProcess(['--db', join(dir, 's.db'), '--page-size', '70', '--log-format', 'json']);
    target = await serveProcess(['--db', join(dir, 't.db'), '--app', 'crm', '--kinds', 'accounts', '--priority', '5', '--log-format', 'json']);
  });
  after(async () => {
    await source?.stop();
    await target?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('README lists exactly the keys of the schema, with their types', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Logs'), readme.indexOf('## Configuration'));
    const rows = [...section.matchAll(/^\| `(\w+)` \| (string|number|boolean) \|/gm)].map((m) => [m[1]!, m[2]!]);
    assert.deepEqual(rows, Object.entries(LOG_KEYS));
  });

  it('run (verbose, with progress), and run failing', async () => {
    const r = await runCli(['run', '--source', source.url, '--target', target.url, '--kind', 'accounts', '--chunk-entries', '100', '--verbose', '--progress', 'json', '--log-format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = endsWithSummary(r, 'run');
    for (const e of ['start', 'progress', 'pass']) assert.ok(lines.some((l) => l['event'] === e), `run: a ${e} line`);
    assert.ok(lines.some((l) => typeof l['trackingID'] === 'string'), 'run --verbose: chunk lines name their trackingID');
    const s = lines.at(-1)!;
    assert.deepEqual([s['read'], s['forwarded'], s['created'], s['failed'], s['runName']], [300, 300, 300, 0, 'sdata-sync']);

    const down = await runCli(['run', '--source', source.url, '--target', 'http://127.0.0.1:1/sdata/x/y/-', '--kind', 'accounts', '--retries', '0', '--log-format', 'json']);
    assert.equal(down.code, 5, down.stderr);
    // A failed pass is its kind's `pass` line, at level error, with its code; the summary names it too.
    const d = endsWithSummary(down, 'run failing');
    const pass = d.find((l) => l['event'] === 'pass')!;
    assert.deepEqual([pass['level'], pass['kind'], pass['error']], ['error', 'accounts', 'SDATA_E_NETWORK']);
    assert.match(pass['message'] as string, /127\.0\.0\.1:1/);
    assert.deepEqual([d.at(-1)!['level'], d.at(-1)!['error']], ['error', 'SDATA_E_NETWORK']);
  });

  it('pull and push (verbose), push failing on malformed input', async () => {
    const pulled = await runCli(['pull', `${source.url}/accounts`, '--verbose', '--log-format', 'json']);
    assert.equal(pulled.code, 0, pulled.stderr);
    const p = endsWithSummary(pulled, 'pull').at(-1)!;
    assert.deepEqual([p['forwarded'], p['pages']], [300, 5]);
    const feed = join(dir, 'feed.xml');
    await writeFile(feed, pulled.stdout);

    const pushed = await runCli(['push', `${target.url}/accounts`, feed, '--chunk-entries', '120', '--verbose', '--log-format', 'json']);
    assert.equal(pushed.code, 0, pushed.stderr);
    const s = endsWithSummary(pushed, 'push').at(-1)!;
    assert.deepEqual([s['read'], s['chunks'], s['acknowledged']], [300, 3, 300]);

    const bad = await runCli(['push', `${target.url}/accounts`, '--log-format', 'json'], { stdin: pulled.stdout.slice(0, 5000).replace(/<\/entry>/, '</entri>') });
    assert.equal(bad.code, 3, bad.stderr);
    const err = endsWithSummary(bad, 'push failing').find((l) => l['event'] === 'error')!;
    assert.deepEqual([err['error'], err['exitCode']], ['SDATA_E_MALFORMED', 3]);
    assert.match(err['message'] as string, /^<stdin>:\d+:\d+: not well-formed XML/);
  });

  it('link (a dry run)', async () => {
    const r = await runCli(['link', '--source', source.url, '--target', target.url, '--kind', 'accounts', '--match', 'accountNumber', '--verbose', '--log-format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const s = endsWithSummary(r, 'link').at(-1)!;
    assert.deepEqual([s['matched'], s['alreadyLinked'], s['read']], [300, 300, 600]);
  });

  it('verify (after the run: the two hold the same data)', async () => {
    const r = await runCli(['verify', '--source', source.url, '--target', target.url, '--kind', 'accounts', '--verbose', '--log-format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const s = endsWithSummary(r, 'verify').at(-1)!;
    assert.deepEqual([s['equal'], s['read'], s['missing'], s['payload'], s['exitCode']], [true, 600, 0, 0, 0]);
  });

  it('usage errors found once the options are known, and auto = JSON off a terminal', async () => {
    const r = await runCli(['push', 'http://127.0.0.1:1/x', '-', '-']);
    assert.equal(r.code, 2);
    const [l] = schemaLines(r.stderr, 'push usage');
    assert.deepEqual([l!['event'], l!['error'], l!['exitCode']], ['error', 'SDATA_E_USAGE', 2]);
  });

  it('serve: its start, stop and summary lines', async () => {
    const s = await serveProcess(['--db', ':memory:', '--log-format', 'json']);
    assert.equal(await s.stop(), 0);
    const lines = schemaLines(s.stderr(), 'serve');
    assert.deepEqual(lines.map((l) => l['event']), ['start', 'message', 'summary']);
    assert.equal(lines[0]!['url'], s.url);
    for (const x of [source, target]) schemaLines(x.stderr(), 'serve (the providers of the tests above)');
  });
});
