import { redactUrl } from '../http/url.ts';
import { EXIT } from '../protocol/errors.ts';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'text' | 'json';

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/**
 * What a JSON log line is about (README "Logs"): `message` a diagnostic, `start` a command begins its work,
 * `progress` the live figures of a pass, `pass` the outcome of one kind's pass, `summary` the command's last line
 * (its exit code and counts), `error` the failure that ends the command.
 */
export const LOG_EVENTS = ['message', 'start', 'progress', 'pass', 'summary', 'error'] as const;
export type LogEvent = (typeof LOG_EVENTS)[number];

/**
 * Every key a JSON log line may have, with its JSON type: one schema for every command (README "Logs" documents
 * each; test/cli/log-schema.test.ts holds every line of run, push, pull, link, verify and serve to it). A key with no value
 * is left out, never null.
 */
export const LOG_KEYS = {
  time: 'string', level: 'string', event: 'string', message: 'string',
  kind: 'string', runName: 'string', trackingID: 'string', url: 'string', phase: 'string',
  // Counts: entries read, decided, sent, and what the target did with them (run, push, pull).
  read: 'number', forwarded: 'number', skipped: 'number', invalid: 'number', held: 'number', acknowledged: 'number',
  created: 'number', updated: 'number', deleted: 'number', ignored: 'number', conflicts: 'number', failed: 'number',
  pages: 'number', chunks: 'number', splits: 'number', bytesIn: 'number', bytesOut: 'number',
  // Progress.
  entriesPerSecond: 'number', totalResults: 'number', etaSeconds: 'number', trackingProgress: 'number',
  // link: keys matched, and what was (or would be) done per key (docs/protocol.md X18).
  matched: 'number', alreadyLinked: 'number', linkBoth: 'number', copyToTarget: 'number', copyToSource: 'number',
  repointTarget: 'number', repointSource: 'number', uuidTaken: 'number', ambiguous: 'number', unmatched: 'number',
  // verify: how the two sides compare (docs/protocol.md X22).
  equal: 'boolean', missing: 'number', extra: 'number', deletedOnOneSide: 'number', payload: 'number', duplicate: 'number',
  notCompared: 'number',
  // How it ended.
  upToDate: 'boolean', seconds: 'number', error: 'string', exitCode: 'number',
} as const;

type JsonOf<T> = T extends 'string' ? string : T extends 'number' ? number : boolean;
/** What a log call may add to its line (time, level and message come from the call itself). */
export type LogFields = { -readonly [K in Exclude<keyof typeof LOG_KEYS, 'time' | 'level' | 'message' | 'event'>]?: JsonOf<(typeof LOG_KEYS)[K]> } & { event?: LogEvent };

/**
 * Diagnostics on stderr (stdout carries data only), as text on a terminal or as JSON lines of one schema
 * (LOG_KEYS) for log collectors. Kept in this small class rather than pino: every command loads it, `plan` on a
 * pipe included, and pino cost 14-40 ms of start-up and ~8 MiB of RSS (measured, 2 cores, node 24) for lines we
 * write a few times a second at most. `--quiet` keeps errors and warnings, `--verbose` adds per-request detail.
 * URLs pass through redactUrl; credentials never reach a log line because they only live in the clients' headers.
 */
export class Logger {
  readonly level: LogLevel;
  readonly format: LogFormat;
  private readonly write: (line: string) => void;
  /** Called before each line, so a live progress line can be cleared first. */
  beforeWrite: (() => void) | undefined;
  afterWrite: (() => void) | undefined;

  constructor(level: LogLevel = 'info', format: LogFormat = 'text', write: (line: string) => void = (l) => process.stderr.write(l)) {
    this.level = level;
    this.format = format;
    this.write = write;
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] <= RANK[this.level];
  }

  log(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (this.enabled(level)) this.record(level, msg, fields);
  }

  /**
   * One line whatever the level (a summary, what `--explain` asked for): as text `sdata-sync: msg` (nothing when
   * `msg` is empty), as JSON one object of the schema.
   */
  record(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (this.format === 'text' && msg === '') return;
    this.beforeWrite?.();
    this.write(this.format === 'json' ? jsonLine(level, msg, fields) : `sdata-sync: ${level === 'error' ? 'error: ' : level === 'warn' ? 'warning: ' : ''}${msg}\n`);
    this.afterWrite?.();
  }

  error(msg: string, fields?: LogFields): void { this.log('error', msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.log('warn', msg, fields); }
  info(msg: string, fields?: LogFields): void { this.log('info', msg, fields); }
  debug(msg: string, fields?: LogFields): void { this.log('debug', msg, fields); }

  /** What the user asked to see (`--explain`): written whatever the level, as info. */
  note(msg: string, fields: LogFields = {}): void {
    this.record('info', msg, fields);
  }

  /** Text as it is (the summary table), through the same clearing hooks; text format only. */
  raw(text: string): void {
    this.beforeWrite?.();
    this.write(text);
    this.afterWrite?.();
  }
}

/** `--log-format auto`: text on a terminal, JSON lines for whatever reads stderr otherwise (a collector, a file). */
export function logFormatOf(f: 'auto' | LogFormat): LogFormat {
  return f === 'auto' ? (process.stderr.isTTY ? 'text' : 'json') : f;
}

/** One JSON log line: time (ISO, ms), level, event, message, then the fields, in the schema of LOG_KEYS. */
export function jsonLine(level: LogLevel, msg: string, fields: LogFields): string {
  const { event, url, ...rest } = fields;
  return `${JSON.stringify({
    time: new Date().toISOString(), level, event: event ?? 'message', ...(msg === '' ? {} : { message: redactUrl(msg) }),
    ...(url === undefined ? {} : { url: redactUrl(url) }), ...rest,
  })}\n`;
}

/** The level a command's last line gets from its exit code: ok, partial (8: some entries failed), failed. */
export const levelOfExit = (code: number): LogLevel => (code === EXIT.OK ? 'info' : code === EXIT.PARTIAL ? 'warn' : 'error');

export const silentLogger = (): Logger => new Logger('error', 'text', () => undefined);
