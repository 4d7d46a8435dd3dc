import { randomUUID } from 'node:crypto';
import type { PollOptions } from '../../http/async-op.ts';
import { readSmallBody, statusError } from '../../http/body.ts';
import type { HttpClient } from '../../http/client.ts';
import { collectionUrl, operationUrl } from '../../http/url.ts';
import { digestEntryFor } from '../../protocol/digest.ts';
import { normalizeEndpoint } from '../../protocol/endpoint.ts';
import { SdataError } from '../../protocol/errors.ts';
import { parseDigestDocument } from '../../xml/digest-document.ts';
import type { Logger } from '../log.ts';
import { schemaOf } from '../run.ts';
import { readCollection, type CollectionRead } from './collection.ts';
import { decide, naturalKey, SIDE_NAMES, winnerOf, type Action, type Decision, type KeyNormalization } from './decide.ts';
import { JoinFile, type JoinRow } from './join-file.ts';
import { JsonlFile } from '../jsonl.ts';
import { LinkWriter } from './link-writer.ts';

/**
 * `sdata-sync link`: the linking utility of spec 1.4, run before the first sync between two applications that
 * already hold the same resources. It reads both collections, matches resources on a natural key (in a scratch
 * SQLite file: memory stays bounded whatever the sizes), decides per match as spec 1.2 says (decide.ts), reports
 * every decision, and with `apply` tells both providers through `$linked` (batched when they offer
 * `$linked/$batch`). After it, a catch-up pass finds the shared resources under one uuid and creates no duplicates.
 */

export interface LinkOptions {
  source: HttpClient;
  target: HttpClient;
  sourceBase: string;
  targetBase: string;
  kind: string;
  /** Property paths of the natural key (`name`, `address/postCode`). */
  match: readonly string[];
  normalize: KeyNormalization;
  /** false: a dry run, nothing written to either provider. */
  apply: boolean;
  /** JSON Lines, one line per decision (and per refused request). */
  report?: string | undefined;
  /** Where the scratch file goes. */
  tempDir: string;
  /** Requests per `$linked/$batch` (used when a provider advertises it); 0: never batch. */
  batchSize: number;
  pageSize?: number | undefined;
  maxEntryBytes?: number | undefined;
  poll?: Partial<PollOptions> | undefined;
  signal?: AbortSignal | undefined;
  log: Logger;
  /** Test hook: the uuid generator for new links (default: crypto.randomUUID). */
  newUuid?: () => string;
}

export type LinkCounts = Record<Action, number> & {
  /** Resources read per side. */
  read: [number, number];
  /** Keys shared one to one. */
  matched: number;
  /** Resources per side under ambiguous keys. */
  ambiguousResources: [number, number];
  /** Resources per side without a counterpart, or without the key fields. */
  unmatchedResources: [number, number];
};

export interface SideInfo {
  base: string;
  endpoint: string;
  priority: number;
  /** Whether `$linked/$batch` was used (advertised and allowed). */
  batched: boolean;
}

export interface LinkResult {
  apply: boolean;
  kind: string;
  sides: [SideInfo, SideInfo];
  /** The side whose uuid wins a disagreement. */
  winner: 'source' | 'target';
  counts: LinkCounts;
  /** With apply: requests sent, links accepted and refused, per side. */
  applied: Array<{ requests: number; ok: number; failed: number }> | undefined;
  seconds: number;
}

const MAX_FAILURE_WARNINGS = 10;
/** How often a long link says where it is (stderr). */
const PROGRESS_MS = 10_000;

const ACTIONS: readonly Action[] = ['already-linked', 'link-both', 'copy-to-target', 'copy-to-source', 'repoint-target', 'repoint-source',
  'uuid-taken', 'ambiguous', 'unmatched-source', 'unmatched-target', 'no-key-source', 'no-key-target'];

export async function runLink(o: LinkOptions): Promise<LinkResult> {
  const started = Date.now();
  const clients = [o.source, o.target] as const;
  const bases = [o.sourceBase, o.targetBase] as const;
  const colls = bases.map((b) => collectionUrl(b, o.kind)) as [string, string];
  const own = await Promise.all([0, 1].map((s) => ownEndpoint(clients[s]!, colls[s]!)));
  const batchable = await Promise.all([0, 1].map((s) => linkBatching(clients[s]!, bases[s]!, o.kind, o.log)));
  const winner = winnerOf([own[0]!.priority, own[1]!.priority], [own[0]!.endpoint, own[1]!.endpoint]);
  const sides = [0, 1].map((s) => ({ base: bases[s]!, ...own[s]!, batched: o.batchSize > 0 && batchable[s]! })) as [SideInfo, SideInfo];
  o.log.info(`${o.kind}: priorities ${own[0]!.priority} (source) and ${own[1]!.priority} (target): the ${SIDE_NAMES[winner]}'s uuid wins a disagreement`);

  const counts = Object.fromEntries(ACTIONS.map((a) => [a, 0])) as unknown as LinkCounts;
  counts.read = [0, 0];
  counts.matched = 0;
  counts.ambiguousResources = [0, 0];
  counts.unmatchedResources = [0, 0];
  const join = new JoinFile(o.tempDir);
  const report = o.report === undefined ? undefined : new JsonlFile(o.report);
  let writers: [LinkWriter, LinkWriter] | undefined;
  try {
    // 1. Both collections into the scratch file, side by side. If one side fails, the other stops at its next entry.
    const fields = o.match;
    let failed: unknown;
    const read = (side: 0 | 1): Promise<CollectionRead> => readCollection({
      client: clients[side], collection: colls[side], fields, pageSize: o.pageSize, maxEntryBytes: o.maxEntryBytes, poll: o.poll, signal: o.signal,
      onEntry: (f) => {
        if (failed !== undefined) throw new SdataError('SDATA_E_ABORTED', `${colls[side]}: stopped: the other side failed`);
        counts.read[side]++;
        const url = f.url ?? f.self ?? f.atomId;
        if (url === undefined) throw new SdataError('SDATA_E_PROTOCOL', `${colls[side]}: an entry has neither sdata:url, a self link nor an id: it cannot be named in a link`);
        join.add(side, naturalKey(f.values, o.normalize), { url, uuid: f.uuid || undefined, key: f.key });
      },
    }).catch((e: unknown) => {
      failed ??= e;
      throw e;
    });
    const progress = setInterval(() => o.log.info(`${o.kind}: read ${counts.read[0]} source and ${counts.read[1]} target resources so far`), PROGRESS_MS);
    progress.unref();
    const settled = await Promise.allSettled([read(0), read(1)]).finally(() => clearInterval(progress));
    if (failed !== undefined) throw failed;
    const reads = settled.map((r) => (r as PromiseFulfilledResult<CollectionRead>).value);
    o.log.info(`${o.kind}: read ${reads[0]!.entries} source and ${reads[1]!.entries} target resources; matching on ${fields.join(', ')}`);
    join.finish();

    // 2. Decide per key, report, and (apply) send. Refusals come back with the batches: reported as they arrive.
    const refused: Array<Record<string, unknown>> = [];
    if (o.apply) {
      writers = ([0, 1] as const).map((side) => new LinkWriter({
        client: clients[side], collection: colls[side], batchSize: sides[side].batched ? o.batchSize : 0,
        element: reads[side]!.element ?? reads[side === 0 ? 1 : 0]!.element ?? { local: o.kind, uri: '' },
        onFailure: (op, status, message) => {
          const n = writers!.reduce((m, w) => m + w.failed, 0);
          if (n <= MAX_FAILURE_WARNINGS) o.log.warn(`${SIDE_NAMES[op.side]}: ${op.method} $linked for ${op.url} (uuid ${op.uuid}) refused: ${message}`);
          if (n === MAX_FAILURE_WARNINGS) o.log.warn(`${o.kind}: further refusals are only counted${report ? ` (and listed in ${report.path})` : ''}`);
          if (report) refused.push({ key: keyParts(op.key), action: 'failed', side: SIDE_NAMES[op.side], method: op.method, url: op.url, uuid: op.uuid, status: status ?? null, message });
        },
      })) as [LinkWriter, LinkWriter];
    }
    const newUuid = o.newUuid ?? randomUUID;
    let decided = 0;
    const progress2 = setInterval(() => o.log.info(`${o.kind}: ${decided} keys decided${writers ? `, ${writers[0].ok + writers[1].ok} links written` : ''}`), PROGRESS_MS);
    progress2.unref();
    try {
      for (const g of join.groups()) {
        if (o.signal?.aborted) throw new SdataError('SDATA_E_ABORTED', `link ${o.kind}: interrupted`);
        const d = decide(g, winner, newUuid);
        takenCheck(d, join);
        count(counts, d);
        if (report) await report.line(reportLine(d));
        if (writers) for (const op of d.ops) await writers[op.side].add(op);
        while (report && refused.length > 0) await report.line(refused.shift());
        decided++;
      }
      if (writers) await Promise.all(writers.map((w) => w.finish()));
    } finally {
      clearInterval(progress2);
    }
    while (report && refused.length > 0) await report.line(refused.shift());
    return {
      apply: o.apply, kind: o.kind, sides, winner: SIDE_NAMES[winner], counts,
      applied: writers?.map((w) => ({ requests: w.requests, ok: w.ok, failed: w.failed })), seconds: (Date.now() - started) / 1000,
    };
  } finally {
    join.close();
    await report?.close();
  }
}

/** Spec 1.2 gives a uuid to a resource; if the collection shows it on another resource of that side, do not steal it. */
function takenCheck(d: Decision, join: JoinFile): void {
  if (d.action === 'link-both') return; // a new uuid
  for (const op of d.ops) {
    const other = join.holders(op.side, op.uuid).find((u) => u !== op.url);
    if (other !== undefined) {
      d.action = 'uuid-taken';
      d.ops = [];
      d.heldBy = other;
      return;
    }
  }
}

function count(c: LinkCounts, d: Decision): void {
  c[d.action]++;
  const [ns, nt] = d.counts;
  switch (d.action) {
    case 'ambiguous':
      c.ambiguousResources[0] += ns;
      c.ambiguousResources[1] += nt;
      break;
    case 'unmatched-source':
    case 'no-key-source':
      c.unmatchedResources[0] += ns;
      break;
    case 'unmatched-target':
    case 'no-key-target':
      c.unmatchedResources[1] += nt;
      break;
    default:
      c.matched++;
  }
}

const keyParts = (k: string | undefined): string[] | null => (k === undefined ? null : k.split('\u0001'));

function row(r: JoinRow): { url: string; uuid: string | null; key: string | null } {
  return { url: r.url, uuid: r.uuid ?? null, key: r.key ?? null };
}

function reportLine(d: Decision): Record<string, unknown> {
  const line: Record<string, unknown> = { key: keyParts(d.key), action: d.action };
  if (d.uuid !== undefined) line['uuid'] = d.uuid;
  if (d.heldBy !== undefined) line['heldBy'] = d.heldBy;
  if (d.source) line['source'] = row(d.source);
  if (d.target) line['target'] = row(d.target);
  if (d.rows) {
    line['counts'] = d.counts;
    if (d.counts[0] > 0) line['source'] = d.rows[0].map(row);
    if (d.counts[1] > 0) line['target'] = d.rows[1].map(row);
  }
  return line;
}

/** A provider's own endpoint and priority: its digest's entry for itself (`origin`; spec 4.2, docs/protocol.md §3.7). */
async function ownEndpoint(client: HttpClient, collection: string): Promise<{ endpoint: string; priority: number }> {
  const url = operationUrl(collection, '$syncDigest');
  const res = await client.request({ method: 'GET', url, headers: { accept: 'application/atom+xml; type=entry' } });
  if (res.statusCode !== 200) throw await statusError('GET', res, 'reading the digest (for the priority that decides which uuid wins)');
  const d = parseDigestDocument(await readSmallBody(res), url);
  const e = d.origin !== undefined ? digestEntryFor(d, d.origin) : d.entries.size === 1 ? [...d.entries.values()][0] : undefined;
  if (!e) throw new SdataError('SDATA_E_PROTOCOL', `${url}: the digest does not say which entry is the provider's own (no sync:origin), so its priority is unknown`, { url });
  return { endpoint: normalizeEndpoint(e.endpoint), priority: e.conflictPriority };
}

/** Whether the provider's `$schema` offers `$linked/$batch` for the kind, synchronously (ours: docs/protocol.md X17). */
async function linkBatching(client: HttpClient, base: string, kind: string, log: Logger): Promise<boolean> {
  try {
    const k = (await schemaOf(client, base)).find((s) => s.name === kind);
    const mode = k?.linkedBatchingMode;
    return k?.supportsLinking === true && (mode === 'sync' || mode === 'syncOrAsync');
  } catch (e) {
    log.debug(`${base}/$schema: ${(e as Error).message}; $linked requests go one by one`);
    return false;
  }
}
