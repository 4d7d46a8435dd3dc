import { createReadStream, createWriteStream } from 'node:fs';
import { FeedReader, type EntryRecord, type FeedHead } from '../xml/feed-reader.ts';
import { feedClose, feedOpen, forwardText, pageDecls, type PageDecls } from '../xml/feed-writer.ts';
import { TextSink } from '../xml/text-sink.ts';

export interface SplitPart {
  path: string;
  entries: number;
  bytes: number;
  /** Whether this part ends without a `next` link (only the last part of a final chunk). */
  final: boolean;
}

/** Reads a spooled chunk back record by record; the callback may wait (backpressure on the writer). */
async function eachEntry(path: string, maxEntryBytes: number, onHead: (h: FeedHead) => void,
  onEntry: (rec: EntryRecord) => Promise<void> | void, onEnd: (next: string | undefined) => void = () => undefined): Promise<void> {
  const pending: EntryRecord[] = [];
  const reader = new FeedReader({ head: onHead, entry: (rec) => pending.push(rec), end: (t) => onEnd(t.next) },
    { source: path, maxEntryBytes, requireSyncHead: true });
  for await (const c of createReadStream(path, { highWaterMark: 64 * 1024 })) {
    reader.push(c as Buffer);
    for (const r of pending.splice(0)) await onEntry(r);
  }
  reader.end();
  for (const r of pending.splice(0)) await onEntry(r);
}

/**
 * Splits a spooled chunk the target refused as too large (413) into two complete sync feeds holding the first and
 * second half of its entries, with the same syncMode and digest (engine rules §2). The first part always carries a
 * `next` link; the second carries one unless the chunk was the final one, so the target's end-of-feed merge still
 * happens exactly once, on the very last part. Entries are copied as their exact text (engine rules §3).
 * Whether the chunk was final is read from the chunk itself (no `next` link), so any sync feed file can be split.
 * Returns undefined when there is nothing to split (fewer than two entries).
 */
export async function splitChunk(path: string, maxEntryBytes: number): Promise<[SplitPart, SplitPart] | undefined> {
  let total = 0;
  let final = true;
  await eachEntry(path, maxEntryBytes, () => undefined, () => {
    total++;
  }, (next) => {
    final = next === undefined;
  });
  if (total < 2) return undefined;
  const half = Math.ceil(total / 2);
  const parts: [SplitPart, SplitPart] = [
    { path: `${path}.a`, entries: 0, bytes: 0, final: false },
    { path: `${path}.b`, entries: 0, bytes: 0, final },
  ];
  let head: FeedHead | undefined;
  let decls: PageDecls = [];
  let sink: TextSink | undefined;
  let part = 0;
  const open = (i: number): TextSink => {
    const s = new TextSink(createWriteStream(parts[i]!.path));
    s.write(feedOpen({ id: `urn:sdata-sync:split:${i === 0 ? 'a' : 'b'}`, title: 'Synchronization feed (split)', syncMode: head!.syncMode, digest: head!.digest }));
    return s;
  };
  const close = async (i: number): Promise<void> => {
    const p = parts[i]!;
    sink!.write(feedClose(p.final ? undefined : [{ rel: 'next', href: `urn:sdata-sync:split-next` }]));
    await sink!.end();
    p.bytes = sink!.bytes;
  };
  try {
    await eachEntry(path, maxEntryBytes, (h) => {
      head = h;
      decls = pageDecls(h.bindings);
    }, async (rec) => {
      if (part === 0 && parts[0].entries === half) {
        await close(0);
        part = 1;
        sink = undefined;
      }
      sink ??= open(part);
      parts[part]!.entries++;
      sink.write(forwardText(rec, decls));
      sink.write('\n');
      if (sink.needsDrain) await sink.drained();
    });
    await close(1);
  } catch (e) {
    sink?.stream.destroy();
    throw e;
  }
  return parts;
}
