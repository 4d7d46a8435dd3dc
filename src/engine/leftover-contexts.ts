import { readdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { uptime } from 'node:os';
import { join } from 'node:path';
import { deleteContext, releaseByTrackingId } from '../http/async-op.ts';
import type { HttpClient } from '../http/client.ts';
import { originOf, redactUrl } from '../http/url.ts';
import { FEED_TYPE } from './chunk-sender.ts';
import { ContextJournal, defaultStateDir, HEARTBEAT_MS, parseJournalName, readJournal, type JournalEntry, type RunId, type Side } from './journal.ts';
import type { Logger } from './log.ts';

/**
 * The contexts earlier runs left open (journal.ts), DELETEd at the start of the next run (docs/engine-rules.md §5),
 * bounded in time and never failing the run.
 *
 * Only a dead run's journal is touched: on this host (same host tag: host name and PID namespace), one whose PID is
 * gone, or whose last heartbeat is older than this boot or than an hour (the PID is someone else's now); on another
 * host sharing the state directory, one silent for STALE_MS. A live run's contexts are never DELETEd. A dead run's
 * journal is claimed by renaming it (one claimant wins), its open entries move into this run's journal (so that they
 * outlive this run too if it dies), then the claimed file goes. Each entry is DELETEd with the client of this run's
 * side of the same name on the same origin: that side's credentials, and only to its own provider. The others
 * (another provider, another side) stay in this run's journal for a later run that has them.
 */

/** A side of this run: contexts recorded for it on its provider's origin are DELETEd with its client. */
export interface LeftoverSide {
  side: Side;
  /** The side's dataset base or collection URL: its origin is what matters. */
  url: string;
  client: HttpClient;
}

export interface LeftoverOptions {
  /** Time after which no further DELETE is begun (default 10 s): the rest waits for a later run. */
  budgetMs?: number;
  /** DELETEs at once (default 4). */
  concurrency?: number;
  now?: () => number;
  /** Whether a process of this host and PID namespace lives (default: signal 0). */
  alive?: (pid: number) => boolean;
  /** When this host booted, ms since the epoch. */
  bootMs?: number;
}

export interface LeftoverReport {
  /** Dead runs whose journals were taken over. */
  runs: number;
  deleted: number;
  /** 410: deleted already (or interrupted by a provider restart). */
  gone: number;
  /** 404: expired, or never this principal's. */
  unknown: number;
  /** Could not be deleted now: kept for the next run. */
  failed: number;
  /** For another provider or side, or past the time budget: kept for a later run. */
  kept: number;
  /** Older than MAX_AGE_MS: dropped; the providers' expiry has long removed them. */
  expired: number;
}

/** A run on another host is taken for dead after this long without a heartbeat (a live one touches its journal every 15 s). */
const STALE_MS = 8 * HEARTBEAT_MS;
/** On this host, a PID alive but silent this long is another process's (PID reuse), or a run frozen for an hour. */
const SAME_HOST_STALE_MS = 3_600_000;
const MAX_AGE_MS = 24 * 3_600_000;
const BUDGET_MS = 10_000;

/** The journal for a command that opens contexts, after DELETEing what earlier runs left open on its sides. */
export async function startJournal(o: { stateDir: string | undefined; runStamp: string; log: Logger; sides: LeftoverSide[] }): Promise<ContextJournal | undefined> {
  const journal = ContextJournal.create({ stateDir: o.stateDir ?? defaultStateDir(), runStamp: o.runStamp, log: o.log });
  if (!journal) return undefined;
  try {
    await deleteLeftovers(journal, o.sides, o.log);
  } catch (e) {
    o.log.warn(`${journal.dir}: contexts left open by earlier runs were not all released: ${(e as Error).message}`);
  }
  return journal;
}

/** Whether `run`'s owner is gone; `heartbeatMs`: its main journal's mtime, undefined if that file is gone. */
export function ownerGone(run: RunId, heartbeatMs: number | undefined, me: RunId, o: Required<Pick<LeftoverOptions, 'alive' | 'bootMs'>> & { now: number }): boolean {
  // A run removes its main journal last, when nothing is left open: no main file, no live owner.
  if (heartbeatMs === undefined) return true;
  const silent = o.now - heartbeatMs;
  if (run.host !== me.host) return silent > STALE_MS;
  if (!o.alive(run.pid)) return true;
  // Uptime is whole seconds on some systems: a few seconds of slack.
  return heartbeatMs < o.bootMs - 5_000 || silent > SAME_HOST_STALE_MS;
}

export async function deleteLeftovers(journal: ContextJournal, sides: LeftoverSide[], log: Logger, o: LeftoverOptions = {}): Promise<LeftoverReport> {
  const now = o.now ?? Date.now;
  const r: LeftoverReport = { runs: 0, deleted: 0, gone: 0, unknown: 0, failed: 0, kept: 0, expired: 0 };
  const taken = claimDeadJournals(journal, r, {
    now: now(), alive: o.alive ?? pidAlive, bootMs: o.bootMs ?? now() - uptime() * 1000,
  });
  if (taken.length === 0 && r.expired === 0) return r;
  const todo: Array<{ n: number; e: JournalEntry; client: HttpClient }> = [];
  for (const t of taken) {
    const s = sides.find((x) => x.side === t.e.side && sameOrigin(x.url, t.e.url ?? t.e.post ?? ''));
    if (s) todo.push({ ...t, client: s.client });
  }
  r.kept = taken.length - todo.length;
  const deadline = now() + (o.budgetMs ?? BUDGET_MS);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length && now() <= deadline) {
      const { n, e, client } = todo[next++]!;
      // A context whose 202 never came is found again by its POST's trackingID.
      const d = e.url !== undefined ? await deleteContext(client, e.url) : await releaseByTrackingId(client, e.post!, FEED_TYPE);
      log.debug(`${e.url !== undefined ? `DELETE ${redactUrl(e.url)}` : `POST ${redactUrl(e.post!)} with an empty body, then DELETE of the context it names`} (the ${e.side} context an earlier run left open): ${d}`);
      if (d === 'deleted') r.deleted++;
      else if (d === 'gone') r.gone++;
      else if (d === 'unknown') r.unknown++;
      else r.failed++;
      if (d !== 'failed') journal.done(n);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 4, todo.length) }, worker));
  r.kept += todo.length - next;
  const parts = [`${r.deleted} deleted`, `${r.gone + r.unknown} gone already`];
  if (r.failed > 0) parts.push(`${r.failed} could not be deleted (the next run tries again)`);
  if (r.kept > 0) parts.push(`${r.kept} kept for a later run (another provider or side${todo.length > next ? ', or out of time' : ''})`);
  if (r.expired > 0) parts.push(`${r.expired} older than a day dropped`);
  log.info(`contexts left open by ${r.runs} earlier run${r.runs === 1 ? '' : 's'} (${journal.dir}): ${parts.join(', ')}`);
  return r;
}

/** Claims every dead run's journal files, moving their open entries into `journal`; returns them with their new handles. */
function claimDeadJournals(journal: ContextJournal, r: LeftoverReport, o: Parameters<typeof ownerGone>[3]): Array<{ n: number; e: JournalEntry }> {
  let names: string[];
  try {
    names = readdirSync(journal.dir);
  } catch {
    return [];
  }
  const byRun = new Map<string, { run: RunId; files: string[] }>();
  for (const name of names) {
    const run = parseJournalName(name);
    if (!run || run.id === journal.run.id) continue;
    const g = byRun.get(run.id) ?? { run, files: [] };
    g.files.push(name);
    byRun.set(run.id, g);
  }
  const taken: Array<{ n: number; e: JournalEntry }> = [];
  for (const { run, files } of byRun.values()) {
    if (!ownerGone(run, mtimeMs(join(journal.dir, `${run.id}.jsonl`)), journal.run, o)) continue;
    let claimedAny = false;
    for (const name of files) {
      const path = join(journal.dir, name);
      if (name.endsWith('.tmp')) {
        unlinkQuiet(path); // a compaction its run did not finish: the journal it was to replace is still there
        continue;
      }
      const claimed = journal.claimName();
      try {
        renameSync(path, claimed);
      } catch {
        continue; // another run claimed it first
      }
      claimedAny = true;
      try {
        for (const e of readJournal(claimed).open) {
          if (o.now - e.at > MAX_AGE_MS) r.expired++;
          else taken.push({ n: journal.adopt(e), e });
        }
      } catch {
        // Unreadable: nothing to be learnt from it.
      }
      unlinkQuiet(claimed);
    }
    if (claimedAny) r.runs++;
  }
  return taken;
}

function mtimeMs(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return originOf(a) === originOf(b);
  } catch {
    return false;
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already.
  }
}
