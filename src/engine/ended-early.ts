import { isSdataError, SdataError } from '../protocol/errors.ts';
import { isTransientError, type Retry } from '../http/retry.ts';
import { redactUrl } from '../http/url.ts';

/**
 * A page whose XML stops before its root element closes, with nothing wrong before that point, in a response whose
 * HTTP framing said it was complete (the chunked encoding ended, or every byte of Content-Length came). The bytes
 * simply stopped: a sender that hit an error mid-stream and ended the response cleanly, or a proxy that cut it
 * and closed the framing. That is a transfer fault dressed as bad XML, so the page is fetched again like one cut
 * off mid-body, within the same retry policy; a page that ends early every time is still bad input (exit 3).
 * A page that is malformed anywhere before its end is never fetched again: that error comes from `push`, not `end`.
 */
export class EndedEarly extends Error {
  readonly error: SdataError;
  constructor(error: SdataError) {
    super(error.message, { cause: error });
    this.error = error;
  }

  /** What the page's reader said, once no retry is left. */
  final(retries: number): SdataError {
    const e = this.error;
    const times = retries === 0 ? '' : ` (fetched ${retries + 1} times, it ended early each time)`;
    return new SdataError(e.code, `${e.message}${times}`, { ...e.details, cause: e });
  }
}

/** Runs a reader's `end()`: a well-formedness error found only there means the document stopped early. */
export function endOfDocument<T>(end: () => T): T {
  try {
    return end();
  } catch (e) {
    throw endError(e);
  }
}

/** What to throw for an error a reader's `end()` found (see endOfDocument). */
export function endError(e: unknown): unknown {
  return isSdataError(e) && e.code === 'SDATA_E_MALFORMED' ? new EndedEarly(e) : e;
}

/**
 * How a page read (a source page, a result page) treats what ends it: a body cut off mid-transfer or a document that
 * ended early is fetched again within the retry policy; once no retry is left, the first is a network failure and the
 * second the reader's own error. `what` names the page in messages ("page", "result page").
 */
export function pageReadFaults(what: string, url: string): {
  classify: (e: unknown) => Retry | undefined;
  giveUp: (e: unknown, retries: number) => unknown;
} {
  return {
    classify: (e) => (isTransientError(e) ? { reason: `${what} cut off: ${(e as Error).message}` }
      : e instanceof EndedEarly ? { reason: `${what} ended early: ${e.message}` } : undefined),
    giveUp: (e, retries) => (isTransientError(e)
      ? new SdataError('SDATA_E_NETWORK', `GET ${redactUrl(url)}: ${what} cut off: ${(e as Error).message} (after ${retries} retries)`, { url, cause: e })
      : e instanceof EndedEarly ? e.final(retries) : e),
  };
}
