import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { Rng } from '../../src/gen/rng.ts';
import { normalizeEndpoint } from '../../src/protocol/endpoint.ts';
import type { RunningProvider } from '../../src/provider/http/server.ts';
import { tickOfKey } from '../../src/provider/store/tick-key.ts';
import { page as testPage, type TestEntry } from '../helpers/feeds.ts';
import { until } from '../helpers/until.ts';
import { allResults, get, http, parseXml, post, postInHalves, provider, testDir, ticksOf, type TestDir } from './helpers.ts';

/**
 * Several engines posting into one target kind at once (issue 13 point 6): six clients post overlapping pages of
 * the same resources (each under its own trackingIDs) concurrently; the pages are large enough to be applied in
 * several transactions each, so the clients' transactions interleave. Every version of a resource comes from one
 * endpoint, so rule R1 (apply iff newer) makes the end state independent of the order: the newest version of each
 * resource, and per endpoint a digest tick one above its newest version. While the clients run, a second
 * connection checks at every commit it can see that no endpoint's digest tick is ahead of the data (above the
 * newest stored tick + 1); at the end the store equals a reference store fed the same versions by one client.
 */

const EPS = ['http://a.example/sdata/app/c/-/accounts', 'http://b.example/sdata/app/c/-/accounts', 'http://c.example/sdata/app/c/-/accounts'];
const UUIDS = 1000;
const CLIENTS = 6;
const PAGE = 250;

interface Version extends TestEntry {
  uuid: string;
  endpoint: string;
  tick: number;
}

/** Up to four versions per uuid, all from its home endpoint, some of them deletions (and resurrections). */
function versions(rng: Rng): Version[] {
  const next = new Map(EPS.map((e) => [e, 1]));
  const out: Version[] = [];
  for (let u = 0; u < UUIDS; u++) {
    const uuid = `c0ffee00-0000-4000-8000-${String(u).padStart(12, '0')}`;
    const endpoint = EPS[u % EPS.length]!;
    const n = 1 + rng.int(4);
    for (let v = 0; v < n; v++) {
      const tick = next.get(endpoint)!;
      next.set(endpoint, tick + 1 + rng.int(3));
      out.push({ uuid, endpoint, tick, deleted: v > 0 && rng.int(4) === 0, body: `<name>${uuid} v${v}</name><notes>${'n'.repeat(1000 + rng.int(600))}</notes>` });
    }
  }
  return out;
}

/** Pages for a client: its versions in a shuffled order, each page in ascending tick order per endpoint. */
function pagesOf(vs: Version[], digest: Array<[string, number, number]>, rng: Rng): string[] {
  const shuffled = [...vs];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const pages: string[] = [];
  for (let i = 0; i < shuffled.length; i += PAGE) {
    const entries = shuffled.slice(i, i + PAGE).sort((a, b) => a.endpoint.localeCompare(b.endpoint) || a.tick - b.tick);
    // A `next` link: these are pages of a longer pass, so no end-of-feed merge lifts the digest past what was applied.
    pages.push(testPage({ digest, next: 'urn:more', entries }));
  }
  return pages;
}

let dir: TestDir;
let target: RunningProvider;
let reference: RunningProvider;

before(async () => {
  dir = testDir();
  target = await provider(dir, 'target', { app: 'spoke', kinds: ['accounts'] });
  reference = await provider(dir, 'reference', { app: 'spoke', kinds: ['accounts'] });
});
after(async () => {
  await target?.close();
  await reference?.close();
  dir.cleanup();
});

/** A page posted, every result a success, its context deleted; with `between`, the body in halves (postInHalves). */
async function postPage(base: string, tracking: string, body: string, between?: Promise<unknown>): Promise<void> {
  const url = `${base}/accounts/$syncTarget?trackingID=${tracking}`;
  const r = await (between === undefined ? post(url, body) : postInHalves(url, body, between));
  assert.equal(r.status, 202, r.text);
  const loc = r.headers.get('location')!;
  for (const res of await allResults(loc)) assert.ok(res.status < 400, `${tracking} ${res.id}: ${res.status} ${res.codes.join()}`);
  assert.equal((await http('DELETE', loc)).status, 200);
}

/** Per endpoint (normalised): digest tick and newest stored tick, read in one transaction of another connection. */
function snapshot(db: DatabaseSync, kind: number): Map<string, { digest: bigint; newest: bigint | undefined }> {
  db.exec('BEGIN');
  try {
    const eps = new Map((db.prepare('SELECT id, norm FROM endpoints').all() as Array<{ id: number; norm: string }>).map((r) => [r.id, r.norm]));
    const out = new Map<string, { digest: bigint; newest: bigint | undefined }>();
    for (const r of db.prepare('SELECT ep, tick FROM digest WHERE kind = ?').all(kind) as Array<{ ep: number; tick: string }>) {
      out.set(eps.get(r.ep)!, { digest: BigInt(tickOfKey(r.tick)), newest: undefined });
    }
    for (const r of db.prepare('SELECT ep, max(tick) AS t FROM resources WHERE kind = ? GROUP BY ep').all(kind) as Array<{ ep: number; t: string }>) {
      const e = out.get(eps.get(r.ep)!);
      if (e) e.newest = BigInt(tickOfKey(r.t));
    }
    return out;
  } finally {
    db.exec('COMMIT');
  }
}

test('six clients posting overlapping pages into one kind at once: the newest version of each resource, digests never ahead of the data', { timeout: 180_000 }, async (t) => {
  const rng = new Rng(13);
  const all = versions(rng);
  const max = new Map<string, number>();
  for (const v of all) max.set(v.endpoint, Math.max(max.get(v.endpoint) ?? 0, v.tick));
  const digest = EPS.map((e) => [e, max.get(e)! + 1, 5] as [string, number, number]);
  // Each version goes to one client for sure and to each other client with probability 1/3: pages overlap.
  const share: Version[][] = Array.from({ length: CLIENTS }, () => []);
  all.forEach((v, i) => {
    for (let c = 0; c < CLIENTS; c++) if (c === i % CLIENTS || rng.int(3) === 0) share[c]!.push(v);
  });
  const clientPages = share.map((vs) => pagesOf(vs, digest, rng));
  const posted = clientPages.reduce((n, ps) => n + ps.length, 0);
  t.diagnostic(`${all.length} versions of ${UUIDS} resources; ${share.reduce((n, s) => n + s.length, 0)} entries in ${posted} pages from ${CLIENTS} clients`);

  const kind = target.store.kind('accounts')!.id;
  const watcher = new DatabaseSync(target.store.path, { readOnly: true });
  const applying = watcher.prepare("SELECT count(*) AS n FROM contexts WHERE status = 'applying'");
  let checks = 0;
  let together = 0;
  let running = true;
  const watch = (async () => {
    while (running) {
      for (const [ep, s] of snapshot(watcher, kind)) {
        if (s.newest !== undefined) assert.ok(s.digest <= s.newest + 1n, `${ep}: digest ${s.digest} ahead of the newest stored tick ${s.newest}`);
      }
      checks++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  // Bodies being applied right now (their contexts are 'applying' from before the first entry to after the last),
  // looked at on every turn of the event loop, the only moments at which two bodies of this one-process server can
  // both be under way (one waits for its next bytes): a query of its own, not one per snapshot (a snapshot reads the
  // whole store, and ~40 of them in a run had missed the overlap about one run in four).
  const count = (async () => {
    while (running) {
      together = Math.max(together, (applying.get() as { n: number }).n);
      await new Promise((r) => setImmediate(r));
    }
  })();
  // The first pages of two clients arrive in halves, the second halves held back until two pages are being applied
  // at once: the overlap this test is about then happens in every run. Looking for it by polling alone missed it now
  // and then on a loaded machine (CI, stop 31), though one look per turn of the event loop had made that rare.
  const overlap = until(() => {
    together = Math.max(together, (applying.get() as { n: number }).n);
    return together >= 2;
  }, { what: 'two pages being applied at once (their contexts both applying)', timeoutMs: 60_000 });
  try {
    await Promise.all(clientPages.map(async (pages, c) => {
      for (let i = 0; i < pages.length; i++) {
        await postPage(target.url, `client-${c}-page-${i}`, pages[i]!, i === 0 && c < 2 ? overlap : undefined);
      }
    }));
  } finally {
    running = false;
    await watch;
    await count;
  }
  t.diagnostic(`digest checked against the data ${checks} times while the clients ran; up to ${together} pages being applied at once`);
  assert.ok(checks > posted, `only ${checks} checks`);
  assert.ok(together >= 2, 'no two pages were ever applied at once');

  // The reference: every version once, in tick order, by one client.
  const inOrder = [...all].sort((a, b) => a.tick - b.tick);
  for (let i = 0; i < inOrder.length; i += PAGE) {
    await postPage(reference.url, `ref-${i}`, testPage({ digest, next: 'urn:more', entries: inOrder.slice(i, i + PAGE) }));
  }
  assert.deepEqual(target.checksum('accounts'), reference.checksum('accounts'));

  // The newest version of each resource, exactly.
  const newest = new Map<string, Version>();
  for (const v of all) if ((newest.get(v.uuid)?.tick ?? -1) < v.tick) newest.set(v.uuid, v);
  const sum = target.checksum('accounts');
  const deleted = [...newest.values()].filter((v) => v.deleted).length;
  assert.deepEqual([sum.count, sum.tombstones], [UUIDS - deleted, deleted]);
  for (const v of newest.values()) {
    const row = target.store.resources.byUuid(kind, v.uuid)!;
    assert.deepEqual([row.tick, row.deleted, target.store.endpoint(row.ep).norm], [String(v.tick), v.deleted === true, normalizeEndpoint(v.endpoint)], v.uuid);
  }
  // Digest: one above the newest version of each endpoint, the same as the reference's, and the data agrees.
  const ticks = ticksOf(parseXml((await get(`${target.url}/accounts/$syncDigest`)).text));
  assert.deepEqual(ticks, ticksOf(parseXml((await get(`${reference.url}/accounts/$syncDigest`)).text)));
  for (const e of EPS) assert.equal(ticks[normalizeEndpoint(e)] ?? ticks[e], String(max.get(e)! + 1), e);
  for (const [ep, s] of snapshot(watcher, kind)) if (s.newest !== undefined) assert.equal(s.digest, s.newest + 1n, ep);
  watcher.close();
  assert.equal(target.openContexts(), 0);

  const db = new DatabaseSync(target.store.path, { readOnly: true });
  try {
    assert.deepEqual(db.prepare('PRAGMA integrity_check').all().map((r) => ({ ...r })), [{ integrity_check: 'ok' }]);
  } finally {
    db.close();
  }
});
