import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/engine/log.ts';
import { runLink, type LinkOptions, type LinkResult } from '../../src/engine/link/run-link.ts';
import { runPass } from '../../src/engine/pass.ts';
import { HttpClient } from '../../src/http/client.ts';
import { NS } from '../../src/protocol/namespaces.ts';
import { startProvider, type RunningProvider } from '../../src/provider/http/server.ts';
import { seedOverlap, type OverlapTruth } from '../../src/seeder/overlap.ts';
import { runCli } from '../helpers/cli.ts';

/**
 * `link` (spec 1.2-1.4) between two reference providers on real sockets and SQLite files: every case of 1.2,
 * ambiguity on either side, unmatched resources, key normalisation; a dry run writes nothing; `--apply` links; a
 * catch-up pass afterwards creates no duplicates.
 */

const client = new HttpClient({ retry: { retries: 3, baseMs: 5, maxMs: 50 } });
const FULL = { trim: true, case: true, space: true };

interface Pair {
  dir: string;
  s: RunningProvider;
  t: RunningProvider;
  truth: OverlapTruth;
  close(): Promise<void>;
}

async function pair(name: string, o: { perSide: number; shared: number; ambiguous: number; prio: [number, number]; variants?: boolean }): Promise<Pair> {
  const dir = await mkdtemp(join(tmpdir(), `sdata-link-${name}-`));
  const truth = await seedOverlap({
    source: { db: join(dir, 's.db'), app: 'crm', endpointBase: 'http://crm.example/sdata/crm/crm/-', priority: o.prio[0] },
    target: { db: join(dir, 't.db'), app: 'erp', endpointBase: 'http://erp.example/sdata/erp/crm/-', priority: o.prio[1] },
    perSide: o.perSide, shared: o.shared, ambiguous: o.ambiguous, variants: o.variants ?? false, payloadBytes: 300,
  });
  const s = await startProvider({ db: join(dir, 's.db'), pageSize: 97 });
  const t = await startProvider({ db: join(dir, 't.db'), pageSize: 89 });
  return {
    dir, s, t, truth,
    close: async () => {
      await s.close();
      await t.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function link(p: Pair, extra: Partial<LinkOptions> = {}): Promise<LinkResult> {
  return runLink({
    source: client, target: client, sourceBase: p.s.url, targetBase: p.t.url, kind: 'accounts', match: ['accountNumber'],
    normalize: FULL, apply: false, tempDir: p.dir, batchSize: 50, log: silentLogger(), ...extra,
  });
}

function pass(from: RunningProvider, to: RunningProvider, dir: string) {
  return runPass({
    kind: 'accounts', sourceBase: from.url, targetBase: to.url, source: client, target: client, runName: 'link test',
    runStamp: new Date().toISOString(), chunkEntries: 200, chunkBytes: 8 << 20, maxEntryBytes: 16 << 20, spoolDir: dir, log: silentLogger(),
  });
}

/** The counts `link` must report for a generated pair whose source wins disagreements (or the target: `targetWins`). */
function expected(t: OverlapTruth, targetWins = false): Record<string, unknown> {
  return {
    matched: t.matched, 'already-linked': t.same, 'link-both': t.neither, 'copy-to-target': t.sourceOnly, 'copy-to-source': t.targetOnly,
    'repoint-target': targetWins ? 0 : t.different, 'repoint-source': targetWins ? t.different : 0, 'uuid-taken': 0,
    ambiguous: t.ambiguousKeys, ambiguousResources: t.ambiguousResources, unmatchedResources: t.unmatched,
  };
}

function pick(r: LinkResult, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, (r.counts as unknown as Record<string, unknown>)[k]]));
}

after(() => client.close());

describe('link between two providers that share resources', () => {
  let p: Pair;
  before(async () => {
    p = await pair('small', { perSide: 60, shared: 40, ambiguous: 6, prio: [1, 5], variants: true });
  });
  after(() => p.close());

  it('a dry run reports every case of spec 1.2, ambiguity on either side and unmatched resources, and writes nothing', async () => {
    const before = [p.s.checksum('accounts'), p.t.checksum('accounts')];
    const report = join(p.dir, 'dry.jsonl');
    const r = await link(p, { report });
    const want = expected(p.truth);
    assert.deepEqual(pick(r, Object.keys(want)), want);
    assert.ok(p.truth.neither > 0 && p.truth.sourceOnly > 0 && p.truth.targetOnly > 0 && p.truth.different > 0 && p.truth.same > 0);
    assert.deepEqual(r.counts.read, [60, 60]);
    assert.equal(r.winner, 'source');
    assert.deepEqual([r.sides[0].priority, r.sides[1].priority], [1, 5]);
    assert.equal(r.applied, undefined);
    assert.deepEqual([p.s.checksum('accounts'), p.t.checksum('accounts')], before, 'a dry run writes nothing');
    const lines = (await readFile(report, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const byAction = new Map<string, Array<Record<string, unknown>>>();
    for (const l of lines) byAction.set(l['action'] as string, [...(byAction.get(l['action'] as string) ?? []), l]);
    assert.equal(byAction.get('link-both')!.length, p.truth.neither);
    const both = byAction.get('link-both')![0]!;
    assert.match(both['uuid'] as string, /^[0-9a-f-]{36}$/);
    assert.deepEqual([(both['source'] as { uuid: unknown }).uuid, (both['target'] as { uuid: unknown }).uuid], [null, null]);
    assert.match((both['source'] as { url: string }).url, /\/accounts\('\d+'\)$/);
    const rp = byAction.get('repoint-target')![0]!;
    assert.equal(rp['uuid'], (rp['source'] as { uuid: string }).uuid, 'the winner keeps its uuid');
    const amb = byAction.get('ambiguous')!;
    assert.deepEqual(amb.map((a) => a['counts']).sort(), [...Array<number[]>(3).fill([2, 1]), ...Array<number[]>(3).fill([1, 2])].sort());
    assert.ok(amb.every((a) => (a['source'] as unknown[]).length === (a['counts'] as number[])[0]));
    assert.equal(byAction.get('unmatched-source')!.length, p.truth.unmatched[0]);
    // Keys are reported normalised, as compared: one value per --match field.
    assert.deepEqual(both['key'], [String((both['key'] as string[])[0]).toLowerCase()]);
  });

  it('without normalisation the target\'s differently written keys do not match', async () => {
    const r = await link(p, { normalize: { trim: false, case: false, space: false } });
    assert.equal(r.counts.matched, 0, 'every shared key is written differently on the target (variants)');
    const caseOnly = await link(p, { normalize: { trim: false, case: true, space: false } });
    assert.ok(caseOnly.counts.matched > 0 && caseOnly.counts.matched < p.truth.matched, `${caseOnly.counts.matched}`);
  });

  it('--apply links with one request per link; a second look finds every match linked; a catch-up then creates no duplicates', async () => {
    const r = await link(p, { apply: true, batchSize: 0 });
    const t = p.truth;
    assert.deepEqual(r.applied, [
      { requests: t.neither + t.targetOnly, ok: t.neither + t.targetOnly, failed: 0 },
      { requests: t.neither + t.sourceOnly + t.different, ok: t.neither + t.sourceOnly + t.different, failed: 0 },
    ]);
    assert.deepEqual([r.sides[0].batched, r.sides[1].batched], [false, false]);
    const again = await link(p);
    assert.deepEqual(pick(again, ['matched', 'already-linked', 'link-both', 'copy-to-target', 'copy-to-source', 'repoint-target', 'repoint-source']), {
      matched: t.matched, 'already-linked': t.matched, 'link-both': 0, 'copy-to-target': 0, 'copy-to-source': 0, 'repoint-target': 0, 'repoint-source': 0,
    });
    const ps = await pass(p.s, p.t, p.dir);
    assert.equal(ps.error, undefined);
    // The target gains what it did not share, and nothing it did.
    assert.equal(p.t.health().kinds['accounts']!.resources, 60 + 60 - t.matched);
    const pt = await pass(p.t, p.s, p.dir);
    assert.equal(pt.error, undefined);
    assert.equal(p.s.health().kinds['accounts']!.resources, 60 + 60 - t.matched);
    // Every key that matched one to one is still held once per side: linked, not doubled.
    const after = await link(p);
    assert.equal(after.counts['already-linked'], after.counts.matched);
    assert.equal(after.counts.matched, t.matched + t.unmatched[0] + t.unmatched[1]);
    assert.deepEqual([after.counts.unmatchedResources, after.counts['uuid-taken']], [[0, 0], 0]);
  });
});

describe('link at a moderate size, the target winning disagreements, through $linked/$batch', () => {
  let p: Pair;
  before(async () => {
    p = await pair('moderate', { perSide: 5000, shared: 3000, ambiguous: 250, prio: [5, 2] });
  });
  after(() => p.close());

  it('counts every case; --apply in batches; the source re-points and keeps its old uuids as aliases; no duplicates after a pass', async () => {
    const dry = await link(p);
    const want = expected(p.truth, true);
    assert.deepEqual(pick(dry, Object.keys(want)), want);
    assert.equal(dry.winner, 'target');
    const report = join(p.dir, 'apply.jsonl');
    const r = await link(p, { apply: true, batchSize: 200, report });
    const t = p.truth;
    const ops = [t.neither + t.targetOnly + t.different, t.neither + t.sourceOnly];
    assert.deepEqual(r.applied, ops.map((n) => ({ requests: Math.ceil(n / 200), ok: n, failed: 0 })));
    assert.deepEqual([r.sides[0].batched, r.sides[1].batched], [true, true]);
    // A re-pointed source resource still answers to the uuid it had (an alias), showing the target's.
    const line = (await readFile(report, 'utf8')).split('\n').find((l) => l.includes('"repoint-source"'))!;
    const d = JSON.parse(line) as { uuid: string; source: { uuid: string; url: string } };
    const old = await fetch(`${p.s.url}/accounts/$linked('${d.source.uuid}')?select=`);
    assert.equal(old.status, 200);
    const text = await old.text();
    assert.ok(text.includes(`sdata:uuid="${d.uuid}"`) && text.includes(`sdata:url="${d.source.url}"`), text);
    const ps = await pass(p.s, p.t, p.dir);
    assert.equal(ps.error, undefined);
    assert.equal(p.t.health().kinds['accounts']!.resources, 5000 + 5000 - t.matched);
    assert.ok(ps.stats.outcomes.counts.created === 5000 - t.matched, JSON.stringify(ps.stats.outcomes.counts));
  });
});

describe('link: edge cases on hand-made stores', () => {
  let dir = '';
  let s: RunningProvider;
  let t: RunningProvider;
  const C = 'http://schemas.sage.com/crm';
  const create = async (p: RunningProvider, inner: string, uuid?: string): Promise<string> => {
    const r = await fetch(`${p.url}/accounts`, {
      method: 'POST',
      body: `<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><sdata:payload><account xmlns="${C}"${uuid ? ` sdata:uuid="${uuid}"` : ''}>${inner}</account></sdata:payload></entry>`,
    });
    assert.equal(r.status, 201);
    return r.headers.get('location')!;
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdata-link-edge-'));
    s = await startProvider({ db: join(dir, 's.db'), app: 'crm', contract: 'crm', kinds: ['accounts'], endpointBase: 'http://crm.example/sdata/crm/crm/-' });
    t = await startProvider({ db: join(dir, 't.db'), app: 'erp', contract: 'crm', kinds: ['accounts'], endpointBase: 'http://erp.example/sdata/erp/crm/-' });
  });
  after(async () => {
    await s.close();
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('composite keys through a child path, a uuid another resource holds, missing key fields, equal priorities', async () => {
    const addr = (code: string): string => `<address><postCode>${code}</postCode></address>`;
    await create(s, `<name>Acme</name>${addr('8000')}`);
    const tAcme = await create(t, `<name> ACME </name>${addr('8000')}`);
    await create(s, `<name>Beta</name>${addr('1000')}`, 'SHARED-U');
    // The target already has SHARED-U on another resource: giving it to the target's Beta would steal it.
    await create(t, `<name>Beta</name>${addr('1000')}`);
    await create(t, `<name>Other</name>${addr('9999')}`, 'SHARED-U');
    await create(s, `<name>No address</name>`);
    const report = join(dir, 'edge.jsonl');
    const r = await runLink({
      source: client, target: client, sourceBase: s.url, targetBase: t.url, kind: 'accounts', match: ['name', 'address/postCode'],
      normalize: { trim: true, case: true, space: false }, apply: true, report, tempDir: dir, batchSize: 10, log: silentLogger(),
    });
    assert.deepEqual(pick(r, ['matched', 'link-both', 'uuid-taken', 'no-key-source', 'unmatched-target']), {
      matched: 2, 'link-both': 1, 'uuid-taken': 1, 'no-key-source': 1, 'unmatched-target': 1,
    });
    // Equal priorities (5, 5): the smaller endpoint URL wins (docs/protocol.md A37), the same on every run.
    assert.equal(r.winner, 'source');
    const lines = (await readFile(report, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const taken = lines.find((l) => l['action'] === 'uuid-taken')!;
    assert.match(taken['heldBy'] as string, /accounts\('\d+'\)$/);
    assert.deepEqual(lines.find((l) => l['action'] === 'link-both')!['key'], ['acme', '8000']);
    // Acme got one uuid on both sides.
    const u = /sdata:uuid="([^"]+)"/.exec(await (await fetch(tAcme)).text())![1]!;
    assert.equal((await fetch(`${s.url}/accounts/$linked('${u}')`)).status, 200);
    // No scratch file left behind.
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('sdata-sync-link-')), []);
  });

  it('the CLI: a summary on stderr, the JSONL report, usage errors with exit 2', async () => {
    const report = join(dir, 'cli.jsonl');
    const r = await runCli(['link', '--source', s.url, '--target', t.url, '--kind', 'accounts', '--match', 'name', '--normalize', 'trim,case', '--report', report, '--log-format', 'text']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /link accounts: dry run/);
    assert.match(r.stderr, /ambiguous +0 keys/);
    assert.ok((await readFile(report, 'utf8')).trim().split('\n').every((l) => typeof (JSON.parse(l) as { action?: unknown }).action === 'string'));
    const bad = await runCli(['link', '--source', s.url, '--target', t.url, '--kind', 'accounts']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--match/);
    const norm = await runCli(['link', '--source', s.url, '--target', t.url, '--kind', 'accounts', '--match', 'name', '--normalize', 'accents']);
    assert.equal(norm.code, 2);
    // A side that cannot be reached: the network's exit code, a message naming it, no stack trace.
    const down = await runCli(['link', '--source', s.url, '--target', 'http://127.0.0.1:1/sdata/erp/crm/-', '--kind', 'accounts', '--match', 'name', '--retries', '0']);
    assert.equal(down.code, 5, down.stderr);
    assert.match(down.stderr, /127\.0\.0\.1:1\/sdata\/erp\/crm\/-\/accounts\/\$syncDigest/);
    assert.doesNotMatch(down.stderr, /\n\s+at /);
  });
});
