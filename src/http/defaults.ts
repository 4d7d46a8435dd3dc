/**
 * The HTTP client's default timeouts, retries and polling bounds, in a module of their own (no undici) so that the
 * CLI's option declarations (src/cli/commands.ts) show and use these values without loading the client.
 */
import type { RetryPolicy } from './retry.ts';

export interface Timeouts {
  /** TCP (and TLS) connection establishment. */
  connectMs: number;
  /** From the end of the request to the complete response headers. */
  headersMs: number;
  /** Longest silence between two pieces of a response body. */
  bodyMs: number;
  /** Longest wait for an asynchronous operation to finish, across all its polls. */
  pollMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 10_000, headersMs: 120_000, bodyMs: 120_000, pollMs: 30 * 60_000 };

/** Bounds applied to a provider's pollingMillis (and to Retry-After on a 202), and the wait when a 202 names none. */
export const DEFAULT_POLL = { pollMinMs: 5, pollMaxMs: 5_000, pollDefaultMs: 100 } as const;

export const DEFAULT_RETRY: RetryPolicy = { retries: 6, baseMs: 100, maxMs: 10_000, maxRetryAfterMs: 120_000 };
