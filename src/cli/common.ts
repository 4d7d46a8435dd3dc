/**
 * What more than one command needs: files in and out with clear errors, the logger, progress and interrupt set-up,
 * and the HTTP options of the networked commands. Options are declared, parsed and validated in commands.ts,
 * program.ts and config.ts; here they arrive as typed values. It must stay cheap to load: `plan` on a pipe imports
 * it and should not pay for undici or SQLite (test/cli/common.test.ts), so the HTTP client is only described here
 * (`clientOptions`) and built by the commands that talk to a peer.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { authorizationFromEnv } from '../http/auth.ts';
import type { HttpClientOptions } from '../http/client.ts';
import { readCaFile } from '../http/trust.ts';
import { splitUrl } from '../http/url.ts';
import { SdataError } from '../protocol/errors.ts';
import { decodeDocument } from '../xml/encoding.ts';
import { MAX_DIGEST_BYTES, type XmlLimits } from '../xml/limits.ts';
import { Logger, type LogLevel } from '../engine/log.ts';
import type { ProgressMode } from '../engine/progress.ts';
import type { COMMANDS, Input } from './commands.ts';
import { EXIT } from './exit-codes.ts';
import { handleSignals } from './signals.ts';

/** The options every command that talks to a provider has (commands.ts HTTP): `digest` has exactly those. */
type HttpValues = Input<typeof COMMANDS.digest>['values'];

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

/** The parsing limits a command's values set (commands.ts LIMITS; xml/limits.ts). */
export function limitsFrom(v: Pick<Input<typeof COMMANDS.plan>['values'], keyof XmlLimits>): XmlLimits {
  return {
    maxDepth: v.maxDepth, maxAttributeBytes: v.maxAttributeBytes, maxAttributes: v.maxAttributes,
    maxNameBytes: v.maxNameBytes, maxTextBetweenEntries: v.maxTextBetweenEntries,
  };
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

export function loggerFrom(v: Pick<HttpValues, 'quiet' | 'verbose' | 'logFormat'>): Logger {
  const level: LogLevel = v.quiet ? 'warn' : v.verbose ? 'debug' : 'info';
  return new Logger(level, v.logFormat);
}

/** Bounds on the providers' pollingMillis. */
export function pollFrom(v: Pick<HttpValues, 'pollMin' | 'pollMax'>): { pollMinMs: number; pollMaxMs: number } {
  return { pollMinMs: v.pollMin, pollMaxMs: v.pollMax };
}

/**
 * One client per side: its own pool, its own credentials (sent to its own origin only). The options only, for
 * `new HttpClient(…)` in the command: see the top of this file.
 */
export function clientOptions(side: 'source' | 'target', url: string, v: HttpValues, log: Logger, signal?: AbortSignal): HttpClientOptions {
  splitUrl(url); // validates early, refuses credentials in the URL
  return {
    authorization: authorizationFromEnv(side),
    authOrigin: url,
    side,
    ca: v.ca === undefined ? undefined : readCaFile(v.ca),
    timeouts: { connectMs: v.timeoutConnect, headersMs: v.timeoutHeaders, bodyMs: v.timeoutBody, pollMs: v.timeoutPoll },
    retry: { retries: v.retries },
    signal,
    onRetry: (e) => log.debug(`${side}: ${e.method} ${e.url}: ${e.reason}; retry ${e.attempt} in ${e.delayMs} ms`),
  };
}

/**
 * Ctrl-C once: stop at the next safe point and release every context. Twice: leave now. A signal that came while
 * the command loaded (held by the bin, signals.ts) counts as the first.
 */
export function onInterrupt(log: Logger, abort: () => void): () => void {
  let count = 0;
  return handleSignals((sig) => {
    count++;
    if (count === 1) {
      log.warn(`${sig}: stopping; releasing the open contexts (press Ctrl-C again to quit at once)`);
      abort();
    } else {
      process.exit(EXIT.INTERRUPTED);
    }
  });
}

/** `--progress auto`: a live line on a terminal, else `otherwise` (JSON lines for log collectors, or nothing). */
export function progressMode(m: ProgressMode | 'auto', quiet: boolean, otherwise: ProgressMode = 'json'): ProgressMode {
  if (quiet) return 'none';
  return m === 'auto' ? (process.stderr.isTTY ? 'tty' : otherwise) : m;
}
