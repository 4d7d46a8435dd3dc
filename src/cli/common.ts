/**
 * What more than one command needs: argument parsing, sizes and counts, files in and out with clear errors, the
 * logger, progress and interrupt set-up, and the HTTP options of the networked commands. It must stay cheap to
 * load: `plan` on a pipe imports it and should not pay for undici or SQLite (test/cli/common.test.ts), so the HTTP
 * client is only described here (`clientOptions`) and built by the commands that talk to a peer.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { authorizationFromEnv } from '../http/auth.ts';
import type { HttpClientOptions, Timeouts } from '../http/client.ts';
import { splitUrl } from '../http/url.ts';
import { Logger, type LogLevel } from '../engine/log.ts';
import type { ProgressMode } from '../engine/progress.ts';
import { SdataError } from '../protocol/errors.ts';
import { decodeDocument } from '../xml/encoding.ts';
import { DEFAULT_LIMITS, DEFAULT_MAX_ENTRY_BYTES, LIMIT_FLAGS, MAX_DIGEST_BYTES, resolveLimits, type XmlLimits } from '../xml/limits.ts';
import { EXIT } from './exit-codes.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs with our error type, so a bad flag exits with the usage code and a clear message. */
export function parse<O extends Options>(argv: string[], options: O, command: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new SdataError('SDATA_E_USAGE', `${command}: ${(e as Error).message} (see 'sdata-sync ${command} --help')`);
  }
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3 };

/** `8MiB`, `16MB`, `65536` → bytes. */
export function parseSize(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new SdataError('SDATA_E_USAGE', `${flag}: '${text}' is not a size (e.g. 8MiB, 65536)`);
  const n = Math.floor(Number(m[1]) * unit);
  if (n < 1) throw new SdataError('SDATA_E_USAGE', `${flag}: must be at least 1 byte`);
  return n;
}

/**
 * `--max-entry-bytes`, checked against this process's V8 heap. The reader holds one entry at a time (its pieces,
 * then the joined text: up to twice the bytes as UTF-16), so the need is ~3x the cap plus a working set. Measured:
 * three 16 MiB entries (two-byte text) pass through plan with the old generation capped at 48 MiB; the bin caps it
 * at 64 (bin/sdata-sync.mjs) so that memory stays flat. Larger caps need a larger heap, asked for by running node
 * with --max-old-space-size.
 */
export function parseEntryCap(text: string | undefined): number {
  const n = text === undefined ? DEFAULT_MAX_ENTRY_BYTES : parseSize(text, '--max-entry-bytes');
  const limitMiB = Math.floor(getHeapStatistics().heap_size_limit / 2 ** 20);
  const needMiB = Math.ceil((3 * n) / 2 ** 20) + 32;
  if (needMiB > limitMiB) {
    throw new SdataError('SDATA_E_USAGE', `--max-entry-bytes ${text ?? `${n} (the default)`}: entries that large need about ${needMiB} MiB of heap and this process has ${limitMiB} MiB; ` +
      `run it with a larger one: node --max-old-space-size=${needMiB} "$(command -v sdata-sync)" …`);
  }
  return n;
}

/** The limit flags (xml/limits.ts), as plan, run, pull, push and serve take them. */
export const LIMIT_OPTIONS = {
  'max-depth': { type: 'string' },
  'max-attribute-bytes': { type: 'string' },
  'max-attributes': { type: 'string' },
  'max-name-bytes': { type: 'string' },
  'max-text-between-entries': { type: 'string' },
} as const;

/** Help lines for LIMIT_OPTIONS (README "Limits"). */
export const LIMITS_HELP = `Limits (crossing one ends the document, exit 3; README "Limits"):
  --max-depth N                    elements open at once (default ${DEFAULT_LIMITS.maxDepth})
  --max-attribute-bytes SIZE       one attribute value (default 1MiB)
  --max-attributes N               attributes of one element (default ${DEFAULT_LIMITS.maxAttributes})
  --max-name-bytes SIZE            one element or attribute name (default ${DEFAULT_LIMITS.maxNameBytes})
  --max-text-between-entries SIZE  characters between two tags outside entries (default 1MiB)
`;

/** The limits the flags of LIMIT_OPTIONS set; the defaults for the others. */
export function limitsFrom(v: Values): XmlLimits {
  const out: Partial<XmlLimits> = {};
  for (const key of Object.keys(LIMIT_FLAGS) as Array<keyof XmlLimits>) {
    const flag = LIMIT_FLAGS[key];
    const text = v[flag.slice(2)];
    if (typeof text !== 'string') continue;
    out[key] = key === 'maxDepth' || key === 'maxAttributes' ? parseCount(text, flag) : parseSize(text, flag);
  }
  return resolveLimits(out);
}

export function parseCount(text: string, flag: string, min = 1): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new SdataError('SDATA_E_USAGE', `${flag}: '${text}' is not a whole number ≥ ${min}`);
  return n;
}

/** Write a diagnostic line to stderr (stdout carries data only). */
export function stderrLine(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * A file-system step whose failure becomes SDATA_E_IO naming the file (`what`) and what could not be done. A
 * closed stdout is not a file error: it goes through as it is, for main.ts to end quietly (exit 141).
 */
export async function fileStep<T>(what: string, doing: 'read' | 'write' | 'create', f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_STREAM_DESTROYED' || code === 'EPIPE') throw e;
    throw new SdataError('SDATA_E_IO', `${what}: cannot ${doing}: ${code ?? (e as Error).message}`, { cause: e });
  }
}

/** A digest document file, read whole: at most MAX_DIGEST_BYTES, and UTF-8 (encoding.ts). */
export async function readDigestFile(path: string): Promise<string> {
  const size = await fileStep(path, 'read', async () => (await stat(path)).size);
  if (size > MAX_DIGEST_BYTES) throw new SdataError('SDATA_E_TOO_LARGE', `${path}: the digest document is larger than ${MAX_DIGEST_BYTES} bytes, more than such a document ever needs`, { source: path });
  return decodeDocument(await fileStep(path, 'read', () => readFile(path)), path);
}

/** `--report FILE`: the run's summary as one JSON document. */
export function writeReport(path: string, report: unknown, indent?: number): Promise<void> {
  return fileStep(`--report ${path}`, 'write', () => writeFile(path, `${JSON.stringify(report, null, indent)}\n`));
}

/** A file as a byte stream, with a clear SDATA_E_IO error naming the file if it cannot be opened. */
export async function openInput(path: string): Promise<AsyncIterable<Uint8Array>> {
  try {
    const s = await stat(path);
    if (s.isDirectory()) throw new Error('is a directory');
  } catch (e) {
    throw new SdataError('SDATA_E_IO', `${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { source: path, cause: e });
  }
  return createReadStream(path, { highWaterMark: 64 * 1024 });
}

export const COMMON_HTTP_OPTIONS = {
  retries: { type: 'string' },
  'timeout-connect': { type: 'string' },
  'timeout-headers': { type: 'string' },
  'timeout-body': { type: 'string' },
  'timeout-poll': { type: 'string' },
  'poll-min': { type: 'string' },
  'poll-max': { type: 'string' },
  quiet: { type: 'boolean' },
  verbose: { type: 'boolean' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export function timeoutsFrom(v: Values): Partial<Timeouts> {
  const t: Partial<Timeouts> = {};
  const ms = (k: string): number | undefined => (typeof v[k] === 'string' ? parseCount(v[k], `--${k}`) : undefined);
  const c = ms('timeout-connect');
  if (c !== undefined) t.connectMs = c;
  const h = ms('timeout-headers');
  if (h !== undefined) t.headersMs = h;
  const b = ms('timeout-body');
  if (b !== undefined) t.bodyMs = b;
  const p = ms('timeout-poll');
  if (p !== undefined) t.pollMs = p;
  return t;
}

export function pollFrom(v: Values): { pollMinMs?: number; pollMaxMs?: number } {
  const o: { pollMinMs?: number; pollMaxMs?: number } = {};
  if (typeof v['poll-min'] === 'string') o.pollMinMs = parseCount(v['poll-min'], '--poll-min', 0);
  if (typeof v['poll-max'] === 'string') o.pollMaxMs = parseCount(v['poll-max'], '--poll-max', 1);
  return o;
}

export function loggerFrom(v: Values): Logger {
  const fmt = (v['log-format'] as string | undefined) ?? 'text';
  if (fmt !== 'text' && fmt !== 'json') throw new SdataError('SDATA_E_USAGE', `--log-format: '${fmt}' is neither text nor json`);
  if (v['quiet'] && v['verbose']) throw new SdataError('SDATA_E_USAGE', '--quiet and --verbose exclude each other');
  const level: LogLevel = v['quiet'] ? 'warn' : v['verbose'] ? 'debug' : 'info';
  return new Logger(level, fmt);
}

/**
 * One client per side: its own pool, its own credentials (sent to its own origin only). The options only, for
 * `new HttpClient(…)` in the command: see the top of this file.
 */
export function clientOptions(side: 'source' | 'target', url: string, v: Values, log: Logger, signal?: AbortSignal): HttpClientOptions {
  splitUrl(url); // validates early, refuses credentials in the URL
  return {
    authorization: authorizationFromEnv(side),
    authOrigin: url,
    timeouts: timeoutsFrom(v),
    retry: typeof v['retries'] === 'string' ? { retries: parseCount(v['retries'], '--retries', 0) } : {},
    signal,
    onRetry: (e) => log.debug(`${side}: ${e.method} ${e.url}: ${e.reason}; retry ${e.attempt} in ${e.delayMs} ms`),
  };
}

/** Ctrl-C once: stop at the next safe point and release every context. Twice: leave now. */
export function onInterrupt(log: Logger, abort: () => void): () => void {
  let count = 0;
  const handler = (sig: NodeJS.Signals): void => {
    count++;
    if (count === 1) {
      log.warn(`${sig}: stopping; releasing the open contexts (press Ctrl-C again to quit at once)`);
      abort();
    } else {
      process.exit(EXIT.INTERRUPTED);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

export function progressMode(v: string | undefined, quiet: boolean): ProgressMode {
  if (quiet) return 'none';
  const m = v ?? 'auto';
  if (m === 'auto') return process.stderr.isTTY ? 'tty' : 'json';
  if (m === 'tty' || m === 'json' || m === 'none') return m;
  throw new SdataError('SDATA_E_USAGE', `--progress: '${m}' is not one of auto, tty, json, none`);
}
