import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RunningProvider } from '../../src/provider/http/server.ts';
import { page } from '../helpers/feeds.ts';
import { CONTRACT, digestOf, get, parseXml, post, provider, resultsOf, setupStore, testDir, textOf, type TestDir } from './helpers.ts';

/**
 * Dynamic priorities (spec 2.3; docs/protocol.md §3.7): a target takes an endpoint's conflictPriority from a posted
 * feed's digest when the source speaks for itself (the digest's origin) or knows later changes from that endpoint;
 * a stale digest from a slow peer never undoes a newer priority, and nobody sets the target's own.
 */

const E = (n: string): string => `http://${n}.example/sdata/${n}/myContract/-/accounts`;
const T = E('t');
const S = E('s');
const X = E('x');
const Y = E('y');
let dir: TestDir;
let t: RunningProvider;

before(async () => {
  dir = testDir();
  setupStore(dir.db('t'), {
    app: 't', endpointBase: T.replace(/\/accounts$/, ''),
    digest: [[T, 1, 5], [S, 5, 4], [X, 3, 5]],
    resources: [{ uuid: 'R', endpoint: X, tick: 2, name: 'X version' }],
  });
  t = await provider(dir, 't');
});
after(async () => {
  await t.close();
  dir.cleanup();
});

async function priorities(): Promise<Record<string, number>> {
  const d = digestOf(parseXml((await get(`${t.url}/accounts/$syncDigest`)).text));
  return Object.fromEntries([...d].map(([ep, [, prio]]) => [ep, prio]));
}

/** A catchUp page from `digest[0]` (its origin); returns the results. */
async function send(digest: Array<[string, number, number]>, entries: Parameters<typeof page>[0]['entries'] = []): Promise<ReturnType<typeof resultsOf>> {
  const r = await post(`${t.url}/accounts/$syncTarget`, page({ digest, entries }));
  assert.equal(r.status, 200, r.text);
  return resultsOf(parseXml(r.text));
}

test('the origin speaks for itself; another endpoint\'s priority moves only with a digest that knows more of it', async () => {
  // From S: S's own priority is taken (2); X's is not, S knows no more of X than this target (tick 3); ours stays.
  await send([[S, 10, 2], [X, 3, 7], [T, 1, 9]]);
  assert.deepEqual(await priorities(), { [T]: 5, [S]: 2, [X]: 5 });
  // From Y, which has seen X up to tick 4 (this target: 3): X's priority is now 1.
  await send([[Y, 1, 6], [X, 4, 1]]);
  assert.deepEqual(await priorities(), { [T]: 5, [S]: 2, [X]: 1, [Y]: 6 });
});

test('a stale digest does not undo a newer priority, and the newer one decides the next conflict', async () => {
  // S has seen X only up to tick 2 and still says 5; it changed its own to 3. R is held at (X, 2): S's version
  // (S, 11) is a conflict (5.4 R4) of S at 3 against X at 1, so this target keeps its version. With X at the 5 the
  // stale digest says, S would have won.
  const [r] = await send([[S, 12, 3], [X, 2, 5]], [{ endpoint: S, tick: 11, uuid: 'R', body: '<name>S version</name>' }]);
  assert.ok(r!.codes.includes('SyncConflictTargetWins'), r!.codes.join());
  assert.equal(textOf(r!.payload, CONTRACT, 'name'), 'X version');
  assert.deepEqual(await priorities(), { [T]: 5, [S]: 3, [X]: 1, [Y]: 6 });
});

test('an immediate page takes the priorities with its entries: not when its gap check refuses it', async () => {
  const imm = (digest: Array<[string, number, number]>, tick: number): string =>
    page({ digest, mode: 'immediate', entries: [{ endpoint: S, tick, uuid: `I-${tick}`, body: '<name>i</name>' }] });
  // This target expects S's tick 12 next (it has seen S up to 12): 15 leaves a gap, and nothing is taken.
  const gap = await post(`${t.url}/accounts/$syncTarget`, imm([[S, 16, 6]], 15));
  assert.equal(gap.status, 400, gap.text);
  assert.equal((await priorities())[S], 3);
  const ok = await post(`${t.url}/accounts/$syncTarget`, imm([[S, 13, 4]], 12));
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(resultsOf(parseXml(ok.text)).map((r) => r.method), ['POST']);
  assert.equal((await priorities())[S], 4);
});
