import { FeedReader } from '../../xml/feed-reader.ts';
import { bodyChunks, methodNotAllowed, sendText } from '../http/http-io.ts';
import { queryParam } from '../http/routes.ts';
import type { Call } from './call.ts';

/** Result feeds kept per kind. */
const KEEP_RESULT_FEEDS = 100;

/**
 * `{kind}/$syncResults?runName=&runStamp=` (spec 5.7): the engine's result feed, stored as it streams in (checked
 * for well-formedness on the way, entries counted); the last KEEP_RESULT_FEEDS per kind are kept. `200`.
 */
export async function handleResults(c: Call): Promise<void> {
  if (c.method !== 'POST') throw methodNotAllowed(c.method, c.url.pathname, 'POST');
  const feeds = c.core.store.syncResults;
  const id = feeds.begin(c.kind.id, queryParam(c.url, 'runName') ?? null, queryParam(c.url, 'runStamp') ?? null);
  let entries = 0;
  let bytes = 0;
  let seq = 0;
  const reader = new FeedReader({ head() {}, entry() { entries++; }, end() {} },
    { source: `POST ${c.url.pathname}`, requireSyncHead: false, maxEntryBytes: c.core.maxEntryBytes, limits: c.core.limits });
  try {
    for await (const chunk of bodyChunks(c.req, c.core.maxBodyBytes)) {
      reader.push(chunk);
      feeds.append(id, seq++, chunk);
      bytes += chunk.length;
    }
    reader.end();
  } catch (e) {
    feeds.discard(id);
    throw e;
  }
  feeds.complete(c.kind.id, id, entries, bytes, KEEP_RESULT_FEEDS);
  sendText(c.res, 200, '', 'text/plain');
}
