import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { emptyDigest, setDigestEntry, type Digest } from '../../protocol/digest.ts';
import { normalizeEndpoint } from '../../protocol/endpoint.ts';
import { SdataError } from '../../protocol/errors.ts';
import { escapeText } from '../../protocol/escape.ts';
import { maxTick, nextTick, tickLess, type Tick } from '../../protocol/ticks.ts';
import { SCHEMA, SCHEMA_VERSION } from './schema.ts';
import { tickKey, tickOfKey } from './tick-key.ts';

export interface StoreOptions {
  /** SQLite file path, or ':memory:'. */
  db: string;
  app?: string;
  contract?: string;
  dataset?: string;
  /** Identity URL base, fixed when the store is created (default http://localhost/sdata/{app}/{contract}/{dataset}). */
  endpointBase?: string;
  kinds?: readonly string[];
  /** conflictPriority of this endpoint in its own digest; undefined = keep (5 for a new kind, brief A39). */
  priority?: number;
  /** SQLite page cache, MiB (default 8: part of the server's RSS; the OS page cache does the rest). */
  cacheMiB?: number;
}

export interface KindInfo {
  id: number;
  name: string;
  selfEp: number;
  /** The kind's endpoint identity URL: what digests and syncStates name. */
  selfUrl: string;
}

export interface Endpoint {
  id: number;
  norm: string;
  url: string;
  /** `url` escaped for XML text. */
  xml: string;
}

export interface DigestRow {
  ep: number;
  tick: Tick;
  stamp: string;
  prio: number;
}

export interface ResourceRow {
  id: number;
  uuid: string;
  deleted: boolean;
  ep: number;
  tick: Tick;
  stamp: string;
  user: string | null;
  payload: string;
}

/** A resource row as SQLite returns it (ticks as tick keys, flags as integers). */
export interface RawResource {
  id: number;
  uuid: string;
  deleted: number;
  ep: number;
  tick: string;
  stamp: string;
  user: string | null;
  payload: string;
}

export const DEFAULT_PRIORITY = 5;

export function defaultEndpointBase(app: string, contract: string, dataset: string): string {
  return `http://localhost/sdata/${app}/${contract}/${dataset}`;
}

/** The contract namespace of a contract name (payload elements of generated and schema-described resources). */
export const contractNamespace = (contract: string): string => `http://schemas.sage.com/${contract}`;

export const nowStamp = (): string => new Date().toISOString();

function toRow(r: RawResource): ResourceRow {
  return { id: r.id, uuid: r.uuid, deleted: r.deleted !== 0, ep: r.ep, tick: tickOfKey(r.tick), stamp: r.stamp, user: r.user, payload: r.payload };
}

/** UUIDs match in either case (brief §2.2); rows keep them lower-cased, payloads keep them as written. */
export const uuidKey = (u: string): string => u.trim().toLowerCase();

/** WAL pages after which a commit checkpoints (SQLite's default is 1000; larger coalesces rewrites of hot pages). */
const WAL_AUTOCHECKPOINT = 8192;

/**
 * The provider store: one SQLite database (node:sqlite, WAL, synchronous=NORMAL), prepared statements made once,
 * small in-memory caches of what every entry needs (endpoints, digests). All writes go through `tx()`, which
 * flushes the digest rows touched by the transaction before it commits: data and digest move together.
 */
export class Store {
  readonly db: DatabaseSync;
  readonly path: string;
  readonly app: string;
  readonly contract: string;
  readonly dataset: string;
  readonly endpointBase: string;

  private readonly kindsByName = new Map<string, KindInfo>();
  private readonly kindsById = new Map<number, KindInfo>();
  private readonly eps = new Map<number, Endpoint>();
  private readonly epsByNorm = new Map<string, number>();
  /** Raw endpoint text → id: saves a normalisation per entry. Cleared when large (hostile feeds). */
  private readonly epsByRaw = new Map<string, number>();
  private readonly digests = new Map<number, Map<number, DigestRow>>();
  private readonly dirty = new Map<number, Set<number>>();
  private txDepth = 0;
  private closed = false;
  /** Called after each committed transaction (a background checkpointer counts them: checkpointer.ts). */
  onCommit: (() => void) | undefined = undefined;

  // statements
  private readonly sInsEndpoint: StatementSync;
  private readonly sDigestOf: StatementSync;
  private readonly sDigestUpsert: StatementSync;
  private readonly sByUuid: StatementSync;
  private readonly sById: StatementSync;
  private readonly sInsert: StatementSync;
  private readonly sUpdate: StatementSync;

  constructor(o: StoreOptions) {
    this.path = o.db;
    const db = new DatabaseSync(o.db);
    this.db = db;
    try {
      if (o.db !== ':memory:') db.exec('PRAGMA journal_mode=WAL');
      const cacheKiB = Math.max(1, Math.round((o.cacheMiB ?? 8) * 1024));
      db.exec(`PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA cache_size=-${cacheKiB}; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=${WAL_AUTOCHECKPOINT}`);
      db.exec(SCHEMA);
      const meta = new Map<string, string>();
      for (const r of db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>) meta.set(r.key, r.value);
      const app = o.app ?? meta.get('app') ?? 'hub';
      const contract = o.contract ?? meta.get('contract') ?? 'crm';
      const dataset = o.dataset ?? meta.get('dataset') ?? '-';
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
        ins.run('schema', SCHEMA_VERSION);
        ins.run('endpoint_base', this.endpointBase);
        ins.run('app', app);
        ins.run('contract', contract);
        ins.run('dataset', dataset);
        ins.run('created', nowStamp());
      }

      this.sInsEndpoint = db.prepare('INSERT INTO endpoints(norm, url) VALUES(?, ?)');
      this.sDigestOf = db.prepare('SELECT ep, tick, stamp, prio FROM digest WHERE kind = ?');
      this.sDigestUpsert = db.prepare('INSERT INTO digest(kind, ep, tick, stamp, prio) VALUES(?, ?, ?, ?, ?) ' +
        'ON CONFLICT(kind, ep) DO UPDATE SET tick = excluded.tick, stamp = excluded.stamp, prio = excluded.prio');
      this.sByUuid = db.prepare('SELECT id, uuid, deleted, ep, tick, stamp, user, payload FROM resources WHERE kind = ? AND uuid = ?');
      this.sById = db.prepare('SELECT id, uuid, deleted, ep, tick, stamp, user, payload FROM resources WHERE kind = ? AND id = ?');
      this.sInsert = db.prepare('INSERT INTO resources(kind, uuid, deleted, ep, tick, stamp, user, payload) VALUES(?, ?, ?, ?, ?, ?, ?, ?)');
      this.sUpdate = db.prepare('UPDATE resources SET deleted = ?, ep = ?, tick = ?, stamp = ?, user = ?, payload = ? WHERE id = ?');

      this.loadEndpoints();
      this.loadKinds();
      for (const k of o.kinds ?? []) this.ensureKind(k, o.priority);
      if (o.priority !== undefined) for (const k of this.kindsByName.values()) this.setSelfPriority(k, o.priority);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.path !== ':memory:') this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.close();
    }
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // transactions

  /** Runs `fn` in a transaction (joins an enclosing one). Touched digest rows are written before COMMIT. */
  tx<T>(fn: () => T): T {
    if (this.txDepth > 0) return fn();
    this.db.exec('BEGIN');
    this.txDepth = 1;
    try {
      const r = fn();
      this.flushDigests();
      this.db.exec('COMMIT');
      this.onCommit?.();
      return r;
    } catch (e) {
      try {
        this.db.exec('ROLLBACK');
      } finally {
        this.reloadCaches();
      }
      throw e;
    } finally {
      this.txDepth = 0;
    }
  }

  get inTx(): boolean {
    return this.txDepth > 0;
  }

  private reloadCaches(): void {
    this.dirty.clear();
    this.digests.clear();
    this.eps.clear();
    this.epsByNorm.clear();
    this.epsByRaw.clear();
    this.loadEndpoints();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // endpoints and kinds

  private loadEndpoints(): void {
    for (const r of this.db.prepare('SELECT id, norm, url FROM endpoints').all() as Array<{ id: number; norm: string; url: string }>) {
      this.eps.set(r.id, { id: r.id, norm: r.norm, url: r.url, xml: escapeText(r.url) });
      this.epsByNorm.set(r.norm, r.id);
    }
  }

  private loadKinds(): void {
    for (const r of this.db.prepare('SELECT id, name, self_ep FROM kinds').all() as Array<{ id: number; name: string; self_ep: number }>) {
      const k: KindInfo = { id: r.id, name: r.name, selfEp: r.self_ep, selfUrl: this.endpoint(r.self_ep).url };
      this.kindsByName.set(k.name, k);
      this.kindsById.set(k.id, k);
    }
  }

  /** The id of an endpoint URL, interned on first sight (compared after normalisation, brief A27). */
  endpointId(raw: string): number {
    const hit = this.epsByRaw.get(raw);
    if (hit !== undefined) return hit;
    const norm = normalizeEndpoint(raw);
    let id = this.epsByNorm.get(norm);
    if (id === undefined) {
      const url = raw.trim();
      id = Number(this.sInsEndpoint.run(norm, url).lastInsertRowid);
      this.eps.set(id, { id, norm, url, xml: escapeText(url) });
      this.epsByNorm.set(norm, id);
    }
    if (this.epsByRaw.size > 10_000) this.epsByRaw.clear();
    this.epsByRaw.set(raw, id);
    return id;
  }

  /** The id of an endpoint if this store has ever seen it. */
  knownEndpointId(raw: string): number | undefined {
    return this.epsByRaw.get(raw) ?? this.epsByNorm.get(normalizeEndpoint(raw));
  }

  endpoint(id: number): Endpoint {
    const e = this.eps.get(id);
    if (!e) throw new Error(`unknown endpoint id ${id}`);
    return e;
  }

  kind(name: string): KindInfo | undefined {
    return this.kindsByName.get(name);
  }

  kindById(id: number): KindInfo {
    const k = this.kindsById.get(id);
    if (!k) throw new Error(`unknown kind id ${id}`);
    return k;
  }

  get kinds(): KindInfo[] {
    return [...this.kindsByName.values()];
  }

  /** The kind, created with its own digest entry (tick 1) if new. */
  ensureKind(name: string, priority?: number): KindInfo {
    const have = this.kindsByName.get(name);
    if (have) return have;
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) throw new SdataError('SDATA_E_USAGE', `'${name}' is not a valid resource kind name`);
    return this.tx(() => {
      const selfEp = this.endpointId(`${this.endpointBase}/${name}`);
      const id = Number(this.db.prepare('INSERT INTO kinds(name, self_ep) VALUES(?, ?)').run(name, selfEp).lastInsertRowid);
      const k: KindInfo = { id, name, selfEp, selfUrl: this.endpoint(selfEp).url };
      this.kindsByName.set(name, k);
      this.kindsById.set(id, k);
      this.digestOf(k.id).set(selfEp, { ep: selfEp, tick: '1', stamp: nowStamp(), prio: priority ?? DEFAULT_PRIORITY });
      this.markDirty(k.id, selfEp);
      return k;
    });
  }

  setSelfPriority(k: KindInfo, prio: number): void {
    const row = this.digestOf(k.id).get(k.selfEp);
    if (row && row.prio !== prio) {
      this.tx(() => {
        row.prio = prio;
        this.markDirty(k.id, k.selfEp);
      });
    }
  }

  /**
   * While another connection checkpoints in the background (checkpointer.ts), commits here leave the WAL alone up to
   * a 4x larger backstop: a checkpoint inside a commit stalls the writer for 20-40 ms each time (measured: about a
   * quarter of a 1M-entry target pass). `false` restores the usual threshold.
   */
  deferCheckpoints(on: boolean): void {
    if (this.path === ':memory:') return;
    this.db.exec(`PRAGMA wal_autocheckpoint=${on ? 4 * WAL_AUTOCHECKPOINT : WAL_AUTOCHECKPOINT}`);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // digests

  /** The kind's digest rows by endpoint id (cached; mutate only through the methods below). */
  digestOf(kind: number): Map<number, DigestRow> {
    let d = this.digests.get(kind);
    if (!d) {
      d = new Map();
      for (const r of this.sDigestOf.all(kind) as Array<{ ep: number; tick: string; stamp: string; prio: number }>) {
        d.set(r.ep, { ep: r.ep, tick: tickOfKey(r.tick), stamp: r.stamp, prio: r.prio });
      }
      this.digests.set(kind, d);
    }
    return d;
  }

  private markDirty(kind: number, ep: number): void {
    if (this.txDepth === 0) throw new Error('digest change outside a transaction');
    let s = this.dirty.get(kind);
    if (!s) this.dirty.set(kind, (s = new Set()));
    s.add(ep);
  }

  private flushDigests(): void {
    for (const [kind, eps] of this.dirty) {
      const d = this.digestOf(kind);
      for (const ep of eps) {
        const r = d.get(ep)!;
        this.sDigestUpsert.run(kind, ep, tickKey(r.tick), r.stamp, r.prio);
      }
    }
    this.dirty.clear();
  }

  /** The digest as the protocol model (origin = the kind's own endpoint). */
  digest(kind: KindInfo): Digest {
    const out = emptyDigest(kind.selfUrl);
    for (const r of this.digestOf(kind.id).values()) {
      setDigestEntry(out, { endpoint: this.endpoint(r.ep).url, tick: r.tick, stamp: r.stamp, conflictPriority: r.prio });
    }
    return out;
  }

  /** tick[ep] = max(tick[ep], next): 5.5's per-entry rule. New entries copy `prio`. */
  advance(kind: number, ep: number, next: Tick, prio: number, stamp = nowStamp()): void {
    const d = this.digestOf(kind);
    const r = d.get(ep);
    if (!r) {
      d.set(ep, { ep, tick: next, stamp, prio });
      this.markDirty(kind, ep);
    } else if (tickLess(r.tick, next)) {
      r.tick = next;
      r.stamp = stamp;
      this.markDirty(kind, ep);
    }
  }

  /** Gives a local change its state (brief §3.1): (self, tick, now), then the kind's own tick moves on. */
  localState(k: KindInfo): { ep: number; tick: Tick; stamp: string } {
    const d = this.digestOf(k.id);
    const r = d.get(k.selfEp)!;
    const tick = r.tick;
    const stamp = nowStamp();
    r.tick = nextTick(tick);
    r.stamp = stamp;
    this.markDirty(k.id, k.selfEp);
    return { ep: k.selfEp, tick, stamp };
  }

  /**
   * Replaces the whole digest (PUT $syncDigest, administration). The kind's own entry is kept, and its tick never
   * drops to or below a tick it already gave a resource (4.3: states stay unique and below the digest).
   */
  replaceDigest(k: KindInfo, d: Digest): void {
    this.tx(() => {
      const own = this.digestOf(k.id).get(k.selfEp)!;
      const rows = new Map<number, DigestRow>();
      for (const e of d.entries.values()) {
        const ep = this.endpointId(e.endpoint);
        tickKey(e.tick); // refuses ticks this store cannot hold, before anything changes
        rows.set(ep, { ep, tick: e.tick, stamp: e.stamp || nowStamp(), prio: e.conflictPriority });
      }
      const maxRow = this.db.prepare('SELECT max(tick) AS t FROM resources WHERE kind = ? AND ep = ?').get(k.id, k.selfEp) as { t: string | null };
      const floor = maxRow.t === null ? '0' : nextTick(tickOfKey(maxRow.t));
      const self = rows.get(k.selfEp) ?? { ...own };
      self.tick = maxTick(self.tick, floor);
      rows.set(k.selfEp, self);
      this.db.prepare('DELETE FROM digest WHERE kind = ?').run(k.id);
      this.digests.set(k.id, rows);
      for (const ep of rows.keys()) this.markDirty(k.id, ep);
    });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // resources

  byUuid(kind: number, uuid: string): ResourceRow | undefined {
    const r = this.sByUuid.get(kind, uuidKey(uuid)) as RawResource | undefined;
    return r ? toRow(r) : undefined;
  }

  byId(kind: number, id: number): ResourceRow | undefined {
    const r = this.sById.get(kind, id) as RawResource | undefined;
    return r ? toRow(r) : undefined;
  }

  insertResource(kind: number, uuid: string, deleted: boolean, ep: number, tick: Tick, stamp: string, user: string | null, payload: string): number {
    return Number(this.sInsert.run(kind, uuidKey(uuid), deleted ? 1 : 0, ep, tickKey(tick), stamp, user, payload).lastInsertRowid);
  }

  updateResource(id: number, deleted: boolean, ep: number, tick: Tick, stamp: string, user: string | null, payload: string): void {
    this.sUpdate.run(deleted ? 1 : 0, ep, tickKey(tick), stamp, user, payload, id);
  }

  counts(kind: number): { resources: number; tombstones: number } {
    // Both counts come from indexes: all rows (state index), tombstones (partial index).
    const all = (this.db.prepare('SELECT count(*) AS n FROM resources INDEXED BY resources_state WHERE kind = ?').get(kind) as { n: number }).n;
    const dead = (this.db.prepare('SELECT count(*) AS n FROM resources INDEXED BY resources_dead WHERE kind = ? AND deleted = 1').get(kind) as { n: number }).n;
    return { resources: all - dead, tombstones: dead };
  }
}
