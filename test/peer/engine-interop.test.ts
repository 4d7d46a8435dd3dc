import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { oracleSuite } from '../helpers/oracle.ts';
import { NS } from '../../src/protocol/namespaces.ts';
import { startProvider, type RunningProvider } from '../../src/provider/http/server.ts';
import { runCli } from '../helpers/cli.ts';
import { peerResources, providerResources, startPeer, type Peer, type PeerConfig, type PeerRequest, type PeerState, type ResourceMap } from '../helpers/peer.ts';

/**
 * Our engine (the CLI, as users run it) between the independent peer (test/peer/sdata_peer.py) and our provider,
 * in every direction. The peer records what the engine sends that the spec does not allow; what our engine does
 * today is pinned by 'no violations beyond the known interop issues', and each known issue has a test of the
 * spec-exact behaviour marked todo (reported, not silent) until the engine is fixed.
 */

const C = 'http://schemas.sage.com/myContract';
const SAGE3 = 'http://www.example.com/sdata/sageApp3/test/-/accounts';
const uuid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const account = (u: string, inner: string): string =>
  `<account xmlns="${C}" xmlns:sdata="${NS.sdata}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" sdata:uuid="${u}">${inner}</account>`;

/** Payloads whose meaning must survive every hop: non-ASCII, entities, CDATA, xsi:nil, a child list with uuids. */
const PAYLOADS = [
  '<name>Ünïcødé &amp; Co — 東京 🎉</name><city xsi:nil="true"/>',
  '<name><![CDATA[<b>bold</b> & raw]]></name><note>a &lt;tag&gt; in text</note>',
  `<name>Parent</name><contacts sdata:deleteMissing="true"><contact sdata:uuid="${uuid(901)}"><name>child</name></contact></contacts>`,
  '<name>  spaced  </name>',
  '<name>soon deleted</name>',
];

interface PassReport {
  kind: string;
  read: number;
  forwarded: number;
  chunks: number;
  upToDate: boolean;
  mergeOnly: boolean;
  mergeRefused: boolean;
  outcomes: Record<string, number>;
  error: { code: string; message: string } | null;
}

interface Run {
  code: number | null;
  stderr: string;
  passes: PassReport[];
}

const BOUNDS = ['--timeout-connect', '2000', '--timeout-headers', '10000', '--timeout-body', '10000', '--timeout-poll', '10000'];

/** `sdata-sync run` as a child process, its JSON report read back. Every engine wait is bounded by BOUNDS. */
async function sync(source: string, target: string, kinds: string[] | 'all', ...extra: string[]): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'sdata-peer-run-'));
  try {
    const file = join(dir, 'report.json');
    const kindArgs = kinds === 'all' ? ['--all-kinds'] : ['--kind', kinds.join(',')];
    const r = await runCli(['run', '--source', source, '--target', target, ...kindArgs, '--report', file, '--quiet', '--log-format', 'text', '--chunk-entries', '3', ...BOUNDS, ...extra]);
    let passes: PassReport[] = [];
    try {
      passes = (JSON.parse(readFileSync(file, 'utf8')) as { passes: PassReport[] }).passes;
    } catch {
      // no report: the exit code and stderr say why
    }
    return { code: r.code, stderr: r.stderr, passes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every violation the peers saw in our engine's traffic, for the final 'no violations' test. */
const seen: Array<{ code: string; message: string; scenario: string }> = [];
/** Peer states read for that test (the runs above happened and were looked at). */
let collected = 0;

async function collect(scenario: string, ...peers: Peer[]): Promise<PeerState[]> {
  const states = await Promise.all(peers.map((p) => p.state()));
  collected += states.length;
  for (const s of states) for (const v of s.violations) seen.push({ code: v.code, message: v.message, scenario });
  return states;
}

const posts = (s: PeerState, op: string): PeerRequest[] => s.log.filter((r) => r.method === 'POST' && r.op === op);

function assertRunsWell(s: PeerState, what: string): void {
  assert.deepEqual(s.openContexts, [], `${what}: every context was DELETEd`);
  for (const r of s.log.filter((x) => x.method === 'POST')) assert.ok(r.runName && r.runStamp, `${what}: runName/runStamp on ${r.path}`);
}

function withoutStamps(s: PeerState, kind = 'accounts'): unknown {
  return { resources: s.kinds[kind]!.resources, ticks: s.kinds[kind]!.digest.map((d) => [d.endpoint, d.tick]) };
}

const digestTicks = (s: PeerState, kind = 'accounts'): Record<string, string> => Object.fromEntries(s.kinds[kind]!.digest.map((d) => [d.endpoint, d.tick]));

/** Two peers shared by the tests of a group (which run one after another): a source with pages of 2, a target. */
function sharedPair(): { a: () => Peer; b: () => Peer } {
  let a: Peer | undefined;
  let b: Peer | undefined;
  before(async () => {
    [a, b] = await Promise.all([startPeer({ app: 'src', pageSize: 2 }), startPeer({ app: 'tgt' })]);
  });
  after(() => Promise.all([a?.stop(), b?.stop()]));
  return { a: () => a!, b: () => b! };
}

/** Both peers back to their start (switches included), then these switches, and five resources at the source. */
async function fresh(a: Peer, b: Peer, source: PeerConfig, target: PeerConfig): Promise<void> {
  await Promise.all([a.reset(), b.reset()]);
  await Promise.all([a.config(source), b.config(target)]);
  for (let i = 1; i <= 5; i++) await a.edit({ uuid: uuid(i), name: `n${i}` });
}

async function converged(a: Peer, b: Peer, scenario: string): Promise<[PeerState, PeerState]> {
  const [sa, sb] = await collect(scenario, a, b);
  const want: ResourceMap = peerResources(sa!, 'accounts');
  assert.equal(want.size, 5);
  assert.deepEqual(peerResources(sb!, 'accounts'), want);
  return [sa!, sb!];
}

// The groups run at the same time (each on its own processes); the tests inside a group one after another.
oracleSuite('our engine with the independent peer', ['expat'], { concurrency: true }, () => {
  describe('our engine between the peer and our provider', { timeout: 60_000, concurrency: 1 }, () => {
    let dir = '';
    let a: Peer;
    let b: Peer;
    let prov: RunningProvider;
    /** The target's log of a pass that had nothing to forward (for the todo on checklist 16). */
    let idleLog: PeerRequest[] | undefined;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'sdata-peer-interop-'));
      [a, b, prov] = await Promise.all([
        startPeer({ app: 'peerA', pageSize: 3, kinds: [{ name: 'accounts', conflictPriority: 2 }] }),
        startPeer({ app: 'peerB', pageSize: 3 }),
        startProvider({ db: join(dir, 'hub.db'), app: 'hub', contract: 'myContract', pageSize: 4, pollingMillis: 1 }),
      ]);
    });
    after(async () => {
      await Promise.all([a?.stop(), b?.stop(), prov?.close()]);
      rmSync(dir, { recursive: true, force: true });
    });

    test('peer source → our provider target: converges (uuids, deletions, states, payload meaning); a second run changes nothing', async () => {
      // Two endpoints' changes: the peer's own, and ones it relays from sageApp3 (their syncStates must arrive unchanged).
      await a.load({
        digest: [{ endpoint: a.endpoint('accounts'), tick: 1, conflictPriority: 2 }, { endpoint: SAGE3, tick: 9, conflictPriority: 3 }],
        resources: [
          { uuid: uuid(101), state: { endpoint: SAGE3, tick: 7, stamp: '2008-10-30T13:27:19.207Z' }, payload: account(uuid(101), '<name>relayed</name>') },
          { uuid: uuid(102), state: { endpoint: SAGE3, tick: 8, stamp: '2008-10-30T13:27:20Z' }, deleted: true },
        ],
      });
      for (const [i, p] of PAYLOADS.entries()) await a.edit({ uuid: uuid(i + 1), payload: account(uuid(i + 1), p) });
      await a.edit({ uuid: uuid(5), deleted: true });

      const first = await sync(a.url, prov.url, ['accounts']);
      assert.equal(first.code, 0, first.stderr);
      const want = peerResources(await a.state(), 'accounts');
      assert.equal(want.size, 7);
      const got = await providerResources(`${prov.url}/accounts`, a);
      assert.deepEqual(got, want);
      const [sa] = await collect('peer → provider', a);
      assertRunsWell(sa!, 'peer source');
      assert.equal(prov.openContexts(), 0);

      const second = await sync(a.url, prov.url, ['accounts']);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.passes[0]!.forwarded, 0);
      assert.deepEqual(await providerResources(`${prov.url}/accounts`, a), got);
      assert.equal(prov.openContexts(), 0);
    });

    test('our provider source → peer target: converges; a second run changes nothing on the peer', async () => {
      // Local changes at the provider too (core 8 CRUD): a create and a delete stamped with its own ticks.
      const created = await fetch(`${prov.url}/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/atom+xml; type=entry' },
        body: `<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><sdata:payload>${account(uuid(201), '<name>made at the hub</name>')}</sdata:payload></entry>`,
      });
      assert.equal(created.status, 201, await created.text());
      const gone = await fetch(created.headers.get('location')!, { method: 'DELETE' });
      assert.equal(gone.status, 200, await gone.text());
      const made = await fetch(`${prov.url}/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/atom+xml; type=entry' },
        body: `<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><sdata:payload>${account(uuid(202), '<name>kept at the hub</name>')}</sdata:payload></entry>`,
      });
      assert.equal(made.status, 201, await made.text());

      const first = await sync(prov.url, b.url, ['accounts']);
      assert.equal(first.code, 0, first.stderr);
      const want = await providerResources(`${prov.url}/accounts`, b);
      assert.equal(want.size, 9);
      const [sb] = await collect('provider → peer', b);
      assert.deepEqual(peerResources(sb!, 'accounts'), want);
      assertRunsWell(sb!, 'peer target');
      assert.equal(prov.openContexts(), 0);
      assert.ok(prov.endpoint('accounts') in digestTicks(sb!), 'the end-of-feed merge recorded the provider endpoint');

      const logLength = sb!.log.length;
      const second = await sync(prov.url, b.url, ['accounts']);
      assert.equal(second.code, 0, second.stderr);
      const [sb2] = await collect('provider → peer, second run', b);
      assert.deepEqual(withoutStamps(sb2!), withoutStamps(sb!));
      idleLog = sb2!.log.slice(logLength);
      assertRunsWell(sb2!, 'peer target, second run');
    });

    test('a pass with nothing to forward and nothing to merge POSTs no feed to $syncTarget (spec 4.4: entries present; checklist 16)', () => {
      assert.ok(idleLog, 'needs the second provider → peer run above');
      assert.deepEqual(idleLog.filter((r) => r.op === '$syncTarget' && r.method === 'POST' && r.entries === 0).map((r) => r.feedId), []);
    });
  });

  describe('our engine between two peers', { timeout: 60_000, concurrency: 1 }, () => {
    let c: Peer;
    let d: Peer;
    let firstPosts: PeerRequest[] | undefined;
    let sourceContexts: string[] = [];
    before(async () => {
      [c, d] = await Promise.all([
        startPeer({ app: 'peerC', pageSize: 2, kinds: [{ name: 'accounts', conflictPriority: 1 }] }),
        startPeer({ app: 'peerD', pageSize: 2, kinds: [{ name: 'accounts', conflictPriority: 5 }] }),
      ]);
    });
    after(() => Promise.all([c?.stop(), d?.stop()]));

    test('both directions with conflicting edits: both peers end equal; the higher-priority side wins; a last run changes nothing', async () => {
      for (let i = 1; i <= 5; i++) await c.edit({ uuid: uuid(i), payload: account(uuid(i), PAYLOADS[i - 1]!) });
      const one = await sync(c.url, d.url, ['accounts'], '--post-results');
      assert.equal(one.code, 0, one.stderr);
      const [sc, sd] = await collect('peer → peer', c, d);
      firstPosts = posts(sd!, '$syncTarget');
      sourceContexts = sc!.contexts.filter((x) => x.type === 'source').map((x) => x.url);
      assert.deepEqual(peerResources(sd!, 'accounts'), peerResources(sc!, 'accounts'));
      // Spec 5.7: every result feed went back to the source's $syncResults, with the run's name and stamp.
      const reported = sc!.syncResults;
      assert.equal(reported.reduce((n, x) => n + x.entries, 0), 5);
      assert.ok(reported.every((x) => x.runName && x.runStamp && x.statuses.every((st) => st === '201')), JSON.stringify(reported));

      await c.edit({ uuid: uuid(1), payload: account(uuid(1), '<name>C says</name>') });
      await d.edit({ uuid: uuid(1), payload: account(uuid(1), '<name>D says</name>') });
      await d.edit({ uuid: uuid(2), deleted: true });
      await d.edit({ uuid: uuid(50), payload: account(uuid(50), '<name>new at D</name>') });
      await c.edit({ uuid: uuid(3), payload: account(uuid(3), '<name>changed at C</name>') });
      for (const [from, to] of [[c, d], [d, c]] as const) {
        const r = await sync(from.url, to.url, ['accounts']);
        assert.equal(r.code, 0, r.stderr);
      }
      const [c2, d2] = await collect('peer ↔ peer', c, d);
      const final = peerResources(c2!, 'accounts');
      assert.deepEqual(peerResources(d2!, 'accounts'), final);
      assert.match(final.get(uuid(1))!.canonical!, />C says</, 'C (priority 1) wins the conflict at D');
      assert.equal(final.get(uuid(2))!.deleted, true);
      assert.match(final.get(uuid(50))!.canonical!, />new at D</);
      assertRunsWell(c2!, 'peer C');
      assertRunsWell(d2!, 'peer D');

      for (const [from, to] of [[c, d], [d, c]] as const) {
        const before = withoutStamps(await to.state());
        const r = await sync(from.url, to.url, ['accounts']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.passes[0]!.forwarded, 0);
        assert.deepEqual(withoutStamps(await to.state()), before);
      }
      await collect('peer ↔ peer, idle', c, d);
    });

    test('posted feeds have self and first links, every href absolute and in the head (docs/protocol.md §1.3 step 4, X2)', () => {
      assert.ok(firstPosts?.length, 'needs the first peer → peer run above');
      for (const r of firstPosts) {
        assert.deepEqual(r.violations.filter((v) => v === 'missing-link' || v === 'relative-href'), [], `${r.feedId}: ${JSON.stringify(r.links)}`);
        assert.deepEqual(r.notes.filter((n) => n.code === 'link-after-entries'), [], `${r.feedId}: links after the entries`);
      }
      // Every chunk but the pass's last links to the next one; the last has no next (the target merges there).
      assert.deepEqual(firstPosts.map((r) => r.links?.next !== undefined), firstPosts.map((_, i) => i < firstPosts!.length - 1));
    });

    test('a posted feed\'s atom:id is the source feed\'s (its $syncSource context URL)', () => {
      assert.ok(firstPosts?.length, 'needs the first peer → peer run above');
      for (const r of firstPosts) assert.ok(sourceContexts.includes(r.feedId ?? ''), `${r.feedId} is one of ${sourceContexts.join(", ")}`);
    });
  });

  describe('our engine and the peer $schema (--all-kinds)', { timeout: 60_000, concurrency: 1 }, () => {
    const kinds = [{ name: 'contacts', syncOrder: 2 }, { name: 'accounts', syncOrder: 1 }, { name: 'audit', syncOrder: 0, isSyncTarget: false }];
    let e: Peer;
    let f: Peer;
    let targetLog: PeerRequest[] | undefined;
    before(async () => {
      [e, f] = await Promise.all([startPeer({ app: 'peerE', kinds }), startPeer({ app: 'peerF', kinds })]);
    });
    after(() => Promise.all([e?.stop(), f?.stop()]));

    test('every kind both sides sync, in sme:syncOrder; each converges', async () => {
      for (const kind of ['contacts', 'accounts', 'audit']) await e.edit({ kind, uuid: uuid(7), name: kind });
      const r = await sync(e.url, f.url, 'all');
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.passes.map((p) => p.kind), ['accounts', 'contacts']);
      const [se, sf] = await collect('--all-kinds', e, f);
      targetLog = sf!.log;
      const order = sf!.log.filter((x) => x.op === '$syncTarget' && x.method === 'POST').map((x) => x.kind);
      assert.deepEqual([...new Set(order)], ['accounts', 'contacts']);
      for (const kind of ['accounts', 'contacts']) assert.deepEqual(peerResources(sf!, kind), peerResources(se!, kind));
      assert.deepEqual(sf!.kinds.audit!.resources, []);
    });

    test('no atom:id is reused for another feed in the same run', () => {
      assert.ok(targetLog, 'needs the --all-kinds run above');
      assert.deepEqual(targetLog.flatMap((r) => r.violations.filter((v) => v === 'feed-id-reused')), []);
    });

    test('--kind selects and the $schema orders (docs/protocol.md X20); --concurrency does not run kinds of different syncOrder at once', async () => {
      for (const extra of [[], ['--concurrency', '2']]) {
        const logged = (await e.state()).log.length;
        for (const kind of ['contacts', 'accounts']) await e.edit({ kind, uuid: uuid(8 + extra.length), name: `${kind} again` });
        const r = await sync(e.url, f.url, ['contacts', 'accounts'], ...extra);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.passes.map((p) => [p.kind, p.forwarded]), [['accounts', 1], ['contacts', 1]]);
        const [se] = await collect('--kind, ordered by $schema', e, f);
        // At the source: the accounts pass has released its context before the contacts pass asks for one.
        const log = se!.log.slice(logged).filter((x) => x.op?.startsWith('$syncSource') && x.method !== 'GET').map((x) => `${x.method} ${x.kind}`);
        assert.deepEqual(log, ['POST accounts', 'DELETE accounts', 'POST contacts', 'DELETE contacts']);
      }
    });
  });

  describe('our engine and two $schemas that disagree (docs/protocol.md X20)', { timeout: 60_000, concurrency: 1 }, () => {
    let g: Peer;
    let h: Peer;
    before(async () => {
      [g, h] = await Promise.all([
        startPeer({ app: 'peerG', kinds: [{ name: 'leads', syncOrder: 1 }, { name: 'notes', syncOrder: 1 }, { name: 'tasks', syncOrder: 2 }] }),
        startPeer({ app: 'peerH', kinds: [{ name: 'leads', syncOrder: 1 }, { name: 'notes', syncOrder: 1 }, { name: 'tasks', syncOrder: 0 }] }),
      ]);
    });
    after(() => Promise.all([g?.stop(), h?.stop()]));

    test('the target\'s order wins, said at info level; kinds of equal order form one wave', async () => {
      for (const kind of ['leads', 'notes', 'tasks']) await g.edit({ kind, uuid: uuid(9), name: kind });
      const r = await runCli(['run', '--source', g.url, '--target', h.url, '--kind', 'notes,leads,tasks', '--concurrency', '2', '--verbose', '--progress', 'none', ...BOUNDS]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /the source's \$schema orders leads before tasks, the target's tasks before leads: following the target's/);
      assert.match(r.stderr, /kind order \(sme:syncOrder\): tasks, notes \+ leads \(given: notes, leads, tasks\)/);
      const [sg, sh] = await collect('disagreeing $schemas', g, h);
      for (const kind of ['leads', 'notes', 'tasks']) assert.deepEqual(peerResources(sh!, kind), peerResources(sg!, kind));
      const posts = sh!.log.filter((x) => x.op === '$syncTarget' && x.method === 'POST').map((x) => x.kind);
      assert.equal(posts[0], 'tasks');
      assert.deepEqual(new Set(posts.slice(1)), new Set(['notes', 'leads']));
    });
  });

  describe('our engine with peers that answer what the spec allows', { timeout: 60_000, concurrency: 1 }, () => {
    const { a, b } = sharedPair();

    test('synchronous answers (core 11.5): $syncSource gives page 1 at once, $syncTarget its results; nothing owed a DELETE', async () => {
      await fresh(a(), b(), { asyncSource: false }, { asyncTarget: false });
      const r = await sync(a().url, b().url, ['accounts']);
      assert.equal(r.code, 0, r.stderr);
      const [sa, sb] = await converged(a(), b(), 'synchronous answers');
      assert.equal(sa.log.filter((x) => x.method === 'GET' && x.op?.startsWith('$syncSource')).length, 2, 'pages 2 and 3 by their next links');
      assert.equal([...sa.log, ...sb.log].filter((x) => x.method === 'DELETE').length, 0);
      assertRunsWell(sa, 'source');
      assertRunsWell(sb, 'target');
    });

    test('cursor paging (no startIndex), unquoted ETag headers, several 202 polls, 503 + Retry-After: next links as given, retries keep the trackingID', async () => {
      await fresh(a(), b(), { indexedPaging: false, polls: 3, misbehave: { etagHeader: 'unquoted', unavailable: 2, retryAfter: 0 } },
        { polls: 3, misbehave: { unavailable: 3, retryAfter: 0 } });
      const r = await sync(a().url, b().url, ['accounts']);
      assert.equal(r.code, 0, r.stderr);
      const [sa, sb] = await converged(a(), b(), 'cursor paging, polls, 503');
      assert.ok(sa.log.some((x) => x.path.includes('cursor=')));
      assert.deepEqual([...sa.log, ...sb.log].filter((x) => x.status !== 200 && x.status !== 202).map((x) => x.status), [503, 503, 503, 503, 503]);
      const sourcePosts = posts(sa, '$syncSource');
      assert.deepEqual(sourcePosts.map((x) => x.status), [503, 503, 202]);
      assert.equal(new Set(sourcePosts.map((x) => x.trackingID)).size, 1, 'the retried POST kept its trackingID');
      assertRunsWell(sa, 'source');
      assertRunsWell(sb, 'target');
    });

    test('a tracking that never finishes: the engine gives up within --timeout-poll (exit 5) and still DELETEs both contexts', async () => {
      await fresh(a(), b(), {}, { misbehave: { trackingNeverFinishes: true } });
      const r = await sync(a().url, b().url, ['accounts'], '--timeout-poll', '300');
      assert.equal(r.code, 5, r.stderr);
      const [sa, sb] = await collect('never finishes', a(), b());
      assert.deepEqual([sa!.openContexts, sb!.openContexts], [[], []]);
      assert.equal(sb!.log.filter((x) => x.method === 'DELETE').length, 1);
    });
  });

  describe('how a pass ends at the target (docs/protocol.md X2)', { timeout: 60_000, concurrency: 1 }, () => {
    const { a, b } = sharedPair();
    const X = 'http://www.example.com/sdata/elsewhere/test/-/accounts';

    test('nothing to forward but the source digest is ahead: one chunk without entries for the merge, then nothing; a strict target refusing it is a warning', async () => {
      await Promise.all([a().reset(), b().reset()]);
      const own = a().endpoint('accounts');
      const digest = (x: number) => [{ endpoint: own, tick: 4, conflictPriority: 2 }, { endpoint: X, tick: x, conflictPriority: 4 }];
      const resources = [1, 2, 3].map((i) => ({ uuid: uuid(i), state: { endpoint: own, tick: i, stamp: '2024-01-01T00:00:00Z' }, name: `n${i}` }));
      await a().load({ digest: digest(9), resources });
      const first = await sync(a().url, b().url, ['accounts']);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual([first.passes[0]!.forwarded, first.passes[0]!.mergeOnly], [3, false]);
      assert.equal(digestTicks(await b().state())[X], '9');

      // X moves on at the source without leaving a resource there (its changes were overwritten or deleted).
      await a().load({ digest: digest(12) });
      const second = await sync(a().url, b().url, ['accounts']);
      assert.equal(second.code, 0, second.stderr);
      const p2 = second.passes[0]!;
      assert.deepEqual([p2.forwarded, p2.chunks, p2.mergeOnly, p2.upToDate], [0, 1, true, false]);
      const [sa, sb] = await collect('merge only', a(), b());
      assert.equal(digestTicks(sb!)[X], '12', 'the end-of-feed merge happened');
      const last = posts(sb!, '$syncTarget').at(-1)!;
      assert.deepEqual([last.entries, last.links?.next], [0, undefined]);
      assertRunsWell(sa!, 'source');
      assertRunsWell(sb!, 'target');

      const third = await sync(a().url, b().url, ['accounts']);
      assert.equal(third.code, 0, third.stderr);
      assert.deepEqual([third.passes[0]!.chunks, third.passes[0]!.upToDate], [0, true]);

      // A target that wants entries in every feed (strict checks on): the pass still succeeds, with a warning.
      await a().load({ digest: digest(15) });
      await b().config({ strict: true });
      const logged = (await b().state()).log.length;
      const fourth = await sync(a().url, b().url, ['accounts']);
      assert.equal(fourth.code, 0, fourth.stderr);
      assert.deepEqual([fourth.passes[0]!.mergeOnly, fourth.passes[0]!.mergeRefused], [true, true]);
      assert.match(fourth.stderr, /refuses a feed without entries/);
      const [, sb4] = await collect('merge only, strict target', a(), b());
      assert.equal(digestTicks(sb4!)[X], '12', 'no merge');
      assert.deepEqual(sb4!.log.slice(logged).filter((r) => r.op === '$syncTarget').map((r) => [r.method, r.status, r.entries]), [['POST', 400, 0]]);
      assertRunsWell(sb4!, 'strict target');
    });
  });

  describe('our engine with peers that answer what the spec forbids', { timeout: 60_000, concurrency: 1 }, () => {
    const { a, b } = sharedPair();
    const PROTOCOL = 6;

    test('result entries without http:httpMethod are a protocol error naming the entry (exit 6); both contexts are DELETEd', async () => {
      await fresh(a(), b(), {}, { misbehave: { resultNoMethod: true } });
      // The target already has older versions: the results are updates (200 PUT), whose method only httpMethod tells.
      const sa = await a().state();
      await b().load({ resources: sa.kinds.accounts!.resources.map((r) => ({ uuid: r.uuid, state: { ...r.state, tick: Number(r.state.tick) - 1 }, name: 'old' })) });
      const r = await sync(a().url, b().url, ['accounts']);
      const [sa2, sb] = await collect('no httpMethod', a(), b());
      assert.equal(r.code, PROTOCOL, `exit ${r.code}; outcomes ${JSON.stringify(r.passes[0]?.outcomes)}; ${r.stderr}`);
      assert.match(r.stderr, /accounts chunk 1: result entry 1 \(http:\/\/\S+\) of http:\/\/\S+\$syncTarget\S*: HTTP 200 without http:httpMethod or a diagnosis/);
      assert.equal(r.passes[0]!.error!.code, 'SDATA_E_PROTOCOL');
      assert.deepEqual([sa2!.openContexts, sb!.openContexts], [[], []]);
    });

    test('result entries without http:httpStatus are a protocol error naming the entry (exit 6)', async () => {
      await fresh(a(), b(), {}, { misbehave: { resultNoStatus: true } });
      const r = await sync(a().url, b().url, ['accounts']);
      const [sa, sb] = await collect('no httpStatus', a(), b());
      assert.equal(r.code, PROTOCOL, `exit ${r.code}; outcomes ${JSON.stringify(r.passes[0]?.outcomes)}; ${r.stderr}`);
      assert.match(r.stderr, /accounts chunk 1: result entry 1 \(http:\/\/\S+\) of \S+: no http:httpStatus/);
      assert.deepEqual([sa!.openContexts, sb!.openContexts], [[], []]);
    });

    for (const [delta, what, names] of [
      [-1, 'fewer', /answered 2 result entries for 3 posted \(core 13\.4: one per entry, in order\): no result for posted entry 3 \(http:\/\/\S+accounts\S+\)\n/],
      [1, 'more', /answered 4 result entries for 3 posted \(core 13\.4: one per entry, in order\): result entry 4 \(http:\/\/\S+\) answers no posted entry/],
    ] as const) {
      test(`${what} result entries than posted entries are a protocol error naming the ${what === 'fewer' ? 'posted entries without a result' : 'results without a posted entry'} (exit 6; core 13.4)`, async () => {
        await fresh(a(), b(), {}, { misbehave: { resultCountDelta: delta } });
        const r = await sync(a().url, b().url, ['accounts']);
        const [sa, sb] = await collect(`${what} results`, a(), b());
        assert.equal(r.code, PROTOCOL, `exit ${r.code}; outcomes ${JSON.stringify(r.passes[0]?.outcomes)}; ${r.stderr}`);
        assert.match(r.stderr, names);
        assert.deepEqual([sa!.openContexts, sb!.openContexts], [[], []]);
      });
    }

    test('a next page answered 202 + a new Location: polled there, and that context is DELETEd too, before the feed\'s own', async () => {
      await fresh(a(), b(), { misbehave: { nextPage202: true } }, {});
      const r = await sync(a().url, b().url, ['accounts']);
      assert.equal(r.code, 0, r.stderr);
      const [sa] = await converged(a(), b(), 'next page 202');
      assert.deepEqual(sa.openContexts.map((x) => x.url), []);
      const deletes = sa.log.filter((x) => x.method === 'DELETE');
      assert.equal(deletes.length, 3, 'pages 2 and 3 came from contexts of their own');
      const own = posts(sa, '$syncSource')[0]!;
      assert.ok(own.status === 202 && deletes.at(-1)!.path.includes(own.trackingID!), 'the feed\'s own context goes last');
    });
  });

});

oracleSuite('what the peers saw of our engine', ['expat'], {}, () => {
  test('no violations of the peers\' strict checks in any run above, but the deliberate one (docs/protocol.md X2)', () => {
    assert.ok(collected >= 20, `the runs above recorded what they saw (${collected} peer states)`);
    // A chunk without entries goes only when the target's digest merge needs it (checklist 16 knowingly not met).
    const deliberate = (v: { code: string; scenario: string }): boolean => v.code === 'empty-feed' && v.scenario.startsWith('merge only');
    assert.ok(seen.some(deliberate), 'the merge-only scenario was seen');
    assert.deepEqual(seen.filter((v) => !deliberate(v)), []);
  });
});
