import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { ContextRecorder, PollOptions } from '../http/async-op.ts';
import type { HttpClient } from '../http/client.ts';
import { operationUrl, withQuery } from '../http/url.ts';
import { SegmentedPlan } from '../plan/parallel.ts';
import { Planner, type PassEnding } from '../plan/planner.ts';
import { errnoCode, fileError, isSdataError, SdataError } from '../protocol/errors.ts';
import { FeedReader } from '../xml/feed-reader.ts';
import type { EntryRecord } from '../xml/feed-types.ts';
import { feedClose, feedOpen, forwardText, pageDecls, type PageDecls } from '../xml/feed-writer.ts';
import { TextSink } from '../xml/text-sink.ts';
import { FileWriter, MemoryWriter, type BodyFactory } from './chunk-body.ts';
import { ChunkSender, type ContextCounts } from './chunk-sender.ts';
import { invalidWarner } from './invalid.ts';
import type { Logger } from './log.ts';
import { Outcomes } from './outcomes.ts';
import { MEMORY_SPOOL_MAX, SpoolTarget } from './spool.ts';

/** One input of `push`: a file, or stdin. Opened only when its turn comes (stdin is read once, never spooled). */
export interface PushInput {
  /** Named in messages (`<stdin>`, the file name), with line:column. */
  name: string;
  open(): Promise<AsyncIterable<Uint8Array>>;
}
import type { XmlLimits } from '../xml/limits.ts';
import type { ResultTail } from '../xml/result-types.ts';

export interface PushOptions {
  client: HttpClient;
  /** Target collection URL. */
  collection: string;
  /** The pages of the sync feed(s) to post, in order (see pushFeeds). */
  inputs: PushInput[];
  runName: string;
  runStamp: string;
  /** Where the result feed goes (one feed: every result page's entries, in order). */
  out: Writable;
  log: Logger;
  chunkEntries: number;
  chunkBytes: number;
  maxEntryBytes: number;
  strict?: boolean;
  /** Parent of the directory where result pages (and chunks above 32 MiB, and split halves of those) wait. */
  spoolDir: string;
  /** Parsing limits (xml/limits.ts) for every document read; default: the defaults. */
  limits?: XmlLimits | undefined;
  poll?: Partial<PollOptions>;
  signal?: AbortSignal | undefined;
  /** Records each chunk context until its DELETE (the journal). */
  contexts?: ContextRecorder | undefined;
}

/** What `push` did, filled in as it goes: after a failure it holds the figures up to it (the summary's counts). */
export interface PushResult {
  /** Feeds posted: a new one begins after each input that ends without a `next` link. */
  feeds: number;
  /** Entries read from the input, forwarded into chunks, refused as invalid (not sent), held back after one (X3). */
  read: number;
  forwarded: number;
  invalid: number;
  held: number;
  /** Chunks whose results were counted, and the entries they answered for. */
  chunks: number;
  entries: number;
  splits: number;
  outcomes: Outcomes;
  contexts: ContextCounts;
  /** How each feed ended for the target (PassEnding; `open` when the input stopped on a page with `next`). */
  endings: PassEnding[];
}

export function newPushResult(): PushResult {
  return {
    feeds: 0, read: 0, forwarded: 0, invalid: 0, held: 0, chunks: 0, entries: 0, splits: 0, outcomes: new Outcomes(),
    contexts: { opened: 0, deleted: 0, gone: 0, synchronous: 0, failed: 0 }, endings: [],
  };
}

/**
 * `push`: the pages of a sync feed (files in order, or stdin) re-chunked by the engine's own planner and sender, as
 * `run` chunks a source feed: bounded by --chunk-entries / --chunk-bytes, heads as docs/protocol.md X2 shapes them
 * (atom:id, self/first/next, no `next` on the final chunk; the input's syncMode and digest carried over), retries
 * under the same trackingID, 413 splits, strict result counting (X19), contexts deleted. The input is streamed, never
 * held whole: a chunk is posted only once all its bytes were read and found well-formed, so malformed input stops
 * the push at its first bad byte (exit 3, with file:line:column) and nothing after it is sent; chunks before it
 * went out with `next` links, so the target has not merged.
 *
 * Inputs are pages of one logical feed, like the pages of a source feed in `run`: an input with a `next` link goes
 * on into the next input, one without ends the feed (its final chunk has no `next`, the target merges the digest),
 * and a later input begins another feed. When the last input has a `next` link, the last chunk keeps one: the
 * target merges when the rest is pushed. Invalid entries are reported and not sent, and hold the merge back (X3).
 *
 * The results go to `out` as one result feed; each result page is spooled first, so a page fetched again after a
 * cut-off never writes half an answer.
 */
export async function pushFeeds(o: PushOptions, r: PushResult = newPushResult()): Promise<PushResult> {
  const results = new TextSink(o.out);
  let opened = false;
  const targetUrl = withQuery(operationUrl(o.collection, '$syncTarget'), { runName: o.runName, runStamp: o.runStamp });
  const openResults = (): void => {
    if (opened) return;
    opened = true;
    results.write(feedOpen({ id: targetUrl, title: 'Synchronization results' }));
  };
  const forwardResultPage = async (file: string, tail: ResultTail): Promise<void> => {
    openResults();
    // A page whose entries the result scanner found plain, in namespaces our result feed's root declares alike (our
    // provider's pages): its entries copied from the file. Any other is parsed again, and its entries re-declare
    // what they need.
    if (tail.copies !== undefined && pageDecls(tail.copies.bindings).length === 0) {
      await copySpans(file, tail.copies.spans, results);
      return;
    }
    let decls: PageDecls = [];
    const pending: EntryRecord[] = [];
    const reader = new FeedReader({
      head: (h) => {
        decls = pageDecls(h.bindings);
      },
      entry: (rec) => pending.push(rec),
      end: () => undefined,
    }, { source: file, requireSyncHead: false, maxEntryBytes: 1 << 30, limits: o.limits });
    const flush = async (): Promise<void> => {
      for (const rec of pending.splice(0)) {
        results.write(forwardText(rec, decls));
        results.write('\n');
      }
      if (results.needsDrain) await results.drained();
    };
    for await (const c of createReadStream(file, { highWaterMark: 64 * 1024 })) {
      reader.push(c as Buffer);
      await flush();
    }
    reader.end();
    await flush();
  };
  const dir = await mkdtemp(join(o.spoolDir, 'sdata-sync-push-')).catch((e: unknown) => {
    throw fileError(`spool directory ${o.spoolDir}`, 'write', e);
  });
  // In memory for ordinary chunk bounds, as `run` (docs/decisions/0010-chunks-spooled-in-memory.md).
  const bodiesFor = (prefix: string): BodyFactory => (o.chunkBytes <= MEMORY_SPOOL_MAX ? () => new MemoryWriter() : (name) => new FileWriter(join(dir, `${prefix}${name}.xml`)));
  const sender = new ChunkSender({
    bodies: bodiesFor('split-'),
    resultDir: dir,
    target: o.client,
    targetUrl,
    maxEntryBytes: o.maxEntryBytes,
    limits: o.limits,
    log: o.log,
    signal: o.signal,
    onResultPage: forwardResultPage,
    onChunkDone: () => {
      r.chunks = sender.chunks;
      r.entries = sender.entries;
    },
    contexts: o.contexts,
    ...(o.poll ? { poll: o.poll } : {}),
  });
  let feed: { planner: Planner; spool: SpoolTarget; label: string } | undefined;
  const many = o.inputs.length > 1;
  const warnInvalid = invalidWarner(o.log, 'push');
  const begin = (): NonNullable<typeof feed> => {
    r.feeds++;
    const label = many ? `feed ${r.feeds} ` : '';
    const spool = new SpoolTarget(bodiesFor(`feed-${r.feeds}-`), async (c) => {
      await sender.send(c);
      r.splits = sender.splits;
    }, 1, label);
    const planner = new Planner({
      out: spool, chunkEntries: o.chunkEntries, chunkBytes: o.chunkBytes, strict: o.strict ?? false,
      onInvalid: warnInvalid,
    });
    spool.stats = planner.stats;
    return { planner, spool, label };
  };
  const count = (f: NonNullable<typeof feed>, before: { read: number; forwarded: number; invalid: number; held: number }): void => {
    const s = f.planner.stats;
    r.read = before.read + s.read;
    r.forwarded = before.forwarded + s.forwarded;
    r.invalid = before.invalid + s.invalid;
    r.held = before.held + s.held;
  };
  const end = async (f: NonNullable<typeof feed>, endOfFeed: boolean): Promise<void> => {
    const s = await f.planner.finish({ endOfFeed });
    await f.spool.drain();
    r.endings.push(s.ending!);
    if (s.ending === 'open') o.log.info(`${f.label}the input ends on a page with a next link: the last chunk keeps its next link, and the target merges the feed's digest once the rest is pushed`);
    else if (s.ending === 'held') o.log.warn(`${f.label}entries were dropped as invalid: the target is not let merge the feed's digest, and later entries of their endpoints were held back (docs/protocol.md X3)`);
    else if (s.ending === 'none') o.log.info(`${f.label}nothing to post: the feed has no entries and no digest to merge`);
  };
  // The input is read in pieces, most by the piece scanner, as `run` reads a source page (docs/decisions/0021-engine-piece-scanner.md):
  // a third less CPU than the one-pass reader (docs/decisions/0039-push-piece-scanner.md).
  const segmented = new SegmentedPlan({ target: undefined, maxEntryBytes: o.maxEntryBytes, helpers: 0, scheduledGc: true, ...(o.limits ? { limits: o.limits } : {}) });
  let reading = '';
  let failed = false;
  try {
    const before = { read: 0, forwarded: 0, invalid: 0, held: 0 };
    for (let i = 0; i < o.inputs.length; i++) {
      const input = o.inputs[i]!;
      reading = input.name;
      const f = (feed ??= begin());
      const check = (): void => {
        f.spool.check();
        count(f, before);
        if (o.signal?.aborted) throw new SdataError('SDATA_E_ABORTED', `${input.name}: interrupted`);
      };
      const bytes = await input.open();
      const page = await segmented.page(checked(bytes, check), f.planner, input.name, { idle: idleOf(bytes) });
      count(f, before);
      if (page.next === undefined || i === o.inputs.length - 1) {
        await end(f, page.next === undefined);
        count(f, before);
        Object.assign(before, { read: r.read, forwarded: r.forwarded, invalid: r.invalid, held: r.held });
        feed = undefined;
      }
    }
    await sender.settle();
  } catch (e) {
    failed = true;
    if (feed) await feed.spool.abort().catch(() => undefined);
    throw pushError(e, o.signal, reading);
  } finally {
    await segmented.close();
    await sender.releaseAll();
    r.chunks = sender.chunks;
    r.entries = sender.entries;
    r.splits = sender.splits;
    r.outcomes.merge(sender.outcomes);
    Object.assign(r.contexts, sender.contexts);
    await rm(dir, { recursive: true, force: true });
    // A result feed names what the target applied. A push that stopped before any result has none to name: it
    // leaves stdout empty rather than print a document that reads as "applied nothing" (a consumer would trust it).
    if (opened || !failed) {
      openResults();
      results.write(feedClose());
      results.flush();
      await results.drained().catch(() => undefined);
    }
  }
  return r;
}

/** The input's chunks, `check` called after each (a failure downstream, an interrupt, stops the read). */
async function* checked(input: AsyncIterable<Uint8Array>, check: () => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of input) {
    check();
    yield chunk;
  }
}

/**
 * For a stream: whether nothing more is buffered (SegmentedPlan reads what has come rather than wait for a piece's
 * worth, so that a writer that pauses sees its entries posted). Other inputs are read a piece at a time.
 */
function idleOf(input: AsyncIterable<Uint8Array>): (() => boolean) | undefined {
  const s = input as Partial<Readable>;
  return typeof s.readableLength === 'number' ? () => s.readableLength === 0 : undefined;
}

/** An interrupt is SDATA_E_ABORTED however it surfaced (a destroyed stdin); a file-system failure is SDATA_E_IO. */
function pushError(e: unknown, signal: AbortSignal | undefined, input: string): unknown {
  if (isSdataError(e) && (e.code === 'SDATA_E_ABORTED' || !signal?.aborted)) return e;
  if (signal?.aborted) return new SdataError('SDATA_E_ABORTED', `${input}: interrupted`, { cause: e });
  if (errnoCode(e) !== undefined) return new SdataError('SDATA_E_IO', `${input}: ${(e as Error).message}`, { source: input, cause: e });
  return e;
}

/**
 * Writes the text at `spans` (start and end pairs, in characters of the file's UTF-8 decoded as the result scanner
 * decoded it) to `out`, each with a line end: a result page's entries, read as the file streams by. Saxes re-reading
 * a page of 1,000 result entries cost `push` about a sixth of its CPU; the scanner had read and checked them as they
 * arrived (ResultTail.copies).
 */
async function copySpans(file: string, spans: readonly number[], out: TextSink): Promise<void> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  /** Characters of the file before this chunk's text; the next span boundary (even k: a start, odd: an end). */
  let at = 0;
  let k = 0;
  for await (const c of createReadStream(file, { highWaterMark: 64 * 1024 })) {
    const t = decoder.decode(c as Buffer, { stream: true });
    const next = at + t.length;
    let from = 0;
    while (k < spans.length) {
      const b = spans[k]!;
      if (k % 2 === 0) {
        if (b >= next) break;
        from = b - at;
      } else if (b > next) {
        out.write(t.slice(from));
        break;
      } else {
        out.write(t.slice(from, b - at));
        out.write('\n');
      }
      k++;
    }
    at = next;
    if (out.needsDrain) await out.drained();
  }
  // Our own spool file, written from the bytes the scanner read: shorter only if something else changed it.
  if (k < spans.length) throw new SdataError('SDATA_E_IO', `${file}: result page spool shorter than the page read (${Math.floor(k / 2)} of ${spans.length / 2} entries)`);
}
