/**
 * Whether the store has a transaction open, shared by the store and its repositories. Every write checks it, so no
 * row is written outside `Store.tx()`, the one transaction that writes the digest rows it touched before COMMIT:
 * data and digest move together by construction, not by the discipline of callers. One integer compare per write,
 * and one call into SQLite: SQLite rolls a transaction back by itself after SQLITE_FULL and some I/O errors, and a
 * write after that would autocommit on its own, without its digest.
 */
export class TxGuard {
  depth = 0;
  /** Counts the transactions Store.tx() has opened: what repositories key a cache on that holds for one transaction. */
  serial = 0;
  readonly #open: () => boolean;

  /** `open`: whether SQLite has the transaction open (DatabaseSync.isTransaction). */
  constructor(open: () => boolean = () => true) {
    this.#open = open;
  }

  /** Throws unless a transaction is open; `what` names the write for the message. */
  check(what: string): void {
    if (this.depth === 0) throw new Error(`${what} outside a transaction: writes go through Store.tx(), which commits the digest with the data`);
    if (!this.#open()) throw new Error(`${what} after SQLite rolled the transaction back (an earlier statement failed): nothing more is written in it`);
  }
}
