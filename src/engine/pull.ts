import type { Writable } from 'node:stream';
import { AsyncOperation, type ContextRecorder, type DeleteOutcome, type PollOptions } from '../http/async-op.ts';
import type { HttpClient, HttpResponse } from '../http/client.ts';
import { operationUrl, withQuery } from '../http/url.ts';
import { digestKey } from '../protocol/digest.ts';
import { SdataError } from '../protocol/errors.ts';
import type { EntryRecord, FeedHead } from '../xml/feed-types.ts';
import { feedClose, feedOpen, forwardText, pageDecls, type PageDecls } from '../xml/feed-writer.ts';
import { TextSink } from '../xml/text-sink.ts';
import type { Logger } from './log.ts';
import { streamPages, type PageSink } from './page-stream.ts';
import { ENTRY_TYPE } from './pass.ts';
import type { XmlLimits } from '../xml/limits.ts';

export interface PullOptions {
  client: HttpClient;
  /** Source collection URL (`…/-/accounts`). */
  collection: string;
  /** The `$syncDigest` entry to POST (the target's digest; empty = everything). */
  digestEntry: string;
  runName: string;
  runStamp: string;
  out: Writable;
  log: Logger;
  maxEntryBytes?: number;
  /** Parsing limits (xml/limits.ts) for every document read; default: the defaults. */
  limits?: XmlLimits | undefined;
  poll?: Partial<PollOptions>;
  signal?: AbortSignal | undefined;
  /** Records the source context (and those of `next` pages) until their DELETE (the journal). */
  contexts?: ContextRecorder | undefined;
}

export interface PullResult {
  pages: number;
  entries: number;
  notForwarded: number;
  bytesIn: number;
  bytesOut: number;
  sourceContext: DeleteOutcome | 'none';
}

/** What `pull` did, filled in as it goes: after a failure it holds the figures up to it (the summary's counts). */
export const newPullResult = (): PullResult => ({ pages: 0, entries: 0, notForwarded: 0, bytesIn: 0, bytesOut: 0, sourceContext: 'none' });

/**
 * `pull`: every page of a source feed as ONE sync feed on a stream (docs/architecture.md §2.2): the head (syncMode,
 * digest, totals) of page 1, every entry of every page as its exact text (re-declaring what a page bound
 * differently), no `next` link, so `pull | plan | push` hands the target one complete, final feed. Pages whose
 * digest or syncMode differ cannot be one feed: that is an error, not a silent merge.
 */
export async function pullFeed(o: PullOptions, r: PullResult = newPullResult()): Promise<PullResult> {
  const sink = new TextSink(o.out);
  const op = new AsyncOperation(o.client, {
    ...o.poll,
    url: withQuery(operationUrl(o.collection, '$syncSource'), { runName: o.runName, runStamp: o.runStamp }),
    body: () => o.digestEntry,
    contentType: ENTRY_TYPE,
    contentLength: Buffer.byteLength(o.digestEntry),
    contexts: o.contexts,
  });
  let key: string | undefined;
  let decls: PageDecls = [];
  let url = '';
  const page: PageSink = {
    head: (h: FeedHead) => {
      const k = `${h.syncMode}\u0002${digestKey(h.digest)}`;
      if (key === undefined) {
        key = k;
        sink.write(feedOpen({
          id: h.atomId ?? op.location ?? op.postUrl, title: 'Synchronization feed',
          ...(h.syncMode ? { syncMode: h.syncMode } : {}), ...(h.digest ? { digest: h.digest } : {}),
          ...(h.totalResults === undefined ? {} : { totalResults: h.totalResults }),
        }));
      } else if (k !== key) {
        throw new SdataError('SDATA_E_NOT_SYNC_FEED', `${url}: this page's syncMode/digest differ from page 1's; one feed cannot carry both (use 'sdata-sync run')`, { url });
      }
      decls = pageDecls(h.bindings);
    },
    entry: (rec: EntryRecord) => {
      if (rec.text === undefined) {
        r.notForwarded++;
        o.log.warn(`${url}:${rec.line}:${rec.column}: entry #${rec.index + 1}${rec.atomId ? ` (${rec.atomId})` : ''} not forwarded: ${rec.invalid}`);
        return;
      }
      r.entries++;
      sink.write(forwardText(rec, decls));
      sink.write('\n');
    },
    ready: () => (sink.needsDrain ? sink.drained() : undefined),
  };
  try {
    const res: HttpResponse = await op.start();
    const r0 = await streamPages({
      client: o.client, first: res, again: () => op.again(), firstUrl: op.location ?? op.postUrl, sink: page, poll: o.poll, signal: o.signal, contexts: o.contexts,
      limits: o.limits,
      ...(o.maxEntryBytes === undefined ? {} : { maxEntryBytes: o.maxEntryBytes }),
      beforePage: (u) => {
        url = u;
      },
      afterPage: (p, n) => {
        r.bytesIn += p.bytes;
        r.pages = n;
      },
    });
    r.pages = r0.pages;
    sink.write(feedClose());
    sink.flush();
    await sink.drained();
    r.bytesOut = sink.bytes;
    return r;
  } finally {
    r.sourceContext = await op.delete();
  }
}
