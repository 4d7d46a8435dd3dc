import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Store } from '../../../src/provider/store/store.ts';
import { compactResult, ResultRenderer } from '../../../src/provider/sync/result-entry.ts';
import { renderResult } from './result-oracle.ts';

/** Result rendering */

test('ResultRenderer renders compact results exactly as renderResult does, and passes full entries through', () => {
  const store = new Store({ db: ':memory:', kinds: ['a_b'], endpointBase: 'http://h/sdata/x&y/crm/-' });
  try {
    const kind = store.kind('a_b')!;
    const other = store.tx(() => store.endpointId('http://other/<sdata>/crm/-/a_b'));
    const rc = { store, kind, serving: 'http://127.0.0.1:1/sdata/x&y/crm/-/a_b', updated: '2024-01-02T03:04:05.000Z' };
    const renderer = new ResultRenderer(rc);
    const stored = [
      compactResult(201, 'POST', 1, kind.selfEp, '7', '2024-01-01T00:00:00Z'),
      compactResult(200, 'PUT', 22, other, '123456789012345678901234567890', '2024-01-01T00:00:00<Z>'),
      compactResult(200, 'DELETE', 333, kind.selfEp, '0', 'x'),
      compactResult(200, undefined, 4444, other, '8', ''),
      compactResult(201, 'POST', 5, other, '9', 's'),
      '<entry><id>full</id></entry>\n',
    ];
    for (const s of stored) assert.equal(renderer.render(s), renderResult(s, rc), s);
    assert.match(renderer.render(stored[0]!), /<http:location>http:\/\/127\.0\.0\.1:1\/sdata\/x&amp;y\/crm\/-\/a_b\('1'\)<\/http:location>/);
  } finally {
    store.close();
  }
});
