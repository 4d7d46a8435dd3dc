import { FeedReader } from '../xml/feed-reader.ts';
import type { EntryRecord, FeedHead } from '../xml/feed-types.ts';
import { feedClose, feedOpen, forwardText, pageDecls, type PageDecls } from '../xml/feed-writer.ts';
import type { XmlLimits } from '../xml/limits.ts';
import type { BodyFactory, BodyWriter, ChunkBody } from './chunk-body.ts';

export interface SplitPart {
  body: ChunkBody;
  entries: number;
  /** Whether this part ends without a `next` link (only the last part of a final chunk). */
  final: boolean;
}

/** Reads a chunk back record by record; the callback may wait (backpressure on the writer). */
async function eachEntry(body: ChunkBody, source: string, maxEntryBytes: number, limits: XmlLimits | undefined, onHead: (h: FeedHead) => void,
  onEntry: (rec: EntryRecord) => Promise<void> | void, onEnd: (next: string | undefined) => void = () => undefined): Promise<void> {
  const pending: EntryRecord[] = [];
  const reader = new FeedReader({ head: onHead, entry: (rec) => pending.push(rec), end: (t) => onEnd(t.next) },
    { source, maxEntryBytes, limits, requireSyncHead: true });
  for await (const c of body.open()) {
    reader.push(c as Buffer);
    for (const r of pending.splice(0)) await onEntry(r);
  }
  reader.end();
  for (const r of pending.splice(0)) await onEntry(r);
}

/** Atom ids of the chunk's entries `from`, `from + 1`, … (at most `max`): to name posted entries a result feed left out. */
export async function postedAtomIds(body: ChunkBody, name: string, from: number, max: number, maxEntryBytes: number): Promise<Array<string | undefined>> {
  const out: Array<string | undefined> = [];
  let i = 0;
  await eachEntry(body, name, maxEntryBytes, undefined, () => undefined, (rec) => {
    if (i >= from && out.length < max) out.push(rec.atomId);
    i++;
  });
  return out;
}

/** The href of half `part` of a chunk whose own href is `href`: the chunk's fragment, extended. */
const halfHref = (href: string, part: 'a' | 'b'): string => (href.includes('#') ? `${href}.${part}` : `${href}#${part}`);

/**
 * Splits a chunk the target refused as too large (413) into two complete sync feeds holding the first and second
 * half of its entries, with the same syncMode, digest and atom:id (docs/engine-rules.md §2). The first part always
 * carries a `next` link (to the second); the second carries the chunk's own `next` unless the chunk was the final
 * one, so the target's end-of-feed merge still happens exactly once, on the very last part. Links stay in the head,
 * absolute, derived from the chunk's (docs/protocol.md X2). Entries are copied as their exact text
 * (docs/engine-rules.md §3). Whether the chunk was final is read from the chunk itself (no `next` link), so any
 * sync feed can be split. Returns undefined when there is nothing to split (fewer than two entries).
 */
export async function splitChunk(body: ChunkBody, name: string, make: BodyFactory, maxEntryBytes: number, limits?: XmlLimits): Promise<[SplitPart, SplitPart] | undefined> {
  let total = 0;
  let final = true;
  await eachEntry(body, name, maxEntryBytes, limits, () => undefined, () => {
    total++;
  }, (next) => {
    final = next === undefined;
  });
  if (total < 2) return undefined;
  const half = Math.ceil(total / 2);
  const counts = [0, 0];
  const finals = [false, final];
  let head: FeedHead | undefined;
  let decls: PageDecls = [];
  const writers: BodyWriter[] = [];
  const bodies: ChunkBody[] = [];
  let part = -1;
  const linkOf = (rel: string): string | undefined => head!.links.find((l) => l.rel === rel)?.href;
  const open = (i: number): void => {
    const w = make(`${name}.${i === 0 ? 'a' : 'b'}`);
    const id = head!.atomId !== undefined && head!.atomId !== '' ? head!.atomId : `urn:sdata-sync:split:${name}`;
    const self = linkOf('self') ?? id;
    const links = [{ rel: 'self', href: halfHref(self, i === 0 ? 'a' : 'b') }, { rel: 'first', href: linkOf('first') ?? self }];
    const next = i === 0 ? halfHref(self, 'b') : linkOf('next');
    if (!finals[i] && next !== undefined) links.push({ rel: 'next', href: next });
    w.write(feedOpen({ id, title: 'Synchronization feed (split)', links, syncMode: head!.syncMode, digest: head!.digest }));
    writers.push(w);
    part = i;
  };
  const close = async (): Promise<void> => {
    const w = writers[part]!;
    w.write(feedClose());
    bodies.push(await w.finish());
  };
  try {
    await eachEntry(body, name, maxEntryBytes, limits, (h) => {
      head = h;
      decls = pageDecls(h.bindings);
    }, async (rec) => {
      if (part === -1) open(0);
      else if (part === 0 && counts[0] === half) {
        await close();
        open(1);
      }
      counts[part]!++;
      const w = writers[part]!;
      w.write(forwardText(rec, decls));
      w.write('\n');
      if (w.needsDrain) await w.drained();
    });
    await close();
  } catch (e) {
    for (const w of writers) await w.discard().catch(() => undefined);
    for (const b of bodies) await b.release().catch(() => undefined);
    throw e;
  }
  return [
    { body: bodies[0]!, entries: counts[0]!, final: false },
    { body: bodies[1]!, entries: counts[1]!, final },
  ];
}
