import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, naturalKey, winnerOf } from '../../src/engine/link/decide.ts';
import type { JoinRow, KeyGroup } from '../../src/engine/link/join-file.ts';

/** link's decisions (spec 1.2's three cases), its winner rule and its key normalisation, without HTTP. */

const row = (side: 0 | 1, n: number, uuid?: string): JoinRow => ({ side, url: `http://${side === 0 ? 's' : 't'}/a('${n}')`, uuid, key: String(n) });
const group = (key: string | undefined, s: JoinRow[], t: JoinRow[]): KeyGroup => ({ key, counts: [s.length, t.length], rows: [s, t] });
const fresh = (): string => 'NEW';

test('one resource per side: the three cases of spec 1.2, and a pair already linked', () => {
  assert.deepEqual(decide(group('k', [row(0, 1)], [row(1, 2)]), 0, fresh).ops, [
    { key: 'k', side: 0, method: 'POST', url: "http://s/a('1')", uuid: 'NEW' }, { key: 'k', side: 1, method: 'POST', url: "http://t/a('2')", uuid: 'NEW' },
  ]);
  const copy = decide(group('k', [row(0, 1, 'U')], [row(1, 2)]), 1, fresh);
  assert.deepEqual([copy.action, copy.uuid, copy.ops], ['copy-to-target', 'U', [{ key: 'k', side: 1, method: 'POST', url: "http://t/a('2')", uuid: 'U' }]]);
  assert.equal(decide(group('k', [row(0, 1)], [row(1, 2, 'V')]), 0, fresh).action, 'copy-to-source');
  // Both differ: the winner's uuid stays, the loser re-points it (PUT on the loser's side), whichever side wins.
  const t = decide(group('k', [row(0, 1, 'U')], [row(1, 2, 'V')]), 0, fresh);
  assert.deepEqual([t.action, t.uuid, t.ops], ['repoint-target', 'U', [{ key: 'k', side: 1, method: 'PUT', url: "http://t/a('2')", uuid: 'U' }]]);
  const s = decide(group('k', [row(0, 1, 'U')], [row(1, 2, 'V')]), 1, fresh);
  assert.deepEqual([s.action, s.uuid, s.ops], ['repoint-source', 'V', [{ key: 'k', side: 0, method: 'PUT', url: "http://s/a('1')", uuid: 'V' }]]);
  const same = decide(group('k', [row(0, 1, 'abc')], [row(1, 2, ' ABC')]), 0, fresh);
  assert.deepEqual([same.action, same.ops], ['already-linked', []]);
});

test('several resources on a side are ambiguous, one side alone is unmatched, no key is no key: never linked', () => {
  for (const [g, action] of [
    [group('k', [row(0, 1), row(0, 3)], [row(1, 2)]), 'ambiguous'],
    [group('k', [row(0, 1)], [row(1, 2), row(1, 4)]), 'ambiguous'],
    [group('k', [row(0, 1), row(0, 3)], []), 'unmatched-source'],
    [group('k', [], [row(1, 2)]), 'unmatched-target'],
    [group(undefined, [row(0, 1)], []), 'no-key-source'],
    [group(undefined, [], [row(1, 1)]), 'no-key-target'],
  ] as const) {
    const d = decide(g, 0, fresh);
    assert.deepEqual([d.action, d.ops, d.counts], [action, [], g.counts]);
  }
});

test('the winner: the lower conflictPriority; equal ones, the smaller endpoint (docs/protocol.md A37), the same from either side', () => {
  assert.equal(winnerOf([1, 5], ['http://z', 'http://a']), 0);
  assert.equal(winnerOf([5, 2], ['http://a', 'http://z']), 1);
  assert.equal(winnerOf([5, 5], ['http://a', 'http://b']), 0);
  assert.equal(winnerOf([5, 5], ['http://b', 'http://a']), 1);
});

test('natural keys: exact by default; trim, case and space each do one thing; a missing field means no key', () => {
  const none = { trim: false, case: false, space: false };
  assert.equal(naturalKey([' Acme  Ltd\t'], none), ' Acme  Ltd\t');
  assert.equal(naturalKey([' Acme  Ltd\t'], { ...none, trim: true }), 'Acme  Ltd');
  assert.equal(naturalKey([' Acme  Ltd\t'], { ...none, case: true }), ' acme  ltd\t');
  assert.equal(naturalKey([' Acme  Ltd\t'], { ...none, space: true }), ' Acme Ltd ');
  assert.equal(naturalKey([' Acme  Ltd\t'], { trim: true, case: true, space: true }), 'acme ltd');
  assert.equal(naturalKey(['a', 'b'], none), 'a\u0001b');
  assert.equal(naturalKey(['a', undefined], none), undefined);
});
