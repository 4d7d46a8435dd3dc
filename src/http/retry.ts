import { SdataError } from '../protocol/errors.ts';

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

/**
 * Only a raw failure (a socket, a timeout) is transient. An SdataError is a verdict already given: the client's
 * after its own retries, or a failure elsewhere in the pass that surfaced here (the chunk sender's, through the
 * planner's backpressure); it carries its cause, but trying again would repeat the retries or blame the wrong peer.
 */
export function isTransientError(e: unknown): boolean {
  if (e instanceof SdataError) return false;
  const c = errorCode(e);
  return c !== undefined && TRANSIENT_CODES.has(c);
}

export function isUnsentError(e: unknown): boolean {
  if (e instanceof SdataError) return false;
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

/** Time as the retry loop and polling see it; tests replace it so that nothing waits on the wall clock. */
export interface Clock {
  /** Resolves after `ms`; rejects at once (with the signal's reason) when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Uniform in [0, 1), for the jitter. */
  random(): number;
  /** Milliseconds, for deadlines (--timeout-poll). */
  now(): number;
}

export const SYSTEM_CLOCK: Clock = { sleep, random: Math.random, now: Date.now };

/** Why a failure (or an answer) is worth another attempt, and how long the peer asked us to wait (Retry-After). */
export interface Retry {
  reason: string;
  retryAfterMs?: number | undefined;
}

export interface RetryNotice {
  /** 1 = the first retry. */
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface RetryOptions<T> {
  policy: RetryPolicy;
  /** Cuts a wait short, and turns a failure that happens once it is aborted into `aborted()`. */
  signal?: AbortSignal | undefined;
  /** A failed attempt: a Retry to try again, undefined to give up. */
  classify: (error: unknown) => Retry | undefined;
  /** What a failure is reported as when there is no further attempt (default: the failure itself). */
  giveUp?: (error: unknown, retries: number) => unknown;
  /** A value that asks to be tried again (an HTTP 503); once no attempt is left it is returned as it is. */
  retryValue?: (value: T) => Retry | undefined;
  /** Disposes of a value that is tried again (drains a response body). */
  discard?: (value: T) => Promise<void>;
  /**
   * After the wait, before the next attempt: fetches again what the attempt reads. Its failures end the loop as they
   * are: a re-fetch has its own retries (the client's), and counting them here again would multiply them.
   */
  beforeRetry?: () => Promise<void>;
  onRetry?: (n: RetryNotice) => void;
  /** The error an abort ends the loop with (default: the signal's reason). */
  aborted?: () => unknown;
  clock?: Clock;
}

/**
 * The one retry loop (client requests, source pages and result pages cut off mid-body): at most `policy.retries`
 * further attempts, each after a full-jitter exponential backoff or the peer's Retry-After. An abort is never
 * swallowed: an abort before an attempt, during a wait, or one that made an attempt fail ends the loop at once with
 * `aborted()`. An attempt is not raced against the signal: it is expected to honour the signal itself (undici
 * requests and bodies do) or to be one that must finish (a POST that creates a context, docs/engine-rules.md §5), and a
 * value it returns is returned, so that the caller can clean up what it holds.
 */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, o: RetryOptions<T>): Promise<T> {
  const clock = o.clock ?? SYSTEM_CLOCK;
  const abort = (): unknown => (o.aborted ? o.aborted() : o.signal!.reason);
  for (let n = 0; ; n++) {
    if (o.signal?.aborted) throw abort();
    let retry: Retry | undefined;
    let value: T;
    try {
      value = await attempt(n);
    } catch (e) {
      if (o.signal?.aborted) throw abort();
      retry = o.classify(e);
      if (retry === undefined || n >= o.policy.retries) throw o.giveUp ? o.giveUp(e, n) : e;
    }
    if (retry === undefined) {
      retry = o.retryValue?.(value!);
      if (retry === undefined || n >= o.policy.retries) return value!;
      await o.discard?.(value!);
    }
    const delayMs = backoffMs(o.policy, n + 1, retry.retryAfterMs, () => clock.random());
    o.onRetry?.({ attempt: n + 1, delayMs, reason: retry.reason });
    try {
      await clock.sleep(delayMs, o.signal);
    } catch (e) {
      if (o.signal?.aborted) throw abort();
      throw e;
    }
    await o.beforeRetry?.();
  }
}
