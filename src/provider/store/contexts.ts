import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { PassFailureRepo } from './pass-failures.ts';

/**
 * Asynchronous-operation contexts (core 11.5): `$syncSource('id')`, `$syncTarget('id')`, `$batch('id')`, keyed
 * by the principal that created them (http/auth.ts; '' without authentication) and the consumer's trackingID
 * (matched case-insensitively, as UUIDs are): another principal never finds a context that is not its own. Rows live in SQLite with their results,
 * so memory does not grow with the number or size of open contexts. A DELETEd context leaves a marker row so
 * that later requests get `410`; markers and idle contexts expire after the TTL (then `404`).
 */

export type ContextType = 'source' | 'target' | 'batch';
/**
 * selecting/applying: work in progress (GET answers 202) — if that work runs in this process (`Contexts.busy`);
 * ready/done: GET serves the feed; incomplete: the POST body broke off before the end (a retried POST with the same
 * trackingID processes it again); failed: GET answers with the stored error; interrupted: the work was in progress
 * when the provider stopped (marked when it starts again; GET 410, a retried POST does the work again); deleted:
 * DELETE was received (410).
 */
export type ContextStatus = 'selecting' | 'ready' | 'applying' | 'done' | 'incomplete' | 'failed' | 'interrupted' | 'deleted';

const BUSY: ReadonlySet<ContextStatus> = new Set(['selecting', 'applying']);

/** What an interrupted context's row says (`info.error`). */
const RESTARTED = 'the provider restarted while this operation ran';

export interface ContextRow {
  id: number;
  kind: number;
  type: ContextType;
  principal: string;
  tracking: string;
  trackingRaw: string;
  status: ContextStatus;
  created: number;
  touched: number;
  total: number;
  info: string;
}

interface RawContext {
  id: number;
  kind: number;
  type: string;
  principal: string;
  tracking: string;
  tracking_raw: string;
  status: string;
  created: number;
  touched: number;
  total: number;
  info: string;
}

type Tx = <T>(fn: () => T) => T;

const fromRaw = (r: RawContext): ContextRow => ({
  id: r.id, kind: r.kind, type: r.type as ContextType, principal: r.principal, tracking: r.tracking, trackingRaw: r.tracking_raw,
  status: r.status as ContextStatus, created: r.created, touched: r.touched, total: r.total, info: r.info,
});

export const trackingKey = (t: string): string => t.trim().toLowerCase();

/**
 * The context registry of a running provider, with its idle expiry: `Store.openContexts(ttlMs)` makes one. Every
 * method that writes is a transaction of its own (joining an enclosing one).
 */
export class Contexts {
  readonly ttlMs: number;
  /** The clock of every expiry decision (Date.now; tests pass one they move). */
  readonly #now: () => number;
  readonly #tx: Tx;
  readonly #idle: () => boolean;
  readonly #failures: PassFailureRepo;
  readonly #sFind: StatementSync;
  readonly #sInsert: StatementSync;
  readonly #sStatus: StatementSync;
  readonly #sTouch: StatementSync;
  readonly #sOpen: StatementSync;
  readonly #sIdle: StatementSync;
  readonly #sDropResults: StatementSync;
  readonly #sDropStaged: StatementSync;
  readonly #sDelete: StatementSync;
  /**
   * Contexts whose work runs in this process. A busy status in the table says only that some process started the
   * work: one killed meanwhile, or one that could not record the end (a full disk), leaves it behind.
   */
  readonly #live = new Set<number>();
  /**
   * Contexts DELETEd while the store could not write (a full disk: even a DELETE appends to the WAL). For consumers
   * they are deleted (410, not open); the sweep writes the deletion once the store accepts writes again.
   */
  readonly #deletedUnwritten = new Set<number>();
  readonly #isFault: (e: unknown) => boolean;
  readonly #sById: StatementSync;
  #timer: NodeJS.Timeout | undefined;

  /**
   * `idle`: whether a sweep may run now (the store is open and no transaction is); `isFault`: whether an error is a
   * store fault (Store.fault), after which a write is tried again later instead of failing what asked for it.
   */
  constructor(db: DatabaseSync, tx: Tx, idle: () => boolean, isFault: (e: unknown) => boolean, failures: PassFailureRepo, ttlMs: number, now: () => number = Date.now) {
    this.#now = now;
    this.#tx = tx;
    this.#idle = idle;
    this.#isFault = isFault;
    this.#failures = failures;
    this.ttlMs = ttlMs;
    this.#sFind = db.prepare('SELECT * FROM contexts WHERE kind = ? AND type = ? AND principal = ? AND tracking = ?');
    this.#sInsert = db.prepare('INSERT INTO contexts(kind, type, principal, tracking, tracking_raw, status, created, touched, total, info) VALUES(?, ?, ?, ?, ?, ?, ?, ?, 0, ?)');
    // Never out of 'deleted': a context DELETEd while its work ran stays deleted when the work ends (see update).
    this.#sStatus = db.prepare("UPDATE contexts SET status = ?, total = ?, info = ?, touched = ? WHERE id = ? AND status != 'deleted'");
    this.#sTouch = db.prepare('UPDATE contexts SET touched = ? WHERE id = ?');
    this.#sOpen = db.prepare("SELECT count(*) AS n FROM contexts WHERE status IN ('ready', 'done', 'failed') AND touched >= ?");
    this.#sIdle = db.prepare('SELECT id FROM contexts WHERE touched < ?');
    this.#sDropResults = db.prepare('DELETE FROM result_rows WHERE ctx = ?');
    this.#sDropStaged = db.prepare('DELETE FROM staged WHERE ctx = ?');
    this.#sDelete = db.prepare('DELETE FROM contexts WHERE id = ?');
    this.#sById = db.prepare('SELECT * FROM contexts WHERE id = ?');
    // Work that was in progress when the process stopped cannot resume: its results and staged entries go, and a
    // marker says so (410) instead of answering 202 forever, for one TTL from now whatever the time the process was
    // down; a POST with its trackingID does the work again.
    tx(() => {
      const dead = "(SELECT id FROM contexts WHERE status IN ('selecting', 'applying'))";
      db.exec(`DELETE FROM result_rows WHERE ctx IN ${dead}; DELETE FROM staged WHERE ctx IN ${dead}`);
      db.prepare("UPDATE contexts SET status = 'interrupted', total = 0, info = ?, touched = ? WHERE status IN ('selecting', 'applying')")
        .run(JSON.stringify({ error: RESTARTED }), now());
    });
  }

  /** Starts the idle-expiry sweep; the timer never keeps the process alive. */
  startSweeping(): void {
    if (this.#timer) return;
    const every = Math.max(50, Math.min(30_000, Math.floor(this.ttlMs / 2)));
    this.#timer = setInterval(() => {
      if (this.#idle()) this.sweep();
    }, every);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** `principal`'s context of this kind, type and trackingID; another principal's is not found. */
  find(kind: number, type: ContextType, principal: string, tracking: string): ContextRow | undefined {
    const r = this.#sFind.get(kind, type, principal, trackingKey(tracking)) as RawContext | undefined;
    if (!r) return undefined;
    const row = fromRaw(r);
    if (this.#deletedUnwritten.has(row.id)) row.status = 'deleted';
    if (this.expired(row)) {
      this.release(row.id);
      return undefined;
    }
    return row;
  }

  create(kind: number, type: ContextType, principal: string, trackingRaw: string, status: ContextStatus, info = '{}'): ContextRow {
    const now = this.#now();
    const id = this.#tx(() => Number(this.#sInsert.run(kind, type, principal, trackingKey(trackingRaw), trackingRaw, status, now, now, info).lastInsertRowid));
    if (BUSY.has(status)) this.#live.add(id);
    return { id, kind, type, principal, tracking: trackingKey(trackingRaw), trackingRaw, status, created: now, touched: now, total: 0, info };
  }

  /**
   * Moves a context to `status`; a busy status means its work runs in this process from now on. A context DELETEd
   * meanwhile (a consumer that gave up polling a selection, or a next run releasing what a killed one left applying)
   * stays deleted: the work's last word would otherwise bring it back, open until its TTL.
   */
  update(row: ContextRow, status: ContextStatus, total = row.total, info = row.info): void {
    if (status !== 'deleted' && this.#deletedUnwritten.has(row.id)) {
      row.status = 'deleted';
      this.#live.delete(row.id);
      return;
    }
    row.status = status;
    row.total = total;
    row.info = info;
    row.touched = this.#now();
    // Memory first: if the row cannot be written (a full disk), the context is still known to have stopped.
    if (BUSY.has(status)) this.#live.add(row.id);
    else this.#live.delete(row.id);
    this.#tx(() => this.#sStatus.run(status, total, info, row.touched, row.id));
  }

  /** Keeps an idle context from expiring. Best effort: a store that cannot write now only shortens its life. */
  touch(row: ContextRow): void {
    row.touched = this.#now();
    try {
      this.#tx(() => this.#sTouch.run(row.touched, row.id));
    } catch {
      // The fault shows on the next request that must write.
    }
  }

  /**
   * Whether the context's work stopped without finishing: interrupted by a restart, or busy in the table while no
   * work for it runs in this process. GET answers 410; a POST with its trackingID does the work again.
   */
  interrupted(row: ContextRow): boolean {
    return row.status === 'interrupted' || (BUSY.has(row.status) && !this.#live.has(row.id));
  }

  /** Whether the context's work runs now, in this process. */
  busy(row: ContextRow): boolean {
    return BUSY.has(row.status) && this.#live.has(row.id);
  }

  /** Drops a context's results and staged rows (its data), keeping the row. */
  clearData(id: number): void {
    this.#tx(() => {
      this.#sDropResults.run(id);
      this.#sDropStaged.run(id);
    });
  }

  /**
   * DELETE of a context: its data goes, a marker stays (410) until it expires. If the store cannot write now, the
   * context is deleted for consumers all the same, and the sweep writes it later.
   */
  markDeleted(row: ContextRow): void {
    try {
      this.clearData(row.id);
      this.update(row, 'deleted', 0, '{}');
      this.#deletedUnwritten.delete(row.id);
    } catch (e) {
      if (!this.#isFault(e)) throw e;
      row.status = 'deleted';
      this.#live.delete(row.id);
      this.#deletedUnwritten.add(row.id);
    }
  }

  /** Removes a context entirely (expiry, or a synchronous operation's internal context). */
  purge(id: number): void {
    this.#live.delete(id);
    this.#tx(() => {
      this.#sDropResults.run(id);
      this.#sDropStaged.run(id);
      this.#sDelete.run(id);
    });
    this.#deletedUnwritten.delete(id);
  }

  /**
   * After a request failed: the context goes, if the store lets it (a full disk may not). If it stays, it is no
   * longer live, so it reads as interrupted and expires like an idle one. Never throws: the failure that got here is
   * what the client must hear.
   */
  release(id: number): void {
    this.#live.delete(id);
    try {
      this.purge(id);
    } catch {
      // Left to the sweep.
    }
  }

  /** Writes the DELETEs the store could not take when they came (markDeleted); those it still cannot stay pending. */
  #writeDeletions(now: number): void {
    for (const id of this.#deletedUnwritten) {
      try {
        this.#tx(() => {
          this.#sDropResults.run(id);
          this.#sDropStaged.run(id);
          this.#sStatus.run('deleted', 0, '{}', now, id);
        });
        this.#deletedUnwritten.delete(id);
      } catch (e) {
        if (!this.#isFault(e)) throw e;
        return;
      }
    }
  }

  expired(row: ContextRow, now = this.#now()): boolean {
    if (this.#live.has(row.id)) return false;
    return now - row.touched > this.ttlMs;
  }

  /**
   * Contexts a consumer holds: work running in this process, and finished or failed ones it may still read (not
   * deleted, not expired). Interrupted and incomplete ones are not counted: no consumer was given their Location,
   * or the process that gave it is gone.
   */
  open(now = this.#now()): number {
    let n = (this.#sOpen.get(now - this.ttlMs) as { n: number }).n + this.#live.size;
    // DELETEd, though the table does not say so yet.
    for (const id of this.#deletedUnwritten) {
      const r = this.#sById.get(id) as RawContext | undefined;
      if (r && ['ready', 'done', 'failed'].includes(r.status) && r.touched >= now - this.ttlMs) n--;
    }
    return n;
  }

  /** Expires idle contexts. A store that cannot write now (a full disk) is left alone until a later sweep. */
  sweep(now = this.#now()): number {
    try {
      this.#writeDeletions(now);
      const rows = (this.#sIdle.all(now - this.ttlMs) as Array<{ id: number }>).filter((r) => !this.#live.has(r.id));
      for (const r of rows) this.purge(r.id);
      // Failure records of passes that never reached their last page.
      this.#tx(() => this.#failures.expire(now - Math.max(this.ttlMs, 24 * 3600_000)));
      return rows.length;
    } catch (e) {
      if (!this.#isFault(e)) throw e;
      return 0;
    }
  }
}
