import type { InvalidEntry } from '../plan/planner.ts';
import type { Logger } from './log.ts';

const MAX_INVALID_WARNINGS = 20;

/**
 * Says each invalid source entry on the log (`run`, `push`): a feed full of bad entries must not flood stderr, so the
 * first ones in full, then that the rest are only counted (the summary has the count, a report the list).
 */
export function invalidWarner(log: Logger, label: string): (e: InvalidEntry) => void {
  let n = 0;
  return (e) => {
    n++;
    if (n > MAX_INVALID_WARNINGS) return;
    const held = e.endpoint === undefined ? '' : `; later entries from ${e.endpoint} are held back in this pass (docs/protocol.md X3)`;
    log.warn(`${e.source}:${e.line}:${e.column}: entry #${e.index + 1}${e.atomId ? ` (${e.atomId})` : ''} not forwarded: ${e.reason}${held}`);
    if (n === MAX_INVALID_WARNINGS) log.warn(`${label}: further invalid entries are only counted (the summary and --report list them)`);
  };
}
