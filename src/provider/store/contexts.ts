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
 * selecting/applying: work in progress (GET answers 202); ready/done: GET serves the feed; incomplete: the POST
 * body broke off before the end (a retried POST with the same trackingID processes it again); failed: GET answers
 * with the stored error; deleted: DELETE was received (410).
 */
export type ContextStatus = 'selecting' | 'ready' | 'applying' | 'done' | 'incomplete' | 'failed' | 'deleted';

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
  #timer: NodeJS.Timeout | undefined;

  /** `idle`: whether a sweep may run now (the store is open and no transaction is). */
  constructor(db: DatabaseSync, tx: Tx, idle: () => boolean, failures: PassFailureRepo, ttlMs: number) {
    this.#tx = tx;
    this.#idle = idle;
    this.#failures = failures;
    this.ttlMs = ttlMs;
    this.#sFind = db.prepare('SELECT * FROM contexts WHERE kind = ? AND type = ? AND principal = ? AND tracking = ?');
    this.#sInsert = db.prepare('INSERT INTO contexts(kind, type, principal, tracking, tracking_raw, status, created, touched, total, info) VALUES(?, ?, ?, ?, ?, ?, ?, ?, 0, ?)');
    this.#sStatus = db.prepare('UPDATE contexts SET status = ?, total = ?, info = ?, touched = ? WHERE id = ?');
    this.#sTouch = db.prepare('UPDATE contexts SET touched = ? WHERE id = ?');
    this.#sOpen = db.prepare("SELECT count(*) AS n FROM contexts WHERE status <> 'deleted' AND (status IN ('selecting', 'applying') OR touched >= ?)");
    this.#sIdle = db.prepare("SELECT id FROM contexts WHERE touched < ? AND status NOT IN ('selecting', 'applying')");
    this.#sDropResults = db.prepare('DELETE FROM result_rows WHERE ctx = ?');
    this.#sDropStaged = db.prepare('DELETE FROM staged WHERE ctx = ?');
    this.#sDelete = db.prepare('DELETE FROM contexts WHERE id = ?');
    // Work that was in progress when the process stopped cannot resume: say so instead of answering 202 forever.
    tx(() => {
      db.prepare("UPDATE contexts SET status = 'incomplete' WHERE status = 'applying'").run();
      db.prepare("UPDATE contexts SET status = 'failed', info = ? WHERE status = 'selecting'")
        .run(JSON.stringify({ error: 'the provider restarted while selecting; POST again with a new trackingID' }));
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
    if (this.expired(row)) {
      this.purge(row.id);
      return undefined;
    }
    return row;
  }

  create(kind: number, type: ContextType, principal: string, trackingRaw: string, status: ContextStatus, info = '{}'): ContextRow {
    const now = Date.now();
    const id = this.#tx(() => Number(this.#sInsert.run(kind, type, principal, trackingKey(trackingRaw), trackingRaw, status, now, now, info).lastInsertRowid));
    return { id, kind, type, principal, tracking: trackingKey(trackingRaw), trackingRaw, status, created: now, touched: now, total: 0, info };
  }

  update(row: ContextRow, status: ContextStatus, total = row.total, info = row.info): void {
    row.status = status;
    row.total = total;
    row.info = info;
    row.touched = Date.now();
    this.#tx(() => this.#sStatus.run(status, total, info, row.touched, row.id));
  }

  touch(row: ContextRow): void {
    row.touched = Date.now();
    this.#tx(() => this.#sTouch.run(row.touched, row.id));
  }

  /** Drops a context's results and staged rows (its data), keeping the row. */
  clearData(id: number): void {
    this.#tx(() => {
      this.#sDropResults.run(id);
      this.#sDropStaged.run(id);
    });
  }

  /** DELETE of a context: its data goes, a marker stays (410) until it expires. */
  markDeleted(row: ContextRow): void {
    this.clearData(row.id);
    this.update(row, 'deleted', 0, '{}');
  }

  /** Removes a context entirely (expiry, or a synchronous operation's internal context). */
  purge(id: number): void {
    this.#tx(() => {
      this.#sDropResults.run(id);
      this.#sDropStaged.run(id);
      this.#sDelete.run(id);
    });
  }

  expired(row: ContextRow, now = Date.now()): boolean {
    if (row.status === 'selecting' || row.status === 'applying') return false;
    return now - row.touched > this.ttlMs;
  }

  /** Contexts alive (not deleted, not expired). */
  open(now = Date.now()): number {
    return (this.#sOpen.get(now - this.ttlMs) as { n: number }).n;
  }

  sweep(now = Date.now()): number {
    const rows = this.#sIdle.all(now - this.ttlMs) as Array<{ id: number }>;
    for (const r of rows) this.purge(r.id);
    // Failure records of passes that never reached their last page.
    this.#tx(() => this.#failures.expire(now - Math.max(this.ttlMs, 24 * 3600_000)));
    return rows.length;
  }
}
