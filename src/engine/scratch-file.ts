import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';

/**
 * The engine's scratch files: temporary SQLite databases (node:sqlite) for joining two collections that must not be
 * held in memory, a million resources per side or more. `link` matches natural keys in one (link/join-file.ts);
 * `verify` writes each side into one, possibly from two threads, and joins them in a third (verify/). They are the
 * engine's own files, in a directory of their own that is deleted at the end; they have nothing to do with a
 * provider's store (docs/architecture.md §1).
 *
 * Rows go in as the collections stream by, through `inserter()`s that commit every BATCH rows; the caller then builds
 * the indexes its queries walk, once (one external sort, cheaper than keeping an index up to date through random
 * inserts). No journal and no fsync: a crash loses only scratch files, which the next run makes again. The page cache
 * bounds each file's memory whatever the number of rows; sorts spill to temporary files.
 */

export type Statement = StatementSync;

const BATCH = 10_000;
/** Rows per INSERT statement: one statement call per row cost ~0.3 µs more per row (node:sqlite, 300k rows). */
const ROWS = 16;

/** The page cache: the bound on a file's memory whatever the number of rows (sorts spill to disk). */
const CACHE_KIB = 8 * 1024;

export class ScratchFile {
  /** The directory this file deletes when closed (undefined: a file in a directory someone else removes). */
  readonly #ownDir: string | undefined;
  readonly path: string;
  readonly #db: DatabaseSync;
  #pending = 0;
  /** Each inserter's writer of the rows it holds (flush runs them). */
  readonly #writers: Array<() => void> = [];
  #closed = false;

  /** A new file in a new directory `parent/{prefix}XXXXXX`, with `schema` (SQL) applied; close() removes the directory. */
  static inNewDir(parent: string, prefix: string, schema: string, cacheKiB = CACHE_KIB): ScratchFile {
    const dir = mkdtempSync(join(parent, prefix));
    return new ScratchFile(join(dir, 'scratch.db'), schema, dir, cacheKiB);
  }

  /** A new file at `path`, in a scratch directory another ScratchFile owns (it is removed with that directory). */
  static at(path: string, schema: string, cacheKiB = CACHE_KIB): ScratchFile {
    return new ScratchFile(path, schema, undefined, cacheKiB);
  }

  private constructor(path: string, schema: string, ownDir: string | undefined, cacheKiB: number) {
    this.path = path;
    this.#ownDir = ownDir;
    this.#db = new DatabaseSync(path);
    try {
      this.#db.exec(`PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE; PRAGMA cache_size=-${Math.max(1, Math.floor(cacheKiB))}; ${schema}`);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** The directory everything of this scratch space lives in. */
  get dir(): string {
    return this.#ownDir ?? join(this.path, '..');
  }

  /**
   * Adds rows to `table(columns…)`, in the order given (rowids keep it); rows are written ROWS to a statement,
   * committed in batches, and all written and committed by flush() (which every query runs first).
   */
  inserter(table: string, columns: readonly string[]): (...values: SQLInputValue[]) => void {
    const row = `(${columns.map(() => '?').join(', ')})`;
    const sql = (n: number): string => `INSERT INTO ${table}(${columns.join(', ')}) VALUES ${Array(n).fill(row).join(', ')}`;
    const many = this.#db.prepare(sql(ROWS));
    const one = this.#db.prepare(sql(1));
    const width = columns.length;
    const held: SQLInputValue[] = [];
    const write = (): void => {
      if (held.length === 0) return;
      if (held.length === ROWS * width) many.run(...held);
      else for (let i = 0; i < held.length; i += width) one.run(...held.slice(i, i + width));
      held.length = 0;
    };
    this.#writers.push(write);
    return (...values) => {
      if (this.#pending === 0) this.#db.exec('BEGIN');
      for (const v of values) held.push(v);
      if (held.length === ROWS * width) write();
      if (++this.#pending >= BATCH) this.flush();
    };
  }

  /** Writes the rows held and commits the rows added since the last batch. */
  flush(): void {
    if (this.#pending === 0) return;
    for (const w of this.#writers) w();
    this.#db.exec('COMMIT');
    this.#pending = 0;
  }

  exec(sql: string): void {
    this.flush();
    this.#db.exec(sql);
  }

  /** A query (rows held by an inserter are written first). */
  prepare(sql: string): Statement {
    this.flush();
    return this.#db.prepare(sql);
  }

  /** The page cache's bound in KiB, as SQLite holds it (what the connection may keep in memory). */
  cacheKiB(): number {
    const { cache_size: n } = this.#db.prepare('PRAGMA cache_size').get() as { cache_size: number };
    // Negative: KiB; positive: pages.
    return n < 0 ? -n : (n * (this.#db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size) / 1024;
  }

  /** Another scratch file of the same directory, readable as `alias.table`. */
  attach(path: string, alias: string): void {
    this.flush();
    this.#db.prepare(`ATTACH DATABASE ? AS ${alias}`).run(path);
  }

  /** Closes the file, and removes its directory if it owns one. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#db.isOpen) this.#db.close();
    } finally {
      if (this.#ownDir !== undefined) rmSync(this.#ownDir, { recursive: true, force: true });
    }
  }
}
