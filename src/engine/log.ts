import { redactUrl } from '../http/url.ts';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'text' | 'json';

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/**
 * Diagnostics on stderr (stdout carries data only). Text or JSON lines; `--quiet` keeps errors and warnings,
 * `--verbose` adds per-request detail. URLs pass through redactUrl; credentials never reach a log line because
 * they only ever live in the clients' headers.
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

  log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (this.enabled(level)) this.emit(level, msg, fields);
  }

  private emit(level: LogLevel, msg: string, fields: Record<string, unknown>): void {
    this.beforeWrite?.();
    if (this.format === 'json') {
      this.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: redactUrl(msg), ...fields })}\n`);
    } else {
      const prefix = level === 'error' ? 'error: ' : level === 'warn' ? 'warning: ' : '';
      this.write(`sdata-sync: ${prefix}${msg}\n`);
    }
    this.afterWrite?.();
  }

  error(msg: string, fields?: Record<string, unknown>): void { this.log('error', msg, fields); }
  warn(msg: string, fields?: Record<string, unknown>): void { this.log('warn', msg, fields); }
  info(msg: string, fields?: Record<string, unknown>): void { this.log('info', msg, fields); }
  debug(msg: string, fields?: Record<string, unknown>): void { this.log('debug', msg, fields); }

  /** What the user asked to see (`--explain`): written whatever the level, as info. */
  note(msg: string, fields: Record<string, unknown> = {}): void {
    this.emit('info', msg, fields);
  }

  /** Raw line (JSON progress, summary table) through the same clearing hooks. */
  raw(line: string): void {
    this.beforeWrite?.();
    this.write(line);
    this.afterWrite?.();
  }
}

export const silentLogger = (): Logger => new Logger('error', 'text', () => undefined);
