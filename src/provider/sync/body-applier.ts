import type { FeedHandler } from '../../xml/feed-types.ts';
import type { StoreWriter } from '../store/repositories.ts';

/**
 * What applies a posted body ($syncTarget: TargetApplier, $batch: BatchApplier): a FeedHandler the streaming reader
 * feeds entry by entry, inside store transactions that the caller opens per ~256 KiB of body
 * (handlers/async-context.ts applyStream): begin(w) first in each, flush() last, discard() after one rolled back.
 */
export interface BodyApplier extends FeedHandler {
  /** Entries processed so far (applied, ignored or failed one by one). */
  readonly stats: { readonly entries: number };
  /** The transaction's writer, and a fresh stamp for result `updated` elements. */
  begin(w: StoreWriter): void;
  /** Writes this transaction's result entries (last, inside the transaction). */
  flush(): void;
  /** Forgets the result entries of a transaction that rolled back. */
  discard(): void;
}
