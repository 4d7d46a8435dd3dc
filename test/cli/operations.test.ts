import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { BIN, BIN_FLAGS, NODE, runCli, TEST_ENV, type CliResult } from '../helpers/cli.ts';
import { page, type TestEntry } from '../helpers/feeds.ts';
import { until } from '../helpers/until.ts';

/**
 * Operations (README "Logs", "Exit codes"): every output path is tried before the work starts (exit 4, a clear
 * message, no stack trace, no request sent), and an interrupted command leaves within --stop-timeout.
 */

const EP = 'http://a.example/sdata/app/c/-/accounts';
const entries = (n: number): TestEntry[] => Array.from({ length: n }, (_, i) => ({ endpoint: EP, tick: i + 1, uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` }));

/** A peer that records every request; `answer` decides (undefined: never answer, the connection stays open). */
class Peer {
  seen: string[] = [];
  answer: (q: IncomingMessage, res: ServerResponse) => boolean = (_q, res) => (res.writeHead(500).end(), true);
  private server: Server | undefined;
  private held: ServerResponse[] = [];
  url = '';

  async start(): Promise<void> {
    this.server = createServer((q, res) => {
      this.seen.push(`${q.method} ${q.url}`);
      q.resume();
      q.on('end', () => {
        if (!this.answer(q, res)) this.held.push(res);
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/sdata/app/c/-`;
  }

  async stop(): Promise<void> {
    for (const r of this.held.splice(0)) r.destroy();
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/** No stack trace: no `    at ` frame and no `internal error`. */
function noStack(r: CliResult): void {
  assert.doesNotMatch(r.stderr, /^\s+at |internal error/m, r.stderr);
}

const ROOT = process.getuid?.() === 0;

describe('output paths are checked before the work starts: exit 4, a clear message, nothing sent', () => {
  const peer = new Peer();
  let dir = '';
  let feed = '';
  let file = '';
  let readOnly = '';
  before(async () => {
    await peer.start();
    dir = await mkdtemp(join(tmpdir(), 'sdata-ops-'));
    feed = join(dir, 'feed.xml');
    await writeFile(feed, page({ entries: entries(3) }));
    // A regular file: nothing can be created under it, whoever runs the tests (root included).
    file = join(dir, 'a-file');
    await writeFile(file, 'x');
    readOnly = join(dir, 'read-only');
    await mkdir(readOnly);
    await chmod(readOnly, 0o555);
  });
  after(async () => {
    await peer.stop();
    await chmod(readOnly, 0o755).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    peer.seen = [];
  });

  it('run --report under a file: exit 4 naming the option and the path, before any request (text and JSON)', async () => {
    const report = join(file, 'report.json');
    const r = await runCli(['run', '--source', peer.url, '--target', peer.url, '--kind', 'accounts', '--report', report, '--log-format', 'text']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, new RegExp(`^sdata-sync run: --report ${report.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot write: ENOTDIR$`, 'm'));
    noStack(r);
    assert.deepEqual(peer.seen, []);

    const j = await runCli(['run', '--source', peer.url, '--target', peer.url, '--kind', 'accounts', '--report', report, '--log-format', 'json']);
    assert.equal(j.code, 4, j.stderr);
    const lines = j.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => l['event']), ['error', 'summary']);
    assert.deepEqual([lines[0]!['error'], lines[1]!['exitCode']], ['SDATA_E_IO', 4]);
    assert.deepEqual(peer.seen, []);
  });

  it('run --spool-dir under a file, where the run spools (--post-results): exit 4, before any request', async () => {
    const r = await runCli(['run', '--source', peer.url, '--target', peer.url, '--kind', 'accounts', '--post-results', '--spool-dir', join(file, 'spool'), '--log-format', 'text']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /--spool-dir \S+a-file\/spool: cannot write: ENOTDIR/);
    noStack(r);
    assert.deepEqual(peer.seen, []);
  });

  it('push --spool-dir read-only (as an unprivileged user): exit 4 before stdin is read or anything is posted', async () => {
    const args = [...BIN_FLAGS, BIN, 'push', `${peer.url}/accounts`, '--spool-dir', readOnly, '--log-format', 'text'];
    // root may write anywhere: the check must meet a real refusal, so the command runs as nobody then.
    const child = spawn(NODE, args, { env: { ...process.env, ...TEST_ENV }, stdio: ['pipe', 'pipe', 'pipe'], ...(ROOT ? { uid: 65534, gid: 65534 } : {}) });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined);
    child.stdin.end(page({ entries: entries(3) }));
    const [code] = await once(child, 'close') as [number];
    assert.equal(code, 4, stderr);
    assert.match(stderr, new RegExp(`^sdata-sync push: --spool-dir ${readOnly.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot write: EACCES$`, 'm'));
    assert.doesNotMatch(stderr, /^\s+at |internal error/m);
    assert.deepEqual(peer.seen, []);
  });

  it('push to a TMPDIR that cannot be written (no --spool-dir): exit 4 naming it and the option that chooses another', async () => {
    const r = await runCli(['push', `${peer.url}/accounts`, feed, '--log-format', 'text'], { env: { TMPDIR: join(file, 'tmp') } });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /the temp directory \S+a-file\/tmp \(--spool-dir DIR chooses another\): cannot write: ENOTDIR/);
    noStack(r);
    assert.deepEqual(peer.seen, []);
  });

  it('plan --out-dir and --report under a file: exit 4 before a byte of the input is read; a good --out-dir is created', async () => {
    for (const [opt, path] of [['--out-dir', join(file, 'chunks')], ['--report', join(file, 'r.json')]] as const) {
      const r = await runCli(['plan', feed, opt, path]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, new RegExp(`^sdata-sync plan: ${opt} \\S+: cannot write: ENOTDIR$`, 'm'));
      noStack(r);
      assert.equal(r.stdout, '');
    }
    const out = join(dir, 'new', 'chunks');
    const ok = await runCli(['plan', feed, '--out-dir', out]);
    assert.equal(ok.code, 0, ok.stderr);
    // The check leaves nothing behind: the chunks only.
    assert.deepEqual((await readdir(out)).filter((f) => !f.startsWith('chunk-')), []);
  });

  it('link --report under a file: exit 4 before any request', async () => {
    const r = await runCli(['link', '--source', peer.url, '--target', peer.url, '--kind', 'accounts', '--match', 'name', '--report', join(file, 'l.jsonl'), '--log-format', 'text']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /^sdata-sync link: --report \S+: cannot write: ENOTDIR$/m);
    noStack(r);
    assert.deepEqual(peer.seen, []);
  });

  it('a 401 from the target of push names the TARGET credential variables', async () => {
    peer.answer = (_q, res) => (res.writeHead(401).end(), true);
    try {
      const r = await runCli(['push', `${peer.url}/accounts`, feed, '--log-format', 'text', '--retries', '0'], { env: { SDATA_TARGET_TOKEN: 'wrong-token-0123456789', SDATA_SOURCE_TOKEN: 'other-0123456789' } });
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /HTTP 401; the provider refused the target credentials from SDATA_TARGET_TOKEN or SDATA_TARGET_USER\/SDATA_TARGET_PASSWORD/);
      assert.doesNotMatch(r.stderr, /SDATA_SOURCE_/);
      noStack(r);
    } finally {
      peer.answer = (_q, res) => (res.writeHead(500).end(), true);
    }
  });
});

describe('SIGTERM: an interrupted command leaves within --stop-timeout, exit 130', () => {
  const peer = new Peer();
  let dir = '';
  before(async () => {
    await peer.start();
    dir = await mkdtemp(join(tmpdir(), 'sdata-ops-term-'));
  });
  after(async () => {
    await peer.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('push whose target never answers its poll nor its DELETE: the release is tried, and the bound ends the wait', async () => {
    // The chunk is taken (202 + a context), then the target goes silent: polls and DELETEs hang.
    peer.answer = (q, res) => {
      if (q.method !== 'POST') return false;
      res.writeHead(202, { location: `${peer.url}/accounts/$syncTarget('ctx-1')` }).end();
      return true;
    };
    const feed = join(dir, 'feed.xml');
    await writeFile(feed, page({ entries: entries(3) }));
    const child = spawn(NODE, [...BIN_FLAGS, BIN, 'push', `${peer.url}/accounts`, feed, '--stop-timeout', '1s', '--log-format', 'text'],
      { env: { ...process.env, ...TEST_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
    await until(() => peer.seen.some((s) => s.startsWith('GET ')), { what: () => `a poll of the context; seen ${peer.seen.join(', ')}; ${stderr}` });
    child.kill('SIGTERM');
    // Without the bound the DELETE would wait for its headers (2 minutes) through its retries, past the test's timeout.
    const [code, signal] = await closed;
    assert.deepEqual([code, signal], [130, null], stderr);
    assert.ok(peer.seen.some((s) => s.startsWith('DELETE ') && s.includes('ctx-1')), `the context's DELETE was sent: ${peer.seen.join(', ')}`);
    assert.match(stderr, /SIGTERM: stopping; releasing the open contexts/);
    assert.match(stderr, /SIGTERM: the open contexts were not all released within 1 s \(--stop-timeout\): leaving; the next run deletes those left open/);
    assert.doesNotMatch(stderr, /^\s+at |internal error/m);
  });
});
