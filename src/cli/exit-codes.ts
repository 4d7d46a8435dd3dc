import { ERROR_CODES, EXIT, type SdataErrorCode } from '../protocol/errors.ts';

/** Exit codes are defined with the error codes (protocol/errors.ts: one map); documented in README "Exit codes". */
export { EXIT };

export function exitCodeFor(code: SdataErrorCode | undefined): number {
  return code === undefined ? EXIT.INTERNAL : ERROR_CODES[code].exit;
}
