import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { normalizeEndpoint } from '../../protocol/endpoint.ts';
import { SdataError } from '../../protocol/errors.ts';
import { escapeText } from '../../protocol/escape.ts';
import { AdminQueries } from './admin.ts';
import { Contexts } from './contexts.ts';
import { STORE_DEFAULTS } from './defaults.ts';
import { DigestRepo, nowStamp } from './digest.ts';
import { startupFault, storeFault } from './faults.ts';
import { LinkRepo } from './links.ts';
import { ListingQueries } from './listing.ts';
import { PassFailureRepo } from './pass-failures.ts';
import type { DigestReads, Endpoint, KindInfo, LinkReads, ResourceReads, StoreWriter, SyncStore } from './repositories.ts';
import { ResourceRepo } from './resources.ts';
import { ResultRepo } from './results.ts';
import { migrate } from './migrations.ts';
import { SCHEMA } from './schema.ts';
import { Selections } from './selection.ts';
import { StagedRepo } from './staged.ts';
import { SyncResultsRepo } from './sync-results.ts';
import { TxGuard } from './tx-guard.ts';

export { nowStamp };

export interface StoreOptions {
  /** SQLite file path, or ':memory:'. */
  db: string;
  app?: string;
  contract?: string;
  dataset?: string;
  /** Identity URL base, fixed when the store is created (default http://localhost/sdata/{app}/{contract}/{dataset}). */
  endpointBase?: string;
  kinds?: readonly string[];
  /** conflictPriority of this endpoint in its own digest; undefined = keep (5 for a new kind, docs/protocol.md A39). */
  priority?: number;
  /** SQLite page cache, MiB (default 8: part of the server's RSS; the OS page cache does the rest). */
  cacheMiB?: number;
  /** A quota: writes that would grow the database file past this many MiB fail as a full disk does (setMaxDbMiB). */
  maxDbMiB?: number;
  /** How long a write waits for another connection's lock before it fails with SDATA_E_STORE_BUSY (default 5000). */
  busyTimeoutMs?: number;
}

/** What a resource kind may be called (the server refuses other names in URLs before any work: http/routes.ts). */
export const KIND_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function defaultEndpointBase(app: string, contract: string, dataset: string): string {
  return `http://localhost/sdata/${app}/${contract}/${dataset}`;
}

/** WAL pages after which a commit checkpoints (SQLite's default is 1000; larger coalesces rewrites of hot pages). */
const WAL_AUTOCHECKPOINT = 8192;

const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/** SQLite's own ceiling for max_page_count (the value it starts with). */
const NO_PAGE_LIMIT = 4294967294;

/**
 * The provider store: one SQLite database (node:sqlite, WAL, synchronous=NORMAL), the only code that knows its
 * schema. It holds the catalog of kinds and endpoints (cached: every entry needs them), and repositories whose
 * statements are prepared once, when the store opens. Reads are fields (`resources`, `digest`, `selection`, …);
 * writes exist only on the StoreWriter that `tx()` hands out, and check that its transaction is open. `tx()` writes
 * the digest rows the transaction touched before it commits: data and digest move together.
 */
export class Store implements SyncStore {
  readonly path: string;
  readonly app: string;
  readonly contract: string;
  readonly dataset: string;
  readonly endpointBase: string;

  readonly resources: ResourceReads;
  readonly digest: DigestReads;
  readonly results: ResultRepo;
  readonly selection: Selections;
  readonly listing: ListingQueries;
  /** The linked live resources, for `$linked` (spec 1.3). */
  readonly linkedListing: ListingQueries;
  readonly links: LinkReads;
  readonly admin: AdminQueries;
  readonly syncResults: SyncResultsRepo;
  /** Called after each committed transaction (a background checkpointer counts them: checkpointer.ts). */
  onCommit: (() => void) | undefined = undefined;

  readonly #db: DatabaseSync;
  readonly #busyTimeoutMs: number;
  // Whether SQLite still has the transaction open: it rolls one back by itself after SQLITE_FULL and some I/O errors.
  readonly #guard = new TxGuard(() => this.#db.isTransaction);
  readonly #digest: DigestRepo;
  readonly #failures: PassFailureRepo;
  readonly #writer: StoreWriter;
  readonly #kindsByName = new Map<string, KindInfo>();
  readonly #kindsById = new Map<number, KindInfo>();
  readonly #eps = new Map<number, Endpoint>();
  readonly #epsByNorm = new Map<string, number>();
  /** Raw endpoint text → id: saves a normalisation per entry. Cleared when large (hostile feeds). */
  readonly #epsByRaw = new Map<string, number>();
  readonly #sInsEndpoint: StatementSync;
  readonly #sInsKind: StatementSync;
  #closed = false;

  constructor(o: StoreOptions) {
    this.path = o.db;
    this.#busyTimeoutMs = Math.max(0, Math.floor(o.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS));
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(o.db);
    } catch (e) {
      throw this.openingError(e);
    }
    this.#db = db;
    try {
      // busy_timeout first: every later statement may meet another process's lock.
      db.exec(`PRAGMA busy_timeout=${this.#busyTimeoutMs}`);
      if (o.db !== ':memory:') db.exec('PRAGMA journal_mode=WAL');
      const cacheKiB = Math.max(1, Math.round((o.cacheMiB ?? STORE_DEFAULTS.cacheMiB) * 1024));
      db.exec(`PRAGMA synchronous=NORMAL; PRAGMA cache_size=-${cacheKiB}; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=${WAL_AUTOCHECKPOINT}`);
      if (o.maxDbMiB !== undefined) this.setMaxDbMiB(o.maxDbMiB);
      db.exec(SCHEMA);
      const meta = new Map<string, string>();
      for (const r of db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>) meta.set(r.key, r.value);
      const app = o.app ?? meta.get('app') ?? STORE_DEFAULTS.app;
      const contract = o.contract ?? meta.get('contract') ?? STORE_DEFAULTS.contract;
      const dataset = o.dataset ?? meta.get('dataset') ?? STORE_DEFAULTS.dataset;
      const storedBase = meta.get('endpoint_base');
      if (storedBase !== undefined && o.endpointBase !== undefined && normalizeEndpoint(o.endpointBase) !== normalizeEndpoint(storedBase)) {
        throw new SdataError('SDATA_E_USAGE', `${o.db}: this store's endpoint base is ${storedBase}; it was fixed when the store was created and cannot become ${o.endpointBase}`);
      }
      for (const [k, v] of [['app', app], ['contract', contract], ['dataset', dataset]] as const) {
        const had = meta.get(k);
        if (had !== undefined && had !== v) {
          throw new SdataError('SDATA_E_USAGE', `${o.db}: this store serves ${k} '${had}', not '${v}'`);
        }
      }
      this.app = app;
      this.contract = contract;
      this.dataset = dataset;
      this.endpointBase = (storedBase ?? o.endpointBase ?? defaultEndpointBase(app, contract, dataset)).replace(/\/+$/, '');
      if (storedBase === undefined) {
        const ins = db.prepare('INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)');
        ins.run('schema', '1');
        ins.run('endpoint_base', this.endpointBase);
        ins.run('app', app);
        ins.run('contract', contract);
        ins.run('dataset', dataset);
        ins.run('created', nowStamp());
      }
      // A new store is created at version 1 (SCHEMA) and brought forward like any other.
      migrate(db, Number(meta.get('schema') ?? '1'), o.db);

      this.#sInsEndpoint = db.prepare('INSERT INTO endpoints(norm, url) VALUES(?, ?)');
      this.#sInsKind = db.prepare('INSERT INTO kinds(name, self_ep) VALUES(?, ?)');
      const tx = <T>(fn: () => T): T => this.tx(fn);
      const resources = new ResourceRepo(db, this.#guard);
      this.#digest = new DigestRepo(db, this, resources, this.#guard, tx);
      this.#failures = new PassFailureRepo(db, this.#guard);
      const links = new LinkRepo(db, this.#guard, resources);
      this.#writer = Object.freeze({ links, resources, digest: this.#digest, staged: new StagedRepo(db, this.#guard), failures: this.#failures });
      this.resources = resources;
      this.links = links;
      this.digest = this.#digest;
      this.results = new ResultRepo(db, this.#guard);
      this.selection = new Selections(db, this);
      this.listing = new ListingQueries(db);
      this.linkedListing = new ListingQueries(db, true);
      this.admin = new AdminQueries(db, this);
      this.syncResults = new SyncResultsRepo(db, tx);

      this.#loadEndpoints();
      this.#loadKinds();
      for (const k of o.kinds ?? []) this.ensureKind(k, o.priority);
      if (o.priority !== undefined) for (const k of this.#kindsByName.values()) this.#digest.setOwnPriority(k, o.priority);
    } catch (e) {
      db.close();
      throw this.openingError(e);
    }
  }

  /**
   * A store fault met while opening the store or preparing to serve it, worded for the operator (the path leads);
   * other errors unchanged.
   */
  openingError(e: unknown): unknown {
    const f = storeFault(e, { path: this.path, busyTimeoutMs: this.#busyTimeoutMs, txLost: false });
    return f ? startupFault(f, this.path) : e;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.path !== ':memory:') this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    } catch {
      // A full disk or a lock elsewhere: the WAL stays beside the file, a valid state that the next open replays.
    } finally {
      this.#db.close();
    }
  }

  get isOpen(): boolean {
    return !this.#closed;
  }

  /** The context registry of a running provider: marks work a previous process left unfinished, expires idle contexts. */
  openContexts(ttlMs: number, now?: () => number): Contexts {
    return new Contexts(this.#db, (fn) => this.tx(fn), () => this.isOpen && !this.inTx, (e) => this.fault(e) !== undefined, this.#failures, ttlMs, now);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // transactions

  tx<T>(fn: (w: StoreWriter) => T): T {
    const guard = this.#guard;
    if (guard.depth > 0) return fn(this.#writer);
    const db = this.#db;
    try {
      // A transaction left open by a ROLLBACK that failed (below) would make BEGIN fail for good.
      if (db.isTransaction) db.exec('ROLLBACK');
      // IMMEDIATE: the write lock is taken (or SQLITE_BUSY met) here, before any work, not by the first write.
      db.exec('BEGIN IMMEDIATE');
    } catch (e) {
      throw this.fault(e) ?? e;
    }
    guard.depth = 1;
    guard.serial++;
    try {
      const r = fn(this.#writer);
      // Gone if a statement failed in a way that makes SQLite roll back, and the error was caught inside fn.
      if (!db.isTransaction) throw new Error('an error caught inside the transaction');
      this.#digest.flush();
      db.exec('COMMIT');
      this.onCommit?.();
      return r;
    } catch (e) {
      const f = this.fault(e);
      try {
        // SQLite may have rolled the transaction back itself (SQLITE_FULL does): a second ROLLBACK would fail and
        // hide why.
        if (db.isTransaction) db.exec('ROLLBACK');
      } catch {
        // The error that got us here says more; BEGIN retries the rollback.
      }
      this.#reloadCaches();
      throw f ?? e;
    } finally {
      guard.depth = 0;
    }
  }

  /**
   * The store fault `e` is (faults.ts: full, busy, read-only, corrupt, I/O), or undefined when it is an ordinary
   * error. Code that catches errors per entry asks this first and rethrows a fault: the transaction is over.
   */
  fault(e: unknown): SdataError | undefined {
    const txLost = this.#guard.depth > 0 && !this.#closed && !this.#db.isTransaction;
    return storeFault(e, { path: this.path, busyTimeoutMs: this.#busyTimeoutMs, txLost });
  }

  /**
   * The store's quota: writes that need the database file to grow past `mib` MiB fail with SDATA_E_STORE_FULL (507),
   * as on a full disk; undefined lifts it. Pages freed inside the file (deleted contexts and results) are reused
   * first. A store already larger keeps its size: SQLite never sets the limit below the pages in use. The WAL is
   * not counted.
   */
  setMaxDbMiB(mib: number | undefined): void {
    const pageSize = (this.#db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
    const pages = mib === undefined ? NO_PAGE_LIMIT : Math.max(1, Math.floor((mib * 1024 * 1024) / pageSize));
    this.#db.exec(`PRAGMA max_page_count=${pages}`);
  }

  get inTx(): boolean {
    return this.#guard.depth > 0;
  }

  #reloadCaches(): void {
    this.#digest.reset();
    this.#eps.clear();
    this.#epsByNorm.clear();
    this.#epsByRaw.clear();
    try {
      this.#loadEndpoints();
    } catch {
      // An unreadable store (the fault being thrown says so); endpoint() then fails loudly rather than guessing.
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // the catalog: endpoints and kinds

  #loadEndpoints(): void {
    for (const r of this.#db.prepare('SELECT id, norm, url FROM endpoints').all() as Array<{ id: number; norm: string; url: string }>) {
      this.#eps.set(r.id, { id: r.id, norm: r.norm, url: r.url, xml: escapeText(r.url) });
      this.#epsByNorm.set(r.norm, r.id);
    }
  }

  #loadKinds(): void {
    for (const r of this.#db.prepare('SELECT id, name, self_ep FROM kinds').all() as Array<{ id: number; name: string; self_ep: number }>) {
      const k: KindInfo = { id: r.id, name: r.name, selfEp: r.self_ep, selfUrl: this.endpoint(r.self_ep).url };
      this.#kindsByName.set(k.name, k);
      this.#kindsById.set(k.id, k);
    }
  }

  endpointId(raw: string): number {
    const hit = this.#epsByRaw.get(raw);
    if (hit !== undefined) return hit;
    const norm = normalizeEndpoint(raw);
    let id = this.#epsByNorm.get(norm);
    if (id === undefined) {
      const url = raw.trim();
      id = Number(this.#sInsEndpoint.run(norm, url).lastInsertRowid);
      this.#eps.set(id, { id, norm, url, xml: escapeText(url) });
      this.#epsByNorm.set(norm, id);
    }
    if (this.#epsByRaw.size > 10_000) this.#epsByRaw.clear();
    this.#epsByRaw.set(raw, id);
    return id;
  }

  knownEndpointId(raw: string): number | undefined {
    return this.#epsByRaw.get(raw) ?? this.#epsByNorm.get(normalizeEndpoint(raw));
  }

  endpoint(id: number): Endpoint {
    const e = this.#eps.get(id);
    if (!e) throw new Error(`unknown endpoint id ${id}`);
    return e;
  }

  kind(name: string): KindInfo | undefined {
    return this.#kindsByName.get(name);
  }

  kindById(id: number): KindInfo {
    const k = this.#kindsById.get(id);
    if (!k) throw new Error(`unknown kind id ${id}`);
    return k;
  }

  get kinds(): KindInfo[] {
    return [...this.#kindsByName.values()];
  }

  /** The kind, created with its own digest entry (tick 1) if new. */
  ensureKind(name: string, priority?: number): KindInfo {
    const have = this.#kindsByName.get(name);
    if (have) return have;
    if (!KIND_NAME.test(name)) throw new SdataError('SDATA_E_USAGE', `'${name}' is not a valid resource kind name`);
    return this.tx(() => {
      const selfEp = this.endpointId(`${this.endpointBase}/${name}`);
      const id = Number(this.#sInsKind.run(name, selfEp).lastInsertRowid);
      const k: KindInfo = { id, name, selfEp, selfUrl: this.endpoint(selfEp).url };
      this.#kindsByName.set(name, k);
      this.#kindsById.set(id, k);
      this.#digest.init(k, priority ?? STORE_DEFAULTS.priority);
      return k;
    });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // WAL checkpoints

  /**
   * While another connection checkpoints in the background (checkpointer.ts), commits here leave the WAL alone up to
   * a 4x larger backstop: a checkpoint inside a commit stalls the writer for 20-40 ms each time (measured: about a
   * quarter of a 1M-entry target pass). `false` restores the usual threshold.
   */
  deferCheckpoints(on: boolean): void {
    if (this.path === ':memory:') return;
    this.#db.exec(`PRAGMA wal_autocheckpoint=${on ? 4 * WAL_AUTOCHECKPOINT : WAL_AUTOCHECKPOINT}`);
  }

  /** This connection's wal_autocheckpoint (pages). */
  walAutocheckpoint(): number {
    return (this.#db.prepare('PRAGMA wal_autocheckpoint').get() as { wal_autocheckpoint: number }).wal_autocheckpoint;
  }
}
