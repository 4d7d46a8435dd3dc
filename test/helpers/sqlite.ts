import { DatabaseSync } from 'node:sqlite';

/**
 * `PRAGMA integrity_check` of a store file on a read-only connection of its own ('ok' when sound): what a restarted
 * provider will find, the WAL a killed one left behind included. Every problem SQLite lists, joined by '; '.
 */
export function integrityCheck(db: string): string {
  const d = new DatabaseSync(db, { readOnly: true });
  try {
    const rows = d.prepare('PRAGMA integrity_check').all() as Array<{ integrity_check: string }>;
    return rows.map((r) => r.integrity_check).join('; ');
  } finally {
    d.close();
  }
}
