import { AsyncOperation, type ContextRecorder, type DeleteOutcome, type PollOptions } from '../http/async-op.ts';
import type { HttpClient, HttpResponse } from '../http/client.ts';
import { operationUrl, withQuery } from '../http/url.ts';
import type { XmlLimits } from '../xml/limits.ts';
import { streamPages, type PageSink } from './page-stream.ts';

/** The media type of a single Atom entry: a `$syncDigest` entry, and what `$syncSource` is POSTed. */
export const ENTRY_TYPE = 'application/atom+xml; type=entry';

/** What reading a source's sync feed against a digest takes (pull, verify). */
export interface SourceFeedOptions {
  client: HttpClient;
  /** Source collection URL (`…/-/accounts`). */
  collection: string;
  /** The `$syncDigest` entry to POST (the target's digest; empty = everything). */
  digestEntry: string;
  runName: string;
  runStamp: string;
  maxEntryBytes?: number | undefined;
  /** Parsing limits (xml/limits.ts) for every document read; default: the defaults. */
  limits?: XmlLimits | undefined;
  poll?: Partial<PollOptions> | undefined;
  signal?: AbortSignal | undefined;
  /** Records the source context (and those of `next` pages) until their DELETE (the journal). */
  contexts?: ContextRecorder | undefined;
  /** Before each page is read: its URL. */
  beforePage?: (url: string) => void;
  /** After each page: its bytes and number, as it goes (a summary after a failure still counts what was read). */
  afterPage?: (bytes: number, n: number) => void;
  /** What became of the source context, once its DELETE is done, however the reading ended. */
  released?: (outcome: DeleteOutcome | 'none') => void;
}

export interface SourceFeedRead {
  pages: number;
  bytesIn: number;
  /** The context's URL (page 1), or the POST's URL after a synchronous answer. */
  contextUrl: string;
  sourceContext: DeleteOutcome | 'none';
}

/**
 * A source's whole sync feed against a digest: POST `$syncSource` (202, polled, or a synchronous 200), every page by
 * its `next` link into `sink` (page-stream.ts), and the source context DELETEd at the end, always, however the
 * reading ended. `sink` is made once the context is known (its URL is the feed's id).
 */
export async function readSourceFeed(o: SourceFeedOptions, sink: (contextUrl: string) => PageSink): Promise<SourceFeedRead> {
  const op = new AsyncOperation(o.client, {
    ...o.poll,
    url: withQuery(operationUrl(o.collection, '$syncSource'), { runName: o.runName, runStamp: o.runStamp }),
    body: () => o.digestEntry,
    contentType: ENTRY_TYPE,
    contentLength: Buffer.byteLength(o.digestEntry),
    contexts: o.contexts,
  });
  const r: SourceFeedRead = { pages: 0, bytesIn: 0, contextUrl: op.postUrl, sourceContext: 'none' };
  try {
    const res: HttpResponse = await op.start();
    r.contextUrl = op.location ?? op.postUrl;
    const read = await streamPages({
      client: o.client, first: res, again: () => op.again(), firstUrl: r.contextUrl, sink: sink(r.contextUrl), poll: o.poll, signal: o.signal,
      contexts: o.contexts, limits: o.limits,
      ...(o.maxEntryBytes === undefined ? {} : { maxEntryBytes: o.maxEntryBytes }),
      ...(o.beforePage ? { beforePage: o.beforePage } : {}),
      afterPage: (p, n) => {
        r.bytesIn += p.bytes;
        o.afterPage?.(p.bytes, n);
      },
    });
    r.pages = read.pages;
    return r;
  } finally {
    r.sourceContext = await op.delete();
    o.released?.(r.sourceContext);
  }
}

