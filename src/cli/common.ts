/**
 * What more than one command needs: files in and out with clear errors, the logger, progress and interrupt set-up,
 * and the HTTP options of the networked commands. Options are declared, parsed and validated in commands.ts,
 * program.ts and config.ts; here they arrive as typed values. It must stay cheap to load: `plan` on a pipe imports
 * it and should not pay for undici or SQLite (test/cli/common.test.ts), so the HTTP client is only described here
 * (`clientOptions`) and built by the commands that talk to a peer.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { authorizationFromEnv } from '../http/auth.ts';
import type { HttpClientOptions } from '../http/client.ts';
import { readCaFile } from '../http/trust.ts';
import { splitUrl } from '../http/url.ts';
import { fileError, isSdataError, SdataError } from '../protocol/errors.ts';
import { decodeDocument } from '../xml/encoding.ts';
import { MAX_DIGEST_BYTES, type XmlLimits } from '../xml/limits.ts';
import { Logger, logFormatOf, type LogFormat, type LogLevel } from '../engine/log.ts';
import type { ProgressMode } from '../engine/progress.ts';
import type { COMMANDS, Input } from './commands.ts';
import { EXIT, exitCodeFor } from './exit-codes.ts';
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
    throw fileError(what, doing, e);
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

/**
 * Every output path of a command, tried before its work starts, so that a long pass never ends with exit 4 and its
 * summary lost: a file is opened for appending (and removed again if it was not there), a directory is created if
 * need be and a scratch directory made and removed in it. The first that fails is SDATA_E_IO (exit 4) naming it.
 * `what` names each as the user gave it: `--report FILE`, `--spool-dir DIR`, or the default it stands for.
 */
export async function checkOutputs(o: { files?: Array<[what: string, path: string | undefined]>; dirs?: Array<[what: string, path: string | undefined]> }): Promise<void> {
  for (const [what, path] of o.files ?? []) {
    if (path === undefined) continue;
    await fileStep(what, 'write', async () => {
      const existed = await stat(path).then((s) => {
        if (s.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
        return true;
      }, (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return false;
        throw e;
      });
      await (await open(path, 'a')).close();
      if (!existed) await rm(path, { force: true });
    });
  }
  for (const [what, dir] of o.dirs ?? []) {
    if (dir === undefined) continue;
    await fileStep(what, 'write', async () => {
      await mkdir(dir, { recursive: true });
      await rm(await mkdtemp(join(dir, '.sdata-sync-check-')), { recursive: true, force: true });
    });
  }
}

/** `--spool-dir`'s value, or the default it stands for, as messages name it. */
export function spoolDirOf(v: { spoolDir?: string | undefined }, tmp: string): [what: string, path: string] {
  return v.spoolDir === undefined ? [`the temp directory ${tmp} (--spool-dir DIR chooses another)`, tmp] : [`--spool-dir ${v.spoolDir}`, v.spoolDir];
}

/** A clear SDATA_E_IO error naming the file if it is missing or a directory (checked before anything is sent). */
export async function checkInput(path: string): Promise<void> {
  try {
    const s = await stat(path);
    if (s.isDirectory()) throw new Error('is a directory');
  } catch (e) {
    throw fileError(path, 'read', e, { source: path });
  }
}

/** A file as a byte stream, with a clear SDATA_E_IO error naming the file if it cannot be opened. */
export async function openInput(path: string): Promise<AsyncIterable<Uint8Array>> {
  await checkInput(path);
  return createReadStream(path, { highWaterMark: 64 * 1024 });
}

export function loggerFrom(v: Partial<Pick<HttpValues, 'quiet' | 'verbose'>> & Pick<HttpValues, 'logFormat'>): Logger {
  const level: LogLevel = v.quiet ? 'warn' : v.verbose ? 'debug' : 'info';
  return new Logger(level, logFormatOf(v.logFormat));
}

/**
 * The end of a command that moves data (run, push, pull, link): a failure is said as one line (text: `sdata-sync
 * NAME: message`, as main.ts says it; JSON: `event: "error"` with its code and exit code), then `summary` writes the
 * command's last line with the exit code and the counts so far. A closed stdout goes on to main.ts (exit 141,
 * nothing said).
 */
export async function withSummary(name: string, log: Logger, body: () => Promise<number>, summary: (exitCode: number) => void): Promise<number> {
  let code: number;
  try {
    code = await body();
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException)?.code;
    if (errno === 'EPIPE' || errno === 'ERR_STREAM_DESTROYED') throw e;
    code = isSdataError(e) ? exitCodeFor(e.code) : EXIT.INTERNAL;
    const message = isSdataError(e) ? e.message : `internal error: ${(e as Error)?.stack ?? String(e)}`;
    if (log.format === 'json') log.record('error', message, { event: 'error', ...(isSdataError(e) ? { error: e.code } : {}), exitCode: code });
    else log.raw(`sdata-sync ${name}: ${message}\n`);
  }
  summary(code);
  return code;
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
 * Ctrl-C (or SIGTERM) once: stop at the next safe point and release every context, within `stopTimeoutMs` (--stop-timeout):
 * past it, leave anyway with exit 130, what is still open left to the journal (the next run deletes it). Twice:
 * leave now. A signal that came while the command loaded (held by the bin, signals.ts) counts as the first.
 */
export function onInterrupt(log: Logger, abort: () => void, stopTimeoutMs?: number): () => void {
  let count = 0;
  let bound: NodeJS.Timeout | undefined;
  const stopHandling = handleSignals((sig) => {
    count++;
    if (count === 1) {
      log.warn(`${sig}: stopping; releasing the open contexts (press Ctrl-C again to quit at once)`);
      abort();
      if (stopTimeoutMs !== undefined) {
        bound = setTimeout(() => {
          log.error(`${sig}: the open contexts were not all released within ${stopTimeoutMs / 1000} s (--stop-timeout): leaving; the next run deletes those left open`,
            { event: 'error', error: 'SDATA_E_ABORTED', exitCode: EXIT.INTERRUPTED });
          process.exit(EXIT.INTERRUPTED);
        }, stopTimeoutMs);
        bound.unref();
      }
    } else {
      process.exit(EXIT.INTERRUPTED);
    }
  });
  return () => {
    clearTimeout(bound);
    stopHandling();
  };
}

/**
 * `--progress auto`: a live line on a terminal where the log is text, JSON lines where the log is (one schema for
 * log collectors), else `otherwise`.
 */
export function progressMode(m: ProgressMode | 'auto', quiet: boolean, log: LogFormat, otherwise: ProgressMode = 'none'): ProgressMode {
  if (quiet) return 'none';
  if (m !== 'auto') return m;
  return log === 'json' ? 'json' : process.stderr.isTTY ? 'tty' : otherwise;
}
