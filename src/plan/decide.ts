import { LRUCache } from 'lru-cache';
import { normalizeEndpoint } from '../protocol/endpoint.ts';
import type { Digest } from '../protocol/digest.ts';
import { tickLess } from '../protocol/ticks.ts';
import type { EntryRecord } from '../xml/feed-types.ts';

export type Decision = 'forward' | 'skip' | 'invalid';

const ABSENT = '';

/**
 * The per-entry decision of docs/engine-rules.md §1. An entry (ep, tick) is skipped iff the target digest knows ep and
 * tick < T[ep].tick; invalid entries (rec.invalid) are never forwarded; everything else goes to the target,
 * which alone applies the conflict rules.
 */
export class Decider {
  private readonly target: Digest | undefined;
  /** Raw endpoint text → the target's tick for it ('' when the target does not know it). Bounded: hostile feeds
   * can name endless distinct endpoints, and each costs a normalisation only once while it stays hot. */
  private readonly ticks: LRUCache<string, string>;

  constructor(target: Digest | undefined, cacheEntries = 4096) {
    this.target = target;
    this.ticks = new LRUCache({ max: cacheEntries });
  }

  decide(rec: EntryRecord): Decision {
    if (rec.invalid !== undefined) return 'invalid';
    const target = this.target;
    if (target === undefined || target.entries.size === 0) return 'forward';
    const st = rec.state!;
    let t = this.ticks.get(st.endpoint);
    if (t === undefined) {
      t = target.entries.get(normalizeEndpoint(st.endpoint))?.tick ?? ABSENT;
      this.ticks.set(st.endpoint, t);
    }
    return t !== ABSENT && tickLess(st.tick, t) ? 'skip' : 'forward';
  }
}
