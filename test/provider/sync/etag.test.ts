import assert from 'node:assert/strict';
import { test } from 'node:test';
import { base36, etagHeader, etagMatches, etagOf } from '../../../src/provider/sync/etag.ts';

/** ETags (core 9.3, RFC 9110 §8.8.3 and §13.1.1; docs/protocol.md §5.6). */

test('the header is the quoted tag; If-Match takes *, lists, quoted or bare tags, and compares strongly', () => {
  const t = etagOf('http://a.example/sdata/a/c/-/accounts', '42');
  assert.match(t, /^[0-9a-z]{14}$/);
  assert.equal(etagHeader(t), `"${t}"`);
  for (const yes of ['*', ` * `, `"${t}"`, t, ` ${t} `, `"x", "${t}"`, `"x",${t}`, `W/"x", "${t}"`]) assert.equal(etagMatches(yes, t), true, yes);
  for (const no of [`W/"${t}"`, `"${t}x"`, `"x"`, '', `"${t}`, `W/${t}`, `"a,${t}"`]) assert.equal(etagMatches(no, t), false, no);
  // Another version of the same resource, or the same tick elsewhere, is another tag.
  assert.notEqual(etagOf('http://a.example/sdata/a/c/-/accounts', '43'), t);
  assert.notEqual(etagOf('http://b.example/sdata/a/c/-/accounts', '42'), t);
});

test('a version\'s tag does not change from one release to the next (stores and clients keep them)', () => {
  // Pinned: what the first implementation (Number#toString(36), padded) gave for these states.
  assert.equal(etagOf('http://a.example/sdata/a/c/-/accounts', '42'), '0xsbn0e00v97ju');
  assert.equal(etagOf('http://www.example.com/sdata/app1/myContract/-/accounts', '18446744073709551616'), '0set89d1yydpjp');
  assert.equal(etagOf('', '0'), '1m2majv1g36u32');
  // Its digits are that expression's for every 32-bit half: edges, powers of 36 around them, and random states.
  const old = (h: number): string => (h >>> 0).toString(36).padStart(7, '0');
  const edges = [0, 1, 35, 36, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, -1, -(2 ** 31)];
  for (let p = 1; p < 7; p++) edges.push(36 ** p - 1, 36 ** p, 36 ** p + 1);
  let x = 7;
  for (let i = 0; i < 50_000; i++) edges.push((x = Math.imul(x ^ (x >>> 13), 0x5bd1e995) + i));
  for (const h of edges) assert.equal(base36(h), old(h), String(h));
});
