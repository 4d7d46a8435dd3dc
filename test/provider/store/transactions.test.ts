import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import type { ResourceWrites, StoreWriter } from '../../../src/provider/store/repositories.ts';
import { Store } from '../../../src/provider/store/store.ts';
import { testDir } from '../helpers.ts';

/** Store.tx(): no row is written outside a transaction, and data and digest commit or roll back together. */

const dir = testDir();
after(() => dir.cleanup());

const PAYLOAD = '<a xmlns="urn:a"/>';

test('writes outside Store.tx() are refused, before anything changes', () => {
  const store = new Store({ db: ':memory:', kinds: ['accounts'] });
  try {
    const k = store.kind('accounts')!;
    let leaked: StoreWriter | undefined;
    store.tx((w) => {
      leaked = w;
    });
    // The writer exists only inside the callback; kept beyond it, every write still checks the transaction.
    assert.throws(() => leaked!.resources.insert(k.id, 'u-1', false, k.selfEp, '5', 's', null, PAYLOAD), /resources\.insert outside a transaction/);
    assert.throws(() => leaked!.resources.update(1, false, k.selfEp, '5', 's', null, PAYLOAD), /resources\.update outside a transaction/);
    assert.throws(() => leaked!.digest.advance(k.id, k.selfEp, '99', 5), /digest change outside a transaction/);
    assert.throws(() => leaked!.digest.localState(k), /digest change outside a transaction/);
    assert.throws(() => leaked!.staged.add(1, 0, '{}'), /outside a transaction/);
    assert.throws(() => leaked!.failures.record(k.id, 'p', k.selfEp, '3'), /outside a transaction/);
    // The read facade is the same repository: a cast does not get around the check either.
    assert.throws(() => (store.resources as ResourceWrites).insert(k.id, 'u-1', false, k.selfEp, '5', 's', null, PAYLOAD), /outside a transaction/);
    const results = store.results.writer(1);
    results.add('<entry/>');
    assert.throws(() => results.flush(), /result rows outside a transaction/);
    // Nothing moved: no row, and the kind's own tick is still 1.
    assert.equal(store.resources.byUuid(k.id, 'u-1'), undefined);
    assert.equal(store.digest.rows(k.id).get(k.selfEp)!.tick, '1');
  } finally {
    store.close();
  }
});

test('a transaction commits its rows with the digest rows it touched, and a failed one rolls both back', () => {
  const path = dir.db('tx');
  const store = new Store({ db: path, kinds: ['accounts'] });
  try {
    const k = store.kind('accounts')!;
    const other = store.tx(() => store.endpointId('http://other.example/sdata/a/c/-/accounts'));
    store.tx((w) => {
      w.resources.insert(k.id, 'U-1', false, other, '7', '2020-01-01T00:00:00Z', null, PAYLOAD);
      w.digest.advance(k.id, other, '8', 3);
      const st = w.digest.localState(k);
      w.resources.insert(k.id, 'u-2', false, st.ep, st.tick, st.stamp, null, PAYLOAD);
    });
    // On disk, read by another connection: both rows and both digest rows (own tick 1 given, now 2).
    const raw = new DatabaseSync(path, { readOnly: true });
    try {
      assert.equal((raw.prepare('SELECT count(*) AS n FROM resources').get() as { n: number }).n, 2);
      const digest = raw.prepare('SELECT ep, tick FROM digest WHERE kind = ? ORDER BY ep').all(k.id) as Array<{ ep: number; tick: string }>;
      assert.deepEqual(digest.map((r) => [r.ep, r.tick]), [[k.selfEp, '01:2'], [other, '01:8']].sort((a, b) => Number(a[0]) - Number(b[0])));
    } finally {
      raw.close();
    }
    assert.equal(store.resources.byUuid(k.id, 'u-1')?.tick, '7', 'uuids match in either case');

    assert.throws(() => store.tx((w) => {
      w.resources.insert(k.id, 'u-3', false, other, '9', 's', null, PAYLOAD);
      w.digest.advance(k.id, other, '10', 3);
      w.digest.localState(k);
      throw new Error('boom');
    }), /boom/);
    assert.equal(store.resources.byUuid(k.id, 'u-3'), undefined);
    assert.equal(store.digest.rows(k.id).get(other)!.tick, '8', 'the cached digest is reloaded from disk after a rollback');
    assert.equal(store.digest.rows(k.id).get(k.selfEp)!.tick, '2');
  } finally {
    store.close();
  }
});

test('the database connection is not reachable from outside the store', () => {
  const store = new Store({ db: ':memory:' });
  try {
    for (const [name, v] of Object.entries(store)) assert.ok(!(v instanceof DatabaseSync), `Store.${name} is a DatabaseSync`);
    assert.equal((store as unknown as Record<string, unknown>)['db'], undefined);
  } finally {
    store.close();
  }
});
