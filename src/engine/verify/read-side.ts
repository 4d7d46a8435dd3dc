import { hash } from 'node:crypto';
import type { ContextRecorder, DeleteOutcome, PollOptions } from '../../http/async-op.ts';
import type { HttpClient } from '../../http/client.ts';
import { operationUrl, redactUrl } from '../../http/url.ts';
import { emptyDigest, serializeDigestEntry } from '../../protocol/digest.ts';
import { normalizeEndpoint } from '../../protocol/endpoint.ts';
import { uuidKey } from '../../protocol/uuid.ts';
import { payloadDigest, payloadOf } from '../../xml/canonical.ts';
import type { EntryRecord } from '../../xml/feed-types.ts';
import type { XmlLimits } from '../../xml/limits.ts';
import type { LogLevel } from '../log.ts';
import type { PageSink } from '../page-stream.ts';
import { readSourceFeed } from '../source-feed.ts';
import { SideFile } from './side-file.ts';

/**
 * One side of `verify`: its whole state, deletions included, is its own sync feed against an empty digest (every
 * resource and tombstone with its syncState, docs/protocol.md §3.2), read by the engine's source-feed reader
 * (../source-feed.ts). Each entry becomes a row of the side's file: uuid, deleted, SHA-256 of the canonical payload
 * (src/xml/canonical.ts), url, syncState. Runs on the main thread or in a worker (side-worker.ts); the `$syncSource`
 * context is DELETEd however it ends.
 */

export type SideName = 'source' | 'target';

/** What reading one side takes that can cross to a thread (side-thread.ts): plain data. */
export interface SideReadJob {
  side: SideName;
  collection: string;
  /** The side file to write (CompareFile.sidePath). */
  file: string;
  runName: string;
  runStamp: string;
  /** Page cache of the side file, KiB (scratch-file.ts; default there). */
  cacheKiB?: number | undefined;
  maxEntryBytes?: number | undefined;
  /** Parsing limits (xml/limits.ts) for every page read; default: the defaults. */
  limits?: XmlLimits | undefined;
  poll?: Partial<PollOptions> | undefined;
}

export interface ReadSideOptions extends SideReadJob {
  client: HttpClient;
  signal?: AbortSignal | undefined;
  /** Records the side's `$syncSource` context until its DELETE (the journal, engine/journal.ts). */
  contexts?: ContextRecorder | undefined;
  log: (level: LogLevel, msg: string) => void;
  /** Entries read so far, now and then. */
  onProgress?: (entries: number) => void;
}

export interface SideSummary {
  collection: string;
  /** Entries read: live resources, tombstones, and entries that could not be compared. */
  entries: number;
  live: number;
  deleted: number;
  unreadable: number;
  pages: number;
  bytes: number;
  context: DeleteOutcome | 'none';
}

/** An entry that could not be compared (kept for the report: the first KEEP_UNREADABLE of a side). */
export interface Unreadable {
  side: SideName;
  uuid: string | undefined;
  url: string | undefined;
  at: string;
  reason: string;
}

export interface SideRead {
  summary: SideSummary;
  unreadable: Unreadable[];
  /** endpointKey → normalised endpoint URL, for every syncState endpoint the feed named. */
  endpoints: Array<[number, string]>;
}

const KEEP_UNREADABLE = 1000;
const MAX_WARNINGS = 10;
const PROGRESS_EVERY = 10_000;

/** A number for a normalised endpoint that both sides compute alike, whichever thread reads them: 48 bits of SHA-256. */
export function endpointKey(normalized: string): number {
  return hash('sha256', normalized, 'buffer').readUIntBE(0, 6);
}

export async function readSide(o: ReadSideOptions): Promise<SideRead> {
  const s: SideSummary = { collection: o.collection, entries: 0, live: 0, deleted: 0, unreadable: 0, pages: 0, bytes: 0, context: 'none' };
  const unreadable: Unreadable[] = [];
  const endpoints = new Map<string, number>();
  // Entries of one endpoint come in runs (a feed is ordered by syncState): the last one is checked first.
  let lastRaw = '';
  let lastKey = 0;
  const endpointOf = (raw: string): number => {
    if (raw === lastRaw) return lastKey;
    let k = endpoints.get(raw);
    if (k === undefined) {
      k = endpointKey(normalizeEndpoint(raw));
      endpoints.set(raw, k);
    }
    lastRaw = raw;
    lastKey = k;
    return k;
  };
  const file = new SideFile(o.file, o.cacheKiB);
  let page = o.collection;
  const notCompared = (rec: EntryRecord, reason: string): void => {
    s.unreadable++;
    const at = `${redactUrl(page)}:${rec.line}:${rec.column}`;
    if (s.unreadable <= MAX_WARNINGS) o.log('warn', `${o.side}: ${at}: entry #${rec.index + 1}${rec.atomId ? ` (${rec.atomId})` : ''} not compared: ${reason}`);
    if (s.unreadable === MAX_WARNINGS) o.log('warn', `${o.side}: further entries that cannot be compared are only counted (and listed in --report)`);
    if (unreadable.length < KEEP_UNREADABLE) unreadable.push({ side: o.side, uuid: (rec.uuid === undefined ? '' : uuidKey(rec.uuid)) || undefined, url: rec.atomId, at, reason });
  };
  const sink: PageSink = {
    scanned: true,
    textBytes: true,
    head: () => undefined,
    entry: (rec) => {
      if (++s.entries % PROGRESS_EVERY === 0) o.onProgress?.(s.entries);
      const uuid = rec.uuid === undefined ? undefined : uuidKey(rec.uuid);
      if (rec.text === undefined) return notCompared(rec, rec.invalid ?? 'over the size cap');
      if (!uuid) return notCompared(rec, 'no sdata:uuid on the payload resource');
      // A deletion is the resource element flagged isDeleted (spec 4.4), or, from a sender that says it so, DELETE (X11).
      const deleted = rec.isDeleted || rec.httpMethod === 'DELETE';
      let digest: string | undefined;
      if (!deleted) {
        const p = payloadOf(rec);
        if (p === undefined) return notCompared(rec, 'no resource element in sdata:payload');
        digest = payloadDigest(p);
        s.live++;
      } else {
        s.deleted++;
      }
      const st = rec.state;
      file.add(uuid, deleted, digest, rec.atomId, st?.endpoint ? endpointOf(st.endpoint) : undefined, st?.tick || undefined);
    },
    ready: () => undefined,
  };
  try {
    const r = await readSourceFeed({
      client: o.client, collection: o.collection,
      digestEntry: serializeDigestEntry(emptyDigest(), operationUrl(o.collection, '$syncDigest')),
      runName: o.runName, runStamp: o.runStamp, poll: o.poll, signal: o.signal, limits: o.limits, contexts: o.contexts,
      ...(o.maxEntryBytes === undefined ? {} : { maxEntryBytes: o.maxEntryBytes }),
      beforePage: (u) => {
        page = u;
      },
    }, () => sink);
    s.pages = r.pages;
    s.bytes = r.bytesIn;
    s.context = r.sourceContext;
    if (s.context === 'failed' || s.context === 'unknown') o.log('warn', `${o.side}: DELETE of the $syncSource context ${redactUrl(r.contextUrl)}: ${s.context}; the provider's context expiry will clean up`);
    file.finish();
    return { summary: s, unreadable, endpoints: [...new Set(endpoints.keys())].map((raw) => [endpoints.get(raw)!, normalizeEndpoint(raw)]) };
  } finally {
    file.close();
  }
}
