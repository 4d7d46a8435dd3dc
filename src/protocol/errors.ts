/**
 * Process exit codes (README "Exit codes"). The CLI's, but defined here so that every error code below names its
 * own; OK, INTERNAL, PARTIAL and EPIPE are outcomes of a run, not errors, and no code maps to them.
 */
export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  BAD_INPUT: 3,
  IO: 4,
  NETWORK: 5,
  PROTOCOL: 6,
  TARGET_REJECTED: 7,
  PARTIAL: 8,
  STORE_FULL: 9,
  INTERRUPTED: 130,
  EPIPE: 141,
} as const;

/**
 * Every failure that crosses a module boundary is an SdataError with a stable code (undici style). This is the one
 * map from a code to the CLI's exit code and to the HTTP status the provider answers with when a request fails
 * with it (bad input is the client's fault: 400; an entry over the size cap: 413; a full store: 507; a busy one:
 * 503; anything else: 500). The code type is derived from its keys, so a new code cannot be thrown before it is
 * mapped.
 */
export const ERROR_CODES = {
  SDATA_E_USAGE: { exit: EXIT.USAGE, http: 400 },                    // bad command line
  SDATA_E_MALFORMED: { exit: EXIT.BAD_INPUT, http: 400 },            // not well-formed XML
  SDATA_E_ENCODING: { exit: EXIT.BAD_INPUT, http: 400 },             // not UTF-8, or a declared encoding we do not support
  SDATA_E_DOCTYPE: { exit: EXIT.BAD_INPUT, http: 400 },              // DOCTYPE present (entities are never expanded)
  SDATA_E_NOT_SYNC_FEED: { exit: EXIT.BAD_INPUT, http: 400 },        // well-formed, but not an Atom sync feed (wrong root, missing syncMode/digest…)
  SDATA_E_DIGEST: { exit: EXIT.BAD_INPUT, http: 400 },               // a digest that cannot be understood
  SDATA_E_TICK: { exit: EXIT.BAD_INPUT, http: 400 },                 // a tick that is not a non-negative integer
  SDATA_E_INVALID_ENTRY: { exit: EXIT.BAD_INPUT, http: 400 },        // an entry that cannot be forwarded (fatal only with --strict)
  SDATA_E_ENTRY_TOO_LARGE: { exit: EXIT.BAD_INPUT, http: 413 },
  SDATA_E_LIMIT: { exit: EXIT.BAD_INPUT, http: 400 },                // a parsing limit crossed (depth, attribute, name, text between entries: xml/limits.ts)
  SDATA_E_TOO_LARGE: { exit: EXIT.BAD_INPUT, http: 413 },            // a document read whole is over its size limit (digest, schema, one-entry body)
  SDATA_E_IO: { exit: EXIT.IO, http: 500 },                          // file system
  SDATA_E_NETWORK: { exit: EXIT.NETWORK, http: 500 },                // connection refused/reset, timeouts
  SDATA_E_HTTP: { exit: EXIT.PROTOCOL, http: 500 },                  // a peer answered with an unexpected status
  SDATA_E_PROTOCOL: { exit: EXIT.PROTOCOL, http: 500 },              // a peer broke the protocol (missing Location, bad tracking, …)
  SDATA_E_TARGET_REJECTED: { exit: EXIT.TARGET_REJECTED, http: 400 }, // the target refused a whole page
  SDATA_E_ABORTED: { exit: EXIT.INTERRUPTED, http: 500 },            // SIGINT/SIGTERM
  // A provider's SQLite store (provider/store/faults.ts); the engine meets the first as a peer's 507.
  SDATA_E_STORE_FULL: { exit: EXIT.STORE_FULL, http: 507 },          // disk full, or the store's --max-db-mib quota
  SDATA_E_STORE_BUSY: { exit: EXIT.IO, http: 503 },                  // another connection held the write lock beyond busy_timeout
  SDATA_E_STORE_READONLY: { exit: EXIT.IO, http: 500 },              // read-only file, directory or mount
  SDATA_E_STORE_CORRUPT: { exit: EXIT.IO, http: 500 },               // not a database, or a malformed page
  SDATA_E_STORE_IO: { exit: EXIT.IO, http: 500 },                    // any other I/O failure under SQLite (SQLITE_IOERR, CANTOPEN, …)
} as const satisfies Record<`SDATA_E_${string}`, { exit: number; http: number }>;

export type SdataErrorCode = keyof typeof ERROR_CODES;

export interface SdataErrorDetails {
  /** Where: file name or URL. */
  source?: string;
  line?: number;
  column?: number;
  entryId?: string;
  url?: string;
  status?: number;
  cause?: unknown;
}

export class SdataError extends Error {
  readonly code: SdataErrorCode;
  readonly details: SdataErrorDetails;
  constructor(code: SdataErrorCode, message: string, details: SdataErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SdataError';
    this.code = code;
    this.details = details;
  }
}

export function isSdataError(e: unknown): e is SdataError {
  return e instanceof SdataError;
}

/** The code of a failed system call (ENOSPC, EACCES, …), if `e` is such a failure. */
export function errnoCode(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/** SDATA_E_IO for a file that could not be read, written or created: `what` names it (a path, an option and path). */
export function fileError(what: string, doing: 'read' | 'write' | 'create', e: unknown, details: SdataErrorDetails = {}): SdataError {
  return new SdataError('SDATA_E_IO', `${what}: cannot ${doing}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { ...details, cause: e });
}
