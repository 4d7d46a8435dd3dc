import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { isSdataError } from '../../../src/protocol/errors.ts';
import { isStoreFault, storeFault } from '../../../src/provider/store/faults.ts';
import { Store } from '../../../src/provider/store/store.ts';
import { testDir } from '../helpers.ts';
import { integrityCheck } from '../../helpers/sqlite.ts';

/**
 * Store faults (store/faults.ts): SQLite failures that are the store's, not an entry's, classified into one code
 * each; a transaction that meets one rolls back whole, and the store works again once the cause is gone.
 */

const dir = testDir();
after(() => dir.cleanup());

const PAYLOAD = `<a xmlns="urn:a">${'x'.repeat(3000)}</a>`;


function countRows(path: string): number {
  const raw = new DatabaseSync(path, { readOnly: true });
  try {
    return (raw.prepare('SELECT count(*) AS n FROM resources').get() as { n: number }).n;
  } finally {
    raw.close();
  }
}

/** Inserts `n` resources with local states in one transaction; returns the first uuid index used next. */
function insert(store: Store, from: number, n: number): number {
  const k = store.kind('accounts')!;
  store.tx((w) => {
    for (let i = from; i < from + n; i++) {
      const st = w.digest.localState(k);
      w.resources.insert(k.id, `u-${i}`, false, st.ep, st.tick, st.stamp, null, PAYLOAD);
    }
  });
  return from + n;
}

test('a transaction that fills the store (SQLITE_FULL) rolls back whole as SDATA_E_STORE_FULL; the store writes again once space returns', () => {
  const path = dir.db('full');
  const store = new Store({ db: path, kinds: ['accounts'], maxDbMiB: 1 });
  try {
    const k = store.kind('accounts')!;
    let next = insert(store, 0, 20);
    const tickBefore = store.digest.rows(k.id).get(k.selfEp)!.tick;
    // 400 resources of 3 KB cannot fit in 1 MiB.
    let err: unknown;
    try {
      insert(store, next, 400);
    } catch (e) {
      err = e;
    }
    assert.ok(isStoreFault(err), String(err));
    assert.equal((err).code, 'SDATA_E_STORE_FULL');
    assert.match((err as Error).message, /store is full \(SQLITE_FULL: database or disk is full\).*no restart needed/);
    assert.equal((err).details.source, path);
    assert.ok(!(err as Error).message.includes(dir.dir), 'no file path in a message that HTTP clients see');
    // Nothing of it: the 20 committed before stay, the digest did not move (never ahead of the data).
    assert.equal(countRows(path), 20);
    assert.equal(store.resources.byUuid(k.id, `u-${next}`), undefined);
    assert.equal(store.digest.rows(k.id).get(k.selfEp)!.tick, tickBefore);
    assert.equal(integrityCheck(path), 'ok');
    // Smaller writes still fit; lifting the quota (space returns) lets the big one through, without reopening.
    next = insert(store, next, 5);
    store.setMaxDbMiB(undefined);
    next = insert(store, next, 400);
    assert.equal(countRows(path), 425);
    assert.equal(store.digest.rows(k.id).get(k.selfEp)!.tick, String(1 + 425));
    assert.equal(integrityCheck(path), 'ok');
  } finally {
    store.close();
  }
});

test('a write after SQLite rolled the transaction back is refused, so nothing autocommits without its digest', () => {
  const path = dir.db('lost');
  const store = new Store({ db: path, kinds: ['accounts'], maxDbMiB: 1 });
  try {
    const k = store.kind('accounts')!;
    let caught: unknown;
    let after: unknown;
    // What the target applier did before it asked store.fault(): catch the error per entry, and go on writing.
    assert.throws(() => store.tx((w) => {
      for (let i = 0; i < 400 && caught === undefined; i++) {
        try {
          const st = w.digest.localState(k);
          w.resources.insert(k.id, `u-${i}`, false, st.ep, st.tick, st.stamp, null, PAYLOAD);
        } catch (e) {
          caught = e;
        }
      }
      assert.ok(store.fault(caught), 'the store recognises the error as its own');
      try {
        w.resources.insert(k.id, 'after', false, k.selfEp, '999', 's', null, '<a xmlns="urn:a"/>');
      } catch (e) {
        after = e;
      }
    }), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_STORE_IO' &&
      e.message === "SQLite rolled back the store's transaction after an error (an error caught inside the transaction); nothing of it was written");
    assert.match(String(after), /after SQLite rolled the transaction back/);
    assert.equal(countRows(path), 0);
    assert.equal(integrityCheck(path), 'ok');
  } finally {
    store.close();
  }
});

test('a write lock held by another connection beyond the busy timeout is SDATA_E_STORE_BUSY; the store writes once it is released', () => {
  const path = dir.db('busy');
  const store = new Store({ db: path, kinds: ['accounts'], busyTimeoutMs: 20 });
  const other = new DatabaseSync(path);
  try {
    other.exec('BEGIN IMMEDIATE');
    assert.throws(() => insert(store, 0, 1), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_STORE_BUSY' &&
      /locked by another connection \(SQLITE_BUSY: database is locked\) beyond its 20 ms busy timeout/.test(e.message));
    other.exec('ROLLBACK');
    insert(store, 0, 1);
    assert.equal(countRows(path), 1);
  } finally {
    other.close();
    store.close();
  }
});

test('opening: a file that is not a database, or a path that cannot be opened, fails naming the file and what to do', () => {
  const garbage = dir.db('garbage');
  writeFileSync(garbage, Buffer.alloc(8192, 7));
  assert.throws(() => new Store({ db: garbage }), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_STORE_CORRUPT' &&
    e.message.startsWith(`${garbage}: the store is not an SQLite database (SQLITE_NOTADB: file is not a database)`));
  const missing = join(dir.dir, 'no-such-dir', 'x.db');
  assert.throws(() => new Store({ db: missing }), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_STORE_IO' &&
    e.message.startsWith(`${missing}: I/O error on the store (SQLITE_CANTOPEN`) && /check that the file and its directory exist/.test(e.message));
  const isDir = join(dir.dir, 'a-directory.db');
  mkdirSync(isDir);
  assert.throws(() => new Store({ db: isDir }), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_STORE_IO');
});

test('classification: each SQLite failure class has one code; entry-level failures stay ordinary errors', () => {
  const ctx = { path: '/x/s.db', busyTimeoutMs: 5000, txLost: false };
  // Real errors where SQLite gives them without privileges.
  const path = dir.db('classes');
  new Store({ db: path, kinds: ['accounts'] }).close();
  const ro = new DatabaseSync(path, { readOnly: true });
  try {
    let e: unknown;
    try {
      ro.exec("INSERT INTO meta(key, value) VALUES('k', 'v')");
    } catch (x) {
      e = x;
    }
    assert.equal(storeFault(e, ctx)?.code, 'SDATA_E_STORE_READONLY');
    assert.match(storeFault(e, ctx)!.message, /cannot be written \(SQLITE_READONLY: attempt to write a readonly database\)/);
    let constraint: unknown;
    try {
      ro.exec('SELECT * FROM no_such_table');
    } catch (x) {
      constraint = x;
    }
    assert.equal(storeFault(constraint, ctx), undefined, 'an SQL error is not a store fault');
    assert.equal(storeFault(constraint, { ...ctx, txLost: true })?.code, 'SDATA_E_STORE_IO', 'unless SQLite dropped the transaction');
  } finally {
    ro.close();
  }
  // Codes SQLite gives only on failing hardware or file systems: node:sqlite's error shape, extended codes.
  const sqlite = (errcode: number, message: string): Error => Object.assign(new Error(message), { code: 'ERR_SQLITE_ERROR', errcode, errstr: message });
  const cases: Array<[number, string | undefined, RegExp?]> = [
    [13, 'SDATA_E_STORE_FULL'],
    [5, 'SDATA_E_STORE_BUSY'],
    [517, 'SDATA_E_STORE_BUSY', /SQLITE_BUSY_SNAPSHOT/],
    [6, 'SDATA_E_STORE_BUSY'],
    [8, 'SDATA_E_STORE_READONLY'],
    [1544, 'SDATA_E_STORE_READONLY', /SQLITE_READONLY_DIRECTORY/],
    [11, 'SDATA_E_STORE_CORRUPT'],
    [779, 'SDATA_E_STORE_CORRUPT', /SQLITE_CORRUPT_INDEX/],
    [26, 'SDATA_E_STORE_CORRUPT'],
    [778, 'SDATA_E_STORE_IO', /SQLITE_IOERR_WRITE: disk I\/O error/],
    [10, 'SDATA_E_STORE_IO'],
    [14, 'SDATA_E_STORE_IO'],
    [7, 'SDATA_E_STORE_IO'],
    [19, undefined], // SQLITE_CONSTRAINT: one entry's problem
    [18, undefined], // SQLITE_TOOBIG: likewise
    [2067, undefined], // SQLITE_CONSTRAINT_UNIQUE
  ];
  for (const [errcode, code, message] of cases) {
    const f = storeFault(sqlite(errcode, 'disk I/O error'), ctx);
    assert.equal(f?.code, code, `errcode ${errcode}`);
    if (message) assert.match(f!.message, message);
  }
  assert.equal(storeFault(new Error('boom'), ctx), undefined);
  const f = storeFault(sqlite(13, 'database or disk is full'), ctx)!;
  assert.equal(storeFault(f, ctx), f, 'a classified fault passes through');
});

test('contexts on a store that cannot write: a DELETE holds for consumers and is written later; a sweep waits instead of throwing', () => {
  const path = dir.db('ctx-locked');
  const store = new Store({ db: path, kinds: ['accounts'], busyTimeoutMs: 20 });
  const other = new DatabaseSync(path);
  try {
    const contexts = store.openContexts(60_000);
    const k = store.kind('accounts')!;
    const row = contexts.create(k.id, 'target', '', 'T-1', 'applying');
    assert.equal(contexts.open(), 1);
    contexts.update(row, 'done', 3, '{}');
    const stale = contexts.create(k.id, 'target', '', 'T-2', 'done');
    other.exec('BEGIN IMMEDIATE');
    // The DELETE cannot be written: for consumers the context is deleted all the same.
    contexts.markDeleted(contexts.find(k.id, 'target', '', 't-1')!);
    assert.equal(contexts.find(k.id, 'target', '', 'T-1')!.status, 'deleted');
    assert.equal(contexts.open(), 1, 'only T-2 is open');
    // A sweep that cannot write leaves everything for later (it used to throw from its timer).
    assert.equal(contexts.sweep(Date.now() + 120_000), 0);
    other.exec('ROLLBACK');
    const raw = (id: number): string => (other.prepare('SELECT status FROM contexts WHERE id = ?').get(id) as { status: string }).status;
    assert.equal(raw(row.id), 'done', 'not written yet');
    contexts.sweep();
    assert.equal(raw(row.id), 'deleted', 'written by the next sweep');
    assert.equal(raw(stale.id), 'done');
    assert.equal(contexts.open(), 1);
    assert.equal(contexts.sweep(Date.now() + 120_000), 2, 'both expire once idle past the TTL');
    assert.equal(contexts.open(), 0);
  } finally {
    other.close();
    store.close();
  }
});
