import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { ContextRecorder, PollOptions } from '../http/async-op.ts';
import type { HttpClient } from '../http/client.ts';
import { operationUrl, withQuery } from '../http/url.ts';
import { FeedReader } from '../xml/feed-reader.ts';
import type { EntryRecord } from '../xml/feed-types.ts';
import { feedClose, feedOpen, forwardText, pageDecls, type PageDecls } from '../xml/feed-writer.ts';
import { TextSink } from '../xml/text-sink.ts';
import { FileBody, FileWriter } from './chunk-body.ts';
import { ChunkSender, type ContextCounts } from './chunk-sender.ts';
import type { Logger } from './log.ts';
import type { Outcomes } from './outcomes.ts';
import type { XmlLimits } from '../xml/limits.ts';

export interface PushOptions {
  client: HttpClient;
  /** Target collection URL. */
  collection: string;
  /** Sync feed files, in order; each is POSTed as it is (its own `next` link says whether it is the last). */
  files: string[];
  runName: string;
  runStamp: string;
  /** Where the result feed goes (one feed: every result page's entries, in order). */
  out: Writable;
  log: Logger;
  maxEntryBytes: number;
  /** Parsing limits (xml/limits.ts) for every document read; default: the defaults. */
  limits?: XmlLimits | undefined;
  poll?: Partial<PollOptions>;
  signal?: AbortSignal | undefined;
  /** Records each chunk context until its DELETE (the journal). */
  contexts?: ContextRecorder | undefined;
}

export interface PushResult {
  chunks: number;
  entries: number;
  splits: number;
  outcomes: Outcomes;
  contexts: ContextCounts;
}

/**
 * `push`: POST sync feeds to a target's `$syncTarget` in order, one at a time, with the engine's own sender
 * (same retries, trackingID reuse, 413 splitting, context deletion), and stream the results to `out` as one
 * result feed. Each result page is spooled to a file first, so a page fetched again after a cut-off never
 * writes half an answer to stdout.
 */
export async function pushFeeds(o: PushOptions): Promise<PushResult> {
  const sink = new TextSink(o.out);
  let opened = false;
  const forwardFile = async (file: string): Promise<void> => {
    let decls: PageDecls = [];
    const pending: EntryRecord[] = [];
    const reader = new FeedReader({
      head: (h) => {
        decls = pageDecls(h.bindings);
      },
      entry: (rec) => pending.push(rec),
      end: () => undefined,
    }, { source: file, requireSyncHead: false, maxEntryBytes: 1 << 30, limits: o.limits });
    if (!opened) {
      opened = true;
      sink.write(feedOpen({ id: withQuery(operationUrl(o.collection, '$syncTarget'), { runName: o.runName, runStamp: o.runStamp }), title: 'Synchronization results' }));
    }
    const flush = async (): Promise<void> => {
      for (const rec of pending.splice(0)) {
        sink.write(forwardText(rec, decls));
        sink.write('\n');
      }
      if (sink.needsDrain) await sink.drained();
    };
    for await (const c of createReadStream(file, { highWaterMark: 64 * 1024 })) {
      reader.push(c as Buffer);
      await flush();
    }
    reader.end();
    await flush();
  };
  // Split halves and result pages of feeds of any size: on disk.
  const dir = await mkdtemp(join(tmpdir(), 'sdata-sync-push-'));
  const sender = new ChunkSender({
    bodies: (name) => new FileWriter(join(dir, `${name}.xml`)),
    resultDir: dir,
    target: o.client,
    targetUrl: withQuery(operationUrl(o.collection, '$syncTarget'), { runName: o.runName, runStamp: o.runStamp }),
    maxEntryBytes: o.maxEntryBytes,
    limits: o.limits,
    log: o.log,
    signal: o.signal,
    onResultPage: forwardFile,
    contexts: o.contexts,
    ...(o.poll ? { poll: o.poll } : {}),
  });
  try {
    let n = 0;
    for (const path of o.files) {
      n++;
      const body = new FileBody(path, (await stat(path)).size, false);
      await sender.send({ n, body, final: false, entries: undefined, label: o.files.length > 1 ? `${path} (chunk ${n})` : path });
    }
    await sender.settle();
  } finally {
    await sender.releaseAll();
    await rm(dir, { recursive: true, force: true });
    if (opened) {
      sink.write(feedClose());
      sink.flush();
      await sink.drained().catch(() => undefined);
    }
  }
  return { chunks: sender.chunks, entries: sender.entries, splits: sender.splits, outcomes: sender.outcomes, contexts: sender.contexts };
}
