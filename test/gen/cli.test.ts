import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateFeed } from '../../src/gen/stream.ts';
import { runCli } from '../helpers/cli.ts';

async function feedText(count: number, seed: number): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of generateFeed({ count, seed })) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

test('gen N writes the feed to stdout (same bytes as the API), a JSON summary to stderr', async () => {
  const r = await runCli(['gen', '40', '--seed', '5']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, await feedText(40, 5));
  const summary = JSON.parse(r.stderr.trim()) as Record<string, number>;
  assert.equal(summary['entries'], 40);
  assert.equal(summary['bytes'], Buffer.byteLength(r.stdout));
});

test('gen --out-dir --pages --digest-out, then plan: the announced skip count is what plan skips', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sdata-gen-cli-'));
  try {
    const g = await runCli(['gen', '300', '--pages', '3', '--out-dir', join(dir, 'pages'), '--digest-out', join(dir, 'digest.xml'), '--skip-ratio', '0.4']);
    assert.equal(g.code, 0, g.stderr);
    const gs = JSON.parse(g.stderr.trim()) as Record<string, number>;
    assert.equal(gs['skipped'], 120);
    const files = (await readdir(join(dir, 'pages'))).sort();
    assert.deepEqual(files, ['page-000001.xml', 'page-000002.xml', 'page-000003.xml']);
    assert.match(await readFile(join(dir, 'digest.xml'), 'utf8'), /^<\?xml[^>]*>\n<entry xmlns="http:\/\/www.w3.org\/2005\/Atom"/);
    const p = await runCli(['plan', '--digest', join(dir, 'digest.xml'), ...files.map((f) => join(dir, 'pages', f))]);
    assert.equal(p.code, 0, p.stderr);
    const ps = JSON.parse(p.stderr.trim().split('\n').pop()!) as Record<string, number>;
    assert.equal(ps['read'], 300);
    assert.equal(ps['skipped'], 120);
    assert.equal(ps['forwarded'], 180);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('gen usage errors exit 2 with a message', async () => {
  for (const args of [['gen'], ['gen', 'ten'], ['gen', '10', '--pages', '2'], ['gen', '10', '--skip-ratio', '0.5'],
    ['gen', '10', '--digest-out', '/dev/null', '--skip-ratio', '1.5'], ['gen', '10', '--pages', '2', '--page-size', '3']]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /gen/);
    assert.equal(r.stdout, '');
  }
  const h = await runCli(['gen', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Usage: sdata-sync gen N/);
});
