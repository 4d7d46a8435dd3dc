import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { oracleSuite } from '../helpers/oracle.ts';
import { NS } from '../../src/protocol/namespaces.ts';
import { startProvider, type RunningProvider } from '../../src/provider/http/server.ts';
import { providerResources, startPeer, type Peer } from '../helpers/peer.ts';
import { http, kid, kids, parseXml, syncPass, type El } from '../provider/helpers.ts';

/**
 * Child lists between the independent peer (test/peer/sdata_peer.py, expat) and our provider (docs/protocol.md §3.3,
 * A9). The peer does not interpret lists: it stores and sends payloads whole. As a source it sends what a 6.1-style
 * sender sends (a delta list with a deleted child), which our provider merges; as a target it stores what our source
 * sends, which must be the complete list flagged `deleteMissing="true"`. The passes are driven by the tests' minimal
 * engine (syncPass); our engine against the peer is engine-interop.test.ts's business.
 */

const C = 'http://schemas.sage.com/myContract';
const U = '00000000-0000-4000-8000-00000000c001';
const V = '00000000-0000-4000-8000-00000000c002';
const account = (u: string, inner: string): string => `<account xmlns="${C}" xmlns:sdata="${NS.sdata}" sdata:uuid="${u}">${inner}</account>`;
const address = (u: string, street: string, extra = ''): string => `<address sdata:uuid="${u}"${extra}><street>${street}</street></address>`;

/** The addresses of an account element: the list's deleteMissing and [uuid, street] per child, in order. */
function addresses(acc: El): [string | undefined, Array<[string, string]>] {
  const l = kid(acc, C, 'addresses')!;
  return [l.attrs.get(`{${NS.sdata}}deleteMissing`), kids(l, C, 'address').map((x) => [x.attrs.get(`{${NS.sdata}}uuid`)!, kid(x, C, 'street')?.text ?? ''])];
}

/** The peer's stored element of a resource (its own serialisation, parsed by saxes). */
async function atPeer(p: Peer, uuid: string): Promise<El> {
  const r = (await p.state()).kinds['accounts']!.resources.find((x) => x.uuid.toLowerCase() === uuid.toLowerCase());
  assert.ok(r?.payload, `the peer has no payload for ${uuid}`);
  return parseXml(r.payload);
}

/** Our provider's element of a resource, as its own $syncSource feed serves it (canonicalised by the peer). */
async function atProvider(prov: RunningProvider, p: Peer, uuid: string): Promise<El> {
  const m = await providerResources(`${prov.url}/accounts`, p);
  const c = m.get(uuid.toLowerCase())?.canonical;
  assert.ok(c, `the provider does not serve ${uuid}`);
  return parseXml(c);
}

oracleSuite('child lists between the independent peer and our provider', ['expat'], { timeout: 60_000, concurrency: 1 }, () => {
  let dir = '';
  let peer: Peer;
  let prov: RunningProvider;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sdata-peer-lists-'));
    [peer, prov] = await Promise.all([
      startPeer({ app: 'peerL', pageSize: 3 }),
      startProvider({ db: join(dir, 'hub.db'), app: 'hub', contract: 'myContract', pollingMillis: 1 }),
    ]);
  });
  after(async () => {
    await Promise.all([peer?.stop(), prov?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the peer as source: a complete list arrives as it is; a later delta list is merged into it', async () => {
    await peer.edit({ uuid: U, payload: account(U, `<name>v1</name><primaryContact sdata:uuid="P1"/><addresses sdata:deleteMissing="true">${address('a1', 'one')}${address('a2', 'two')}${address('a3', 'three')}</addresses>`) });
    let s = await syncPass(peer.url, prov.url);
    assert.deepEqual([s.entries, s.methods.get('POST')], [1, 1]);
    // (The peer's canonical form lower-cases uuids.)
    assert.deepEqual(addresses(await atProvider(prov, peer, U)), ['true', [['a1', 'one'], ['a2', 'two'], ['a3', 'three']]]);
    // What a 6.1-style sender sends: the changed children only, a deleted one flagged (the peer keeps it as given).
    await peer.edit({ uuid: U, payload: account(U, `<name>v2</name><primaryContact sdata:uuid="P1"/><addresses>${address('A2', 'TWO')}${address('a3', '', ' sdata:isDeleted="true"')}${address('a4', 'four')}</addresses>`) });
    assert.deepEqual(addresses(await atPeer(peer, U))[1].map(([u]) => u), ['A2', 'a3', 'a4']);
    s = await syncPass(peer.url, prov.url);
    assert.deepEqual([s.entries, s.methods.get('PUT')], [1, 1]);
    const acc = await atProvider(prov, peer, U);
    assert.equal(kid(acc, C, 'name')?.text, 'v2');
    assert.deepEqual(addresses(acc), ['true', [['a1', 'one'], ['a2', 'TWO'], ['a4', 'four']]]);
  });

  test('our provider as source: the peer receives complete lists flagged deleteMissing, without deleted children', async () => {
    // Local edits at the provider: a create whose list is written in the delta style, and a PUT with a delta list.
    const created = await http('POST', `${prov.url}/accounts`,
      `<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><sdata:payload>${account(V, `<name>made here</name><addresses>${address('b1', 'one')}${address('b2', '', ' sdata:isDeleted="true"')}</addresses>`)}</sdata:payload></entry>`,
      { 'content-type': 'application/atom+xml; type=entry' });
    assert.equal(created.status, 201, created.text);
    const list = parseXml((await http('GET', `${prov.url}/accounts`)).text);
    const uKey = kids(list, NS.atom, 'entry').find((e) => kid(kid(e, NS.sdata, 'payload'), C, 'account')?.attrs.get(`{${NS.sdata}}uuid`) === U);
    const loc = kid(uKey, NS.atom, 'id')!.text.replace(/^.*\/accounts/, `${prov.url}/accounts`);
    const put = await http('PUT', loc, `<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><sdata:payload><account xmlns="${C}"><addresses>${address('a5', 'five')}</addresses></account></sdata:payload></entry>`, { 'if-match': '*' });
    assert.equal(put.status, 200, put.text);

    const s = await syncPass(prov.url, peer.url);
    assert.equal(s.entries, 2);
    assert.deepEqual(addresses(await atPeer(peer, V)), ['true', [['b1', 'one']]]);
    assert.deepEqual(addresses(await atPeer(peer, U)), ['true', [['a1', 'one'], ['A2', 'TWO'], ['a4', 'four'], ['a5', 'five']]]);
    // The peer now holds what we hold: the same canonical payloads.
    const mine = await providerResources(`${prov.url}/accounts`, peer);
    const theirs = (await peer.state()).kinds['accounts']!.resources;
    for (const r of theirs) assert.equal(r.canonical, mine.get(r.uuid.toLowerCase())?.canonical, r.uuid);
  });
});
