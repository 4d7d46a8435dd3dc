import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { MessagePort } from 'node:worker_threads';
import type { Store } from './store.ts';

/**
 * WAL checkpoints on another thread. In WAL mode every commit appends the pages it dirtied; a checkpoint copies
 * them back into the database file. SQLite's autocheckpoint does that inside the commit that crosses the
 * threshold, so the writer stalls 20-40 ms every few pages of a sync feed: random uuid-index inserts dirty about one
 * page per entry, ~10 MB of WAL per 1000 entries (measured: a quarter of a 1M-entry target pass). Here a second
 * connection, on a thread that is otherwise idle (`serve`'s main thread), checkpoints every few commits while the
 * provider thread goes on writing; the provider's own autocheckpoint stays as a backstop at a 4x larger threshold.
 * PASSIVE never blocks the writer and never waits for readers (it copies what no reader still needs).
 *
 * The provider side counts its commits and sends one small message per CHECKPOINT_EVERY of them
 * (`attachCheckpointer`: a message costs both threads a wake-up, measured at ~1% of the target's samples when sent
 * per commit); the host side checkpoints on each (`serveCheckpoints`).
 */

/** Commits between checkpoints: ~2 MiB of posted body, ~20 MB of WAL. Every commit coalesced fewer page rewrites. */
const CHECKPOINT_EVERY = 8;
/**
 * And at most one checkpoint per this many ms: each one syncs the database file, and many small commits (single
 * resource edits) must not turn into a stream of fsyncs. A sync feed commits every ~10 ms, so this rarely delays it.
 */
const MIN_INTERVAL_MS = 100;

/** What `PRAGMA wal_checkpoint` reports: frames in the WAL, frames now copied to the database. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

/**
 * Host side: checkpoints `dbPath` on each message on `port` (one per CHECKPOINT_EVERY commits; at most one checkpoint
 * per MIN_INTERVAL_MS), until the port closes.
 * `observe` sees each result (tests, diagnostics).
 */
export function serveCheckpoints(port: MessagePort, dbPath: string, observe?: (r: CheckpointResult) => void): void {
  let db: DatabaseSync | undefined;
  let stmt: StatementSync | undefined;
  let last = 0;
  // Set while a checkpoint is due: commits meanwhile are covered by it. Cleared on close, so none runs after.
  let timer: NodeJS.Timeout | undefined;
  const checkpoint = (): void => {
    timer = undefined;
    last = Date.now();
    try {
      if (!stmt) {
        const c = new DatabaseSync(dbPath);
        try {
          c.exec('PRAGMA busy_timeout=100');
          stmt = c.prepare('PRAGMA wal_checkpoint(PASSIVE)');
        } catch (e) {
          c.close();
          throw e;
        }
        db = c;
      }
      // Run first, observed after: `observe?.(stmt.get())` would skip the checkpoint itself when nobody observes.
      const r = stmt.get() as unknown as CheckpointResult;
      observe?.(r);
    } catch {
      // Busy, or the store is closing: the next commits ask again, and the provider's backstop still applies.
    }
  };
  port.on('message', () => {
    if (timer) return;
    timer = setTimeout(checkpoint, Math.max(0, last + MIN_INTERVAL_MS - Date.now()));
  });
  port.once('close', () => {
    clearTimeout(timer);
    timer = undefined;
    db?.close();
    db = undefined;
    stmt = undefined;
  });
}

/** Provider side: reports the store's commits on `port` and defers its own checkpoints. Returns the undo. */
export function attachCheckpointer(store: Store, port: MessagePort): () => void {
  if (store.path === ':memory:') return () => undefined;
  // The port must not keep the provider's thread alive on its own.
  port.unref();
  store.deferCheckpoints(true);
  let commits = 0;
  store.onCommit = () => {
    if (++commits < CHECKPOINT_EVERY) return;
    commits = 0;
    port.postMessage(0);
  };
  return () => {
    store.onCommit = undefined;
    store.deferCheckpoints(false);
    port.close();
  };
}
