import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { digestKey } from '../../src/protocol/digest.ts';
import { FakeProvider } from './fake-provider.ts';

const run = promisify(execFile);
import { BIN, BIN_FLAGS, NODE, TEST_ENV } from '../helpers/cli.ts';
import { until } from '../helpers/until.ts';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(NODE, [...BIN_FLAGS, BIN, ...args], { maxBuffer: 64 << 20 });
    return { code: 0, ...r };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

async function sh(script: string): Promise<{ code: number; stderr: string }> {
  try {
    const r = await run('bash', ['-o', 'pipefail', '-c', script], { maxBuffer: 64 << 20 });
    return { code: 0, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stderr: string };
    return { code: x.code, stderr: x.stderr };
  }
}

describe('pipe commands and the run command', () => {
  const src = new FakeProvider({ app: 'src', pageSize: 37 });
  const a = new FakeProvider({ app: 'tga', priority: 3, resultPageSize: 50 });
  const b = new FakeProvider({ app: 'tga', priority: 3, resultPageSize: 50 });
  let dir = '';
  before(async () => {
    await Promise.all([src.start(), a.start(), b.start()]);
    dir = await mkdtemp(join(tmpdir(), 'sdata-pipe-'));
  });
  after(async () => {
    await Promise.all([src.stop(), a.stop(), b.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  const pipeTo = (t: FakeProvider) => {
    const q = (s: string) => `'${s}'`;
    const node = [NODE, ...BIN_FLAGS, BIN].map(q).join(' ');
    const d = join(dir, 'digest.xml');
    return sh(`${node} digest ${q(`${t.datasetBase()}/accounts`)} > ${q(d)} && ` +
      `${node} pull ${q(`${src.datasetBase()}/accounts`)} --digest ${q(d)} --quiet | ${node} plan --digest ${q(d)} --quiet | ` +
      `${node} push ${q(`${t.datasetBase()}/accounts`)} --quiet > ${q(join(dir, 'results.xml'))}`);
  };

  it('pull | plan | push gives the target the same state as run, first sync and incremental', async () => {
    src.seed('accounts', 300);
    const r1 = await cli(['run', '--source', src.datasetBase(), '--target', a.datasetBase(), '--kind', 'accounts', '--quiet', '--chunk-entries', '64']);
    assert.equal(r1.code, 0, r1.stderr);
    const p1 = await pipeTo(b);
    assert.equal(p1.code, 0, p1.stderr);
    assert.equal(a.checksum('accounts'), src.checksum('accounts'));
    assert.equal(b.checksum('accounts'), src.checksum('accounts'));
    assert.equal(digestKey(b.kind('accounts').digest), digestKey(a.kind('accounts').digest));

    for (let i = 0; i < 40; i++) src.edit('accounts', `r${String(i * 7).padStart(7, '0')}-0000-4000-8000-000000000000`.slice(0, 36), `<name>edited ${i}</name>`);
    src.edit('accounts', 'r0000003-0000-4000-8000-000000000000', undefined);
    src.seed('accounts', 25, 'n');
    const r2 = await cli(['run', '--source', src.datasetBase(), '--target', a.datasetBase(), '--kind', 'accounts', '--report', join(dir, 'r2.json'), '--progress', 'none']);
    assert.equal(r2.code, 0, r2.stderr);
    const p2 = await pipeTo(b);
    assert.equal(p2.code, 0, p2.stderr);
    assert.equal(a.checksum('accounts'), src.checksum('accounts'));
    assert.equal(b.checksum('accounts'), a.checksum('accounts'));
    assert.equal(digestKey(b.kind('accounts').digest), digestKey(a.kind('accounts').digest));
    const rep = JSON.parse(await readFile(join(dir, 'r2.json'), 'utf8')) as { passes: { forwarded: number; outcomes: { updated: number; created: number; deleted: number } }[] };
    assert.deepEqual(rep.passes[0]!.outcomes, { created: 25, updated: 40, deleted: 1, ignored: 0, conflictsTargetWon: 0, failed: 0 });
    const results = await readFile(join(dir, 'results.xml'), 'utf8');
    assert.equal(results.match(/<entry>/g)?.length, 66, 'push writes one result feed with every result entry');
    assert.equal(src.openContexts() + a.openContexts() + b.openContexts(), 0);
  });

  it('run --dry-run writes nothing; bad usage and unreachable peers get their exit codes', async () => {
    src.seed('accounts', 5, 'd');
    const before = a.checksum('accounts');
    const posts = a.log.filter((l) => l.startsWith('POST')).length;
    const r = await cli(['run', '--source', src.datasetBase(), '--target', a.datasetBase(), '--kind', 'accounts', '--dry-run', '--progress', 'none']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /would send 5 entries in 1 chunk/);
    assert.equal(a.checksum('accounts'), before);
    assert.equal(a.log.filter((l) => l.startsWith('POST')).length, posts);
    assert.equal((await cli(['run', '--source', src.datasetBase()])).code, 2);
    assert.equal((await cli(['run', '--source', 'http://u:p@h/x', '--target', 'http://h/y', '--kind', 'k'])).code, 2);
    const down = await cli(['run', '--source', 'http://127.0.0.1:9/sdata/a/c/-', '--target', a.datasetBase(), '--kind', 'accounts', '--retries', '0', '--quiet']);
    assert.equal(down.code, 5, down.stderr);
    assert.match(down.stderr, /ECONNREFUSED/);
  });
});

describe('run as a process: credentials, SIGINT, kill -9', () => {
  const src = new FakeProvider({ app: 'src', pageSize: 20 });
  const tgt = new FakeProvider({ app: 'tgt', priority: 3 });
  before(async () => {
    await Promise.all([src.start(), tgt.start()]);
    src.seed('accounts', 400);
  });
  after(async () => {
    await Promise.all([src.stop(), tgt.stop()]);
  });

  const start = (extra: string[], env: Record<string, string> = {}) => {
    const child = spawn(NODE, [...BIN_FLAGS, BIN, 'run', '--source', src.datasetBase(), '--target', tgt.datasetBase(), '--kind', 'accounts', '--chunk-entries', '50', '--progress', 'none', ...extra],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...TEST_ENV, ...env } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exit = new Promise<number | null>((r) => child.on('close', (c, sig) => r(c ?? (sig ? 128 : null))));
    return { child, exit, stderr: () => stderr };
  };

  it('sends each side its own credentials from the environment, and never prints them', async () => {
    const seen: string[] = [];
    const spy = (side: string) => (q: import('node:http').IncomingMessage) => {
      seen.push(`${side} ${q.headers.authorization ?? '-'}`);
      return false;
    };
    src.hook = spy('source');
    tgt.hook = spy('target');
    const r = start(['--dry-run', '--verbose'], { SDATA_SOURCE_TOKEN: 's3cret-token', SDATA_TARGET_USER: 'ann', SDATA_TARGET_PASSWORD: 'pa55' });
    assert.equal(await r.exit, 0, r.stderr());
    src.hook = undefined;
    tgt.hook = undefined;
    assert.ok(seen.length > 2);
    const basic = `Basic ${Buffer.from('ann:pa55').toString('base64')}`;
    for (const x of seen) assert.ok(x === 'source Bearer s3cret-token' || x === `target ${basic}`, x);
    assert.ok(!/s3cret|pa55|YW5uOnBhNTU/.test(r.stderr()));
  });

  it('a 401 names the credential variables of the side that answered it', async () => {
    /** A hook that answers every POST to `op` with 401. */
    const unauthorized = (op: string) => async (q: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, info: { op: string }) => {
      if (info.op !== op || q.method !== 'POST') return false;
      res.writeHead(401).end();
      return true;
    };
    tgt.hook = unauthorized('$syncTarget');
    try {
      const refused = start([], { SDATA_TARGET_TOKEN: 'wrong-token' });
      assert.equal(await refused.exit, 7, refused.stderr());
      assert.match(refused.stderr(), /HTTP 401; the provider refused the target credentials from SDATA_TARGET_TOKEN or SDATA_TARGET_USER\/SDATA_TARGET_PASSWORD/);
      assert.doesNotMatch(refused.stderr(), /SDATA_SOURCE_|wrong-token/);
      const none = start([]);
      assert.equal(await none.exit, 7, none.stderr());
      assert.match(none.stderr(), /HTTP 401; no target credentials were sent: set SDATA_TARGET_TOKEN \(Bearer\), or SDATA_TARGET_USER and SDATA_TARGET_PASSWORD \(Basic\)/);
    } finally {
      tgt.hook = undefined;
    }
    src.hook = unauthorized('$syncSource');
    try {
      const r = start([]);
      assert.equal(await r.exit, 6, r.stderr());
      assert.match(r.stderr(), /HTTP 401; no source credentials were sent: set SDATA_SOURCE_TOKEN/);
      assert.doesNotMatch(r.stderr(), /SDATA_TARGET_/);
    } finally {
      src.hook = undefined;
    }
  });

  it("a target digest tick that is not a non-negative integer: said once, with the digest's URL and line:column", async () => {
    tgt.hook = async (q, res, info) => {
      if (info.op === '$syncDigest' && q.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/atom+xml; type=entry' }).end('<entry xmlns="http://www.w3.org/2005/Atom"><payload xmlns="http://schemas.sage.com/sdata/2008/1">\n' +
          '<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"><origin>http://a/x</origin>\n<digestEntry><endpoint>http://a/x</endpoint><tick>-5</tick></digestEntry></digest></payload></entry>');
        return true;
      }
      return false;
    };
    try {
      for (const extra of [[], ['--quiet']]) {
        const r = start(extra);
        assert.equal(await r.exit, 3, r.stderr());
        const said = r.stderr().split('\n').filter((l) => l.includes("tick '-5'"));
        assert.equal(said.length, 1, r.stderr());
        assert.match(said[0]!, /accounts\/\$syncDigest:3:50: sync:digest: digestEntry for http:\/\/a\/x: tick '-5' is not a non-negative integer$/);
      }
    } finally {
      tgt.hook = undefined;
    }
  });

  it('SIGINT stops the pass, releases both contexts and exits 130', async () => {
    tgt.o.polls = 1_000_000;
    tgt.o.pollingMillis = 20;
    const r = start([]);
    await until(() => tgt.log.some((l) => l.startsWith('GET') && l.includes('$syncTarget(')), { what: () => `the run to poll the target's $syncTarget context (stderr: ${r.stderr()})` });
    r.child.kill('SIGINT');
    assert.equal(await r.exit, 130, r.stderr());
    assert.match(r.stderr(), /SIGINT: stopping; releasing the open contexts/);
    assert.equal(src.openContexts() + tgt.openContexts(), 0);
    tgt.o.polls = 1;
    tgt.o.pollingMillis = 1;
  });

  it('a run killed with SIGKILL mid-way, then run again, converges (nothing lost, nothing applied twice)', async () => {
    const before = tgt.applied.size;
    const r = start([]);
    await until(() => tgt.applied.size >= before + 3, { what: () => `the target to apply 3 chunks (applied ${tgt.applied.size - before}; stderr: ${r.stderr()})` });
    r.child.kill('SIGKILL');
    await r.exit;
    const again = start([]);
    assert.equal(await again.exit, 0, again.stderr());
    assert.equal(tgt.checksum('accounts'), src.checksum('accounts'));
    for (const [t, n] of tgt.applied) assert.equal(n, 1, `trackingID ${t} applied ${n} times`);
    // What the killed run left open, the rerun DELETEd (its journal, src/engine/journal.ts).
    assert.match(again.stderr(), /contexts left open by 1 earlier run/);
    assert.equal(src.openContexts() + tgt.openContexts(), 0);
  });
  it('a pass that finds nothing new says "up to date" (text), and the JSON summary has upToDate', async () => {
    const first = start([]);
    assert.equal(await first.exit, 0, first.stderr());
    const again = start([]);
    assert.equal(await again.exit, 0, again.stderr());
    assert.match(again.stderr(), /^accounts: up to date \(the source had nothing new for the target\)$/m);
    const summary = (s: string): { upToDate: boolean; kinds: Array<{ upToDate: boolean }> } =>
      JSON.parse(s.split('\n').find((l) => l.includes('"type":"summary"'))!) as { upToDate: boolean; kinds: Array<{ upToDate: boolean }> };
    const json = start(['--log-format', 'json']);
    assert.equal(await json.exit, 0, json.stderr());
    assert.deepEqual([summary(json.stderr()).upToDate, summary(json.stderr()).kinds[0]!.upToDate], [true, true]);
    src.edit('accounts', 'r0000001-0000-4000-8000-000000000000', '<name>changed once more</name>');
    const changed = start(['--log-format', 'json']);
    assert.equal(await changed.exit, 0, changed.stderr());
    assert.deepEqual([summary(changed.stderr()).upToDate, summary(changed.stderr()).kinds[0]!.upToDate], [false, false]);
    const text = start([]);
    assert.equal(await text.exit, 0, text.stderr());
    assert.match(text.stderr(), /up to date/);
  });
});
