import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ResultStore, ResultWriter } from './repositories.ts';
import type { TxGuard } from './tx-guard.ts';

/**
 * The `result_rows` table: per-context result entries (serialised XML or compact records), one row per
 * transaction's worth, joined by U+0001 (a character XML cannot contain): a row per entry cost more than building
 * the entry, and DELETE of a context removes a few rows instead of one per entry.
 */

const SEP = '\u0001';

export class ResultRepo implements ResultStore {
  readonly #guard: TxGuard;
  readonly #sInsert: StatementSync;
  readonly #sRows: StatementSync;
  readonly #sOne: StatementSync;

  constructor(db: DatabaseSync, guard: TxGuard) {
    this.#guard = guard;
    this.#sInsert = db.prepare('INSERT INTO result_rows(ctx, first, count, xml) VALUES(?, ?, ?, ?)');
    this.#sRows = db.prepare('SELECT first, count FROM result_rows WHERE ctx = ? AND first < ? ORDER BY first');
    this.#sOne = db.prepare('SELECT xml FROM result_rows WHERE ctx = ? AND first = ?');
  }

  writer(ctx: number): ResultWriter {
    return new ResultRows(this.#sInsert, this.#guard, ctx);
  }

  *read(ctx: number, from: number, to: number): Generator<string> {
    const rows = this.#sRows.all(ctx, to) as Array<{ first: number; count: number }>;
    for (const r of rows) {
      if (r.first + r.count <= from) continue;
      const parts = (this.#sOne.get(ctx, r.first) as { xml: string }).xml.split(SEP);
      const lo = Math.max(0, from - r.first);
      const hi = Math.min(r.count, to - r.first);
      for (let i = lo; i < hi; i++) yield parts[i]!;
    }
  }
}

class ResultRows implements ResultWriter {
  readonly #ins: StatementSync;
  readonly #guard: TxGuard;
  readonly #ctx: number;
  #parts: string[] = [];
  #first = 0;
  #next = 0;

  constructor(ins: StatementSync, guard: TxGuard, ctx: number) {
    this.#ins = ins;
    this.#guard = guard;
    this.#ctx = ctx;
  }

  add(xml: string): void {
    this.#parts.push(xml);
    this.#next++;
  }

  get count(): number {
    return this.#next;
  }

  flush(): void {
    if (this.#parts.length === 0) return;
    this.#guard.check('result rows');
    this.#ins.run(this.#ctx, this.#first, this.#parts.length, this.#parts.join(SEP));
    this.#first = this.#next;
    this.#parts = [];
  }

  discard(): void {
    this.#next = this.#first;
    this.#parts = [];
  }
}
