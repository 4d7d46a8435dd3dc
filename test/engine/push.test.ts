import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it, type TestContext } from 'node:test';
import { BIN, BIN_FLAGS, NODE, runCli, TEST_ENV } from '../helpers/cli.ts';
import { page, type TestEntry } from '../helpers/feeds.ts';
import { oracleCheck, xmllintErrors } from '../helpers/oracle.ts';
import { until } from '../helpers/until.ts';
import { FakeProvider } from './fake-provider.ts';

const EP = 'http://a.example/sdata/app/c/-/accounts';
const entries = (n: number, from = 0): TestEntry[] => Array.from({ length: n }, (_, i) => ({ endpoint: EP, tick: from + i + 1, uuid: `00000000-0000-4000-8000-${String(from + i).padStart(12, '0')}` }));

/** The feed-level part of a posted chunk (before its first entry) and its entries' count. */
function shape(body: string): { head: string; links: Record<string, string>; entries: number; id: string | undefined } {
  const end = body.indexOf('<entry');
  const head = end < 0 ? body : body.slice(0, end);
  const links: Record<string, string> = {};
  for (const m of head.matchAll(/<link rel="(\w+)"[^>]*href="([^"]+)"/g)) links[m[1]!] = m[2]!;
  return { head, links, entries: (body.match(/<entry[\s>]/g) ?? []).length, id: /<id>([^<]*)<\/id>/.exec(head)?.[1] };
}

/** `push ARGS --quiet` with stdin a pipe the test writes to; killed when the test ends (a failed wait leaves none behind). */
function pushOnPipe(t: TestContext, args: string[]): { child: ChildProcessWithoutNullStreams; exit: Promise<number | null>; stdout: () => string; stderr: () => string } {
  const child = spawn(NODE, [...BIN_FLAGS, BIN, 'push', ...args, '--quiet'], { env: { ...process.env, ...TEST_ENV }, stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => void child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  return { child, exit, stdout: () => stdout, stderr: () => stderr };
}

describe('push re-chunks its input with the engine planner', () => {
  const tgt = new FakeProvider({ app: 'tgt', priority: 3, resultPageSize: 50 });
  let posted: string[] = [];
  let dir = '';
  const url = (): string => `${tgt.datasetBase()}/accounts`;
  before(async () => {
    await tgt.start();
    dir = await mkdtemp(join(tmpdir(), 'sdata-push-'));
    tgt.hook = (q, _res, info) => {
      if (q.method === 'POST' && info.op === '$syncTarget' && info.body) posted.push(info.body.toString('utf8'));
      return false;
    };
  });
  after(async () => {
    await tgt.stop();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    posted = [];
    tgt.kinds.clear();
    tgt.merges = 0;
  });

  it('one large feed on stdin goes in chunks bounded by --chunk-entries, with spec-exact heads and one merge at the end', async (t) => {
    const feed = page({ entries: entries(250), digest: [[EP, 251, 2]] });
    const r = await runCli(['push', url(), '--chunk-entries', '100', '--quiet'], { stdin: feed });
    assert.equal(r.code, 0, r.stderr);
    const chunks = posted.map(shape);
    assert.deepEqual(chunks.map((c) => c.entries), [100, 100, 50]);
    // docs/protocol.md X2: the input feed's id on every chunk, absolute self/first/next in the head, no next on the last.
    chunks.forEach((c, i) => {
      assert.equal(c.id, 'urn:test');
      assert.equal(c.links['self'], `urn:test#chunk-00000${i + 1}`);
      assert.equal(c.links['first'], 'urn:test#chunk-000001');
      assert.equal(c.links['next'], i < 2 ? `urn:test#chunk-00000${i + 2}` : undefined);
      assert.match(c.head, /<sync:syncMode>catchUp<\/sync:syncMode>/);
      assert.match(c.head, new RegExp(`<sync:endpoint>${EP}</sync:endpoint><sync:tick>251</sync:tick>`));
    });
    assert.equal(tgt.merges, 1);
    assert.equal(tgt.liveCount('accounts'), 250);
    assert.equal(tgt.openContexts(), 0);
    assert.equal((r.stdout.match(/<entry>/g) ?? []).length, 250, 'every result, in one result feed');
    await oracleCheck(t, 'the result feed and every posted chunk are well-formed for libxml2', ['xmllint'], () => {
      for (const x of [r.stdout, ...posted]) assert.equal(xmllintErrors(x), '');
    });
  });

  it('streams: the first chunk is posted while stdin is still open; a bad byte later stops it (exit 3, <stdin>:line:col) and nothing after it is sent', async (t) => {
    const feed = page({ entries: entries(300) });
    const cut = feed.split('<entry').slice(0, 251).join('<entry').length; // entries 0..249, then stop
    const p = pushOnPipe(t, [url(), '--chunk-entries', '100']);
    p.child.stdin.write(feed.slice(0, cut));
    await until(() => posted.length === 2, { what: () => `two chunks posted before stdin ends (posted ${posted.length}; stderr: ${p.stderr()})` });
    const lines = feed.slice(0, cut).split('\n');
    p.child.stdin.end('<entry><id>urn:bad</id><title/></entri>\n</feed>\n');
    assert.equal(await p.exit, 3, p.stderr());
    assert.match(p.stderr(), new RegExp(`<stdin>:${lines.length}:\\d+: not well-formed XML`));
    assert.deepEqual(posted.map((b) => shape(b).entries), [100, 100], 'the chunk holding entries 200-249 was never posted');
    assert.ok(posted.every((b) => shape(b).links['next'] !== undefined), 'every posted chunk has next: the target did not merge');
    assert.equal(tgt.merges, 0);
    assert.equal(tgt.openContexts(), 0);
    assert.equal((p.stdout().match(/<entry>/g) ?? []).length, 200, 'the results of what was applied');
  });

  it('a writer that pauses with less than a piece sent (a few KiB): its complete entries are read and posted without more input', async (t) => {
    const feed = page({ entries: entries(30) });
    const cut = feed.split('<entry').slice(0, 26).join('<entry').length; // entries 0..24, then a pause
    assert.ok(cut < 16 * 1024, `the test sends less than a piece before pausing (${cut} bytes)`);
    const p = pushOnPipe(t, [url(), '--chunk-entries', '10']);
    p.child.stdin.write(feed.slice(0, cut));
    await until(() => posted.length === 2, { what: () => `the chunks of the entries sent posted while stdin pauses (posted ${posted.length}; stderr: ${p.stderr()})` });
    assert.deepEqual(posted.map((b) => shape(b).entries), [10, 10]);
    p.child.stdin.end(feed.slice(cut));
    assert.equal(await p.exit, 0, p.stderr());
    assert.deepEqual(posted.map((b) => shape(b).entries), [10, 10, 10]);
    assert.equal(tgt.merges, 1);
    assert.equal((p.stdout().match(/<entry>/g) ?? []).length, 30);
  });

  it('malformed from the start: nothing posted, exit 3 naming the file, line and column', async () => {
    const f = join(dir, 'bad.xml');
    await writeFile(f, page({ entries: entries(1) }).replace('<title>e0</title>', '<title>e0</tilte>'));
    const r = await runCli(['push', url(), f]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`${f.replace(/[.]/g, '\\.')}:\\d+:\\d+: not well-formed XML`));
    assert.doesNotMatch(r.stderr, /sdata-sync-push-|\n\s+at /);
    assert.equal(posted.length, 0);
    assert.equal(r.stdout, '', 'no result feed on stdout: nothing was applied, and an empty one would say so');
  });

  it('several files are pages of one feed: re-chunked across them, one merge; a file without next ends its feed', async () => {
    const p = async (name: string, from: number, next: boolean): Promise<string> => {
      const f = join(dir, name);
      await writeFile(f, page({ entries: entries(5, from), ...(next ? { next: `urn:test#${name}` } : {}) }));
      return f;
    };
    const [a, b, c] = [await p('a.xml', 0, true), await p('b.xml', 5, true), await p('c.xml', 10, false)];
    const one = await runCli(['push', url(), a, b, c, '--chunk-entries', '4', '--quiet']);
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(posted.map((x) => shape(x).entries), [4, 4, 4, 3]);
    assert.deepEqual(posted.map((x) => shape(x).links['next'] !== undefined), [true, true, true, false]);
    assert.equal(tgt.merges, 1);

    posted = [];
    tgt.merges = 0;
    const [d, e] = [await p('d.xml', 20, false), await p('e.xml', 30, false)];
    const two = await runCli(['push', url(), d, e, '--chunk-entries', '4', '--quiet']);
    assert.equal(two.code, 0, two.stderr);
    assert.deepEqual(posted.map((x) => [shape(x).entries, shape(x).links['next'] !== undefined]), [[4, true], [1, false], [4, true], [1, false]]);
    assert.equal(tgt.merges, 2, 'two feeds, two merges');
    assert.equal((two.stdout.match(/<entry>/g) ?? []).length, 10);
  });

  it('input that ends on a page with next: the last chunk keeps next, the target does not merge yet', async () => {
    const f = join(dir, 'partial.xml');
    await writeFile(f, page({ entries: entries(6), next: 'urn:test#more' }));
    const r = await runCli(['push', url(), f, '--chunk-entries', '4']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(posted.map((x) => [shape(x).entries, shape(x).links['next'] !== undefined]), [[4, true], [2, true]]);
    assert.equal(tgt.merges, 0);
    assert.match(r.stderr, /the input ends on a page with a next link/);
    assert.equal(tgt.liveCount('accounts'), 6);
  });

  it('an invalid entry is reported with its position and not sent, and holds the merge back (exit 8); --strict stops (exit 3)', async () => {
    const feed = page({ entries: [...entries(3), { endpoint: EP, tick: 9, noState: true }, ...entries(2, 3)] });
    const r = await runCli(['push', url()], { stdin: feed });
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /<stdin>:\d+:\d+: entry #4 \(urn:e:3\) not forwarded: /);
    assert.deepEqual(posted.map((x) => [shape(x).entries, shape(x).links['next'] !== undefined]), [[5, true]]);
    assert.equal(tgt.merges, 0);
    posted = [];
    const strict = await runCli(['push', url(), '--strict', '--chunk-entries', '2'], { stdin: feed });
    assert.equal(strict.code, 3, strict.stderr);
    assert.match(strict.stderr, /<stdin>:\d+:\d+: entry #4 \(urn:e:3\): /);
    assert.deepEqual(posted.map((x) => shape(x).entries), [2], 'only the chunk completed before the invalid entry');
  });

  it('stdin named twice is a usage error; a missing file is said before anything is sent', async () => {
    assert.equal((await runCli(['push', url(), '-', '-'])).code, 2);
    const f = join(dir, 'ok.xml');
    await writeFile(f, page({ entries: entries(2) }));
    const r = await runCli(['push', url(), f, join(dir, 'missing.xml')]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /missing\.xml: cannot read: ENOENT/);
    assert.equal(posted.length, 0);
  });

  it('SIGTERM while a chunk is being applied: its context is DELETEd, exit 130', async () => {
    tgt.o.polls = 1_000_000;
    tgt.o.pollingMillis = 20;
    try {
      const f = join(dir, 'term.xml');
      await writeFile(f, page({ entries: entries(5) }));
      const seen = tgt.log.length;
      const child = spawn(NODE, [...BIN_FLAGS, BIN, 'push', url(), f, '--log-format', 'text'], { env: { ...process.env, ...TEST_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
      await until(() => tgt.log.slice(seen).some((l) => l.startsWith('GET') && l.includes('$syncTarget(')), { what: () => `push to poll its chunk's context (stderr: ${stderr})` });
      child.kill('SIGTERM');
      assert.equal(await exit, 130, stderr);
      assert.match(stderr, /SIGTERM: stopping; releasing the open contexts/);
      assert.equal(tgt.openContexts(), 0);
    } finally {
      tgt.o.polls = 1;
      tgt.o.pollingMillis = 1;
    }
  });
});
