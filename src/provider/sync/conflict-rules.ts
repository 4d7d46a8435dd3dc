import { stampMillis } from '../../protocol/sync-state.ts';
import { tickLess, type Tick } from '../../protocol/ticks.ts';

/**
 * The target's per-entry decision (spec 5.4; docs/protocol.md §3.6, §3.7), on interned endpoint ids. Pure: no I/O, so the
 * spec's worked examples are unit tests of this function.
 */

export interface StateRef {
  ep: number;
  tick: Tick;
  stamp: string;
}

export interface DigestLookup {
  get(ep: number): { tick: Tick; prio: number } | undefined;
}

export interface Resolution {
  winner: 'source' | 'target';
  by: 'priority' | 'stamp' | 'endpoint';
  srcPrio: number;
  tgtPrio: number;
  /** Priority lookups that found nothing in either digest (docs/protocol.md §3.7: 9 and a warning). */
  warnings: string[];
}

export type Rule = 'R1' | 'R2' | 'R3' | 'R4';

export interface Verdict {
  apply: boolean;
  rule: Rule;
  /** Set when R4 found a conflict. */
  conflict?: Resolution;
}

export const WEAKEST_PRIORITY = 9;

/**
 * @param incoming the entry's syncState (source side)
 * @param local    the stored state for the same uuid (live or tombstone)
 * @param src      the feed's digest (the source's)
 * @param tgt      this store's digest
 * @param norm     normalised URL of an endpoint id (final tie-break)
 */
export function decide(incoming: StateRef, local: StateRef, src: DigestLookup, tgt: DigestLookup, norm: (ep: number) => string): Verdict {
  // R1: same origin: only a newer version of it applies.
  if (incoming.ep === local.ep) return { apply: tickLess(local.tick, incoming.tick), rule: 'R1' };
  // R2: the source has already seen the target's version (strict >, corrected in 2014).
  const s = src.get(local.ep);
  if (s !== undefined && tickLess(local.tick, s.tick)) return { apply: true, rule: 'R2' };
  // R3: the target has already seen the source's version.
  const t = tgt.get(incoming.ep);
  if (t !== undefined && tickLess(incoming.tick, t.tick)) return { apply: false, rule: 'R3' };
  const conflict = resolve(incoming, local, src, tgt, norm);
  return { apply: conflict.winner === 'source', rule: 'R4', conflict };
}

/** Lower priority wins; then the newer stamp; then the smaller normalised endpoint URL (docs/protocol.md A37). */
export function resolve(incoming: StateRef, local: StateRef, src: DigestLookup, tgt: DigestLookup, norm: (ep: number) => string): Resolution {
  const warnings: string[] = [];
  // Each side's priority comes from the digest that side's state was made under; fall back to the other digest.
  let srcPrio = src.get(incoming.ep)?.prio ?? tgt.get(incoming.ep)?.prio;
  if (srcPrio === undefined) {
    srcPrio = WEAKEST_PRIORITY;
    warnings.push(`no conflictPriority known for ${norm(incoming.ep)}; using ${WEAKEST_PRIORITY}`);
  }
  let tgtPrio = tgt.get(local.ep)?.prio ?? src.get(local.ep)?.prio;
  if (tgtPrio === undefined) {
    tgtPrio = WEAKEST_PRIORITY;
    warnings.push(`no conflictPriority known for ${norm(local.ep)}; using ${WEAKEST_PRIORITY}`);
  }
  if (srcPrio !== tgtPrio) return { winner: srcPrio < tgtPrio ? 'source' : 'target', by: 'priority', srcPrio, tgtPrio, warnings };
  // Unparseable stamps count as the oldest possible: a readable stamp is more information than none.
  const a = stampOrMin(incoming.stamp);
  const b = stampOrMin(local.stamp);
  if (a !== b) return { winner: a > b ? 'source' : 'target', by: 'stamp', srcPrio, tgtPrio, warnings };
  return { winner: norm(incoming.ep) < norm(local.ep) ? 'source' : 'target', by: 'endpoint', srcPrio, tgtPrio, warnings };
}

function stampOrMin(s: string): number {
  const m = stampMillis(s);
  return Number.isNaN(m) ? Number.NEGATIVE_INFINITY : m;
}
