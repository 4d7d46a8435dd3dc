import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Tick } from '../../protocol/ticks.ts';
import type { PassFailures } from './repositories.ts';
import { tickKey, tickOfKey } from './tick-key.ts';
import type { TxGuard } from './tx-guard.ts';

/**
 * The `pass_failures` table: failed entries per (kind, pass), so that later pages of the same pass neither move that
 * endpoint's tick past them nor merge it at the end (docs/protocol.md §3.9 item 4). A pass is named by a hash of its source digest.
 */
export class PassFailureRepo implements PassFailures {
  readonly #guard: TxGuard;
  readonly #sLowest: StatementSync;
  readonly #sRecord: StatementSync;
  readonly #sClear: StatementSync;
  readonly #sExpire: StatementSync;

  constructor(db: DatabaseSync, guard: TxGuard) {
    this.#guard = guard;
    this.#sLowest = db.prepare('SELECT ep, min(tick) AS t FROM pass_failures WHERE kind = ? AND pass = ? GROUP BY ep');
    this.#sRecord = db.prepare('INSERT INTO pass_failures(kind, pass, ep, tick, created) VALUES(?, ?, ?, ?, ?)');
    this.#sClear = db.prepare('DELETE FROM pass_failures WHERE kind = ? AND pass = ?');
    this.#sExpire = db.prepare('DELETE FROM pass_failures WHERE created < ?');
  }

  lowest(kind: number, pass: string): Array<{ ep: number; tick: Tick }> {
    return (this.#sLowest.all(kind, pass) as Array<{ ep: number; t: string }>).map((r) => ({ ep: r.ep, tick: tickOfKey(r.t) }));
  }

  record(kind: number, pass: string, ep: number, tick: Tick): void {
    this.#guard.check('pass failures');
    this.#sRecord.run(kind, pass, ep, tickKey(tick), Date.now());
  }

  clear(kind: number, pass: string): void {
    this.#guard.check('pass failures');
    this.#sClear.run(kind, pass);
  }

  /** Failure records of passes that never reached their last page. */
  expire(before: number): void {
    this.#guard.check('pass failures');
    this.#sExpire.run(before);
  }
}
