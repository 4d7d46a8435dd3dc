/**
 * When to try again, and how long to wait first. Only failures that say nothing about the request having been
 * refused on its merits are retried: lost connections, timeouts, and 429/502/503/504. A 4xx is an answer.
 */
export interface RetryPolicy {
  /** Further attempts after the first one. */
  retries: number;
  /** First backoff ceiling; doubles per attempt up to maxMs ("full jitter": the wait is uniform below it). */
  baseMs: number;
  maxMs: number;
  /** A server's Retry-After is honoured up to this much. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 6, baseMs: 100, maxMs: 10_000, maxRetryAfterMs: 120_000 };

export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);
/** Statuses that prove the server declined the request without acting on it. */
export const DECLINED_STATUS: ReadonlySet<number> = new Set([429, 503]);

// Errors after which the request may or may not have reached the server.
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
  'ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT',
]);
// Errors after which the request certainly never reached the server.
const UNSENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EAI_AGAIN']);

/** The first system or undici error code along the cause chain. */
export function errorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur !== null && typeof cur === 'object'; i++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string' && (c.startsWith('E') || c.startsWith('UND_ERR'))) return c;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isTransientError(e: unknown): boolean {
  const c = errorCode(e);
  return c !== undefined && TRANSIENT_CODES.has(c);
}

export function isUnsentError(e: unknown): boolean {
  const c = errorCode(e);
  return c !== undefined && UNSENT_CODES.has(c);
}

/** Retry-After as milliseconds (delta-seconds or an HTTP date), undefined if absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const d = Date.parse(t);
  return Number.isNaN(d) ? undefined : Math.max(0, d - now);
}

/** Wait before attempt `attempt` (1 = the first retry). A Retry-After wins over our own schedule. */
export function backoffMs(p: RetryPolicy, attempt: number, retryAfter?: number, random: () => number = Math.random): number {
  if (retryAfter !== undefined) return Math.min(retryAfter, p.maxRetryAfterMs);
  const ceiling = Math.min(p.maxMs, p.baseMs * 2 ** Math.min(attempt - 1, 30));
  // Never zero: a reset connection retried at once mostly meets the same fate.
  return Math.max(1, Math.round(random() * ceiling));
}

/** setTimeout as a promise that an AbortSignal cuts short (rejecting with the signal's reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
