/**
 * Every failure that crosses a module boundary is an SdataError with a stable code (undici style).
 * The CLI maps codes to exit codes in one place (cli/exit-codes.ts).
 */
export type SdataErrorCode =
  | 'SDATA_E_USAGE'          // bad command line
  | 'SDATA_E_MALFORMED'      // not well-formed XML
  | 'SDATA_E_ENCODING'       // not UTF-8, or a declared encoding we do not support
  | 'SDATA_E_DOCTYPE'        // DOCTYPE present (entities are never expanded)
  | 'SDATA_E_NOT_SYNC_FEED'  // well-formed, but not an Atom sync feed (wrong root, missing syncMode/digest…)
  | 'SDATA_E_DIGEST'         // a digest that cannot be understood
  | 'SDATA_E_TICK'           // a tick that is not a non-negative integer
  | 'SDATA_E_INVALID_ENTRY'  // an entry that cannot be forwarded (fatal only with --strict)
  | 'SDATA_E_ENTRY_TOO_LARGE'
  | 'SDATA_E_IO'             // file system
  | 'SDATA_E_EPIPE'          // downstream closed stdout
  | 'SDATA_E_NETWORK'        // connection refused/reset, timeouts
  | 'SDATA_E_HTTP'           // a peer answered with an unexpected status
  | 'SDATA_E_PROTOCOL'       // a peer broke the protocol (missing Location, bad tracking, …)
  | 'SDATA_E_TARGET_REJECTED'// the target refused a whole page
  | 'SDATA_E_PARTIAL'        // some entries failed at the target
  | 'SDATA_E_ABORTED';       // SIGINT/SIGTERM

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
