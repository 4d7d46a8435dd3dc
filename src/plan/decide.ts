import { LRUCache } from 'lru-cache';
import { isNormalEndpoint, normalizeEndpoint } from '../protocol/endpoint.ts';
import { ownString, type Digest, type DigestEntry } from '../protocol/digest.ts';
import { tickLess } from '../protocol/ticks.ts';
import type { EntryRecord } from '../xml/feed-types.ts';

export type Decision = 'forward' | 'skip' | 'invalid';

/** Why an entry was decided as it was (`--explain`): its state, the target digest entry it met, the rule applied. */
export interface Explanation {
  decision: Decision | 'held';
  /** The entry's syncState, as far as it has one. */
  state: { endpoint: string; tick: string } | undefined;
  /** The target digest's entry for that endpoint; undefined when the target does not know it (or there is no digest). */
  digestEntry: { endpoint: string; tick: string } | undefined;
  rule: string;
}

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

  /**
   * The target's entries by every digest key that is its own normalisation: the digest's own map when every key is
   * (a digest built by setDigestEntry), else those entries. A copy of a 10,000-entry map cost each decider (the
   * planner has one, segmented planning another) ~5 ms cold and 0.5 MB for the whole pass.
   */
  private readonly direct: ReadonlyMap<string, DigestEntry>;

  constructor(target: Digest | undefined, cacheEntries = 4096) {
    this.target = target;
    const entries = target?.entries ?? new Map<string, DigestEntry>();
    let own = true;
    for (const k of entries.keys()) {
      if (normalizeEndpoint(k) !== k) {
        own = false;
        break;
      }
    }
    this.direct = own ? entries : new Map([...entries].filter(([k]) => normalizeEndpoint(k) === k));
    this.ticks = new LRUCache({ max: cacheEntries });
  }

  decide(rec: EntryRecord): Decision {
    if (rec.invalid !== undefined) return 'invalid';
    const st = rec.state!;
    return this.decideState(st.endpoint, st.tick);
  }

  /** The decision on a valid entry from its syncState's endpoint (as written, trimmed) and tick (canonical). */
  decideState(endpoint: string, tick: string): 'skip' | 'forward' {
    const target = this.target;
    if (target === undefined || target.entries.size === 0) return 'forward';
    // An endpoint written as a digest key that normalises to itself needs no normalising (nor any cache).
    let t = this.direct.get(endpoint)?.tick;
    if (t === undefined) {
      // Nor does one that is its own normalisation but no key: the digest does not know it. Without this, a feed
      // naming more endpoints outside the digest than the cache holds (a 10,000-endpoint feed) normalised, looked up
      // and cached every one of their entries again: 0.18 s and more GC per 250 MB (measured on the 10,000-endpoint plan bench).
      if (isNormalEndpoint(endpoint)) return 'forward';
      t = this.ticks.get(endpoint);
      if (t === undefined) {
        t = target.entries.get(normalizeEndpoint(endpoint))?.tick ?? ABSENT;
        // A copy: the endpoint may be a slice of a whole input chunk, which the key would keep alive.
        this.ticks.set(ownString(endpoint), t);
      }
    }
    return t !== ABSENT && tickLess(tick, t) ? 'skip' : 'forward';
  }

  /** The same decision as `decide`, spelt out (off the hot path: only for entries someone asked about). */
  explain(rec: EntryRecord): Explanation {
    const st = rec.state;
    const state = st ? { endpoint: st.endpoint, tick: st.tick } : undefined;
    const d = st && this.target ? this.target.entries.get(normalizeEndpoint(st.endpoint)) : undefined;
    const digestEntry = d ? { endpoint: d.endpoint, tick: d.tick } : undefined;
    const decision = this.decide(rec);
    const rules = 'docs/engine-rules.md §1';
    let rule: string;
    if (decision === 'invalid') rule = `invalid, not forwarded: ${rec.invalid} (${rules})`;
    else if (decision === 'skip') rule = `skipped: tick ${st!.tick} < ${d!.tick}, the target's digest says it has this change or a later one from ${st!.endpoint} (${rules})`;
    else if (this.target === undefined) rule = `forwarded: no target digest, the target is taken to be empty (${rules})`;
    else if (d === undefined) rule = `forwarded: the target's digest has no entry for ${st!.endpoint} (${rules}); the target applies the conflict rules`;
    else rule = `forwarded: tick ${st!.tick} ≥ ${d.tick}, the target lacks this change (${rules}); the target applies the conflict rules`;
    return { decision, state, digestEntry, rule };
  }
}
