import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { Store } from '../../src/provider/store/store.ts';
import { serveFailure, type ServeExit } from '../helpers/serve.ts';
import { testDir, type TestDir } from './helpers.ts';

/**
 * `sdata-sync serve` on a store it cannot use: one line naming the file, what is wrong and what to do, exit 4 (I/O),
 * never a stack trace.
 */

let dir: TestDir;
before(() => {
  dir = testDir();
});
after(() => dir.cleanup());

/** The unprivileged user a root test run drops to: root writes read-only files (CAP_DAC_OVERRIDE). */
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

function assertOneLine(r: ServeExit, code: number, message: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  assert.equal(r.stdout, '', 'nothing served');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, message);
  assert.doesNotMatch(r.stderr, /\n\s+at |internal error/);
}

function newStore(path: string): void {
  new Store({ db: path, kinds: ['accounts'] }).close();
}

test('a file that is not a database: exit 4, named', async () => {
  const db = dir.db('garbage');
  writeFileSync(db, Buffer.alloc(16384, 7));
  assertOneLine(await serveFailure(['--db', db]), 4, new RegExp(`^sdata-sync serve: ${db}: the store is not an SQLite database \\(SQLITE_NOTADB: file is not a database\\)$`));
});

test('a store whose schema page is damaged: exit 4, corrupt, restore from a backup', async () => {
  const db = dir.db('corrupt');
  newStore(db);
  const bytes = readFileSync(db);
  bytes.fill(0x55, 100, 4096); // page 1 after the file header: the schema's root
  writeFileSync(db, bytes);
  assertOneLine(await serveFailure(['--db', db]), 4, new RegExp(`^sdata-sync serve: ${db}: the store is corrupt \\(SQLITE_CORRUPT\\S*: .*\\): restore it from a backup`));
});

test('a directory that does not exist: exit 4, check the file and its directory', async () => {
  const db = join(dir.dir, 'missing', 'x.db');
  assertOneLine(await serveFailure(['--db', db]), 4, new RegExp(`^sdata-sync serve: ${db}: I/O error on the store \\(SQLITE_CANTOPEN: unable to open database file\\); check that the file and its directory exist`));
});

/**
 * Read-only cases need a user the permissions apply to: as root, the serve process runs as nobody (its files are
 * handed over to it); the test skips, saying so, only where even that is not permitted.
 */
async function asUnprivileged(t: TestContext, path: string, args: string[]): Promise<ServeExit | undefined> {
  if (!isRoot) return serveFailure(args);
  chmodSync(dir.dir, 0o755);
  chownSync(path, NOBODY, NOBODY);
  try {
    return await serveFailure(args, { uid: NOBODY, gid: NOBODY });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    t.skip('running as root without the right to switch to an unprivileged user: read-only files cannot be made');
    return undefined;
  }
}

test('a read-only store file: exit 4, cannot be written', async (t) => {
  const sub = join(dir.dir, 'ro-file');
  mkdirSync(sub);
  const db = join(sub, 'ro.db');
  newStore(db);
  if (isRoot) chownSync(db, NOBODY, NOBODY);
  chmodSync(db, 0o444);
  const r = await asUnprivileged(t, sub, ['--db', db]);
  if (r) assertOneLine(r, 4, new RegExp(`^sdata-sync serve: ${db}: the store cannot be written \\(SQLITE_READONLY\\S*: attempt to write a readonly database\\): the database file, its directory \\(where SQLite keeps the -wal and -shm files\\) or the file system is read-only$`));
});

test('a writable store in a read-only directory (no room for its -wal and -shm): exit 4, cannot be written', async (t) => {
  const sub = join(dir.dir, 'ro-dir');
  mkdirSync(sub);
  const db = join(sub, 'rw.db');
  newStore(db);
  if (isRoot) chownSync(db, NOBODY, NOBODY);
  chmodSync(sub, 0o555);
  const r = await asUnprivileged(t, sub, ['--db', db]);
  if (r) assertOneLine(r, 4, new RegExp(`^sdata-sync serve: ${db}: the store cannot be written \\(SQLITE_READONLY_DIRECTORY: attempt to write a readonly database\\)`));
});
