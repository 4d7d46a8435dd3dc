import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { getWhenReady, MovedContexts, type ContextRecorder } from '../http/async-op.ts';
import { discardBody, statusError } from '../http/body.ts';
import { endOfDocument, pageReadFaults } from './ended-early.ts';
import type { HttpClient, HttpResponse } from '../http/client.ts';
import { withRetry } from '../http/retry.ts';
import { redactUrl, resolveHref } from '../http/url.ts';
import { fileError, SdataError } from '../protocol/errors.ts';
import type { ResultEntry, ResultTail } from '../xml/result-types.ts';
import type { XmlLimits } from '../xml/limits.ts';
import { ResultScanner } from '../xml/result-scanner.ts';
import { Outcomes, resultProblem } from './outcomes.ts';

export interface ReadResultsOptions {
  client: HttpClient;
  /** Chunk number, for failure reports. */
  chunk: number;
  /** Chunk label for messages ("accounts chunk 3"). */
  label?: string;
  /**
   * Entries posted: the result feed must hold exactly as many (core 13.4). Undefined when not known (push posts
   * files as they are): then the count is not checked.
   */
  posted?: number | undefined;
  /** Atom ids of posted entries `from`, `from + 1`, … (at most `max`), to name those without a result. */
  postedIds?: (from: number, max: number) => Promise<Array<string | undefined>>;
  /** Each result entry that belongs to a posted one (index: its position in the whole result feed), as it is read. */
  onResult?: (e: ResultEntry) => void;
  /** The whole result feed, page by page, is also written to files (for $syncResults or `push` output). */
  spoolPage?: (n: number) => string;
  /** Called with each complete result page file and what it ended with, in order, before the next page is read. */
  onPageFile?: (path: string, tail: ResultTail) => Promise<void>;
  /** Ask the scanner where a page's entries stand when they can be copied from its file (ResultTail.copies). */
  copies?: boolean;
  signal?: AbortSignal | undefined;
  onBytes?: (n: number) => void;
  /** Parsing limits (xml/limits.ts) for every document read; default: the defaults. */
  limits?: XmlLimits | undefined;
  maxEntryBytes?: number;
  /** The target context these results belong to (its owner DELETEs it); other contexts a page's 202 opens are DELETEd here. */
  context?: string | undefined;
  /** Records those other contexts until their DELETE (the journal). */
  contexts?: ContextRecorder | undefined;
}

export interface ResultsRead {
  outcomes: Outcomes;
  entries: number;
  pages: number;
}

/** How many mismatching atom ids a count error names. */
const NAMED = 5;

/**
 * Pages through a target result feed (docs/protocol.md §1.3 step 5: sequential paging, `next` as given; a page's 202
 * with a Location of its own is DELETEd once read), counting per-entry outcomes as the bytes arrive. A page's counts
 * are committed only once the page is complete; a page cut off mid-body, or whose document stops early in a response
 * framed as complete (EndedEarly), is fetched again and counted from scratch, so nothing is counted twice.
 *
 * Strict (docs/protocol.md §5.5): a result entry that does not say what happened (`resultProblem`) is a protocol
 * error naming it; so is a result feed with fewer or more entries than were posted (core 13.4: one per entry, in
 * the same order, so they are matched by position), naming the first posted entries without a result or the first
 * results without an entry.
 */
export async function readResults(first: HttpResponse, again: () => Promise<HttpResponse>, o: ReadResultsOptions): Promise<ResultsRead> {
  const total = new Outcomes();
  const label = o.label ?? `chunk ${o.chunk}`;
  let entries = 0;
  let res = first;
  let refetch = again;
  const moved = new MovedContexts(o.client, [o.context, first.url], o.contexts);
  let extra: Array<string | undefined> = [];
  try {
    for (let page = 1; ; page++) {
      let pageOutcomes = new Outcomes();
      let pageExtra: Array<string | undefined> = [];
      const file = o.spoolPage?.(page);
      let tail: ResultTail;
      try {
        tail = await withRetry(async () => {
          if (res.statusCode !== 200) throw await statusError('GET', res, 'expected 200 with a result feed page');
          // Counted from scratch on every attempt: a page's counts are committed only once it is complete.
          pageOutcomes = new Outcomes();
          pageExtra = [];
          const offset = entries;
          const url = res.url;
          const reader = new ResultScanner((e) => {
            e.index += offset;
            if (o.posted !== undefined && e.index >= o.posted) {
              if (extra.length + pageExtra.length < NAMED) pageExtra.push(e.atomId);
              return;
            }
            const problem = resultProblem(e);
            if (problem !== undefined) {
              throw new SdataError('SDATA_E_PROTOCOL', `${label}: result entry ${e.index + 1}${e.atomId ? ` (${e.atomId})` : ''} of ${redactUrl(url)}: ${problem}`,
                { url, entryId: e.atomId });
            }
            pageOutcomes.add(e, o.chunk);
            o.onResult?.(e);
          }, { source: url, limits: o.limits, copies: o.copies === true, ...(o.maxEntryBytes === undefined ? {} : { maxEntryBytes: o.maxEntryBytes }) });
          let out: WriteStream | undefined;
          // The spool file's failure (a full disk), or the one its last write reports after destroy() when the page
          // is refused meanwhile: always listened to, so that it is this page's error and never an uncaught event
          // that ends the process with a stack trace (seen: push of a hostile result feed, ERR_STREAM_DESTROYED).
          let outError: Error | undefined;
          const spoolFailed = (e: Error): SdataError => fileError(`${label}: result page ${page}: ${file}`, 'write', e);
          try {
            if (file) {
              out = createWriteStream(file);
              out.on('error', (e) => void (outError ??= e));
            }
            for await (const c of res.body) {
              const b = c as Buffer;
              o.onBytes?.(b.length);
              reader.push(b);
              if (out) {
                if (outError) throw spoolFailed(outError);
                if (!out.write(b)) await once(out, 'drain').catch((e: Error) => { throw spoolFailed(e); });
              }
            }
            const t = endOfDocument(() => reader.end());
            if (out) await new Promise<void>((resolve, reject) => out!.end((err?: Error | null) => (err ? reject(spoolFailed(err)) : resolve())));
            if (outError) throw spoolFailed(outError);
            return t;
          } catch (e) {
            discardBody(res);
            out?.destroy();
            throw e;
          }
        }, {
          policy: o.client.retry,
          signal: o.signal,
          clock: o.client.clock,
          aborted: () => new SdataError('SDATA_E_ABORTED', `${redactUrl(res.url)}: interrupted`, { url: res.url }),
          ...pageReadFaults('result page', res.url),
          beforeRetry: async () => {
            res = await refetch();
          },
        });
      } catch (e) {
        // Possibly never read: an abort right after a re-fetch.
        discardBody(res);
        throw e;
      }
      total.merge(pageOutcomes);
      extra = extra.concat(pageExtra);
      entries += tail.entries;
      await moved.release();
      if (file && o.onPageFile) await o.onPageFile(file, tail);
      if (tail.next === undefined) {
        if (o.posted !== undefined && entries !== o.posted) throw await countError(o, label, entries, o.posted, extra, res.url);
        return { outcomes: total, entries, pages: page };
      }
      const nextUrl = resolveHref(tail.next, res.url);
      refetch = () => getWhenReady(o.client, nextUrl, {}, moved.add);
      res = await refetch();
    }
  } finally {
    await moved.release();
  }
}

/** Core 13.4: one result per posted entry, in order. Names the first entries without a result, or results without an entry. */
async function countError(o: ReadResultsOptions, label: string, got: number, posted: number, extra: Array<string | undefined>, url: string): Promise<SdataError> {
  const ids = (xs: Array<string | undefined>, from: number, total: number): string => {
    const named = xs.map((id, i) => `${from + i + 1}${id ? ` (${id})` : ''}`).join(', ');
    return total > xs.length ? `${named}, … (${total} in all)` : named;
  };
  let detail: string;
  if (got < posted) {
    const missing = o.postedIds ? await o.postedIds(got, NAMED).catch(() => []) : [];
    detail = `no result for posted entr${posted - got === 1 ? 'y' : 'ies'} ${missing.length > 0 ? ids(missing, got, posted - got) : posted - got === 1 ? posted : `${got + 1}–${posted}`}`;
  } else {
    detail = `result entr${got - posted === 1 ? 'y' : 'ies'} ${ids(extra, posted, got - posted)} answer${got - posted === 1 ? 's' : ''} no posted entry`;
  }
  return new SdataError('SDATA_E_PROTOCOL', `${label}: the target answered ${got} result entries for ${posted} posted (core 13.4: one per entry, in order): ${detail}`, { url });
}
