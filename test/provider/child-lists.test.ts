import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import type { RunningProvider } from '../../src/provider/http/server.ts';
import { CONTRACT_NS, syntheticResource } from '../../src/gen/synthetic.ts';
import { pageTexts, resolveFeedOptions } from '../../src/gen/synthetic-feed.ts';
import { page, type TestEntry } from '../helpers/feeds.ts';
import { get, http, kid, kids, linkOf, parseXml, pollUntilDone, post, provider, resultsOf, syncPass, testDir, textOf, type El, type TestDir } from './helpers.ts';

/**
 * Child lists over HTTP (docs/protocol.md §3.3, A9; checklist 10–12, 62–65, 115, 116): posted sync pages with
 * complete lists, delta lists, deleted children, nested lists and references, applied by a provider on a real
 * socket and SQLite file; what it serves as a source; a PUT with a delta list; relaying through a second provider.
 */

const FAR = 'http://far.example/sdata/far/crm/-/accounts';
const U = 'C0FFEE00-0000-4000-8000-000000000001';
let dir: TestDir;
let a: RunningProvider;
let b: RunningProvider;
let tick = 10;

before(async () => {
  dir = testDir();
  a = await provider(dir, 'a', { app: 'hub' });
  b = await provider(dir, 'b', { app: 'spoke' });
});
after(async () => {
  await a.close();
  await b.close();
  dir.cleanup();
});

/** Posts one version of U from FAR (the next tick) in the given mode; returns its result. */
async function send(body: string | undefined, o: { deleted?: boolean; mode?: 'catchUp' | 'immediate' } = {}): Promise<ReturnType<typeof resultsOf>[number]> {
  const t = tick++;
  const e: TestEntry = { endpoint: FAR, tick: t, uuid: U, ...(o.deleted ? { deleted: true } : { body: body! }) };
  const feed = page({ digest: [[FAR, t + 1, 3]], mode: o.mode ?? 'catchUp', next: 'urn:more', entries: [e] });
  const r = await post(`${a.url}/accounts/$syncTarget`, feed);
  assert.equal(r.status, 200, r.text);
  return resultsOf(parseXml(r.text))[0]!;
}

/** U's element as A serves it from its own $syncSource feed (empty target digest: everything). */
async function served(p: RunningProvider = a): Promise<El | undefined> {
  const empty = `<entry xmlns="${NS.atom}"><id>urn:t</id><title/><updated>2020-01-01T00:00:00Z</updated><payload xmlns="${NS.sdata}"><digest xmlns="${NS.sync}"/></payload></entry>`;
  const started = await post(`${p.url}/accounts/$syncSource?trackingID=dump-${tick}`, empty);
  assert.equal(started.status, 202, started.text);
  const ctx = started.headers.get('location')!;
  let found: El | undefined;
  let res = await pollUntilDone(ctx);
  for (;;) {
    const f = parseXml(res.text);
    for (const e of kids(f, NS.atom, 'entry')) {
      const r = kid(e, NS.sdata, 'payload')!.children[0]!;
      if (r.attrs.get(`{${NS.sdata}}uuid`)?.toLowerCase() === U.toLowerCase()) found = r;
    }
    const next = linkOf(f, 'next');
    if (!next) break;
    res = await get(next);
  }
  assert.equal((await http('DELETE', ctx)).status, 200);
  return found;
}

const C = 'urn:contract';
/** [uuid, street] of each address of a served account ('deleted' for a child flagged deleted), and the list's deleteMissing. */
function addresses(acc: El): { deleteMissing: string | undefined; items: Array<[string, string]> } {
  const l = kid(acc, C, 'addresses')!;
  return {
    deleteMissing: l.attrs.get(`{${NS.sdata}}deleteMissing`),
    items: kids(l, C, 'address').map((x) => [x.attrs.get(`{${NS.sdata}}uuid`)!, x.attrs.get(`{${NS.sdata}}isDeleted`) === 'true' ? 'deleted' : textOf(x, C, 'street') ?? '']),
  };
}

const address = (u: string, street: string, extra = ''): string => `<address sdata:uuid="${u}"${extra}><street>${street}</street></address>`;

test('sync target: a delta list keeps what it does not mention, drops deleted children, appends new ones; our source sends it complete', async () => {
  let r = await send(`<name>v1</name><primaryContact sdata:uuid="P1"/><addresses sdata:deleteMissing="true">${address('a1', 'one')}${address('a2', 'two')}${address('a3', 'three')}</addresses>`);
  assert.deepEqual([r.status, r.method], [201, 'POST']);
  let acc = (await served())!;
  assert.deepEqual(addresses(acc), { deleteMissing: 'true', items: [['a1', 'one'], ['a2', 'two'], ['a3', 'three']] });
  // 6.1's style: only what changed. a2 updated (another case of its uuid), a3 deleted (sync namespace, A8), a4 new.
  r = await send(`<name>v2</name><primaryContact sdata:uuid="P2"/><addresses>${address('A2', 'TWO')}<address xmlns:s="${NS.sync}" sdata:uuid="a3" s:isDeleted="true"/>${address('a4', 'four')}</addresses>`);
  assert.deepEqual([r.status, r.method], [200, 'PUT']);
  acc = (await served())!;
  assert.equal(textOf(acc, C, 'name'), 'v2');
  assert.deepEqual(addresses(acc), { deleteMissing: 'true', items: [['a1', 'one'], ['A2', 'TWO'], ['a4', 'four']] });
  // The reference is the incoming one, as a reference: a uuid and nothing else.
  const ref = kid(acc, C, 'primaryContact')!;
  assert.deepEqual([ref.attrs.get(`{${NS.sdata}}uuid`), ref.children.length, ref.text], ['P2', 0, '']);
  // No child flagged deleted ever goes out.
  assert.ok(!JSON.stringify(acc, (_k, v: unknown) => (v instanceof Map ? [...(v as Map<unknown, unknown>)] : v)).includes('isDeleted'));
});

test('sync target: deleteMissing="true" replaces the list; an empty delta changes nothing; immediate mode merges too', async () => {
  await send(`<name>v3</name><addresses sdata:deleteMissing="true">${address('a5', 'five')}</addresses>`);
  assert.deepEqual(addresses((await served())!).items, [['a5', 'five']]);
  await send(`<name>v4</name><addresses sdata:deleteMissing="false"/>`);
  assert.deepEqual(addresses((await served())!).items, [['a5', 'five']]);
  // Immediate pages are staged as JSON until the gap check passed, then applied: the merge happens there as well.
  const r = await send(`<name>v5</name><addresses>${address('a6', 'six')}</addresses>`, { mode: 'immediate' });
  assert.deepEqual([r.status, r.method], [200, 'PUT']);
  assert.deepEqual(addresses((await served())!).items, [['a5', 'five'], ['a6', 'six']]);
});

test('sync target: nested lists merge with the stored child of the same uuid', async () => {
  const phones = (...p: Array<[string, string, string?]>): string => p.map(([u, n, x]) => `<phone sdata:uuid="${u}"${x ?? ''}>${n}</phone>`).join('');
  await send(`<name>v6</name><addresses sdata:deleteMissing="true"/><contacts sdata:deleteMissing="true"><contact sdata:uuid="c1"><phones sdata:deleteMissing="true">${phones(['f1', '1'], ['f2', '2'])}</phones></contact><contact sdata:uuid="c2"><phones sdata:deleteMissing="true"/></contact></contacts>`);
  await send(`<name>v7</name><addresses sdata:deleteMissing="true"/><contacts><contact sdata:uuid="c1"><phones>${phones(['f1', '', ' sdata:isDeleted="true"'], ['f3', '3'])}</phones></contact></contacts>`);
  const acc = (await served())!;
  assert.deepEqual(addresses(acc), { deleteMissing: 'true', items: [] });
  const contacts = kid(acc, C, 'contacts')!;
  assert.equal(contacts.attrs.get(`{${NS.sdata}}deleteMissing`), 'true');
  const shape = kids(contacts, C, 'contact').map((c) => {
    const ph = kid(c, C, 'phones')!;
    return [c.attrs.get(`{${NS.sdata}}uuid`), ph.attrs.get(`{${NS.sdata}}deleteMissing`), kids(ph, C, 'phone').map((p) => p.attrs.get(`{${NS.sdata}}uuid`))];
  });
  assert.deepEqual(shape, [['c1', 'true', ['f2', 'f3']], ['c2', 'true', []]]);
});

test('a deleted parent deletes its children; a delta over the tombstone is kept as a delta (4.4: incomplete storage)', async () => {
  const r = await send(undefined, { deleted: true });
  assert.deepEqual([r.status, r.method], [200, 'DELETE']);
  const tomb = (await served())!;
  assert.equal(tomb.attrs.get(`{${NS.sdata}}isDeleted`), 'true');
  assert.deepEqual(tomb.children, [], 'the deletion payload has no children');
  // Nothing to apply the delta to: this store knows only what it says. It keeps and sends it unflagged, the deleted
  // child included, so that a store holding the full list is not told to delete what this one never had.
  const back = await send(`<name>v8</name><addresses>${address('a7', 'seven')}${address('a1', '', ' sdata:isDeleted="true"')}</addresses>`);
  assert.deepEqual([back.status, back.method], [201, 'POST']);
  assert.deepEqual(addresses((await served())!), { deleteMissing: undefined, items: [['a7', 'seven'], ['a1', 'deleted']] });
  // Another delta adds to it.
  await send(`<name>v9</name><addresses>${address('a8', 'eight')}</addresses>`);
  assert.deepEqual(addresses((await served())!), { deleteMissing: undefined, items: [['a7', 'seven'], ['a1', 'deleted'], ['a8', 'eight']] });
});

test('relayed through a second provider, payloads stay byte-identical ($checksum), lists as they are held', async () => {
  await syncPass(a.url, b.url);
  assert.deepEqual(b.checksum('accounts'), a.checksum('accounts'));
  assert.deepEqual(addresses((await served(b))!), { deleteMissing: undefined, items: [['a7', 'seven'], ['a1', 'deleted'], ['a8', 'eight']] });
  // A complete list makes it complete again, on both after the next relay.
  await send(`<name>v10</name><addresses sdata:deleteMissing="true">${address('a7', 'seven')}</addresses>`);
  await syncPass(a.url, b.url);
  assert.deepEqual(b.checksum('accounts'), a.checksum('accounts'));
  assert.deepEqual(addresses((await served(b))!), { deleteMissing: 'true', items: [['a7', 'seven']] });
});

test('plain PUT (core 9.2): a list without deleteMissing is a delta there too', async () => {
  const list = await get(`${a.url}/accounts`);
  const e = kids(parseXml(list.text), NS.atom, 'entry')[0]!;
  const loc = textOf(e, NS.atom, 'id')!.replace(/^.*\/accounts/, `${a.url}/accounts`);
  const put = `<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><sdata:payload><account xmlns="${C}"><addresses>${address('a8', 'eight')}</addresses></account></sdata:payload></entry>`;
  const r = await http('PUT', loc, put, { 'if-match': '*' });
  assert.equal(r.status, 200, r.text);
  const acc = kid(kid(parseXml(r.text), NS.sdata, 'payload'), C, 'account')!;
  assert.equal(textOf(acc, C, 'name'), 'v10', 'core 9.1: what the PUT does not name is unchanged');
  assert.deepEqual(addresses(acc), { deleteMissing: 'true', items: [['a7', 'seven'], ['a8', 'eight']] });
});

test('generated feeds (gen): complete lists stored as they came, deltas kept as deltas; relaying is byte-identical', async () => {
  const o = resolveFeedOptions({ count: 120, pageSize: 60, seed: 4 });
  const c = await provider(dir, 'c', { app: 'gen1' });
  const d = await provider(dir, 'd', { app: 'gen2' });
  try {
    for (let p = 0; p < o.pages; p++) {
      const r = await post(`${c.url}/accounts/$syncTarget`, [...pageTexts(o, p)].join(''));
      assert.equal(r.status, 200, r.text);
      assert.ok(resultsOf(parseXml(r.text)).every((x) => x.status < 300));
    }
    // Every generated resource, as served: complete lists as written; delta lists too, as these are creates.
    const empty = `<entry xmlns="${NS.atom}"><id>urn:t</id><title/><updated>2020-01-01T00:00:00Z</updated><payload xmlns="${NS.sdata}"><digest xmlns="${NS.sync}"/></payload></entry>`;
    const r = await post(`${c.url}/accounts/$syncSource`, empty);
    assert.equal(r.status, 200, r.text);
    const served = new Map<string, El>();
    for (const e of kids(parseXml(r.text), NS.atom, 'entry')) {
      const x = kid(e, NS.sdata, 'payload')!.children[0]!;
      served.set(x.attrs.get(`{${NS.sdata}}uuid`)!.toLowerCase(), x);
    }
    let deltas = 0;
    for (let i = 0; i < o.count; i++) {
      const g = syntheticResource(i, o);
      if (g.deleted) continue;
      const want = [...g.xml.matchAll(/<address sdata:uuid="([^"]+)"( sdata:isDeleted="true")?/g)].map((m) => `${m[1]}${m[2] ? ' deleted' : ''}`);
      const complete = g.xml.includes('<addresses sdata:deleteMissing="true"');
      if (!complete) deltas++;
      const l = kid(served.get(g.uuid.toLowerCase()), CONTRACT_NS, 'addresses')!;
      assert.equal(l.attrs.get(`{${NS.sdata}}deleteMissing`), complete ? 'true' : undefined, `resource ${i}`);
      assert.deepEqual(kids(l, CONTRACT_NS, 'address').map((x) => `${x.attrs.get(`{${NS.sdata}}uuid`)}${x.attrs.get(`{${NS.sdata}}isDeleted`) === 'true' ? ' deleted' : ''}`), want, `resource ${i}`);
    }
    assert.ok(deltas > 20, `${deltas} delta lists`);
    await syncPass(c.url, d.url);
    assert.deepEqual(d.checksum('accounts'), c.checksum('accounts'));
  } finally {
    await c.close();
    await d.close();
  }
});
