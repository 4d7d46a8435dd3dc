import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { page } from '../helpers/feeds.ts';
import { BIN, BIN_FLAGS, NODE, runCli } from '../helpers/cli.ts';
import { DIGEST_ENTRY_5_2, EP, PAGE_5_2_CORRECTED, PAGE_5_2_PUBLISHED, STRAY_LINE } from '../helpers/spec-examples.ts';
import { oracleCheck, xmllintErrors } from '../helpers/oracle.ts';
import { withoutClock } from '../helpers/plan-text.ts';

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'sdata-plan-'));
}

test('plan: stdin → one feed on stdout, JSON summary on stderr', async (t) => {
  const r = await runCli(['plan'], { stdin: page({ entries: [{ endpoint: 'http://a/x', tick: 1 }, { endpoint: 'http://a/x', tick: 2 }] }) });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^<\?xml version="1.0" encoding="utf-8"\?>\n<feed /);
  assert.equal((r.stdout.match(/<entry>/g) ?? []).length, 2);
  await oracleCheck(t, 'the feed is well-formed for libxml2', ['xmllint'], () => assert.equal(xmllintErrors(r.stdout), ''));
  const summary = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as Record<string, number>;
  assert.deepEqual(Object.keys(summary).sort(), ['bytesIn', 'bytesOut', 'chunks', 'ending', 'forwarded', 'held', 'invalid', 'read', 'seconds', 'skipped']);
  assert.equal(summary.read, 2);
  assert.equal(summary.forwarded, 2);
  assert.equal(summary.bytesOut, Buffer.byteLength(r.stdout));
});

test('plan: pages as files + --digest + --out-dir chunks + --report', async () => {
  const dir = await tmp();
  try {
    await writeFile(join(dir, 'digest.xml'), DIGEST_ENTRY_5_2);
    await writeFile(join(dir, 'p1.xml'), page({ entries: Array.from({ length: 5 }, (_, i) => ({ endpoint: EP.myApp1, tick: 3 + i })), next: 'x' }));
    await writeFile(join(dir, 'p2.xml'), PAGE_5_2_CORRECTED);
    const r = await runCli(['plan', '--digest', join(dir, 'digest.xml'), '--out-dir', join(dir, 'out'), '--chunk-entries', '2',
      '--report', join(dir, 'report.json'), join(dir, 'p1.xml'), join(dir, 'p2.xml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const files = (await readdir(join(dir, 'out'))).sort();
    // p1: ticks 3..7 of myApp1 vs T=5 → 5,6,7 forwarded; p2 (other digest) → 2 more: chunks [2,1 | 2].
    assert.deepEqual(files, ['chunk-000001.xml', 'chunk-000002.xml', 'chunk-000003.xml']);
    const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as Record<string, number>;
    assert.equal(report.forwarded, 5);
    assert.equal(report.skipped, 2);
    assert.equal(report.chunks, 3);
    const last = await readFile(join(dir, 'out', files[2]!), 'utf8');
    assert.doesNotMatch(last, /rel="next"/);
    // The next link is absolute (the input feed's id and the chunk) and stands in the head, before the first entry.
    const first = await readFile(join(dir, 'out', files[0]!), 'utf8');
    assert.match(first.slice(0, first.indexOf('<entry')), /rel="next" [^>]*href="urn:test#chunk-000002"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('plan: not well-formed input → exit 3, line:column, no chunk left half-written', async () => {
  const dir = await tmp();
  try {
    const good = page({ entries: Array.from({ length: 50 }, (_, i) => ({ endpoint: 'http://a/x', tick: i })) });
    await writeFile(join(dir, 'good.xml'), good);
    await writeFile(join(dir, 'spec.xml'), PAGE_5_2_PUBLISHED);
    const r = await runCli(['plan', '--out-dir', join(dir, 'out'), '--chunk-entries', '20', join(dir, 'good.xml'), join(dir, 'spec.xml')]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, new RegExp(`spec\\.xml:${STRAY_LINE}:\\d+: not well-formed XML`));
    const files = await readdir(join(dir, 'out'));
    assert.ok(files.every((f) => /^chunk-\d{6}\.xml$/.test(f)), `no temporaries: ${files.join(', ')}`);
    for (const f of files) {
      const text = await readFile(join(dir, 'out', f), 'utf8');
      assert.match(text, /<\/feed>\n$/, `${f} is complete`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('plan: usage errors exit 2; --help and --version exit 0', async () => {
  const bad = await runCli(['plan', '--chunk-entries', '5']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--out-dir/);
  const unknown = await runCli(['plan', '--frobnicate']);
  assert.equal(unknown.code, 2);
  const missing = await runCli(['plan', '/nonexistent/page.xml']);
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /\/nonexistent\/page\.xml: cannot read: ENOENT/);
  const help = await runCli(['plan', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--max-entry-bytes/);
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^sdata-sync \d+\.\d+\.\d+/);
});

test('plan: the default (one thread) and --threads 2 (a helper thread) write the same feed', async () => {
  // ~2 MB: some 30 pieces, so the helper thread takes part; invalid entries make warnings with line:column.
  const entries = Array.from({ length: 4000 }, (_, i) => ({ endpoint: 'http://a/x', tick: i % 500 === 7 ? 'x' : i, body: `<n>${'q'.repeat(i % 300)}</n>` }));
  const stdin = page({ entries });
  const one = await runCli(['plan'], { stdin });
  const two = await runCli(['plan', '--threads', '2'], { stdin });
  assert.equal(one.code, 0, one.stderr);
  assert.equal(two.code, 0, two.stderr);
  assert.equal(withoutClock(two.stdout), withoutClock(one.stdout));
  const warnings = (s: string): string[] => s.split('\n').filter((l) => l.includes('warning'));
  // 8 invalid entries, and that the one feed on stdout could not hold the merge back for them (docs/protocol.md X3).
  assert.equal(warnings(one.stderr).length, 9);
  assert.match(warnings(one.stderr).at(-1)!, /the feed on stdout is final .* 8 entries were dropped/);
  assert.deepEqual(warnings(two.stderr), warnings(one.stderr));
  const bad = await runCli(['plan', '--threads', '3'], { stdin: '' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--threads: expected 1 or 2, got "3"/);
});

test('plan: --explain says why, on stderr and in the summary, and changes nothing in the output', async () => {
  const dir = await tmp();
  try {
    await writeFile(join(dir, 'digest.xml'), DIGEST_ENTRY_5_2);
    const stdin = page({ entries: Array.from({ length: 5 }, (_, i) => ({ endpoint: EP.myApp1, tick: 3 + i })) });
    const u = (i: number): string => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`;
    const r = await runCli(['plan', '--digest', join(dir, 'digest.xml'), '--explain', u(0), '--explain', `${u(4)},${u(99)}`], { stdin });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('sdata-sync plan: explain'));
    assert.equal(lines.length, 3, r.stderr);
    assert.match(lines[0]!, /^sdata-sync plan: explain [0-]+: <stdin>:\d+:\d+: entry #1 \(urn:e:0\): syncState \(http:\/\/www\.example\.com\/sdata\/myApp1\/myContract\/-\/accounts, tick 3\); target digest entry \(\S+myApp1\S+, tick 5\); skipped: tick 3 < 5/);
    assert.match(lines[1]!, /explain [0-]+4: .* forwarded: tick 7 ≥ 5.*; in chunk 1 as entry 3$/);
    assert.match(lines[2]!, /explain [0-]+99: no entry of the input carries this uuid/);
    const summary = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { explained: Array<{ uuid: string; decision: string }> };
    assert.deepEqual(summary.explained.map((x) => x.decision), ['skip', 'forward']);
    const plain = await runCli(['plan', '--digest', join(dir, 'digest.xml')], { stdin });
    assert.equal(withoutClock(r.stdout), withoutClock(plain.stdout));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('plan: --strict turns an invalid entry into exit 3 naming it', async () => {
  const r = await runCli(['plan', '--strict'], { stdin: page({ entries: [{ endpoint: 'http://a/x', tick: 1 }, { endpoint: 'http://a/x', tick: 'x', id: 'urn:bad' }] }) });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /<stdin>:\d+:\d+: entry #2 \(urn:bad\): sync:tick 'x'/);
});

test('plan: a reader that goes away (EPIPE) ends quietly with exit 141', async () => {
  const dir = await tmp();
  try {
    const entries = Array.from({ length: 20_000 }, (_, i) => ({ endpoint: 'http://a/x', tick: i, body: `<n>${'p'.repeat(400)}</n>` }));
    await writeFile(join(dir, 'big.xml'), page({ entries }));
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(NODE, [...BIN_FLAGS, BIN, 'plan', join(dir, 'big.xml')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.stdout.once('data', () => child.stdout.destroy());
      child.on('close', (c) => {
        assert.equal(err, '', 'nothing on stderr');
        resolve(c);
      });
    });
    assert.equal(code, 141);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('plan: stdout on a full disk ends with exit 4 and one line, not a stack trace', { skip: process.platform !== 'linux' && 'needs /dev/full' }, async () => {
  // /dev/full refuses every write (ENOSPC), as a full disk under `plan feed.xml > out.xml` does.
  const dir = await tmp();
  const out = openSync('/dev/full', 'w');
  try {
    const entries = Array.from({ length: 2000 }, (_, i) => ({ endpoint: 'http://a/x', tick: i, body: `<n>${'p'.repeat(400)}</n>` }));
    await writeFile(join(dir, 'big.xml'), page({ entries }));
    const [code, err] = await new Promise<[number | null, string]>((resolve) => {
      const child = spawn(NODE, [...BIN_FLAGS, BIN, 'plan', join(dir, 'big.xml')], { stdio: ['ignore', out, 'pipe'] });
      let e = '';
      child.stderr!.on('data', (d) => (e += d));
      child.on('close', (c) => resolve([c, e]));
    });
    assert.equal(err, 'sdata-sync plan: stdout: cannot write: ENOSPC\n');
    assert.equal(code, 4);
  } finally {
    closeSync(out);
    await rm(dir, { recursive: true, force: true });
  }
});

test('an entry cap the heap cannot hold is refused up front, with the way to ask for more heap', async () => {
  const r = await runCli(['plan', '--max-entry-bytes', '64MiB'], { stdin: page({ entries: [{ endpoint: 'http://a/x', tick: 1 }] }) });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--max-entry-bytes 64MiB: entries that large need about \d+ MiB of heap and this process has \d+ MiB; run it with a larger one: node --max-old-space-size=\d+/);
  assert.equal(r.stdout, '');
  const ok = await runCli(['plan', '--max-entry-bytes', '16MiB'], { stdin: page({ entries: [{ endpoint: 'http://a/x', tick: 1 }] }) });
  assert.equal(ok.code, 0, ok.stderr);
});

test('entries at the default 16 MiB cap pass through plan with the heap the bin gives it', async () => {
  const dir = await tmp();
  try {
    // Mostly ASCII with one CJK character: the joined entry text is a two-byte string, twice the bytes.
    const body = `<n>${'a'.repeat(16 * 1024 * 1024 - 1200)}中</n>`;
    const entries = [1, 2, 3].map((tick) => ({ endpoint: 'http://a/x', tick, body }));
    await writeFile(join(dir, 'huge.xml'), page({ entries }));
    const r = await runCli(['plan', '--out-dir', join(dir, 'out'), join(dir, 'huge.xml')]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stderr.trim().split('\n').pop()!) as { read: number; forwarded: number; invalid: number };
    assert.deepEqual([summary.read, summary.forwarded, summary.invalid], [3, 3, 0]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a digest tick that is not a non-negative integer: exit 3, said once, at its line:column (page digest and --digest file)', async () => {
  const text = page({ digest: [['http://a/x', -5]], entries: [{ endpoint: 'http://a/x', tick: 1 }] });
  const lines = text.split('\n');
  const line = lines.findIndex((l) => l.includes('<sync:tick>-5')) + 1;
  const column = lines[line - 1]!.indexOf('<sync:tick>-5') + '<sync:tick>'.length;
  const r = await runCli(['plan'], { stdin: text });
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stderr, `sdata-sync plan: <stdin>:${line}:${column}: sync:digest: digestEntry for http://a/x: tick '-5' is not a non-negative integer\n`);
  const dir = await tmp();
  try {
    await writeFile(join(dir, 'digest.xml'), '<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1">\n  <digestEntry><endpoint>http://a/x</endpoint>\n    <tick>-7</tick></digestEntry>\n</digest>\n');
    const d = await runCli(['plan', '--digest', join(dir, 'digest.xml')], { stdin: page({ entries: [] }) });
    assert.equal(d.code, 3, d.stderr);
    assert.equal(d.stderr, `sdata-sync plan: ${join(dir, 'digest.xml')}:3:10: sync:digest: digestEntry for http://a/x: tick '-7' is not a non-negative integer\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
