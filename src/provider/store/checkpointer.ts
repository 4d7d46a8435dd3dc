import { closeSync, fsyncSync, openSync } from 'node:fs';
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
 * per commit); the host side checkpoints or syncs the WAL on each (`serveCheckpoints`).
 */

/**
 * Commits between the provider's messages (~2 MiB of posted body), each a request for a checkpoint or a sync; fewer
 * are reported SYNC_INTERVAL_MS after the first of them.
 */
const CHECKPOINT_EVERY = 8;
/**
 * At most one checkpoint per this many ms. Each copies the latest version of every page the WAL holds: the longer
 * the WAL between two, the more rewrites of the same hot pages (uuid-index leaves and inner pages, the table's last
 * page) it coalesces. Bounded in time, the WAL between two is what the writer manages meanwhile (~80 MB at the ~160
 * MB/s of WAL a 1M-entry pass writes here), under the provider's 128 MiB backstop whatever the entries' size; a bound
 * in commits is not (a commit of small entries dirties as many index pages as it has entries). 1M-entry end-to-end
 * runs in alternating pairs: the target took 39.6-44.3 CPU-s (mean 42.5) at 100 ms, 38.8-39.5 (mean 39.3) at 500
 * ms with the syncs below, wall 43.7-47.8 s against 43.8-44.1 (docs/decisions/0003-wal-checkpointer.md).
 */
const CHECKPOINT_INTERVAL_MS = 500;
/**
 * Between checkpoints the WAL is synced at most this often: under `synchronous=NORMAL` a checkpoint is what syncs the
 * WAL, so this, not the checkpoints', is the window of confirmed commits a power loss can take back (~100 ms, as
 * when every checkpoint came at most 100 ms apart: docs/decisions/0015-end-to-end-where-the-time-goes.md). A sync
 * only narrows it: SQLite recovers every commit whose frames are on disk.
 */
const SYNC_INTERVAL_MS = 100;

/** What `PRAGMA wal_checkpoint` reports: frames in the WAL, frames now copied to the database. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

/** What the host side did on a message: a checkpoint (and its result), or a sync of the WAL file. */
export type CheckpointEvent = { type: 'checkpoint'; result: CheckpointResult } | { type: 'sync' };

export interface CheckpointOptions {
  /** Sees what each message led to (tests, diagnostics). */
  observe?: (e: CheckpointEvent) => void;
  /** CHECKPOINT_INTERVAL_MS and SYNC_INTERVAL_MS, for tests. */
  checkpointMs?: number;
  syncMs?: number;
}

/**
 * Host side, until the port closes: on each message on `port` (one per CHECKPOINT_EVERY commits), checkpoints
 * `dbPath` if the last checkpoint is CHECKPOINT_INTERVAL_MS old, else syncs its WAL file and checkpoints once it is;
 * at most one request answered per SYNC_INTERVAL_MS.
 */
export function serveCheckpoints(port: MessagePort, dbPath: string, o: CheckpointOptions = {}): void {
  const checkpointMs = o.checkpointMs ?? CHECKPOINT_INTERVAL_MS;
  const syncMs = o.syncMs ?? SYNC_INTERVAL_MS;
  let db: DatabaseSync | undefined;
  let stmt: StatementSync | undefined;
  /** The WAL file, opened for syncs (SQLite locks the -shm file and the database, never the WAL: closing is safe). */
  let wal: number | undefined;
  let lastCheckpoint = -Infinity;
  let last = -Infinity;
  // Set while a checkpoint or sync is due: commits meanwhile are covered by it. Cleared on close, so none runs after.
  let timer: NodeJS.Timeout | undefined;
  const checkpoint = (): void => {
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
    // Run first, observed after: `observe?.(stmt.get())` skipped the checkpoint itself when nobody observed (ba73b04).
    const result = stmt.get() as unknown as CheckpointResult;
    o.observe?.({ type: 'checkpoint', result });
  };
  const sync = (): void => {
    wal ??= openSync(`${dbPath}-wal`, 'r+');
    fsyncSync(wal);
    o.observe?.({ type: 'sync' });
  };
  const attempt = (step: () => void): void => {
    try {
      step();
    } catch {
      // Busy, or the store is closing: the next commits ask again, and the provider's backstop still applies.
    }
  };
  let trailing: NodeJS.Timeout | undefined;
  const checkpointNow = (): void => {
    clearTimeout(trailing);
    trailing = undefined;
    lastCheckpoint = last = Date.now();
    attempt(checkpoint);
  };
  // Checkpointing, not syncing, when the last checkpoint is old enough; a request answered by a sync leaves a
  // checkpoint due for when it is (`trailing`), so that the end of a burst of commits is copied too.
  const due = (): void => {
    timer = undefined;
    const now = Date.now();
    if (now - lastCheckpoint >= checkpointMs) {
      checkpointNow();
      return;
    }
    last = now;
    attempt(sync);
    trailing ??= setTimeout(checkpointNow, lastCheckpoint + checkpointMs - now);
  };
  port.on('message', () => {
    if (timer) return;
    timer = setTimeout(due, Math.max(0, last + syncMs - Date.now()));
  });
  port.once('close', () => {
    clearTimeout(timer);
    clearTimeout(trailing);
    timer = trailing = undefined;
    // The WAL file first: closing the last connection may delete it (on Windows only once no handle is open).
    if (wal !== undefined) closeSync(wal);
    wal = undefined;
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
  let quiet: NodeJS.Timeout | undefined;
  const report = (): void => {
    clearTimeout(quiet);
    quiet = undefined;
    commits = 0;
    port.postMessage(0);
  };
  store.onCommit = () => {
    if (++commits >= CHECKPOINT_EVERY) report();
    // Fewer commits followed by a quiet spell (single-resource edits) are reported too, SYNC_INTERVAL_MS after the
    // first of them, so that they are synced as soon as a bulk pass's are; one timer per report, not per commit.
    else quiet ??= setTimeout(report, SYNC_INTERVAL_MS).unref();
  };
  return () => {
    clearTimeout(quiet);
    quiet = undefined;
    store.onCommit = undefined;
    store.deferCheckpoints(false);
    port.close();
  };
}
