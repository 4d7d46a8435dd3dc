import assert from 'node:assert/strict';
import { test } from 'node:test';
import { etagHeader, etagMatches, etagOf } from '../../../src/provider/sync/etag.ts';

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
