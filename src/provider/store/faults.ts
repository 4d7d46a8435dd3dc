import { SdataError, type SdataErrorCode } from '../../protocol/errors.ts';

/**
 * Store faults: SQLite failures that are about the store, not about the request or the entry being applied — the
 * disk is full, another process holds the write lock, the file cannot be written, read or trusted. They end the
 * request (and the transaction) they happen in, whatever it was doing: a per-entry failure would go on writing
 * after SQLite has rolled the transaction back (it does so for SQLITE_FULL and some I/O errors), in autocommit
 * mode, with the digest no longer moving with the data. Each maps to one SdataError code (protocol/errors.ts), so
 * to one HTTP status and one exit code:
 *
 * | SQLite | code | HTTP | serve exit |
 * |---|---|---|---|
 * | FULL (disk full, --max-db-mib) | SDATA_E_STORE_FULL | 507 | 9 |
 * | BUSY, LOCKED beyond busy_timeout | SDATA_E_STORE_BUSY | 503 + Retry-After | 4 |
 * | READONLY | SDATA_E_STORE_READONLY | 500 | 4 |
 * | CORRUPT, NOTADB | SDATA_E_STORE_CORRUPT | 500 | 4 |
 * | IOERR, CANTOPEN, NOMEM, PROTOCOL; a transaction SQLite rolled back by itself | SDATA_E_STORE_IO | 500 | 4 |
 *
 * Anything else SQLite reports (a constraint, a value too big) stays an ordinary error: it fails one entry.
 * Messages name neither the file nor its directory (they go to HTTP clients); `details.source` holds the path for
 * the provider's own log and for startup errors.
 */

/** Primary result codes (sqlite3.h); node:sqlite's `errcode` is the extended code, whose low byte is the primary. */
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_NOMEM = 7;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_PROTOCOL = 15;
const SQLITE_NOTADB = 26;

/** Names of the extended codes a user is likely to meet, for messages (others print as a number). */
const EXTENDED: Record<number, string> = {
  261: 'SQLITE_BUSY_RECOVERY', 517: 'SQLITE_BUSY_SNAPSHOT', 773: 'SQLITE_BUSY_TIMEOUT',
  264: 'SQLITE_READONLY_RECOVERY', 520: 'SQLITE_READONLY_CANTLOCK', 776: 'SQLITE_READONLY_ROLLBACK',
  1032: 'SQLITE_READONLY_DBMOVED', 1288: 'SQLITE_READONLY_CANTINIT', 1544: 'SQLITE_READONLY_DIRECTORY',
  266: 'SQLITE_IOERR_READ', 522: 'SQLITE_IOERR_SHORT_READ', 778: 'SQLITE_IOERR_WRITE', 1034: 'SQLITE_IOERR_FSYNC',
  1546: 'SQLITE_IOERR_TRUNCATE', 1802: 'SQLITE_IOERR_FSTAT', 3338: 'SQLITE_IOERR_ACCESS', 3850: 'SQLITE_IOERR_LOCK',
  4618: 'SQLITE_IOERR_SHMOPEN', 4874: 'SQLITE_IOERR_SHMSIZE', 5386: 'SQLITE_IOERR_SHMMAP', 6410: 'SQLITE_IOERR_GETTEMPPATH',
  779: 'SQLITE_CORRUPT_INDEX', 267: 'SQLITE_CORRUPT_VTAB', 523: 'SQLITE_CORRUPT_SEQUENCE',
  270: 'SQLITE_CANTOPEN_NOTEMPDIR', 526: 'SQLITE_CANTOPEN_ISDIR', 782: 'SQLITE_CANTOPEN_FULLPATH',
};

const PRIMARY: Record<number, string> = {
  [SQLITE_BUSY]: 'SQLITE_BUSY', [SQLITE_LOCKED]: 'SQLITE_LOCKED', [SQLITE_NOMEM]: 'SQLITE_NOMEM', [SQLITE_READONLY]: 'SQLITE_READONLY',
  [SQLITE_IOERR]: 'SQLITE_IOERR', [SQLITE_CORRUPT]: 'SQLITE_CORRUPT', [SQLITE_FULL]: 'SQLITE_FULL', [SQLITE_CANTOPEN]: 'SQLITE_CANTOPEN',
  [SQLITE_PROTOCOL]: 'SQLITE_PROTOCOL', [SQLITE_NOTADB]: 'SQLITE_NOTADB',
};

const FAULT_CODES: ReadonlySet<SdataErrorCode> = new Set([
  'SDATA_E_STORE_FULL', 'SDATA_E_STORE_BUSY', 'SDATA_E_STORE_READONLY', 'SDATA_E_STORE_CORRUPT', 'SDATA_E_STORE_IO',
]);

/** An error already classified as a store fault. */
export function isStoreFault(e: unknown): e is SdataError {
  return e instanceof SdataError && FAULT_CODES.has(e.code);
}

interface SqliteError {
  errcode: number;
  errstr: string;
  message: string;
}

function sqliteError(e: unknown): SqliteError | undefined {
  const x = e as { code?: unknown; errcode?: unknown; errstr?: unknown; message?: unknown } | null;
  if (x === null || typeof x !== 'object' || x.code !== 'ERR_SQLITE_ERROR' || typeof x.errcode !== 'number') return undefined;
  return { errcode: x.errcode, errstr: typeof x.errstr === 'string' ? x.errstr : '', message: typeof x.message === 'string' ? x.message : '' };
}

function codeName(ext: number): string {
  return EXTENDED[ext] ?? PRIMARY[ext & 0xff] ?? `SQLite error ${ext}`;
}

export interface FaultContext {
  /** The database file (kept in `details.source`, never in the message). */
  path: string;
  /** The busy timeout in force, for the SQLITE_BUSY message. */
  busyTimeoutMs: number;
  /** Whether a transaction was meant to be open but SQLite no longer has one (it rolled it back itself). */
  txLost: boolean;
}

/**
 * The store fault `e` is, or undefined if it is not one. A fault already classified is returned as it is; an error
 * of any kind while SQLite has dropped the transaction the store had open is one (SDATA_E_STORE_IO, unless its own
 * code says more).
 */
export function storeFault(e: unknown, ctx: FaultContext): SdataError | undefined {
  if (isStoreFault(e)) return e;
  const s = sqliteError(e);
  const what = s ? `${codeName(s.errcode)}: ${s.message}` : '';
  const fault = (code: SdataErrorCode, message: string): SdataError => new SdataError(code, message, { source: ctx.path, cause: e });
  switch (s ? s.errcode & 0xff : -1) {
    case SQLITE_FULL:
      return fault('SDATA_E_STORE_FULL', `this provider's store is full (${what}): the disk holding it has no space left, or the store reached its --max-db-mib quota; ` +
        'the failed transaction was rolled back whole, and the store accepts writes again as soon as space is freed (no restart needed)');
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return fault('SDATA_E_STORE_BUSY', `this provider's store is locked by another connection (${what}) beyond its ${ctx.busyTimeoutMs} ms busy timeout: ` +
        'another process is writing to the database file; try again later');
    case SQLITE_READONLY:
      return fault('SDATA_E_STORE_READONLY', `this provider's store cannot be written (${what}): the database file, its directory (where SQLite keeps ` +
        'the -wal and -shm files) or the file system is read-only');
    case SQLITE_CORRUPT:
      return fault('SDATA_E_STORE_CORRUPT', `this provider's store is corrupt (${what}): restore it from a backup (the sqlite3 shell's .recover may save what is left)`);
    case SQLITE_NOTADB:
      return fault('SDATA_E_STORE_CORRUPT', `this provider's store is not an SQLite database (${what})`);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return fault('SDATA_E_STORE_IO', `I/O error on this provider's store (${what})`);
    default:
      if (!ctx.txLost) return undefined;
      return fault('SDATA_E_STORE_IO', `SQLite rolled back the store's transaction after an error (${s ? what : (e as Error)?.message ?? String(e)}); nothing of it was written`);
  }
}

/** A fault met while opening the store, worded for the operator: the path leads. */
export function startupFault(e: SdataError, path: string): SdataError {
  const hint = e.code === 'SDATA_E_STORE_IO' ? '; check that the file and its directory exist and are readable and writable (SQLite creates FILE-wal and FILE-shm beside it)' : '';
  return new SdataError(e.code, `${path}: ${e.message.replaceAll("this provider's store", 'the store')}${hint}`, { source: path, cause: e.details.cause ?? e });
}
