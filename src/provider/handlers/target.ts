import { TargetApplier } from '../sync/target-applier.ts';
import { applyBody, applyStream, handleAsync, serveResultPage, type AsyncOp } from './async-context.ts';
import type { Call } from './call.ts';

/**
 * `{kind}/$syncTarget` (spec 5.3–5.5, 5.8): a posted sync feed page, applied while it streams in
 * (sync/target-applier.ts); GET `$syncTarget('{id}')` serves the result feed, one entry per input entry.
 */

const TARGET: AsyncOp = {
  type: 'target',
  op: '$syncTarget',
  busy: { status: 'applying', phase: 'Applying', detail: 'receiving the request body' },
  donePhase: 'Complete',
  serve: serveResultPage,
};

export function handleTarget(c: Call, context: string | undefined): Promise<void> {
  return handleAsync(c, context, TARGET, () => applyBody(c, TARGET, async (row) => {
    const applier = new TargetApplier({
      store: c.core.store, kind: c.kind, ctx: row.id, servingCollection: c.collection, source: `POST ${c.url.pathname}`,
    });
    await applyStream(c, row, applier, true, true);
    return { entries: applier.stats.entries, info: JSON.stringify({ mode: applier.mode, merged: applier.merged, stats: applier.stats }) };
  }));
}
