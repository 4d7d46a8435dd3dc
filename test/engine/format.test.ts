import assert from 'node:assert/strict';
import { test } from 'node:test';
import { int } from '../../src/engine/format.ts';

test('int() groups thousands as toLocaleString("en-US") does, without it', () => {
  const values = [0, 1, 9, 10, 999, 1000, 1001, 12_345, 999_999, 1_000_000, 1_234_567.5, 2 ** 31, 9_007_199_254_740_991, -1, -1000, -1_234_567, 0.4, 0.5];
  for (let k = 1; k < 1e15; k *= 7) values.push(k, k - 1, k + 0.5);
  for (const v of values) assert.equal(int(v), Math.round(v).toLocaleString('en-US'), `int(${v})`);
});
