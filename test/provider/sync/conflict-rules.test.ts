import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, type DigestLookup } from '../../../src/provider/sync/conflict-rules.ts';

/** 5.4 rules on the spec's worked examples (2.6, docs/protocol.md §3.7). Endpoints as ids: N1 = 1, N2 = 2, N3 = 3. */

const lookup = (rows: Array<[number, number, number]>): DigestLookup => {
  const m = new Map(rows.map(([ep, tick, prio]) => [ep, { tick: String(tick), prio }]));
  return { get: (ep) => m.get(ep) };
};
const N1Digest = lookup([[1, 6, 1], [2, 7, 2], [3, 9, 3]]);
const N2Digest = lookup([[1, 5, 1], [2, 8, 2], [3, 8, 3]]);
const norm = (ep: number): string => `http://n${ep}.example/sdata/a/c/-/accounts`;
const st = (ep: number, tick: number, stamp = '2020-01-01T00:00:00Z') => ({ ep, tick: String(tick), stamp });

test('2.6 case a: same origin, newer tick (R1) applies; an equal or older one is ignored', () => {
  assert.deepEqual(decide(st(1, 5), st(1, 4), N1Digest, N2Digest, norm), { apply: true, rule: 'R1' });
  assert.deepEqual(decide(st(1, 5), st(1, 5), N1Digest, N2Digest, norm), { apply: false, rule: 'R1' });
  assert.deepEqual(decide(st(1, 4), st(1, 5), N1Digest, N2Digest, norm), { apply: false, rule: 'R1' });
});

test('2.6 case b: the source digest has seen the target version (R2: 7 > 6) applies', () => {
  assert.deepEqual(decide(st(1, 5), st(2, 6), N1Digest, N2Digest, norm), { apply: true, rule: 'R2' });
});

test('2.6 case c: 7 is not > 7 and 5 is not > 5, a conflict; N1 priority 1 beats N2 priority 2', () => {
  const v = decide(st(1, 5), st(2, 7), N1Digest, N2Digest, norm);
  assert.equal(v.rule, 'R4');
  assert.equal(v.apply, true);
  assert.equal(v.conflict?.by, 'priority');
});

test('2.6 case d: R2 via N3 (9 > 7) applies', () => {
  assert.deepEqual(decide(st(1, 5), st(3, 7), N1Digest, N2Digest, norm), { apply: true, rule: 'R2' });
});

test('2.6 case e: N3 (priority 3) against N2 (priority 2): the TARGET wins under 5.4 (docs/protocol.md A12)', () => {
  const v = decide(st(3, 8), st(2, 7), N1Digest, N2Digest, norm);
  assert.equal(v.rule, 'R4');
  assert.equal(v.apply, false);
  assert.equal(v.conflict?.winner, 'target');
  assert.equal(v.conflict?.srcPrio, 3);
  assert.equal(v.conflict?.tgtPrio, 2);
});

test('R3: the target digest has seen the source version (strict >)', () => {
  const tgt = lookup([[1, 6, 1], [2, 8, 2]]);
  assert.deepEqual(decide(st(1, 5), st(2, 9), lookup([[1, 6, 1]]), tgt, norm), { apply: false, rule: 'R3' });
  // Equality is not "seen": 5 is not > 5, so this is a conflict, not R3 (the 2014 fix of >= to >).
  assert.equal(decide(st(1, 6), st(2, 9), lookup([[1, 7, 1]]), tgt, norm).rule, 'R4');
});

test('conflict tie-breaks: equal priorities, newer stamp wins; equal stamps, smaller normalised endpoint wins', () => {
  const both = lookup([[1, 1, 4], [2, 1, 4]]);
  const newer = decide(st(2, 9, '2020-01-02T00:00:00Z'), st(1, 9, '2020-01-01T00:00:00Z'), both, both, norm);
  assert.deepEqual([newer.apply, newer.conflict?.by], [true, 'stamp']);
  const older = decide(st(2, 9, '2020-01-01T00:00:00Z'), st(1, 9, '2020-01-02T00:00:00+00:00'), both, both, norm);
  assert.deepEqual([older.apply, older.conflict?.by], [false, 'stamp']);
  // Zone-less stamps are UTC (docs/protocol.md A38): these are the same instant, so the endpoint decides: n1 < n2, n1 wins.
  const tie = decide(st(2, 9, '2020-01-01T00:00:00'), st(1, 9, '2020-01-01T00:00:00.000Z'), both, both, norm);
  assert.deepEqual([tie.apply, tie.conflict?.by, tie.conflict?.winner], [false, 'endpoint', 'target']);
  const tie2 = decide(st(1, 9), st(2, 9), both, both, norm);
  assert.deepEqual([tie2.apply, tie2.conflict?.winner], [true, 'source']);
});

test('priority lookup falls back to the other digest, then to 9 with a warning', () => {
  const src = lookup([[1, 1, 3]]);
  const tgt = lookup([[2, 1, 2], [5, 0, 1]]);
  // Source state names endpoint 5, known only to the target's digest (priority 1): the source wins.
  const v = decide(st(5, 9), st(2, 3), src, tgt, norm);
  assert.deepEqual([v.conflict?.srcPrio, v.conflict?.winner, v.conflict?.warnings.length], [1, 'source', 0]);
  // Neither digest knows endpoint 7: priority 9 and a warning; the target's 2 wins.
  const w = decide(st(7, 9), st(2, 3), src, tgt, norm);
  assert.deepEqual([w.conflict?.srcPrio, w.conflict?.winner], [9, 'target']);
  assert.match(w.conflict!.warnings[0]!, /no conflictPriority known for http:\/\/n7/);
});
