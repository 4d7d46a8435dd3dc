import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { StagedEntries } from './repositories.ts';
import type { TxGuard } from './tx-guard.ts';

/** The `staged` table: immediate-mode entries held (as JSON) until the whole page has passed the contiguity check. */
export class StagedRepo implements StagedEntries {
  readonly #guard: TxGuard;
  readonly #sAdd: StatementSync;
  readonly #sEach: StatementSync;
  readonly #sClear: StatementSync;

  constructor(db: DatabaseSync, guard: TxGuard) {
    this.#guard = guard;
    this.#sAdd = db.prepare('INSERT INTO staged(ctx, seq, data) VALUES(?, ?, ?)');
    this.#sEach = db.prepare('SELECT data FROM staged WHERE ctx = ? ORDER BY seq');
    this.#sClear = db.prepare('DELETE FROM staged WHERE ctx = ?');
  }

  add(ctx: number, seq: number, data: string): void {
    this.#guard.check('staged entries');
    this.#sAdd.run(ctx, seq, data);
  }

  *each(ctx: number): Generator<string> {
    for (const r of this.#sEach.iterate(ctx) as Iterable<{ data: string }>) yield r.data;
  }

  clear(ctx: number): void {
    this.#guard.check('staged entries');
    this.#sClear.run(ctx);
  }
}
