import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { getWhenReady } from '../http/async-op.ts';
import type { HttpClient, HttpResponse } from '../http/client.ts';
import { isTransientError, withRetry } from '../http/retry.ts';
import { redactUrl, resolveHref } from '../http/url.ts';
import { SdataError } from '../protocol/errors.ts';
import type { ResultTail } from '../xml/result-types.ts';
import type { XmlLimits } from '../xml/limits.ts';
import { ResultScanner } from '../xml/result-scanner.ts';
import { Outcomes } from './outcomes.ts';

export interface ReadResultsOptions {
  client: HttpClient;
  /** Chunk number, for failure reports. */
  chunk: number;
  /** The whole result feed, page by page, is also written to files (for $syncResults or `push` output). */
  spoolPage?: (n: number) => string;
  /** Called with each complete result page file, in order, before the next page is read. */
  onPageFile?: (path: string) => Promise<void>;
  signal?: AbortSignal | undefined;
  onBytes?: (n: number) => void;
  /** Parsing limits (xml/limits.ts) for every document read; default: the defaults. */
  limits?: XmlLimits | undefined;
  maxEntryBytes?: number;
}

export interface ResultsRead {
  outcomes: Outcomes;
  entries: number;
  pages: number;
}

/**
 * Pages through a target result feed (docs/protocol.md §1.3 step 5: sequential paging, `next` as given), counting per-entry
 * outcomes as the bytes arrive. A page's counts are committed only once the page is complete; a page cut off
 * mid-body is fetched again and counted from scratch, so nothing is counted twice.
 */
export async function readResults(first: HttpResponse, again: () => Promise<HttpResponse>, o: ReadResultsOptions): Promise<ResultsRead> {
  const total = new Outcomes();
  let entries = 0;
  let res = first;
  let refetch = again;
  for (let page = 1; ; page++) {
    let pageOutcomes = new Outcomes();
    const file = o.spoolPage?.(page);
    let tail: ResultTail;
    try {
      tail = await withRetry(async () => {
        if (res.statusCode !== 200) {
          await res.body.dump().catch(() => undefined);
          throw new SdataError('SDATA_E_HTTP', `GET ${redactUrl(res.url)}: expected 200 with a result feed page, got HTTP ${res.statusCode}`, { url: res.url, status: res.statusCode });
        }
        // Counted from scratch on every attempt: a page's counts are committed only once it is complete.
        pageOutcomes = new Outcomes();
        const offset = entries;
        const reader = new ResultScanner((e) => {
          e.index += offset;
          pageOutcomes.add(e, o.chunk);
        }, { source: res.url, limits: o.limits, ...(o.maxEntryBytes === undefined ? {} : { maxEntryBytes: o.maxEntryBytes }) });
        let out: WriteStream | undefined;
        try {
          if (file) out = createWriteStream(file);
          for await (const c of res.body) {
            const b = c as Buffer;
            o.onBytes?.(b.length);
            reader.push(b);
            if (out && !out.write(b)) await once(out, 'drain');
          }
          const t = reader.end();
          if (out) await new Promise<void>((resolve, reject) => out!.end((err?: Error | null) => (err ? reject(err) : resolve())));
          return t;
        } catch (e) {
          res.body.destroy();
          out?.destroy();
          throw e;
        }
      }, {
        policy: o.client.retry,
        signal: o.signal,
        clock: o.client.clock,
        aborted: () => new SdataError('SDATA_E_ABORTED', `${redactUrl(res.url)}: interrupted`, { url: res.url }),
        classify: (e) => (isTransientError(e) ? { reason: `result page cut off: ${(e as Error).message}` } : undefined),
        giveUp: (e) => (isTransientError(e)
          ? new SdataError('SDATA_E_NETWORK', `GET ${redactUrl(res.url)}: result page cut off: ${(e as Error).message}`, { url: res.url, cause: e })
          : e),
        beforeRetry: async () => {
          res = await refetch();
        },
      });
    } catch (e) {
      res.body.destroy();
      throw e;
    }
    total.merge(pageOutcomes);
    entries += tail.entries;
    if (file && o.onPageFile) await o.onPageFile(file);
    if (tail.next === undefined) return { outcomes: total, entries, pages: page };
    const nextUrl = resolveHref(tail.next, res.url);
    refetch = () => getWhenReady(o.client, nextUrl);
    res = await refetch();
  }
}
