import type { Writable } from 'node:stream';
import { duration, int, mb } from './format.ts';
import { Logger } from './log.ts';
import type { PassStats } from './stats.ts';

export type ProgressMode = 'tty' | 'json' | 'none';

interface Track {
  stats: PassStats;
  lastRead: number;
  lastBytes: number;
  lastMs: number;
  /** Smoothed rates (entries/s, bytes/s). */
  rate: number;
  byteRate: number;
}

/**
 * Live progress of the passes of a run, on stderr. On a TTY: one line rewritten in place (entries, MB, rate, ETA
 * when the source gave opensearch:totalResults or the operation reports tracking progress). Elsewhere: a JSON log
 * line (`event: "progress"`, the log schema) every few seconds, for log collectors. Reads the passes' counters;
 * never slows the data path.
 */
export class Progress {
  private readonly mode: ProgressMode;
  private readonly out: Writable & { columns?: number };
  private readonly tracks: Track[] = [];
  private timer: NodeJS.Timeout | undefined;
  private shown = false;
  private readonly intervalMs: number;
  private readonly log: Logger;

  /** `out`: the terminal of the tty mode; JSON lines go through `log`, whatever its format was. */
  constructor(mode: ProgressMode, out: Writable & { columns?: number }, log: Logger, intervalMs?: number) {
    this.mode = mode;
    this.out = out;
    this.log = mode === 'json' && log.format !== 'json' ? new Logger(log.level, 'json') : log;
    this.intervalMs = intervalMs ?? (mode === 'tty' ? 250 : 5000);
    if (mode === 'tty') {
      log.beforeWrite = () => this.clear();
      log.afterWrite = () => this.draw();
    }
  }

  add(stats: PassStats): void {
    this.tracks.push({ stats, lastRead: stats.read, lastBytes: stats.bytesIn, lastMs: Date.now(), rate: 0, byteRate: 0 });
  }

  start(): void {
    if (this.mode === 'none' || this.timer) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.mode === 'json') this.tick();
    this.clear();
  }

  private tick(): void {
    const now = Date.now();
    for (const t of this.tracks) {
      const dt = (now - t.lastMs) / 1000;
      if (dt <= 0) continue;
      const r = (t.stats.read - t.lastRead) / dt;
      const b = (t.stats.bytesIn - t.lastBytes) / dt;
      // Exponential smoothing over a few seconds: a stalled chunk should not make the ETA jump about.
      const a = Math.min(1, dt / 3);
      t.rate = t.rate === 0 ? r : t.rate + a * (r - t.rate);
      t.byteRate = t.byteRate === 0 ? b : t.byteRate + a * (b - t.byteRate);
      t.lastRead = t.stats.read;
      t.lastBytes = t.stats.bytesIn;
      t.lastMs = now;
    }
    if (this.mode === 'json') {
      for (const t of this.tracks) {
        const s = t.stats;
        if (s.phase === 'starting' || (s.endedMs !== undefined && s.endedMs < now - this.intervalMs)) continue;
        const e = eta(t);
        this.log.record('info', '', {
          event: 'progress', kind: s.kind, phase: s.phase, read: s.read, forwarded: s.forwarded, skipped: s.skipped, invalid: s.invalid,
          acknowledged: s.entriesAcked, chunks: s.chunksSent, bytesIn: s.bytesIn, bytesOut: s.bytesOut, entriesPerSecond: Math.round(t.rate),
          ...(s.totalResults === undefined ? {} : { totalResults: s.totalResults }), ...(e === undefined ? {} : { etaSeconds: Math.round(e) }),
          ...(s.phase === 'selecting' && s.trackingProgress !== undefined ? { trackingProgress: s.trackingProgress } : {}),
        });
      }
    } else if (this.mode === 'tty') {
      this.draw();
    }
  }

  private line(): string {
    const parts: string[] = [];
    for (const t of this.tracks) {
      const s = t.stats;
      if (s.phase === 'starting' || s.phase === 'done' || s.phase === 'failed') continue;
      if (s.phase === 'digest' || (s.phase === 'selecting' && s.read === 0)) {
        parts.push(`${s.kind}: ${s.phase === 'digest' ? 'reading target digest' : `source selecting${s.trackingProgress === undefined ? '' : ` ${s.trackingProgress.toFixed(0)}%`}`}`);
        continue;
      }
      const total = s.totalResults === undefined || s.totalResults === 0 ? ''
        : `/${int(s.totalResults)} (${Math.min(100, Math.floor((100 * s.read) / s.totalResults))}%)`;
      const e = eta(t);
      // ETA first after the counts: a narrow terminal cuts the end of the line.
      parts.push(`${s.kind}: ${int(s.read)}${total} read${e === undefined ? '' : `, ETA ${duration(e)}`}, ${int(s.entriesAcked)} applied, ` +
        `${int(t.rate)}/s, ${(t.byteRate / 1e6).toFixed(1)} MB/s, ${mb(s.bytesIn)}`);
    }
    return parts.join(' | ');
  }

  private draw(): void {
    if (this.mode !== 'tty') return;
    let l = this.line();
    if (!l) return;
    const cols = this.out.columns ?? 120;
    if (l.length > cols - 1) l = `${l.slice(0, cols - 2)}…`;
    this.out.write(`\r\x1b[K${l}`);
    this.shown = true;
  }

  private clear(): void {
    if (this.mode === 'tty' && this.shown) {
      this.out.write('\r\x1b[K');
      this.shown = false;
    }
  }
}

function eta(t: Track): number | undefined {
  const s = t.stats;
  if (s.totalResults !== undefined && t.rate > 0) return Math.max(0, (s.totalResults - s.read) / t.rate);
  return undefined;
}
