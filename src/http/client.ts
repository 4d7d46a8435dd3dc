import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type { Agent, Dispatcher } from 'undici';
import { SdataError } from '../protocol/errors.ts';
import {
  DECLINED_STATUS, errorCode, isTransientError, isUnsentError, RETRYABLE_STATUS, retryAfterMs,
  SYSTEM_CLOCK, withRetry, type Clock, type RetryPolicy,
} from './retry.ts';
import { trustedWith } from './trust.ts';
import type { Side } from './auth.ts';
import { DEFAULT_RETRY, DEFAULT_TIMEOUTS, type Timeouts } from './defaults.ts';
import { originOf, redactUrl, splitUrl } from './url.ts';

const CLEANUP_TIMEOUT_MS = 10_000;

/**
 * undici's Agent and its request API, and nothing else of it. The package's entry point loads all of undici (fetch,
 * WebSocket, EventSource, mocks, caches) into every thread that makes a request: 6.0 MiB of heap where these two take
 * 2.4, ~14 MiB of RSS per thread (verify reads its two sides on two threads: docs/decisions/0030). The package has
 * no exports map, so these paths are its own files; test/http/undici-parts.test.ts fails if they move.
 */
const load = createRequire(import.meta.url);
const UndiciAgent = load('undici/lib/dispatcher/agent.js') as typeof Agent;
const requestOf = load('undici/lib/api/api-request.js') as (this: Dispatcher, o: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

/**
 * How a request may be repeated after a failure:
 * - `idempotent`: GET, DELETE, and POSTs carrying a trackingID (the provider recognises the repeat, core 11.6);
 * - `unsent`: only when the request provably never reached the server (refused connection, 429/503);
 * - `never`.
 */
export type RetryMode = 'idempotent' | 'unsent' | 'never';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /**
   * Called once per attempt, so a retry re-sends an identical body (a fresh stream over the same spool file, or the
   * same pieces of memory: an iterable of them, which undici writes piece by piece, waiting for the socket to drain).
   */
  body?: () => RequestBody;
  retry?: RetryMode;
  /** Per-request override of the header timeout (long synchronous operations). */
  headersTimeoutMs?: number;
  /**
   * A cleanup request (DELETE of a context): not cut short by the run's abort signal, so contexts are released
   * after SIGINT too, with few retries and short timeouts so that an unreachable peer cannot hold the exit.
   */
  cleanup?: boolean;
  /**
   * Once sent, let it finish even if the run is cancelled (checked before sending only). For POSTs that create a
   * context: cutting one off mid-way would leave a context on the provider whose Location we never learn, so it
   * could not be deleted (docs/engine-rules.md §5).
   */
  uninterruptible?: boolean;
}

/** What a request sends: pieces in memory (iterated once per attempt), a stream, or one string or Buffer. */
export type RequestBody = Readable | Iterable<Uint8Array> | AsyncIterable<Uint8Array> | string | Buffer;

/** An answer, with its URL and how many times the request was tried again before it (statusError says so). */
export type HttpResponse = Dispatcher.ResponseData & {
  url: string;
  retries?: number;
  /** Whose credentials the client carries, and whether this request carried them: a 401 names the right variables. */
  side?: Side | undefined;
  authSent?: boolean;
};

export interface RetryEvent {
  method: string;
  url: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface HttpClientOptions {
  /** Authorization header value; sent only to `authOrigin`, never to another host a Location points at. */
  authorization?: string | undefined;
  authOrigin?: string | undefined;
  /** The side this client talks to, named in the hint a 401 or 403 gets (statusError). */
  side?: Side;
  timeouts?: Partial<Timeouts>;
  retry?: Partial<RetryPolicy>;
  signal?: AbortSignal | undefined;
  userAgent?: string;
  onRetry?: (e: RetryEvent) => void;
  /** Share connections between clients (one Agent keeps one pool per origin). */
  agent?: Agent;
  /** Certificates (PEM) trusted for https:// peers besides Node's defaults (`--ca`, trust.ts). */
  ca?: readonly string[] | undefined;
  /** Backoff and polling waits, and the jitter (tests inject one that does not wait on real time). */
  clock?: Clock;
}

/**
 * The engine's HTTP client: one undici Agent (a keep-alive pool per origin), explicit per-phase timeouts, and
 * retries with jittered exponential backoff for the failures that can be retried without losing or duplicating
 * anything. It returns every final answer, 4xx/5xx included; deciding what a status means is the caller's job.
 */
export class HttpClient {
  readonly timeouts: Timeouts;
  readonly retry: RetryPolicy;
  readonly signal: AbortSignal | undefined;
  /** Also used by the engine's re-fetch loops (page-stream, results) and polling, so that one clock paces them all. */
  readonly clock: Clock;
  private readonly agent: Agent;
  private readonly ownsAgent: boolean;
  private readonly authorization: string | undefined;
  private readonly authOrigin: string | undefined;
  private readonly side: Side | undefined;
  private readonly userAgent: string;
  private readonly onRetry: ((e: RetryEvent) => void) | undefined;
  /** Requests sent, retries made (for reports and tests). */
  requests = 0;
  retries = 0;

  constructor(o: HttpClientOptions = {}) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...o.timeouts };
    this.retry = { ...DEFAULT_RETRY, ...o.retry };
    this.signal = o.signal;
    this.authorization = o.authorization;
    this.authOrigin = o.authOrigin === undefined ? undefined : originOf(o.authOrigin);
    this.side = o.side;
    this.userAgent = o.userAgent ?? 'sdata-sync';
    this.onRetry = o.onRetry;
    this.clock = o.clock ?? SYSTEM_CLOCK;
    this.ownsAgent = o.agent === undefined;
    this.agent = o.agent ?? new UndiciAgent({
      connect: { timeout: this.timeouts.connectMs, ...(o.ca && o.ca.length > 0 ? { ca: trustedWith(o.ca) } : {}) },
      headersTimeout: this.timeouts.headersMs,
      bodyTimeout: this.timeouts.bodyMs,
      keepAliveTimeout: 10_000,
    });
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const { origin, path } = splitUrl(req.url);
    const mode = req.retry ?? (req.method === 'GET' || req.method === 'DELETE' ? 'idempotent' : 'never');
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...req.headers };
    const authSent = this.authorization !== undefined && origin === this.authOrigin;
    if (authSent) headers['authorization'] = this.authorization!;
    const cleanup = req.cleanup === true;
    // A cleanup is quick to give up: at most 2 retries, waits of at most a second.
    const policy = cleanup
      ? { retries: Math.min(2, this.retry.retries), baseMs: this.retry.baseMs, maxMs: Math.min(1000, this.retry.maxMs), maxRetryAfterMs: Math.min(1000, this.retry.maxRetryAfterMs) }
      : this.retry;
    const signal = cleanup ? AbortSignal.timeout(CLEANUP_TIMEOUT_MS) : req.uninterruptible ? undefined : this.signal;
    return withRetry(async (n) => {
      this.requests++;
      const res = await requestOf.call(this.agent, {
        origin, path, method: req.method, headers,
        // undici takes iterables too (its types list only some body forms).
        body: (req.body ? req.body() : null) as Dispatcher.DispatchOptions['body'],
        signal: signal ?? null,
        headersTimeout: cleanup ? Math.min(CLEANUP_TIMEOUT_MS, this.timeouts.headersMs) : req.headersTimeoutMs ?? this.timeouts.headersMs,
        bodyTimeout: this.timeouts.bodyMs,
      });
      return Object.assign(res, { url: req.url, retries: n, side: this.side, authSent });
    }, {
      policy,
      // The run's signal: checked before every attempt and cuts every wait, but a cleanup ignores it.
      signal: cleanup ? undefined : this.signal,
      clock: this.clock,
      aborted: () => new SdataError('SDATA_E_ABORTED', `${req.method} ${redactUrl(req.url)}: interrupted`, { url: req.url }),
      classify: (e) => ((mode === 'idempotent' ? isTransientError(e) : mode === 'unsent' ? isUnsentError(e) : false) ? { reason: describe(e) } : undefined),
      giveUp: (e, retries) => networkError(req, e, retries),
      retryValue: (res) => {
        const status = res.statusCode;
        const retryable = mode === 'idempotent' ? RETRYABLE_STATUS.has(status) : mode === 'unsent' ? DECLINED_STATUS.has(status) : false;
        return retryable ? { reason: `HTTP ${status}`, retryAfterMs: retryAfterMs(res.headers['retry-after'], this.clock.now()) } : undefined;
      },
      discard: (res) => res.body.dump().catch(() => undefined),
      onRetry: (n) => {
        this.retries++;
        this.onRetry?.({ method: req.method, url: redactUrl(req.url), ...n });
      },
    });
  }

  async close(): Promise<void> {
    if (this.ownsAgent) await this.agent.close();
  }
}

function describe(e: unknown): string {
  const code = errorCode(e);
  const msg = e instanceof Error ? e.message : String(e);
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

export function networkError(req: { method: string; url: string }, e: unknown, retries = 0): SdataError {
  if (e instanceof SdataError) return e;
  const code = errorCode(e);
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'EMFILE') {
    return new SdataError('SDATA_E_IO', `${req.method} ${redactUrl(req.url)}: request body: ${describe(e)}`, { url: req.url, cause: e });
  }
  const tried = retries > 0 ? ` (after ${retries} ${retries === 1 ? 'retry' : 'retries'})` : '';
  return new SdataError('SDATA_E_NETWORK', `${req.method} ${redactUrl(req.url)}: ${describe(e)}${tried}`, { url: req.url, cause: e });
}
