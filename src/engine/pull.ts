import type { Writable } from 'node:stream';
import type { DeleteOutcome } from '../http/async-op.ts';
import { digestKey } from '../protocol/digest.ts';
import { SdataError } from '../protocol/errors.ts';
import type { EntryRecord, FeedHead } from '../xml/feed-types.ts';
import { feedClose, feedOpen, forwardText, pageDecls, type PageDecls } from '../xml/feed-writer.ts';
import { TextSink } from '../xml/text-sink.ts';
import type { Logger } from './log.ts';
import type { PageSink } from './page-stream.ts';
import { readSourceFeed, type SourceFeedOptions } from './source-feed.ts';

export interface PullOptions extends Omit<SourceFeedOptions, 'beforePage'> {
  out: Writable;
  log: Logger;
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
  let key: string | undefined;
  let decls: PageDecls = [];
  let url = '';
  const page = (contextUrl: string): PageSink => ({
    head: (h: FeedHead) => {
      const k = `${h.syncMode}\u0002${digestKey(h.digest)}`;
      if (key === undefined) {
        key = k;
        sink.write(feedOpen({
          id: h.atomId ?? contextUrl, title: 'Synchronization feed',
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
  });
  await readSourceFeed({
    ...o,
    beforePage: (u) => {
      url = u;
    },
    afterPage: (bytes, n) => {
      r.bytesIn += bytes;
      r.pages = n;
    },
    released: (outcome) => {
      r.sourceContext = outcome;
    },
  }, page);
  sink.write(feedClose());
  sink.flush();
  await sink.drained();
  r.bytesOut = sink.bytes;
  return r;
}
