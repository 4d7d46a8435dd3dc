// A client that costs a source nothing to serve (issue 15 item 3, "source serve"): it asks for the whole sync feed
// against an empty digest as `sdata-sync pull` does (POST $syncSource, polled while the source prepares it, every page
// by its `next` link, the context DELETEd at the end), but only reads each page's head for the `next` link and drops
// the rest of its bytes, so the rate it sees is the source's, not a reader's (`pull` parses every entry with saxes
// and writes a file: on this VM it, not the source, set the pace, ~27–33k entries/s).
import { request } from 'undici';
import { ENTRY_TYPE } from '../src/engine/source-feed.ts';
import { emptyDigest, serializeDigestEntry } from '../src/protocol/digest.ts';
import { decodeEntities } from '../src/xml/entities.ts';

/** The `next` link of a page, in the head our source writes it in (source-page.ts puts it before the entries). */
const NEXT = /<link\s+rel="next"[^>]*?\shref="([^"]+)"/;
/** How much of a page's start is searched for it. */
const HEAD_BYTES = 64 * 1024;

export interface Drained {
  pages: number;
  bytes: number;
  seconds: number;
}

/** Reads a page, returning its `next` link; the rest of its bytes are counted and dropped. */
async function page(url: string, body: AsyncIterable<Buffer>, counted: { bytes: number }): Promise<string | undefined> {
  let head = '';
  let next: string | undefined;
  let searching = true;
  for await (const chunk of body) {
    counted.bytes += chunk.length;
    if (!searching) continue;
    head += chunk.toString('latin1');
    const m = NEXT.exec(head);
    if (m) {
      next = new URL(decodeEntities(m[1]!, (at, problem) => new Error(`${url}: next link, character ${at}: ${problem}`)), url).href;
      searching = false;
    } else if (head.length > HEAD_BYTES || head.includes('<entry')) {
      searching = false;
    }
  }
  return next;
}

/** Drains `collection`'s sync feed (everything: an empty digest). Throws on any answer a source should not give. */
export async function drainSourceFeed(collection: string): Promise<Drained> {
  const t0 = performance.now();
  const digestEntry = serializeDigestEntry(emptyDigest(), `${collection}/$syncDigest`);
  let res = await request(`${collection}/$syncSource?runName=bench-drain`, {
    method: 'POST', body: digestEntry, headers: { 'content-type': ENTRY_TYPE },
  });
  const header = res.headers['location'];
  const location = res.statusCode === 202 && typeof header === 'string' ? new URL(header, collection).href : undefined;
  if (res.statusCode === 202) {
    if (location === undefined) throw new Error('$syncSource: 202 without a Location');
    await res.body.dump();
    for (;;) {
      res = await request(location);
      if (res.statusCode !== 202) break;
      await res.body.dump();
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const counted = { bytes: 0 };
  let pages = 0;
  let url: string | undefined = location ?? `${collection}/$syncSource`;
  try {
    while (url !== undefined) {
      if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode}`);
      pages++;
      const next: string | undefined = await page(url, res.body, counted);
      url = next;
      if (next !== undefined) res = await request(next);
    }
  } finally {
    if (location !== undefined) await (await request(location, { method: 'DELETE' })).body.dump();
  }
  return { pages, bytes: counted.bytes, seconds: (performance.now() - t0) / 1000 };
}
