import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tickKey, tickOfKey } from '../../../src/provider/store/tick-key.ts';

/** Tick keys */

test('tick keys order exactly like the numbers, past 2^53 and 2^63', () => {
  const ticks = ['0', '1', '9', '10', '99', '9007199254740992', '9007199254740993', '9223372036854775807', '9223372036854775808',
    '18446744073709551616', '123456789012345678901234567890'];
  const keys = ticks.map(tickKey);
  assert.deepEqual([...keys].sort(), keys);
  for (const t of ticks) assert.equal(tickOfKey(tickKey(t)), t);
  assert.equal(tickKey('5'), '01:5');
  assert.throws(() => tickKey('1'.repeat(100)), /at most 99 digits/);
});
