import { isSdataError } from '../protocol/errors.ts';
import { formatDiagnosis } from '../xml/tracking-reader.ts';
import { int, mb } from './format.ts';
import { levelOfExit, type LogFields, type LogLevel } from './log.ts';
import { addCounts, zeroCounts, type FailedEntry, type OutcomeCounts } from './outcomes.ts';
import type { PassResult } from './pass.ts';

export interface PassReport {
  kind: string;
  ok: boolean;
  dryRun: boolean;
  error: { code: string; message: string } | null;
  seconds: number;
  read: number;
  forwarded: number;
  skipped: number;
  invalid: number;
  /** Valid entries held back after an invalid entry of their endpoint (docs/protocol.md X3). */
  held: number;
  /** Nothing was forwarded and the target's digest needed no merge: nothing was POSTed to the target. */
  upToDate: boolean;
  /** Nothing was forwarded, but a chunk without entries was POSTed so that the target merges the source digest. */
  mergeOnly: boolean;
  /** … and the target refused it (it wants entries in every feed): its digest did not move (a warning). */
  mergeRefused: boolean;
  /** Entries were dropped as invalid: the target was not let merge the source digest (docs/protocol.md X3). */
  mergeHeld: boolean;
  pages: number;
  chunks: number;
  bytesIn: number;
  bytesOut: number;
  entriesPerSecond: number;
  /** Dry run: what would have been sent. */
  wouldSend: { entries: number; chunks: number; bytes: number } | null;
  outcomes: OutcomeCounts;
  failures: FailedEntry[];
  failuresNotKept: number;
  invalidEntries: PassResult['invalid'];
  contexts: PassResult['contexts'];
  resumedPages: number;
  splits: number;
  /** `--explain`: each entry asked about, why it was (not) forwarded and what the target answered. */
  explained: PassResult['explained'];
}

export interface RunReport {
  runName: string;
  runStamp: string;
  source: string;
  target: string;
  ok: boolean;
  exitCode: number;
  seconds: number;
  passes: PassReport[];
  /** Kinds not attempted because an earlier pass failed. */
  notRun: string[];
  totals: { read: number; forwarded: number; skipped: number; invalid: number; bytesIn: number; bytesOut: number; outcomes: OutcomeCounts };
  /** Every kind ran and the source had nothing the target lacked: nothing was (or, dry, would be) sent. */
  upToDate: boolean;
}

export function passReport(r: PassResult): PassReport {
  const s = r.stats;
  const seconds = ((s.endedMs ?? Date.now()) - s.startedMs) / 1000;
  const e = r.error;
  return {
    kind: r.kind, ok: r.ok, dryRun: r.dryRun,
    error: e ? { code: isSdataError(e) ? e.code : 'INTERNAL', message: e.message } : null,
    seconds, read: s.read, forwarded: s.forwarded, skipped: s.skipped, invalid: s.invalid, held: r.plan?.held ?? 0,
    upToDate: r.ok && r.ending === 'none' && (r.plan?.chunks ?? 0) === 0, mergeOnly: r.ending === 'merge-only', mergeRefused: r.mergeRefused, mergeHeld: r.ending === 'held',
    pages: s.pages,
    chunks: r.dryRun ? 0 : s.chunksSent, bytesIn: s.bytesIn, bytesOut: s.bytesOut,
    entriesPerSecond: seconds > 0 ? Math.round(s.read / seconds) : 0,
    wouldSend: r.dryRun && r.plan ? { entries: r.plan.forwarded, chunks: r.plan.chunks, bytes: r.plan.bytesOut } : null,
    outcomes: { ...s.outcomes.counts }, failures: s.outcomes.failures, failuresNotKept: s.outcomes.failuresNotKept,
    invalidEntries: r.invalid, contexts: r.contexts, resumedPages: s.resumedPages, splits: s.splits, explained: r.explained,
  };
}

/** Passes that all completed without forwarding anything, none left out: the target already had it all. */
export function upToDate(passes: readonly PassReport[], notRun: readonly string[]): boolean {
  return passes.length > 0 && notRun.length === 0 && passes.every((p) => p.ok && !p.error && p.forwarded === 0 && p.invalid === 0);
}

export function totals(passes: PassReport[]): RunReport['totals'] {
  const t = { read: 0, forwarded: 0, skipped: 0, invalid: 0, bytesIn: 0, bytesOut: 0, outcomes: zeroCounts() };
  for (const p of passes) {
    t.read += p.read;
    t.forwarded += p.forwarded;
    t.skipped += p.skipped;
    t.invalid += p.invalid;
    t.bytesIn += p.bytesIn;
    t.bytesOut += p.bytesOut;
    addCounts(t.outcomes, p.outcomes);
  }
  return t;
}

/** A pass's status in a word or two: the summary table's last column, and the message of its `pass` log line. */
function passStatus(p: PassReport): string {
  return p.error ? `FAILED (${p.error.code.replace('SDATA_E_', '').toLowerCase()})` : p.dryRun ? 'dry run' : p.outcomes.failed > 0 || p.invalid > 0 ? 'partial'
    : p.upToDate ? 'up to date' : p.mergeRefused ? 'digest merge refused' : p.mergeOnly ? 'digest merge only' : 'ok';
}

/** Counts as log fields (README "Logs"): entries read and decided, what the target did, bytes. */
function countFields(p: { read: number; forwarded: number; skipped: number; invalid: number; bytesIn: number; bytesOut: number; outcomes: OutcomeCounts }): LogFields {
  const o = p.outcomes;
  return {
    read: p.read, forwarded: p.forwarded, skipped: p.skipped, invalid: p.invalid, created: o.created, updated: o.updated, deleted: o.deleted,
    ignored: o.ignored, conflicts: o.conflictsTargetWon, failed: o.failed, bytesIn: p.bytesIn, bytesOut: p.bytesOut,
  };
}

export interface LogRecord {
  level: LogLevel;
  message: string;
  fields: LogFields;
}

/**
 * A run's JSON log lines (README "Logs"): one `pass` line per kind (its counts, status, error), a warning per failed
 * entry (the first 10 of each kind), and the `summary` line (totals and exit code), last.
 */
export function runRecords(r: RunReport): LogRecord[] {
  const out: LogRecord[] = [];
  for (const p of r.passes) {
    const would = p.wouldSend ? `: would send ${int(p.wouldSend.entries)} entries in ${int(p.wouldSend.chunks)} chunk(s), ${mb(p.wouldSend.bytes)}` : '';
    out.push({
      level: p.error ? 'error' : p.outcomes.failed > 0 || p.invalid > 0 ? 'warn' : 'info',
      message: `${p.kind}: ${p.error ? p.error.message : `${passStatus(p)}${would}`}`,
      fields: {
        event: 'pass', kind: p.kind, runName: r.runName, ...countFields(p), held: p.held, pages: p.pages, chunks: p.wouldSend ? p.wouldSend.chunks : p.chunks,
        splits: p.splits, upToDate: upToDate([p], []), seconds: p.seconds, ...(p.error ? { error: p.error.code } : {}),
      },
    });
    for (const f of p.failures.slice(0, 10)) out.push({ level: 'warn', message: `${p.kind}: ${failureLine(f)}`, fields: { kind: p.kind, runName: r.runName } });
  }
  for (const k of r.notRun) out.push({ level: 'warn', message: `${k}: not run (an earlier pass failed or the run was interrupted)`, fields: { event: 'pass', kind: k, runName: r.runName } });
  const failed = r.passes.find((p) => p.error);
  out.push({
    level: levelOfExit(r.exitCode),
    message: `run '${r.runName}': ${r.passes.length} kind(s) ${r.upToDate ? 'up to date' : r.ok ? 'ok' : `exit ${r.exitCode}`}`,
    fields: {
      event: 'summary', runName: r.runName, ...countFields(r.totals), chunks: r.passes.reduce((n, p) => n + p.chunks, 0),
      upToDate: r.upToDate, seconds: r.seconds, ...(failed?.error ? { error: failed.error.code } : {}), exitCode: r.exitCode,
    },
  });
  return out;
}

/** A failed entry in one line: where it was posted, what it is, what the target said. */
function failureLine(f: FailedEntry): string {
  const what = f.atomId ?? f.uuid ?? `#${f.index + 1}`;
  return `chunk ${f.chunk} entry ${f.index + 1} (${what}) failed: HTTP ${f.status ?? '?'}${f.diagnoses.length ? ` ${f.diagnoses.map(formatDiagnosis).join('; ')}` : f.message ? ` ${f.message}` : ''}`;
}

const COLS = ['kind', 'read', 'skipped', 'sent', 'created', 'updated', 'deleted', 'ignored', 'conflicts*', 'failed', 'invalid', 'MB in', 'time', 'rate/s', 'status'] as const;

/** The end-of-run table (stderr), one row per kind plus a total; `conflicts*` = conflicts the target won. */
export function summaryTable(r: RunReport): string {
  const rows: string[][] = [];
  const row = (kind: string, p: { read: number; skipped: number; forwarded: number; invalid: number; bytesIn: number; outcomes: OutcomeCounts }, secs: number, status: string): string[] => [
    kind, int(p.read), int(p.skipped), int(p.forwarded), int(p.outcomes.created), int(p.outcomes.updated), int(p.outcomes.deleted),
    int(p.outcomes.ignored), int(p.outcomes.conflictsTargetWon), int(p.outcomes.failed), int(p.invalid), mb(p.bytesIn).replace(' MB', ''),
    `${secs.toFixed(1)} s`, secs > 0 ? int(p.read / secs) : '-', status,
  ];
  for (const p of r.passes) rows.push(row(p.kind, p, p.seconds, passStatus(p)));
  for (const k of r.notRun) rows.push([k, '', '', '', '', '', '', '', '', '', '', '', '', '', 'not run']);
  if (r.passes.length > 1) rows.push(row('total', r.totals, r.seconds, r.ok ? 'ok' : `exit ${r.exitCode}`));
  const widths = COLS.map((c, i) => Math.max(c.length, ...rows.map((x) => (x[i] ?? '').length)));
  const fmt = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const lines = [fmt(COLS), fmt(COLS.map((_, i) => '-'.repeat(widths[i]!))), ...rows.map(fmt)];
  for (const p of r.passes) {
    if (upToDate([p], [])) lines.push(`${p.kind}: up to date (the source had nothing new for the target)`);
    if (p.wouldSend) lines.push(`${p.kind}: dry run: would send ${int(p.wouldSend.entries)} entries in ${int(p.wouldSend.chunks)} chunk(s), ${mb(p.wouldSend.bytes)}`);
    if (p.error) lines.push(`${p.kind}: ${p.error.message}`);
    for (const f of p.failures.slice(0, 10)) lines.push(`${p.kind}: ${failureLine(f)}`);
    const more = p.failures.length - 10 + p.failuresNotKept;
    if (more > 0) lines.push(`${p.kind}: … and ${int(more)} more failed entries (see --report)`);
  }
  return `${lines.join('\n')}\n`;
}
