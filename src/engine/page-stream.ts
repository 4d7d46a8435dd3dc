import { sameDigest } from '../protocol/digest.ts';
import { SdataError } from '../protocol/errors.ts';
import { getWhenReady, MovedContexts, type ContextRecorder, type DeleteOutcome, type PollOptions } from '../http/async-op.ts';
import { discardBody, statusError } from '../http/body.ts';
import { endError, endOfDocument, pageReadFaults } from './ended-early.ts';
import type { HttpClient, HttpResponse } from '../http/client.ts';
import { withRetry, type Clock, type RetryPolicy } from '../http/retry.ts';
import { resolveHref } from '../http/url.ts';
import { FeedReader } from '../xml/feed-reader.ts';
import { ScannedFeedReader } from '../xml/scanned-feed-reader.ts';
import type { EntryRecord, FeedHead } from '../xml/feed-types.ts';
import type { XmlLimits } from '../xml/limits.ts';
import type { PageHooks } from '../plan/parallel.ts';

/** Where a source page's records go: the planner, or the concatenating writer of `pull`. */
export interface PageSink {
  head(h: FeedHead): void;
  entry(rec: EntryRecord): void;
  /** A promise to await before reading more, or undefined when the sink can take more now. */
  ready(): Promise<void> | undefined;
  /**
   * Optional: reads a whole page's body itself, with exactly what `head` and `entry` would have made of it (the
   * planner's piece scanner, plan/parallel.ts: docs/architecture.md §2.1). Used for a page's first fetch; a page
   * fetched again after some of its entries were delivered goes through `entry`, which skips them.
   */
  readPage?(body: AsyncIterable<Uint8Array>, source: string, hooks: Required<Omit<PageHooks, 'idle'>>): Promise<{ next: string | undefined; entries: number }>;
  /**
   * Optional: records are made by the byte scanner (xml/scanned-feed-reader.ts: the FeedReader's exact records, most
   * pages read as bytes), for a sink whose every entry is costly anyway (verify: 18% less CPU). Not yet for `pull`: it
   * would cost 45% less CPU there at the same RSS, but verify's bar is a ratio to two pulls, and verify is not that much
   * faster (docs/decisions/0043-pipe-commands-cpu.md).
   */
  readonly scanned?: boolean;
  /** With `scanned`: the scanner's records carry their text as UTF-8 bytes (EntryRecord.textBytes; verify's canonical form reads them so). */
  readonly textBytes?: boolean;
}

export interface PageResult {
  next: string | undefined;
  entries: number;
  bytes: number;
  head: FeedHead | undefined;
  /** Times the page was fetched again after its body was cut off. */
  resumed: number;
}

export interface StreamPageOptions {
  source: string;
  maxEntryBytes?: number;
  /** Parsing limits (xml/limits.ts) for every document read; default: the defaults. */
  limits?: XmlLimits | undefined;
  retry: RetryPolicy;
  clock?: Clock;
  signal?: AbortSignal | undefined;
  /** Bytes as they arrive (progress). */
  onBytes?: (n: number) => void;
  /** Checked after every piece of the body: a failure elsewhere (the chunk sender) stops the read. */
  check?: () => void;
  /** false: a plain SData feed (a collection), which has no syncMode or digest. Default true. */
  syncFeed?: boolean;
}

/**
 * Streams one source page into a sink as its bytes arrive; nothing of the page is buffered beyond the reader's
 * current entry. If the connection drops mid-body, the page is fetched again (`refetch`: the same context URL or
 * next link; the source serves a snapshot, docs/protocol.md §3.2) and the entries already delivered are skipped, so the sink
 * sees every entry exactly once. So is a page whose document stops early in a response framed as complete (EndedEarly).
 * A page whose head changed between attempts is a protocol error.
 */
export async function streamPage(
  first: HttpResponse,
  refetch: () => Promise<HttpResponse>,
  sink: PageSink,
  o: StreamPageOptions,
): Promise<PageResult> {
  let delivered = 0;
  let bytes = 0;
  let head: FeedHead | undefined;
  let res = first;
  const interrupted = (): SdataError => new SdataError('SDATA_E_ABORTED', `${o.source}: interrupted`, { url: o.source });
  const onHead = (h: FeedHead): void => {
    if (head === undefined) {
      head = h;
      sink.head(h);
    } else if (h.syncMode !== head.syncMode || !sameDigest(h.digest, head.digest)) {
      throw new SdataError('SDATA_E_PROTOCOL', `${o.source}: the page changed between two fetches (syncMode or digest differ); the source context is not a snapshot`, { url: o.source });
    }
  };
  try {
    return await withRetry(async (attempt) => {
      if (res.statusCode !== 200) throw await statusError('GET', res, 'expected 200 with a feed page');
      const skip = delivered;
      if (skip === 0 && sink.readPage !== undefined) {
        const body = res.body;
        const counted = async function* (): AsyncGenerator<Uint8Array> {
          for await (const chunk of body) {
            const b = chunk as Buffer;
            bytes += b.length;
            o.onBytes?.(b.length);
            yield b;
            o.check?.();
          }
        };
        try {
          const r = await sink.readPage(counted(), o.source, { head: onHead, committed: (n) => void (delivered = n), atEnd: endError });
          return { next: r.next, entries: r.entries, bytes, head, resumed: attempt };
        } catch (e) {
          discardBody(res);
          throw e;
        }
      }
      let seen = 0;
      let next: string | undefined;
      let entries = 0;
      const reader = new (sink.scanned ? ScannedFeedReader : FeedReader)({
        head: onHead,
        entry: (rec) => {
          if (seen++ < skip) return;
          delivered++;
          sink.entry(rec);
        },
        end: (t) => {
          next = t.next;
          entries = t.entries;
        },
      }, {
        source: o.source, requireSyncHead: o.syncFeed ?? true, limits: o.limits, textBytes: sink.textBytes === true,
        ...(o.maxEntryBytes === undefined ? {} : { maxEntryBytes: o.maxEntryBytes }),
      });
      try {
        for await (const chunk of res.body) {
          const b = chunk as Buffer;
          bytes += b.length;
          o.onBytes?.(b.length);
          reader.push(b);
          o.check?.();
          const w = sink.ready();
          if (w) await w;
        }
        endOfDocument(() => reader.end());
        const w = sink.ready();
        if (w) await w;
      } catch (e) {
        discardBody(res);
        throw e;
      }
      if (entries < skip) {
        throw new SdataError('SDATA_E_PROTOCOL', `${o.source}: the page had ${skip} entries before the connection dropped but only ${entries} when fetched again`, { url: o.source });
      }
      return { next, entries, bytes, head, resumed: attempt };
    }, {
      policy: o.retry,
      signal: o.signal,
      ...(o.clock ? { clock: o.clock } : {}),
      aborted: interrupted,
      ...pageReadFaults('page body', o.source),
      beforeRetry: async () => {
        res = await refetch();
      },
    });
  } catch (e) {
    // Whatever ended the loop, the body in hand is not read further: an abort right after a re-fetch leaves one that
    // was never read at all.
    discardBody(res);
    throw e;
  }
}

export interface StreamPagesOptions {
  client: HttpClient;
  /** The answer carrying page 1, and how to get it again (re-GET the context, or repeat a synchronous POST). */
  first: HttpResponse;
  again: () => Promise<HttpResponse>;
  /** URL of page 1 (the context), for messages and to resolve relative `next` hrefs. */
  firstUrl: string;
  sink: PageSink;
  poll?: Partial<PollOptions> | undefined;
  maxEntryBytes?: number;
  /** Parsing limits (xml/limits.ts) for every document read; default: the defaults. */
  limits?: XmlLimits | undefined;
  signal?: AbortSignal | undefined;
  onBytes?: (n: number) => void;
  check?: () => void;
  /** false: pages of a plain SData feed (no syncMode, no digest). Default true. */
  syncFeed?: boolean;
  /** Before each page is read (the planner wants to know which page its records come from). */
  beforePage?: (url: string) => void;
  afterPage?: (page: PageResult, n: number) => void;
  /** A context a `next` page's 202 opened was DELETEd (or could not be). */
  onMovedDeleted?: (url: string, outcome: DeleteOutcome) => void;
  /** Records the contexts `next` pages' 202s open until their DELETE (the journal). */
  contexts?: ContextRecorder | undefined;
}

/**
 * Every page of a source feed, in order: page 1 from the context, then each `rel="next"` href exactly as given
 * (docs/protocol.md §1.3 step 8), until a page has none. A `next` page may answer 202: it is polled, and when the
 * 202 names a Location of its own, that is a context too, DELETEd once its page is read (core 11.5; also when
 * paging stops early), before the caller deletes the feed's own context.
 */
export async function streamPages(o: StreamPagesOptions): Promise<{ pages: number; resumed: number }> {
  let res = o.first;
  let url = o.firstUrl;
  let refetch = o.again;
  let pages = 0;
  let resumed = 0;
  const moved = new MovedContexts(o.client, [o.firstUrl], o.contexts);
  const release = async (): Promise<void> => {
    for (const [u, d] of await moved.release()) o.onMovedDeleted?.(u, d);
  };
  try {
    for (;;) {
      o.beforePage?.(url);
      const page = await streamPage(res, refetch, o.sink, {
        source: url, retry: o.client.retry, clock: o.client.clock, signal: o.signal, limits: o.limits,
        ...(o.maxEntryBytes === undefined ? {} : { maxEntryBytes: o.maxEntryBytes }),
        ...(o.onBytes ? { onBytes: o.onBytes } : {}),
        ...(o.check ? { check: o.check } : {}),
        ...(o.syncFeed === undefined ? {} : { syncFeed: o.syncFeed }),
      });
      pages++;
      resumed += page.resumed;
      o.afterPage?.(page, pages);
      await release();
      if (page.next === undefined) return { pages, resumed };
      const nextUrl = resolveHref(page.next, url);
      refetch = () => getWhenReady(o.client, nextUrl, o.poll, moved.add);
      res = await refetch();
      url = nextUrl;
    }
  } finally {
    await release();
  }
}
