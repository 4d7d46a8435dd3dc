import type { Digest } from '../../protocol/digest.ts';
import { decodeDocument } from '../../xml/encoding.ts';
import { parseDigestDocument } from '../../xml/digest-document.ts';
import { TextSink } from '../../xml/text-sink.ts';
import { ATOM_FEED, HttpProblem } from '../http/http-io.ts';
import { intParam, queryParam } from '../http/routes.ts';
import type { ContextRow } from '../store/contexts.ts';
import type { Selection } from '../store/repositories.ts';
import { LinkOps } from '../sync/links.ts';
import { snapshotDigest, writeSourcePage } from '../sync/source-page.ts';
import { handleAsync, startInBackground, type AsyncOp } from './async-context.ts';
import type { Call } from './call.ts';
import { readDigestBody } from './digest.ts';

/**
 * `{kind}/$syncSource` (spec 5.2, 5.6; docs/protocol.md §3.2): POST the target's digest, and the selection (what the target
 * lacks) is made after the `202`; GET `$syncSource('{id}')` serves its pages, following `next` links whose `after`
 * parameter is a keyset cursor (their `startIndex` only labels the page); a `startIndex` without it is refused (X16).
 */

/** What a source context's row holds (JSON). */
interface SourceInfo {
  runName?: string;
  runStamp?: string;
  selection?: Selection;
}

const SOURCE: AsyncOp = {
  type: 'source',
  op: '$syncSource',
  busy: { status: 'selecting', phase: 'Selecting', detail: 'comparing digests' },
  donePhase: 'Ready',
  serve: servePage,
};

export function handleSource(c: Call, context: string | undefined): Promise<void> {
  return handleAsync(c, context, SOURCE, async () => {
    const text = decodeDocument(await readDigestBody(c), c.url.pathname);
    const target = parseDigestDocument(text, c.url.pathname);
    const info: SourceInfo = {};
    const runName = queryParam(c.url, 'runName');
    const runStamp = queryParam(c.url, 'runStamp');
    if (runName !== undefined) info.runName = runName;
    if (runStamp !== undefined) info.runStamp = runStamp;
    await startInBackground(c, SOURCE, JSON.stringify(info), (row) => select(c, row, target, info));
  });
}

/** docs/protocol.md §3.2: snapshot of the source digest, per-endpoint tick ranges, total count. */
function select(c: Call, row: ContextRow, target: Digest, info: SourceInfo): void {
  const { store, contexts } = c.core;
  const now = contexts.find(c.kind.id, 'source', row.principal, row.tracking);
  if (!now || now.status !== 'selecting') return; // deleted (or expired) meanwhile
  const snapshot = snapshotDigest(store, c.kind);
  const ranges = store.selection.ranges(snapshot, target);
  // Resources without a link get theirs now: every entry sent carries a uuid (spec 1.2: sync links what it sends).
  new LinkOps(store, c.kind).linkForSync(ranges);
  const total = store.selection.count(c.kind.id, ranges);
  info.selection = { digest: snapshot, ranges, total };
  contexts.update(row, 'ready', total, JSON.stringify(info));
}

async function servePage(c: Call, row: ContextRow, url: string): Promise<void> {
  const { core } = c;
  const selection = (JSON.parse(row.info) as SourceInfo).selection!;
  const afterParam = c.url.searchParams.get('after');
  const after = core.store.selection.decodeCursor(afterParam);
  if (afterParam !== null && after === undefined) throw new HttpProblem(400, `${c.url.pathname}: 'after=${afterParam}' is not a page cursor of this provider (use the next links as given)`, 'BadQueryParameter');
  const count = intParam(c.url, 'count', 1, core.maxPageSize, core.pageSize);
  const startIndex = intParam(c.url, 'startIndex', 1, Number.MAX_SAFE_INTEGER, 1);
  if (after === undefined && startIndex !== 1) {
    // docs/protocol.md X16: a position in a selection over live data moves when a row changes (core 6.4), and a row
    // skipped that way would be lost to the target at the end-of-feed merge; the cursor in our next links does not move.
    throw new HttpProblem(400, `${c.url.pathname}: this feed is paged by the next links it gives (they carry a cursor), not by startIndex alone (sme:canPageIndex is false for sync feeds)`, 'BadQueryParameter');
  }
  c.res.writeHead(200, { 'content-type': ATOM_FEED });
  const sink = new TextSink(c.res);
  await writeSourcePage({
    store: core.store, kind: c.kind, selection, contextUrl: url,
    title: `${c.kind.name} synchronization feed ${row.trackingRaw}`, after: after ?? core.store.selection.start(), startIndex, count, sink,
  });
  await sink.end();
}
