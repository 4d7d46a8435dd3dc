import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { Store } from '../../../src/provider/store/store.ts';
import { SCHEMA_VERSION } from '../../../src/provider/store/migrations.ts';

test('a store records the schema version it was brought to, and one from a newer release is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sdata-migrate-'));
  try {
    const path = join(dir, 's.db');
    new Store({ db: path, kinds: ['accounts'] }).close();
    const db = new DatabaseSync(path);
    const row = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string };
    assert.equal(row.value, String(SCHEMA_VERSION));
    db.prepare("UPDATE meta SET value = ? WHERE key = 'schema'").run(String(SCHEMA_VERSION + 1));
    db.close();
    assert.throws(() => new Store({ db: path }), (e: Error) => /newer than this release understands/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
