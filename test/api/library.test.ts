import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { test } from 'node:test';
import * as root from '../../src/api/index.ts';
import { runSync, type SyncEvent } from '../../src/api/engine.ts';
import { DirChunkTarget, planPage, Planner, SegmentedPlan, StreamChunkTarget, type InvalidEntry } from '../../src/api/plan.ts';
import { hashPassword, startProvider, type RunningProvider } from '../../src/api/provider.ts';
import { FeedReader, parseDigestDocument, SdataError, type EntryRecord, type FeedHead } from '../../src/api/reader.ts';
import { page } from '../helpers/feeds.ts';

/** The package's library entry points (package.json "exports" → src/api/*), used as docs/library.md uses them. */

const EP = 'http://a.example/sdata/app/c/-/accounts';

test('sdata-sync/reader: a feed pushed in pieces gives the head, each entry with its exact text, and the tail', () => {
  const feed = page({ digest: [[EP, 10]], next: 'http://a.example/next', entries: [{ endpoint: EP, tick: 3 }, { endpoint: EP, tick: 12, deleted: true }] });
  let head: FeedHead | undefined;
  const entries: EntryRecord[] = [];
  let next: string | undefined;
  const reader = new FeedReader({ head: (h) => (head = h), entry: (e) => entries.push(e), end: (t) => (next = t.next) }, { source: 'feed.xml' });
  const bytes = Buffer.from(feed);
  for (let i = 0; i < bytes.length; i += 7) reader.push(bytes.subarray(i, i + 7));
  reader.end();
  assert.equal(head?.syncMode, 'catchUp');
  assert.equal(head?.digest?.entries.get(EP)?.tick, '10');
  assert.deepEqual(entries.map((e) => [e.state?.tick, e.isDeleted, e.uuid]), [['3', false, '00000000-0000-0000-0000-000000000000'], ['12', true, '00000000-0000-0000-0000-000000000001']]);
  for (const e of entries) assert.ok(feed.includes(e.text!), 'entry text is a slice of the source');
  assert.equal(next, 'http://a.example/next');
  assert.throws(() => {
    const r = new FeedReader({ head() {}, entry() {}, end() {} }, { source: 'bad.xml', requireSyncHead: false });
    r.push(Buffer.from('<feed xmlns="http://www.w3.org/2005/Atom"><entry></feed>'));
    r.end();
  }, (e: unknown) => e instanceof SdataError && e.code === 'SDATA_E_MALFORMED' && /^bad\.xml:1:/.test(e.message));
});

test('sdata-sync/plan: entries the target knows are skipped, the rest become one feed or bounded chunk files', async (t) => {
  const digest = parseDigestDocument(`<sync:digest xmlns:sync="http://schemas.sage.com/sdata/sync/2008/1"><sync:origin>${EP}</sync:origin>` +
    `<sync:digestEntry><sync:endpoint>${EP}</sync:endpoint><sync:tick>5</sync:tick><sync:stamp>2020-01-01T00:00:00Z</sync:stamp><sync:conflictPriority>1</sync:conflictPriority></sync:digestEntry></sync:digest>`);
  const feed = page({ entries: [3, 5, 7, 9].map((tick) => ({ endpoint: EP, tick })) });
  let out = '';
  const sink = new Writable({ write(c: Buffer, _e, cb) { out += c.toString('utf8'); cb(); } });
  const invalid: InvalidEntry[] = [];
  const planner = new Planner({ target: digest, out: new StreamChunkTarget(sink), singleFeed: true, chunkEntries: Infinity, chunkBytes: Infinity, onInvalid: (e) => invalid.push(e) });
  await planPage(Readable.from([Buffer.from(feed)]), planner, { source: 'page1.xml' });
  await planner.finish();
  assert.deepEqual({ ...planner.stats, bytesOut: 0 }, { read: 4, forwarded: 3, skipped: 1, invalid: 0, held: 0, chunks: 1, bytesOut: 0, ending: 'final' });
  assert.equal(out.match(/<entry>/g)?.length, 3);
  assert.deepEqual(invalid, []);

  const dir = await mkdtemp(join(tmpdir(), 'sdata-api-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const files = new DirChunkTarget(dir);
  const chunked = new Planner({ target: undefined, out: files, chunkEntries: 2 });
  const two = new SegmentedPlan({ target: undefined, maxEntryBytes: root.DEFAULT_MAX_ENTRY_BYTES, helpers: 1, segmentBytes: 256 });
  try {
    await two.page(Readable.from([Buffer.from(feed)]), chunked, 'page1.xml');
    await chunked.finish();
  } finally {
    await two.close();
  }
  assert.equal(files.files.length, 2);
  assert.equal(chunked.stats.forwarded, 4);
});

async function seed(p: RunningProvider, n: number, token: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${p.url}/accounts`, {
      method: 'POST', headers: { 'content-type': 'application/atom+xml; type=entry', authorization: `Bearer ${token}` },
      body: `<entry xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:payload><account xmlns="http://schemas.sage.com/crm"><name>Account ${i}</name></account></sdata:payload></entry>`,
    });
    assert.equal(res.status, 201, await res.text());
  }
}

test('sdata-sync/engine + /provider: runSync between two providers converges, with events, an async iterator and a result', async (t) => {
  const token = 'library-test-token-0123456789';
  const source = await startProvider({ db: ':memory:', app: 'crm', auth: { tokens: [token] } });
  t.after(() => source.close());
  const target = await startProvider({ db: ':memory:', app: 'erp', endpointBase: 'http://erp.example/sdata/erp/crm/-' });
  t.after(() => target.close());
  await seed(source, 25, token);
  assert.notEqual(source.checksum('accounts').sha256, target.checksum('accounts').sha256);

  const events: SyncEvent['type'][] = [];
  const run = runSync({ source: { url: source.url, credentials: { token } }, target: target.url, kinds: ['accounts'], chunkEntries: 10, progressIntervalMs: 0 });
  let passDone = 0;
  run.on('passDone', ({ report }) => {
    passDone++;
    assert.equal(report.read, 25);
  });
  for await (const e of run) events.push(e.type);
  const result = await run;
  assert.equal(result.ok, true, JSON.stringify(result.reports[0]?.error));
  assert.deepEqual(events.filter((e) => e !== 'log'), ['start', 'pass', 'passDone', 'done']);
  assert.equal(passDone, 1);
  assert.equal(result.totals.outcomes.created, 25);
  assert.deepEqual(source.checksum('accounts'), target.checksum('accounts'));

  // Discovered kinds, and nothing to send the second time.
  const again = await runSync({ source: { url: source.url, credentials: { token } }, target: target.url });
  assert.deepEqual([again.ok, again.kinds, again.totals.forwarded], [true, ['accounts'], 0]);
  assert.equal(target.health().kinds['accounts']?.resources, 25);
});

test('sdata-sync/engine: a run that cannot start rejects with the SdataError, for await and await alike', async () => {
  await assert.rejects(async () => {
    await runSync({ source: 'not a url', target: 'http://127.0.0.1:9/x' });
  }, (e: unknown) => e instanceof SdataError && e.code === 'SDATA_E_USAGE');
  const run = runSync({ source: 'http://127.0.0.1:9/sdata/a/b/-', target: 'http://127.0.0.1:9/sdata/c/d/-', retries: 0 });
  await assert.rejects(async () => {
    for await (const e of run) void e;
  }, (e: unknown) => e instanceof SdataError && e.code === 'SDATA_E_NETWORK');
});

test('sdata-sync/provider: hashPassword makes a users-file hash that the provider accepts for Basic', async (t) => {
  const hash = hashPassword('s3cret', { N: 1024, r: 8, p: 1 });
  const p = await startProvider({ db: ':memory:', auth: { users: new Map([['alice', hash]]) } });
  t.after(() => p.close());
  const ok = await fetch(`${p.url}/$health`, { headers: { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` } });
  const no = await fetch(`${p.url}/$health`, { headers: { authorization: `Basic ${Buffer.from('alice:wrong').toString('base64')}` } });
  assert.deepEqual([ok.status, no.status], [200, 401]);
  await ok.body?.cancel();
  await no.body?.cancel();
});

test('sdata-sync: the root entry point is the reader, the planner and the engine, with the errors, and no provider', () => {
  for (const name of ['FeedReader', 'parseDigestDocument', 'Planner', 'Decider', 'planPage', 'runSync', 'SdataError', 'isSdataError', 'ERROR_CODES', 'EXIT']) {
    assert.ok(name in root, name);
  }
  assert.ok(!('startProvider' in root), 'the provider (node:sqlite) is only in sdata-sync/provider');
});
