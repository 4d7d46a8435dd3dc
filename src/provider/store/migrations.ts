import type { DatabaseSync } from 'node:sqlite';
import { SdataError } from '../../protocol/errors.ts';

/**
 * Schema changes after version 1 (the base `SCHEMA`), applied in order, each in its own transaction, when a store
 * is opened. A store remembers the last version it applied (`meta.schema`); one written by a newer release is
 * refused rather than misread. A new feature that changes the schema appends a step here and never edits an old one:
 * stores in the field have already run it.
 */
export interface Migration {
  version: number;
  /** What the step is for, in a few words (it is printed if the step fails). */
  why: string;
  up: (db: DatabaseSync) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 2,
    why: 'async contexts belong to the principal that created them',
    up: (db) => {
      // '' is the principal of requests without authentication: contexts made before this step keep it.
      db.exec("ALTER TABLE contexts ADD COLUMN principal TEXT NOT NULL DEFAULT ''");
      // A trackingID names a context within one principal's contexts: another principal's POST with the same id
      // gets a context of its own. The index keeps its name, so that SCHEMA's `CREATE UNIQUE INDEX IF NOT EXISTS
      // contexts_tracking`, run at every open, finds it and leaves it as it is.
      db.exec('DROP INDEX contexts_tracking');
      db.exec('CREATE UNIQUE INDEX contexts_tracking ON contexts(kind, type, principal, tracking)');
    },
  },
  /**
   * resources.linked: 0 for a resource that has no link yet (spec 1.2: no uuid until linked). Such a row still holds
   * a uuid, a random one nobody has seen, which its first link may adopt; its payload carries none. The partial
   * index holds only those rows, so updates of linked rows never touch it.
   * uuid_aliases: uuids a resource held before it was re-pointed (spec 1.2, A24): sync and `$linked` still resolve
   * them to it. Looked up only when the uuid index misses, so applying entries pays nothing for them.
   */
  {
    version: 3,
    why: 'UUID linking: resources without a link, and old uuids kept as aliases (spec 1.2, 1.3)',
    up: (db) => db.exec(`
      ALTER TABLE resources ADD COLUMN linked INTEGER NOT NULL DEFAULT 1;
      CREATE INDEX resources_unlinked ON resources(kind, id) WHERE linked = 0;
      CREATE TABLE uuid_aliases(kind INTEGER NOT NULL, uuid TEXT NOT NULL, resource INTEGER NOT NULL, created TEXT NOT NULL,
        PRIMARY KEY(kind, uuid)) WITHOUT ROWID;
      CREATE INDEX uuid_aliases_resource ON uuid_aliases(resource);`),
  },
];

export const SCHEMA_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 1);

/** Brings a store opened at `from` up to SCHEMA_VERSION. */
export function migrate(db: DatabaseSync, from: number, path: string): void {
  if (from > SCHEMA_VERSION) {
    throw new SdataError('SDATA_E_USAGE', `${path}: this store has schema version ${from}, newer than this release understands (${SCHEMA_VERSION}); use a newer sdata-sync`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= from) continue;
    db.exec('BEGIN IMMEDIATE');
    try {
      m.up(db);
      db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES('schema', ?)").run(String(m.version));
      db.exec('COMMIT');
    } catch (e) {
      // SQLite may have rolled back already (SQLITE_FULL does); a second ROLLBACK would fail and hide why.
      if (db.isTransaction) db.exec('ROLLBACK');
      throw new SdataError('SDATA_E_IO', `${path}: schema migration to version ${m.version} (${m.why}) failed: ${(e as Error).message}`, { cause: e });
    }
  }
}
