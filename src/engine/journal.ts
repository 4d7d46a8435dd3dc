import { createHash } from 'node:crypto';
import { closeSync, futimesSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { ContextRecorder } from '../http/async-op.ts';
import type { Logger } from './log.ts';

/**
 * The journal of open contexts (docs/engine-rules.md §5): every context a run opens on a provider, written down the
 * moment its Location arrives and crossed out once its DELETE is done (200, 404 or 410), so that a run killed
 * before its DELETEs (SIGKILL, a crash, a provider down at the end) leaves a record the next run DELETEs them from
 * (leftover-contexts.ts) instead of leaving them to the providers' TTL.
 *
 * One file per run, `<state dir>/contexts/<run id>.jsonl`, created with O_EXCL so that no two runs share one: its
 * name says whose it is (a tag of the host and PID namespace, the PID, the start time), which is all another run
 * needs to tell whether its owner is still alive. JSON lines: a header, then one line per context opened or moved
 * (`{"n":1,"side":"target","url":…,"at":…}`: the same `n` again is a move; a `$syncTarget` POST is written before
 * it is sent, `"post":` its URL with the trackingID, then again with its `"url"` once the 202 names it) and one per
 * context done (`{"done":1}`). Nothing else: no credentials (they live in the environment and the clients' headers only), no
 * data. A line is one write(2) to a file opened O_APPEND, not fsync'd: it survives the process being killed (the
 * page cache is the kernel's), and what a power cut loses costs only a context left to its TTL, never data. The
 * file is rewritten with only the open contexts every COMPACT_AFTER lines (temp file, then rename: either the old
 * or the new one is there), and removed when the run ends with none open. A live run touches it every
 * HEARTBEAT_MS, which tells runs on other hosts (a shared volume) that it is alive.
 *
 * A write that fails (a full disk, a read-only volume) turns the journal off with one warning: the run goes on.
 */

export type Side = 'source' | 'target';

/** A context the journal holds open: by its Location, or until its 202 comes by the POST that opens it. */
export interface JournalEntry {
  side: Side;
  /** The context's Location. */
  url?: string | undefined;
  /** The POST (its URL carries the trackingID), when it was recorded before it was sent. */
  post?: string | undefined;
  /** When it was recorded (ms since the epoch). */
  at: number;
}

/** How often a live run touches its journal. */
export const HEARTBEAT_MS = 15_000;
/** Lines written since the file was last rewritten before it is compacted. */
const COMPACT_AFTER = 512;
const SUBDIR = 'contexts';

/** `$XDG_STATE_HOME/sdata-sync`, or `~/.local/state/sdata-sync` (XDG base directories: a relative value is ignored). */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_STATE_HOME'];
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'state'), 'sdata-sync');
}

/**
 * This host and PID namespace, as 8 hex digits: a PID means something only where both are the same (two containers
 * on one volume have their own PID 1, and usually their own host name).
 */
export function hostTag(): string {
  let ns = '';
  try {
    ns = readlinkSync('/proc/self/ns/pid');
  } catch {
    // Not Linux: the host name alone.
  }
  return createHash('sha256').update(`${hostname()}\u0000${ns}`).digest('hex').slice(0, 8);
}

/** Who owns a journal file, from its name: `<host tag>-<pid>-<start, base 36>[.<anything>].jsonl`. */
export interface RunId {
  id: string;
  host: string;
  pid: number;
  startedMs: number;
}

const NAME = /^([0-9a-f]{8})-(\d+)-([0-9a-z]+)(?:\.[\w-]+)?\.jsonl(\.tmp)?$/;

export function parseJournalName(name: string): RunId | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  return { id: `${m[1]}-${m[2]}-${m[3]}`, host: m[1]!, pid: Number(m[2]), startedMs: parseInt(m[3]!, 36) };
}

/** What a journal file holds open, and how many lines could not be read (a line torn by a kill, at the end). */
export function readJournal(path: string): { open: JournalEntry[]; torn: number } {
  const open = new Map<number, JournalEntry>();
  let torn = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      torn++;
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    const r = v as { n?: unknown; done?: unknown; side?: unknown; url?: unknown; post?: unknown; at?: unknown };
    if (typeof r.done === 'number') open.delete(r.done);
    else if (typeof r.n === 'number' && (r.side === 'source' || r.side === 'target') && (typeof r.url === 'string' || typeof r.post === 'string')) {
      open.set(r.n, {
        side: r.side, url: typeof r.url === 'string' ? r.url : undefined, post: typeof r.post === 'string' ? r.post : undefined,
        at: typeof r.at === 'number' ? r.at : 0,
      });
    }
  }
  return { open: [...open.values()], torn };
}

export interface JournalOptions {
  stateDir: string;
  runStamp: string;
  log: Logger;
  /** This process as the file name states it (tests write journals "as" other processes). */
  pid?: number;
  host?: string;
  now?: () => number;
}

/** This run's journal. Every method is synchronous and never throws. */
export class ContextJournal {
  readonly dir: string;
  readonly run: RunId;
  readonly file: string;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly header: string;
  private fd: number | undefined;
  private readonly open = new Map<number, JournalEntry>();
  private next = 1;
  private lines = 0;
  private claims = 0;
  private readonly timer: NodeJS.Timeout;

  /** Creates this run's journal file; undefined (after one warning) if the state directory cannot take it. */
  static create(o: JournalOptions): ContextJournal | undefined {
    try {
      return new ContextJournal(o);
    } catch (e) {
      o.log.warn(`state dir ${o.stateDir}: cannot keep the journal of open contexts there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ` +
        'contexts this run leaves open if it is killed will wait for the providers\' expiry (--state-dir DIR chooses another place)');
      return undefined;
    }
  }

  private constructor(o: JournalOptions) {
    this.log = o.log;
    this.now = o.now ?? Date.now;
    this.dir = join(o.stateDir, SUBDIR);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const pid = o.pid ?? process.pid;
    const created = createExclusive(this.dir, o.host ?? hostTag(), pid, this.now());
    this.fd = created.fd;
    this.run = created.run;
    this.file = created.file;
    this.header = `${JSON.stringify({ sdataSyncContexts: 1, run: this.run.id, host: hostname(), pid, runStamp: o.runStamp })}\n`;
    this.write(this.header);
    this.timer = setInterval(() => this.touch(), HEARTBEAT_MS);
    this.timer.unref();
  }

  /** The recorder of one side's contexts (http/async-op.ts). */
  recorder(side: Side): ContextRecorder {
    return {
      posting: (post) => this.add({ side, post, at: this.now() }),
      opened: (url) => this.add({ side, url, at: this.now() }),
      located: (n, url) => this.locate(n, url),
      closed: (n) => this.done(n),
    };
  }

  /** Contexts recorded and not done. */
  get openCount(): number {
    return this.open.size;
  }

  /** Takes over an entry of a dead run's journal (leftover-contexts.ts); returns its handle here. */
  adopt(e: JournalEntry): number {
    return this.add(e);
  }

  done(n: number): void {
    if (!this.open.delete(n)) return;
    this.write(`{"done":${n}}\n`);
    if (this.lines >= COMPACT_AFTER) this.compact();
  }

  /** A name for a dead run's journal claimed by this run (renamed to it: one claimant wins). */
  claimName(): string {
    return join(this.dir, `${this.run.id}.claim-${++this.claims}.jsonl`);
  }

  /**
   * The end of the run: the file goes if nothing is open; otherwise it stays, compacted, for the next run (whose
   * recovery sees this process gone). Returns the contexts left open.
   */
  close(): number {
    clearInterval(this.timer);
    if (this.fd === undefined) return this.open.size;
    if (this.open.size === 0) {
      this.closeFd();
      try {
        unlinkSync(this.file);
      } catch {
        // Gone already, or the directory went read-only: an empty journal costs the next run one read.
      }
      return 0;
    }
    this.compact();
    this.closeFd();
    this.log.info(`${this.open.size} context${this.open.size === 1 ? '' : 's'} could not be deleted now: ${this.file} keeps ${this.open.size === 1 ? 'it' : 'them'} for the next run to delete`);
    return this.open.size;
  }

  private add(e: JournalEntry): number {
    const n = this.next++;
    this.open.set(n, e);
    this.write(entryLine(n, e));
    return n;
  }

  private locate(n: number, url: string): void {
    const e = this.open.get(n);
    if (!e) return;
    e.url = url;
    e.post = undefined; // the Location is what the DELETE needs from now on
    this.write(entryLine(n, e));
  }

  private write(line: string): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, line);
      this.lines++;
    } catch (e) {
      this.broken(e);
    }
  }

  /** Rewrites the file with the header and the open contexts only. */
  private compact(): void {
    if (this.fd === undefined) return;
    const tmp = `${this.file}.tmp`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, this.header + [...this.open].map(([n, e]) => entryLine(n, e)).join(''));
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
      this.closeFd();
      this.fd = openSync(this.file, 'a');
      this.lines = this.open.size;
    } catch (e) {
      this.broken(e);
    }
  }

  private touch(): void {
    if (this.fd === undefined) return;
    const t = this.now() / 1000;
    try {
      futimesSync(this.fd, t, t);
    } catch {
      // A later write says what is wrong.
    }
  }

  private broken(e: unknown): void {
    this.closeFd();
    clearInterval(this.timer);
    this.log.warn(`${this.file}: cannot write the journal of open contexts (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ` +
      'from now on, contexts this run leaves open if it is killed will wait for the providers\' expiry');
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // Nothing more to write to it.
    }
    this.fd = undefined;
  }
}

/** A journal file of a name no other run has (O_EXCL): a name taken (same PID, same millisecond) moves on by 1 ms. */
function createExclusive(dir: string, host: string, pid: number, now: number): { fd: number; run: RunId; file: string } {
  for (let started = now; ; started++) {
    const id = `${host}-${pid}-${started.toString(36)}`;
    const file = join(dir, `${id}.jsonl`);
    try {
      return { fd: openSync(file, 'ax', 0o600), run: { id, host, pid, startedMs: started }, file };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

function entryLine(n: number, e: JournalEntry): string {
  return `${JSON.stringify({ n, side: e.side, url: e.url, post: e.post, at: e.at })}\n`;
}
