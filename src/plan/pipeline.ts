import { FeedReader } from '../xml/feed-reader.ts';
import type { FeedReaderOptions } from '../xml/feed-types.ts';
import type { Planner } from './planner.ts';

/**
 * Streams one source page (one XML document) through a reader into the planner. Backpressure travels end to end:
 * after each input chunk we wait until the planner's output can take more before pulling the next one. `check`
 * (called after each input chunk) lets a failure downstream (the chunk sender) stop the read.
 */
export async function planPage(
  bytes: AsyncIterable<Uint8Array>,
  planner: Planner,
  opts: FeedReaderOptions & { source: string; check?: () => void },
): Promise<{ next: string | undefined; bytesIn: number }> {
  planner.beginPage(opts.source);
  let next: string | undefined;
  const reader = new FeedReader({
    head: (h) => planner.head(h),
    entry: (e) => planner.entry(e),
    end: (t) => {
      planner.end(t);
      next = t.next;
    },
  }, opts);
  for await (const chunk of bytes) {
    opts.check?.();
    reader.push(chunk);
    const wait = planner.ready();
    if (wait) await wait;
  }
  reader.end();
  const wait = planner.ready();
  if (wait) await wait;
  return { next, bytesIn: reader.bytesRead };
}
