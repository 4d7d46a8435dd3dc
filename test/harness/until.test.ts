import assert from 'node:assert/strict';
import { test } from 'node:test';
import { until } from '../helpers/until.ts';

test('until returns once the condition holds, sync or async', async () => {
  let looks = 0;
  await until(() => ++looks === 3, { what: 'the third look', everyMs: 1 });
  assert.equal(looks, 3);
  await until(async () => ++looks === 5, { what: 'the fifth look', everyMs: 1 });
  assert.equal(looks, 5);
});

test('until fails after its bound, naming what it waited for', async () => {
  await assert.rejects(until(() => false, { what: 'a condition that never holds', timeoutMs: 20, everyMs: 1 }),
    { message: 'timed out after 20 ms waiting for a condition that never holds' });
  let state = 'starting';
  const waiting = until(() => false, { what: () => `the peer (state: ${state})`, timeoutMs: 20, everyMs: 1 });
  state = 'stuck';
  await assert.rejects(waiting, { message: 'timed out after 20 ms waiting for the peer (state: stuck)' });
});
