import { BatchApplier } from '../sync/batch-applier.ts';
import { applyBody, applyStream, handleAsync, serveResultPage, type AsyncOp } from './async-context.ts';
import type { Call } from './call.ts';
import { localOps } from './crud.ts';

/**
 * `{kind}/$batch` (core 13.3–13.5): entries tagged with `http:httpMethod`, applied as local edits while the body
 * streams in (sync/batch-applier.ts); synchronous, or asynchronous with a trackingID as for `$syncTarget`.
 */

const BATCH: AsyncOp = {
  type: 'batch',
  op: '$batch',
  busy: { status: 'applying', phase: 'Applying', detail: 'receiving the request body' },
  donePhase: 'Complete',
  serve: serveResultPage,
};

export function handleBatch(c: Call, context: string | undefined): Promise<void> {
  return handleAsync(c, context, BATCH, () => applyBody(c, BATCH, async (row) => {
    const b = new BatchApplier(localOps(c), row.id, c.collection, `POST ${c.url.pathname}`);
    await applyStream(c, row, b, false);
    return { entries: b.stats.entries, info: JSON.stringify({ stats: b.stats }) };
  }));
}
