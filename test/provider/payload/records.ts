import { NS } from '../../../src/protocol/namespaces.ts';
import { FeedReader } from '../../../src/xml/feed-reader.ts';
import type { EntryRecord } from '../../../src/xml/feed-types.ts';

/** The entry records our feed reader makes of a feed text (no sync head required). */
export function recordsOf(feed: string): EntryRecord[] {
  const out: EntryRecord[] = [];
  const r = new FeedReader({ head() {}, entry(e) { out.push(e); }, end() {} }, { requireSyncHead: false });
  r.pushText(feed);
  r.end();
  return out;
}

/** The root our own feeds open with: what a stored fragment is embedded under when we relay it. */
export const OUR_ROOT = `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}" xmlns:http="${NS.http}" xmlns:opensearch="${NS.opensearch}">`;
