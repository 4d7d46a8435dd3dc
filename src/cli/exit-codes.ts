import type { SdataErrorCode } from '../protocol/errors.ts';

/** The one place where failure classes become process exit codes (documented in README "Exit codes"). */
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
  INTERRUPTED: 130,
  EPIPE: 141,
} as const;

export function exitCodeFor(code: SdataErrorCode | undefined): number {
  switch (code) {
    case 'SDATA_E_USAGE': return EXIT.USAGE;
    case 'SDATA_E_MALFORMED':
    case 'SDATA_E_ENCODING':
    case 'SDATA_E_DOCTYPE':
    case 'SDATA_E_NOT_SYNC_FEED':
    case 'SDATA_E_DIGEST':
    case 'SDATA_E_TICK':
    case 'SDATA_E_INVALID_ENTRY':
    case 'SDATA_E_ENTRY_TOO_LARGE': return EXIT.BAD_INPUT;
    case 'SDATA_E_IO': return EXIT.IO;
    case 'SDATA_E_NETWORK': return EXIT.NETWORK;
    case 'SDATA_E_HTTP':
    case 'SDATA_E_PROTOCOL': return EXIT.PROTOCOL;
    case 'SDATA_E_TARGET_REJECTED': return EXIT.TARGET_REJECTED;
    case 'SDATA_E_PARTIAL': return EXIT.PARTIAL;
    case 'SDATA_E_ABORTED': return EXIT.INTERRUPTED;
    case 'SDATA_E_EPIPE': return EXIT.EPIPE;
    default: return EXIT.INTERNAL;
  }
}
