import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/engine/log.ts';
import { CompareFile } from '../../src/engine/verify/compare-file.ts';
import { decide } from '../../src/engine/verify/decide.ts';
import { runVerify, type VerifyOptions, type VerifyResult } from '../../src/engine/verify/run-verify.ts';
import { SideFile } from '../../src/engine/verify/side-file.ts';
import { NS, contractNamespace } from '../../src/protocol/namespaces.ts';
import { startProvider, type RunningProvider } from '../../src/provider/http/server.ts';
import { seedResource, seedStore } from '../../src/seeder/seed-store.ts';
import { runCli } from '../helpers/cli.ts';
import { startPeer, type Peer } from '../helpers/peer.ts';

/**
 * `verify` (docs/protocol.md X22) between real providers on real sockets and SQLite files, and against the
 * independent Python peer: equal stores exit 0; every kind of difference is found and named by uuid (exit 8, the
 * report); payloads that differ only in prefixes, attribute order, layout and child order are equal; the part of
 * the comparison held in memory stays within an injected bound whatever the number of differences.
 */

const C = contractNamespace('crm');
const SEED = 11;
const N = 60;
const BOUNDS = ['--timeout-connect', '2000', '--timeout-headers', '10000', '--timeout-body', '10000', '--timeout-poll', '10000', '--retries', '1'];
const res = (i: number) => seedResource(i, SEED, C);
const entry = (payload: string): string => `<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><sdata:payload>${payload}</sdata:payload></entry>`;

/** One CRUD request to a provider (core 9); returns its Location. */
async function http(method: string, url: string, body?: string): Promise<string | null> {
  const r = await fetch(url, { method, ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/atom+xml; type=entry', 'if-match': '*' } }) });
  const text = await r.text();
  assert.ok(r.status < 300, `${method} ${url}: HTTP ${r.status} ${text.slice(0, 300)}`);
  return r.headers.get('location');
}

/** Resource i (seeded resource i - 1 on both sides: both stores were seeded alike, in order). */
const at = (p: RunningProvider, i: number): string => `${p.url}/accounts('${i + 1}')`;

/** One resource, and the same data as another application may write it: other prefixes, attributes, layout, child order. */
function pairOfWritings(uuid: string): [string, string] {
  const [a, b] = ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b'];
  const one = `<account xmlns="${C}" xmlns:sdata="${NS.sdata}" sdata:uuid="${uuid}"><name lang="en" kind="legal">Ünïcødé &amp; Co</name>` +
    `<contacts sdata:deleteMissing="true"><contact sdata:uuid="${a}"><firstName>Ann</firstName></contact>` +
    `<contact sdata:uuid="${b}"><firstName>Bob</firstName></contact></contacts></account>`;
  const other = `<c:account xmlns:s="${NS.sdata}" xmlns:c="${C}" s:uuid="${uuid.toUpperCase()}">\n  <c:name kind='legal' lang="en">Ünïcødé &#38; Co</c:name>\n` +
    `  <c:contacts s:deleteMissing="true">\n    <c:contact s:uuid="${b}">\n      <c:firstName>Bob</c:firstName>\n    </c:contact>\n` +
    `    <c:contact s:uuid="${a}"><c:firstName>Ann</c:firstName></c:contact>\n  </c:contacts>\n</c:account>`;
  return [one, other];
}

interface Pair {
  dir: string;
  s: RunningProvider;
  t: RunningProvider;
  close(): Promise<void>;
}

/** Two stores seeded alike (the same uuids and payloads under two applications' endpoints), each served. */
async function pair(name: string, n = N): Promise<Pair> {
  const dir = await mkdtemp(join(tmpdir(), `sdata-verify-${name}-`));
  await seedStore({ db: join(dir, 's.db'), app: 'crm', contract: 'crm', kind: 'accounts', count: n, seed: SEED, endpointBase: 'http://crm.example/sdata/crm/crm/-', payloadBytes: 300 });
  await seedStore({ db: join(dir, 't.db'), app: 'erp', contract: 'crm', kind: 'accounts', count: n, seed: SEED, endpointBase: 'http://erp.example/sdata/erp/crm/-', payloadBytes: 300 });
  const s = await startProvider({ db: join(dir, 's.db'), pageSize: 17 });
  const t = await startProvider({ db: join(dir, 't.db'), pageSize: 13 });
  return {
    dir, s, t,
    close: async () => {
      await s.close();
      await t.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function verifyCli(source: string, target: string, ...extra: string[]) {
  // The summary table as a terminal shows it (off one, the default is JSON log lines: README "Logs").
  return runCli(['verify', '--source', source, '--target', target, '--kind', 'accounts', '--log-format', 'text', ...BOUNDS, ...extra]);
}

async function reportOf(file: string): Promise<Array<Record<string, unknown>>> {
  return (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

function verifyIn(p: Pair, extra: Partial<VerifyOptions> = {}): Promise<VerifyResult> {
  return runVerify({
    source: { base: p.s.url, client: {} }, target: { base: p.t.url, client: {} }, kind: 'accounts', states: false, threads: 1,
    tempDir: p.dir, runName: 'verify test', log: silentLogger(), ...extra,
  });
}

describe('verify between two providers', () => {
  let p: Pair;
  before(async () => {
    p = await pair('diff');
  });
  after(() => p.close());

  it('equal stores: exit 0, every resource compared, an empty report, no context left open, no scratch file left', async () => {
    const report = join(p.dir, 'equal.jsonl');
    const r = await verifyCli(p.s.url, p.t.url, '--report', report, '--temp-dir', p.dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /verify accounts: the target holds the same data as the source/);
    assert.match(r.stderr, new RegExp(`source +${N} entries: ${N} resources, 0 tombstones`));
    assert.deepEqual(await reportOf(report), []);
    assert.deepEqual([p.s.openContexts(), p.t.openContexts()], [0, 0]);
    assert.deepEqual((await readdir(p.dir)).filter((f) => f.startsWith('sdata-sync-verify-')), []);
  });

  it('names each missing, extra, payload and deleted-vs-live resource by uuid (exit 8); other writings of the same data, and tombstones alone, are equal', async () => {
    const expected = new Map<string, string>();
    // payload: the target's copy changed
    await http('PUT', at(p.t, 1), entry(res(1).payload.replace(/<name>([^<]*)<\/name>/, '<name>$1 (changed)</name>')));
    expected.set(res(1).uuid, 'payload');
    // live on one side, deleted on the other (both ways)
    await http('DELETE', at(p.t, 2));
    expected.set(res(2).uuid, 'deleted');
    await http('DELETE', at(p.s, 3));
    expected.set(res(3).uuid, 'deleted');
    // deleted on both: equal
    await http('DELETE', at(p.s, 4));
    await http('DELETE', at(p.t, 4));
    // missing at the target, extra at the target
    await http('POST', `${p.s.url}/accounts`, entry(res(N).payload));
    expected.set(res(N).uuid, 'missing');
    await http('POST', `${p.t.url}/accounts`, entry(res(N + 1).payload));
    expected.set(res(N + 1).uuid, 'extra');
    // created and deleted at the source, never seen by the target: equal
    await http('DELETE', (await http('POST', `${p.s.url}/accounts`, entry(res(N + 2).payload)))!);
    // the same data written otherwise on each side: equal
    const u = '00000000-0000-4000-8000-0000000000ee';
    const [one, other] = pairOfWritings(u);
    await http('POST', `${p.s.url}/accounts`, entry(one));
    await http('POST', `${p.t.url}/accounts`, entry(other));
    // and a payload that differs in one child of a list only: a difference
    const v = '00000000-0000-4000-8000-0000000000ef';
    const [one2] = pairOfWritings(v);
    await http('POST', `${p.s.url}/accounts`, entry(one2));
    await http('POST', `${p.t.url}/accounts`, entry(one2.replace('<firstName>Bob<', '<firstName>Rob<')));
    expected.set(v, 'payload');

    const report = join(p.dir, 'diff.jsonl');
    const r = await verifyCli(p.s.url, p.t.url, '--report', report);
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /verify accounts: the two differ/);
    assert.match(r.stderr, /missing +1 live at the source/);
    assert.match(r.stderr, /payload +2 live on both/);
    const lines = await reportOf(report);
    assert.deepEqual(new Map(lines.map((l) => [l['uuid'], l['differs']])), expected);
    const miss = lines.find((l) => l['differs'] === 'missing')!;
    assert.equal(miss['target'], null);
    assert.match((miss['source'] as { url: string }).url, /\/accounts\('\d+'\)$/);
    const dl = lines.find((l) => l['uuid'] === res(2).uuid)!;
    assert.deepEqual([(dl['source'] as { deleted: boolean }).deleted, (dl['target'] as { deleted: boolean }).deleted], [false, true]);
    const pl = lines.find((l) => l['uuid'] === res(1).uuid)!;
    assert.notEqual((pl['source'] as { digest: string }).digest, (pl['target'] as { digest: string }).digest);
    assert.deepEqual([p.s.openContexts(), p.t.openContexts()], [0, 0]);
  });

  it('reads the target in a thread of its own or on one thread alike', async () => {
    const [one, two] = [await verifyIn(p, { threads: 1 }), await verifyIn(p, { threads: 2 })];
    assert.deepEqual(one.differences, two.differences);
    assert.deepEqual(one.differences, { missing: 1, extra: 1, deleted: 2, payload: 2, state: 0, duplicate: 0, unreadable: 0 });
  });

  it('holds at most its injected window of rows in memory, however many resources differ', async () => {
    const q = await pair('window', 300);
    try {
      // Every resource of the target differs from the source's: 300 candidates pass through the comparison.
      for (let i = 0; i < 300; i += 30) await Promise.all(Array.from({ length: 30 }, (_, k) => http('PUT', at(q.t, i + k), entry(res(i + k).payload.replace('</name>', ' (t)</name>')))));
      const r = await verifyIn(q, { window: { rowsPerUuid: 2, cacheKiB: 64 } });
      assert.equal(r.differences.payload, 300);
      assert.ok(r.held.rows <= 2 * 2, `rows held at once: ${r.held.rows}`);
      assert.equal(r.held.cacheKiB, 64, 'each scratch connection\'s page cache, read back from SQLite');
    } finally {
      await q.close();
    }
  });

  it('clear errors: an unwritable report before anything is read (4), an unreachable side (5), a bad kind name (2)', async () => {
    const bad = await verifyCli(p.s.url, p.t.url, '--report', join(p.dir, 'no', 'such', 'dir', 'r.jsonl'));
    assert.equal(bad.code, 4, bad.stderr);
    assert.match(bad.stderr, /r\.jsonl/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
    const down = await verifyCli(p.s.url, 'http://127.0.0.1:9/sdata/erp/crm/-', '--retries', '0');
    assert.equal(down.code, 5, down.stderr);
    assert.match(down.stderr, /127\.0\.0\.1:9/);
    assert.deepEqual([p.s.openContexts()], [0], 'the source context is released when the target fails');
    const usage = await runCli(['verify', '--source', p.s.url, '--target', p.t.url, '--kind', 'no/such']);
    assert.equal(usage.code, 2, usage.stderr);
  });
});

describe('the comparison\'s window (compare-file.ts)', () => {
  it('holds the last rowsPerUuid rows of a uuid a feed repeats, and counts them all; plainly equal uuids never reach JavaScript', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sdata-verify-window-'));
    const cf = new CompareFile(dir, { rowsPerUuid: 3, cacheKiB: 32 });
    try {
      const dg = (n: number): string => Buffer.alloc(32, n).toString('base64');
      const sides = [new SideFile(cf.sidePath(0), 32), new SideFile(cf.sidePath(1), 32)] as const;
      for (let i = 0; i < 500; i++) for (const f of sides) f.add(`u${String(i).padStart(4, "0")}`, false, dg(i % 200), `r${i}`, undefined, undefined);
      // One uuid the source's feed carries 50 times (its last entry differs from the target's), one payload difference.
      for (let k = 0; k < 50; k++) sides[0].add('dup', false, dg(k), `d${k}`, undefined, undefined);
      sides[1].add('dup', false, dg(7), 'd', undefined, undefined);
      sides[1].add('u0100', false, dg(1), 'changed', undefined, undefined);
      for (const f of sides) f.finish();
      assert.equal(cf.cacheKiB(), 32);
      const got = [...cf.differences(false)];
      assert.deepEqual(got.map((c) => c.uuid), ['dup', 'u0100']);
      const dup = got[0]!;
      assert.deepEqual(dup.counts, [50, 1]);
      assert.deepEqual(dup.rows[0].map((r) => r.url), ['d47', 'd48', 'd49'], 'the last three, in feed order');
      assert.deepEqual(decide(dup, false).map((f) => [f.differs, f.side ?? null, f.count ?? null]), [['duplicate', 'source', 50], ['payload', null, null]]);
      assert.deepEqual(decide(got[1]!, false).map((f) => f.differs), ['duplicate', 'payload']);
    } finally {
      cf.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('verify against the independent peer (test/peer)', () => {
  let peer: Peer;
  let dir: string;
  let t: RunningProvider;
  const uuid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const account = (u: string, inner: string): string =>
    `<account xmlns="http://schemas.sage.com/myContract" xmlns:sdata="${NS.sdata}" sdata:uuid="${u}">${inner}</account>`;
  before(async () => {
    peer = await startPeer({ kinds: [{ name: 'accounts' }], pageSize: 3 });
    dir = await mkdtemp(join(tmpdir(), 'sdata-verify-peer-'));
    t = await startProvider({ db: join(dir, 't.db'), app: 'erp', contract: 'myContract', pageSize: 4 });
    const ep = peer.endpoint('accounts');
    await peer.load({
      kind: 'accounts', digest: [{ endpoint: ep, tick: 20, conflictPriority: 1 }],
      resources: [1, 2, 3, 4, 5, 6, 7].map((n) => ({
        uuid: uuid(n), state: { endpoint: ep, tick: n }, deleted: n === 7,
        payload: account(uuid(n), `<name>Account ${n} — Ünïcødé &amp; Co</name><contacts sdata:deleteMissing="true"><contact sdata:uuid="${uuid(100 + n)}"><name>c${n}</name></contact></contacts>`),
      })),
    });
  });
  after(async () => {
    await peer.stop();
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('after a run from the peer, the peer and our provider hold the same data (0); a change at the peer is a payload difference (8)', async () => {
    const run = await runCli(['run', '--source', peer.url, '--target', t.url, '--kind', 'accounts', '--quiet', ...BOUNDS]);
    assert.equal(run.code, 0, run.stderr);
    const same = await verifyCli(peer.url, t.url, '--report', join(dir, 'same.jsonl'));
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stderr, /source +7 entries: 6 resources, 1 tombstones/);
    await peer.edit({ kind: 'accounts', uuid: uuid(3), payload: account(uuid(3), '<name>Account 3, renamed</name>') });
    await peer.edit({ kind: 'accounts', uuid: uuid(5), deleted: true });
    const report = join(dir, 'diff.jsonl');
    const diff = await verifyCli(peer.url, t.url, '--report', report);
    assert.equal(diff.code, 8, diff.stderr);
    assert.deepEqual(new Map((await reportOf(report)).map((l) => [l['uuid'], l['differs']])), new Map([[uuid(3), 'payload'], [uuid(5), 'deleted']]));
    const st = await peer.state();
    assert.deepEqual(st.violations, [], 'verify asked the peer nothing the spec does not allow');
  });
});
