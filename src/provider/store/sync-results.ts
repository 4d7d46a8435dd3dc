import type { DatabaseSync, StatementSync } from 'node:sqlite';

type Tx = <T>(fn: () => T) => T;

/**
 * `sync_results` / `sync_results_chunks`: result feeds POSTed to $syncResults (spec 5.7), stored as the byte chunks
 * they arrived in. Each method is a transaction of its own.
 */
export class SyncResultsRepo {
  readonly #tx: Tx;
  readonly #sBegin: StatementSync;
  readonly #sChunk: StatementSync;
  readonly #sDeleteChunks: StatementSync;
  readonly #sDelete: StatementSync;
  readonly #sComplete: StatementSync;
  readonly #sBeyond: StatementSync;
  readonly #sCount: StatementSync;

  constructor(db: DatabaseSync, tx: Tx) {
    this.#tx = tx;
    this.#sBegin = db.prepare('INSERT INTO sync_results(kind, run_name, run_stamp, received) VALUES(?, ?, ?, ?)');
    this.#sChunk = db.prepare('INSERT INTO sync_results_chunks(result, seq, data) VALUES(?, ?, ?)');
    this.#sDeleteChunks = db.prepare('DELETE FROM sync_results_chunks WHERE result = ?');
    this.#sDelete = db.prepare('DELETE FROM sync_results WHERE id = ?');
    this.#sComplete = db.prepare('UPDATE sync_results SET entries = ?, bytes = ?, complete = 1 WHERE id = ?');
    this.#sBeyond = db.prepare('SELECT id FROM sync_results WHERE kind = ? ORDER BY id DESC LIMIT -1 OFFSET ?');
    this.#sCount = db.prepare('SELECT count(*) AS n FROM sync_results');
  }

  /** A new, incomplete result feed; returns its id. */
  begin(kind: number, runName: string | null, runStamp: string | null): number {
    return this.#tx(() => Number(this.#sBegin.run(kind, runName, runStamp, new Date().toISOString()).lastInsertRowid));
  }

  /** Chunk `seq` of feed `id`. */
  append(id: number, seq: number, chunk: Uint8Array): void {
    this.#tx(() => this.#sChunk.run(id, seq, chunk));
  }

  /** Drops a feed that broke off. */
  discard(id: number): void {
    this.#tx(() => this.#remove(id));
  }

  /** Marks a feed complete and keeps only the kind's `keep` most recent feeds. */
  complete(kind: number, id: number, entries: number, bytes: number, keep: number): void {
    this.#tx(() => {
      this.#sComplete.run(entries, bytes, id);
      for (const o of this.#sBeyond.all(kind, keep) as Array<{ id: number }>) this.#remove(o.id);
    });
  }

  count(): number {
    return (this.#sCount.get() as { n: number }).n;
  }

  #remove(id: number): void {
    this.#sDeleteChunks.run(id);
    this.#sDelete.run(id);
  }
}
