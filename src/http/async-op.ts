import { randomUUID } from 'node:crypto';
import { SdataError } from '../protocol/errors.ts';
import type { Tracking } from '../protocol/tracking.ts';
import { parseTracking } from '../xml/tracking-reader.ts';
import { readSmallBody, statusError } from './body.ts';
import { DEFAULT_POLL } from './defaults.ts';
import type { HttpClient, HttpResponse, RequestBody } from './client.ts';
import { retryAfterMs } from './retry.ts';
import { redactUrl, resolveHref, withQuery } from './url.ts';

export interface PollOptions {
  /** Bounds applied to the provider's pollingMillis (and to Retry-After on a 202). */
  pollMinMs: number;
  pollMaxMs: number;
  /** Wait when a 202 carries no pollingMillis. */
  pollDefaultMs: number;
  onTracking?: (t: Tracking, url: string) => void;
}

/**
 * Where the contexts an operation opens are written down the moment their Location is known, so that a run that
 * dies before their DELETE leaves a record the next run DELETEs them from (engine/journal.ts, docs/engine-rules.md §5).
 */
export interface ContextRecorder {
  /**
   * A POST that may open a context is about to be sent: its URL, which carries the trackingID, is all there is to
   * find that context by until its 202 comes. Returns the handle the other calls take.
   */
  posting(postUrl: string): number;
  /** A context known by its Location only (a page's 202 named it); returns its handle. */
  opened(url: string): number;
  /** The context's Location: from the POST's 202, or a later 202 that moved it (the one its DELETE goes to). */
  located(handle: number, url: string): void;
  /**
   * Nothing is left to release: its DELETE is done (deleted, already gone: 410, or unknown to the provider: 404), or
   * the POST was answered without a context (a synchronous answer, a refusal).
   */
  closed(handle: number): void;
}


export interface StartOptions extends Partial<PollOptions> {
  /** The operation URL without the trackingID (runName/runStamp already added by the caller). */
  url: string;
  body: () => RequestBody;
  contentType: string;
  contentLength?: number;
  /** Reuse a trackingID (a retried POST); default: a fresh one (docs/protocol.md §0.4 rule 9). */
  trackingId?: string;
  /** Longer header wait for providers that answer synchronously after processing. */
  headersTimeoutMs?: number;
  /** Records the context (its Location) until its DELETE is done. */
  contexts?: ContextRecorder | undefined;
  /**
   * Record the POST itself before it is sent, not only the 202's Location. For an operation whose work is done
   * before the 202 ($syncTarget applies the body first): a process that dies meanwhile leaves a context it never
   * learnt the Location of, which the next run can only find by the trackingID (leftover-contexts.ts).
   */
  recordPost?: boolean;
}

/**
 * GET a URL that may answer 202 while the provider prepares it (docs/protocol.md §1.3 step 8: a `next` page can be
 * asynchronous too): polls it, or the Location a 202 names, until 200. A Location other than `url` is a context of
 * its own, which the caller owns and must DELETE (core 11.5): `onMoved` names each (see MovedContexts).
 */
export function getWhenReady(client: HttpClient, url: string, poll: Partial<PollOptions> = {}, onMoved?: (url: string) => void): Promise<HttpResponse> {
  return pollWhileAccepted(client, url, { ...DEFAULT_POLL, ...poll }, { notReady: 'not ready', ...(onMoved ? { onMoved } : {}) });
}

/** A URL without its query and fragment: what a provider routes a DELETE by. */
const pathOf = (url: string): string => url.replace(/[?#].*$/, '');

/**
 * The contexts that 202 answers to page GETs opened (a `next` page prepared asynchronously, docs/protocol.md §5.1):
 * each gets one DELETE once its page is read, or at the latest when the caller stops paging. `owned` is the
 * operation's own context, which its owner deletes last: a Location on its path (a page of it) is not another
 * context, and deleting it would end the operation early.
 */
export class MovedContexts {
  private readonly client: HttpClient;
  private readonly owned: ReadonlySet<string>;
  private readonly recorder: ContextRecorder | undefined;
  /** Each open context's URL, and its handle in the recorder. */
  private readonly open = new Map<string, number | undefined>();
  private readonly done = new Map<string, DeleteOutcome>();

  constructor(client: HttpClient, owned: Iterable<string | undefined>, recorder?: ContextRecorder) {
    this.client = client;
    this.owned = new Set([...owned].filter((u): u is string => u !== undefined).map(pathOf));
    this.recorder = recorder;
  }

  /** For getWhenReady's `onMoved`. */
  readonly add = (url: string): void => {
    if (!this.owned.has(pathOf(url)) && !this.done.has(url) && !this.open.has(url)) this.open.set(url, this.recorder?.opened(url));
  };

  /** DELETEs every context added so far; never throws. */
  async release(): Promise<Array<[string, DeleteOutcome]>> {
    const open = [...this.open];
    this.open.clear();
    const out = await Promise.all(open.map(async ([u, handle]): Promise<[string, DeleteOutcome]> => {
      const d = await deleteContext(this.client, u);
      if (d !== 'failed' && handle !== undefined) this.recorder?.closed(handle);
      return [u, d];
    }));
    for (const [u, d] of out) this.done.set(u, d);
    return out;
  }
}

/** DELETE of a context (core 11.5): 410 counts as done, 404 as unknown. Never throws; outside the abort signal. */
export async function deleteContext(client: HttpClient, url: string): Promise<DeleteOutcome> {
  try {
    const res = await client.request({ method: 'DELETE', url, cleanup: true });
    await res.body.dump().catch(() => undefined);
    if (res.statusCode === 410) return 'gone';
    if (res.statusCode === 404) return 'unknown';
    return res.statusCode >= 200 && res.statusCode < 300 ? 'deleted' : 'failed';
  } catch {
    return 'failed';
  }
}

/** Answers to a repeated POST that say nothing about the context: not let in, or not now. */
const LATER: ReadonlySet<number> = new Set([401, 403, 407, 408, 429]);

/**
 * Finds the context a POST opened whose 202 never arrived, and DELETEs it: the same POST (URL and trackingID)
 * repeated with an empty body. A provider recognises a repeated trackingID and answers with the context it opened
 * (core 11.6) without applying the body again; where the first POST left nothing (it never arrived, or its body
 * broke off), the empty body is not a feed and cannot be applied: it is refused (4xx), which says there is nothing
 * to release. So it reveals a context and never creates work. 'failed': no answer, 5xx, or not let in (LATER):
 * try again later.
 * Never throws; outside the abort signal.
 */
export async function releaseByTrackingId(client: HttpClient, postUrl: string, contentType: string): Promise<DeleteOutcome> {
  try {
    const res = await client.request({
      method: 'POST', url: postUrl, headers: { 'content-type': contentType, 'content-length': '0' }, body: () => Buffer.alloc(0),
      retry: 'unsent', cleanup: true,
    });
    await res.body.dump().catch(() => undefined);
    const loc = res.headers['location'];
    const l = Array.isArray(loc) ? loc[0] : loc;
    if (res.statusCode === 202 && l) return deleteContext(client, resolveHref(l, postUrl));
    if (res.statusCode === 410) return 'gone';
    if (res.statusCode >= 500 || LATER.has(res.statusCode)) return 'failed';
    // The empty body refused (no context of that trackingID), or an answer without a context to address.
    return 'unknown';
  } catch {
    return 'failed';
  }
}

interface PollHooks {
  /** Wait before the first GET (what the 202 that started the operation asked for). */
  firstWait?: number;
  /** Words for a deadline passed: "GET url: <notReady> after N s of polling". */
  notReady: string;
  /** Before each GET. */
  onPoll?: () => void;
  /** A 202 named a new Location: polled from now on (and the context to DELETE). */
  onMoved?: (url: string) => void;
  /** A 202's tracking payload, before the caller's onTracking. */
  onTracking?: (t: Tracking) => void;
}

/**
 * The one polling loop: GET `url` while it answers 202, following the Location each 202 names (used exactly as
 * given) and waiting as its tracking asks (pollWait), within --timeout-poll. Returns the first other answer, its
 * body unread. A wait that would end past the deadline is not begun: the operation fails at once.
 */
async function pollWhileAccepted(client: HttpClient, url: string, o: PollOptions, h: PollHooks): Promise<HttpResponse> {
  const deadline = client.clock.now() + client.timeouts.pollMs;
  let cur = url;
  let wait = h.firstWait ?? 0;
  for (;;) {
    if (client.clock.now() + wait > deadline) {
      throw new SdataError('SDATA_E_NETWORK', `GET ${redactUrl(cur)}: ${h.notReady} after ${Math.round(client.timeouts.pollMs / 1000)} s of polling (--timeout-poll)`, { url: cur });
    }
    if (wait > 0) {
      try {
        await client.clock.sleep(wait, client.signal);
      } catch {
        throw new SdataError('SDATA_E_ABORTED', `${redactUrl(cur)}: interrupted while polling`);
      }
    }
    h.onPoll?.();
    const res = await client.request({ method: 'GET', url: cur, headers: { accept: 'application/atom+xml' } });
    if (res.statusCode !== 202) return res;
    const loc = res.headers['location'];
    const l = Array.isArray(loc) ? loc[0] : loc;
    if (l) {
      const moved = resolveHref(l, cur);
      if (moved !== cur) {
        cur = moved;
        h.onMoved?.(cur);
      }
    }
    const t = parseTracking(await readSmallBody(res));
    if (t) {
      h.onTracking?.(t);
      o.onTracking?.(t, res.url);
    }
    wait = pollWait(res, t, o);
  }
}

/**
 * How long to wait before the next poll: Retry-After, else the provider's pollingMillis, within our bounds. A
 * tracking payload that reports the work finished (progress 100) is polled at once: pollingMillis paces polling
 * of work in progress, and waiting it out after "Complete" would idle the target once per chunk (a provider that
 * applies the body before answering the POST says exactly that).
 */
function pollWait(res: HttpResponse, t: Tracking | undefined, o: PollOptions): number {
  const ra = retryAfterMs(res.headers['retry-after']);
  if (ra === undefined && t?.progress !== undefined && t.progress >= 100) return 0;
  const asked = ra ?? t?.pollingMillis ?? o.pollDefaultMs;
  return Math.min(o.pollMaxMs, Math.max(o.pollMinMs, asked));
}

export type DeleteOutcome = 'deleted' | 'gone' | 'unknown' | 'skipped' | 'failed';

/**
 * One asynchronous SData operation (core 11.5): POST with a consumer-made trackingID, 202 + Location, polling
 * until 200, DELETE of the context. `Location` is used exactly as returned, and a 202 that names a new Location
 * moves the context there. A non-202 success to the POST is a synchronous answer: no polling, no DELETE.
 */
export class AsyncOperation {
  readonly trackingId: string;
  readonly postUrl: string;
  /** The context URL (the latest Location); undefined for a synchronous answer. */
  location: string | undefined;
  /** The latest tracking payload seen. */
  tracking: Tracking | undefined;
  polls = 0;
  private readonly client: HttpClient;
  private readonly o: StartOptions & PollOptions;
  private deleting: Promise<DeleteOutcome> | undefined;
  /** The context's handle in `o.contexts`. */
  private recorded: number | undefined;

  constructor(client: HttpClient, o: StartOptions) {
    this.client = client;
    this.o = { ...DEFAULT_POLL, ...o };
    this.trackingId = o.trackingId ?? randomUUID();
    this.postUrl = withQuery(o.url, { trackingID: this.trackingId });
  }

  /** POST (retried with the same trackingID and an identical body), then poll; resolves with the 200 answer, body unread. */
  async start(): Promise<HttpResponse> {
    const headers: Record<string, string> = { 'content-type': this.o.contentType, accept: 'application/atom+xml' };
    if (this.o.contentLength !== undefined) headers['content-length'] = String(this.o.contentLength);
    if (this.o.recordPost) this.recorded ??= this.o.contexts?.posting(this.postUrl);
    // A POST that fails without an answer may or may not have opened a context: its record stays.
    const res = await this.client.request({
      method: 'POST', url: this.postUrl, headers, body: this.o.body, retry: 'idempotent', uninterruptible: true,
      ...(this.o.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: this.o.headersTimeoutMs }),
    });
    if (res.statusCode === 202) {
      const loc = res.headers['location'];
      const l = Array.isArray(loc) ? loc[0] : loc;
      if (!l) {
        this.forget(); // a context there is no way to address
        await res.body.dump().catch(() => undefined);
        throw new SdataError('SDATA_E_PROTOCOL', `POST ${redactUrl(this.postUrl)}: 202 Accepted without a Location header (core 11.5 requires one)`, { url: this.postUrl, status: 202 });
      }
      this.location = resolveHref(l, this.postUrl);
      // Written down before anything else can happen to this process: from here on, only a DELETE ends the context.
      if (this.recorded === undefined) this.recorded = this.o.contexts?.opened(this.location);
      else this.o.contexts?.located(this.recorded, this.location);
      const wait = await this.readTracking(res);
      if (this.client.signal?.aborted) throw new SdataError('SDATA_E_ABORTED', `POST ${redactUrl(this.postUrl)}: interrupted`);
      return this.poll(wait);
    }
    // A synchronous answer, or a refusal: no context to release.
    this.forget();
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    throw await statusError('POST', res);
  }

  private forget(): void {
    if (this.recorded !== undefined) this.o.contexts?.closed(this.recorded);
    this.recorded = undefined;
  }

  /** The final answer again (a body cut off mid-way): GET the context, or repeat the identical POST if synchronous. */
  async again(): Promise<HttpResponse> {
    if (this.location === undefined) return this.start();
    return this.poll(0);
  }

  private async poll(firstWait: number): Promise<HttpResponse> {
    const res = await pollWhileAccepted(this.client, this.location!, this.o, {
      firstWait,
      notReady: 'operation not finished',
      onPoll: () => void this.polls++,
      onMoved: (url) => {
        this.location = url;
        if (this.recorded !== undefined) this.o.contexts?.located(this.recorded, url);
      },
      onTracking: (t) => {
        this.tracking = t;
      },
    });
    if (res.statusCode === 200) return res;
    throw await statusError('GET', res, 'polling the operation');
  }

  /** Reads a 202 body's tracking; returns how long to wait before the next poll. */
  private async readTracking(res: HttpResponse): Promise<number> {
    const text = await readSmallBody(res);
    const t = parseTracking(text);
    if (t) {
      this.tracking = t;
      this.o.onTracking?.(t, res.url);
    }
    return pollWait(res, t, this.o);
  }

  /**
   * DELETE the context, exactly once whatever the number of callers (docs/engine-rules.md §5). 410 counts as done. Never
   * throws: cleanup runs on error paths and must not hide the error that caused it. Not tied to the run's abort
   * signal, so it still happens after SIGINT.
   */
  delete(): Promise<DeleteOutcome> {
    this.deleting ??= this.doDelete();
    return this.deleting;
  }

  get deleteStarted(): boolean {
    return this.deleting !== undefined;
  }

  private async doDelete(): Promise<DeleteOutcome> {
    const url = this.location;
    if (url === undefined) return 'skipped';
    const d = await deleteContext(this.client, url);
    // 'failed' stays recorded: the next run tries again.
    if (d !== 'failed') this.forget();
    return d;
  }
}
