import { LRUCache } from 'lru-cache';
import { isNormalEndpoint, normalizeEndpoint } from '../protocol/endpoint.ts';
import { digestTicks, ownString, type Digest, type DigestEntry } from '../protocol/digest.ts';
import { tickLess } from '../protocol/ticks.ts';
import type { EntryRecord } from '../xml/feed-types.ts';
import { EndpointTicks, FORWARD, SKIP, UNKNOWN } from './endpoint-ticks.ts';

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
 * Digests with fewer keys are looked up in their Map: its few buckets stay in cache, and V8 hashes a string faster
 * than JavaScript can (a 3-endpoint pass: ~10 ms of look-ups per 100 MB in the Map, ~15 in the table).
 */
const TABLE_FROM = 256;

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
   * Made at the first decision (a pass has two deciders, the planner's and segmented planning's, of which one decides
   * nearly everything): for a digest of many keys, its keys and ticks laid out for look-ups (endpoint-ticks.ts),
   * taken without making the digest's entries where it can tell them (protocol/digest.ts digestTicks); otherwise its
   * entries by every key that is its own normalisation (all of a digest built by setDigestEntry).
   */
  private prepared = false;
  /** The target's digest has no entries: everything is forwarded. */
  private empty = false;
  private table: EndpointTicks | undefined;
  private direct: ReadonlyMap<string, DigestEntry> = new Map();
  private found = new Int8Array(256);

  constructor(target: Digest | undefined, cacheEntries = 4096) {
    this.target = target;
    this.ticks = new LRUCache({ max: cacheEntries });
  }

  private prepare(target: Digest): void {
    this.prepared = true;
    const t = digestTicks(target);
    this.empty = t.keys.length === 0;
    // The table answers an endpoint as written with any key; the Map below only with keys that are their own
    // normalisation. Those are the same for keys normalizeEndpoint made (see digestTicks); a Map filled by hand with
    // another key keeps the Map.
    if (t.keys.length >= TABLE_FROM && (t.normal || t.keys.every((k) => normalizeEndpoint(k) === k))) {
      this.table = EndpointTicks.of(t.keys, t.ticks);
      if (this.table !== undefined) return;
    }
    const entries = target.entries;
    let own = true;
    for (const k of entries.keys()) {
      if (normalizeEndpoint(k) !== k) {
        own = false;
        break;
      }
    }
    this.direct = own ? entries : new Map([...entries].filter(([k]) => normalizeEndpoint(k) === k));
  }

  decide(rec: EntryRecord): Decision {
    if (rec.invalid !== undefined) return 'invalid';
    const st = rec.state!;
    return this.decideState(st.endpoint, st.tick);
  }

  /** The decision on a valid entry from its syncState's endpoint (as written, trimmed) and tick (canonical). */
  decideState(endpoint: string, tick: string): 'skip' | 'forward' {
    const target = this.target;
    if (target === undefined) return 'forward';
    if (!this.prepared) this.prepare(target);
    if (this.empty) return 'forward';
    // An endpoint written as a digest key that normalises to itself needs no normalising (nor any cache).
    if (this.table !== undefined) {
      const found = this.table.decide(endpoint, tick);
      return found === UNKNOWN ? this.notAsWritten(endpoint, tick) : found === SKIP ? 'skip' : 'forward';
    }
    const t = this.direct.get(endpoint)?.tick;
    if (t === undefined) return this.notAsWritten(endpoint, tick);
    return tickLess(tick, t) ? 'skip' : 'forward';
  }

  /**
   * decideState for entries 0 … n-1 (their endpoints and ticks; where `at[k]` is not -1, endpoint k is also the bytes
   * of `bytes` from there on: PieceScanner's endpointAt): SKIP or FORWARD in the array returned, which is the decider's
   * own and valid until the next call. A large digest's table looks up the whole batch at once.
   */
  decideAll(endpoints: readonly string[], ticks: readonly string[], n: number, bytes: Uint8Array, at: readonly number[]): Int8Array {
    if (this.found.length < n) this.found = new Int8Array(Math.max(n, 2 * this.found.length));
    const found = this.found;
    const target = this.target;
    if (target !== undefined && !this.prepared) this.prepare(target);
    if (this.table === undefined) {
      for (let k = 0; k < n; k++) found[k] = this.decideState(endpoints[k]!, ticks[k]!) === 'skip' ? SKIP : FORWARD;
      return found;
    }
    this.table.decideAll(endpoints, ticks, n, found, bytes, at);
    for (let k = 0; k < n; k++) {
      if (found[k] === UNKNOWN) found[k] = this.notAsWritten(endpoints[k]!, ticks[k]!) === 'skip' ? SKIP : FORWARD;
    }
    return found;
  }

  /** The decision on an entry whose endpoint, as written, is no key of the digest (it may name one differently). */
  private notAsWritten(endpoint: string, tick: string): 'skip' | 'forward' {
    // One that is its own normalisation is no key at all: the digest does not know it. Without this, a feed
    // naming more endpoints outside the digest than the cache holds (a 10,000-endpoint feed) normalised, looked up
    // and cached every one of their entries again: 0.18 s and more GC per 250 MB (measured on the 10,000-endpoint plan bench).
    if (isNormalEndpoint(endpoint)) return 'forward';
    // A table is asked for the normalised endpoint at once: its look-up costs less than the cache's, and a feed can
    // name more spellings than the cache holds (4,091 in 5,235 entries of the 10,000-endpoint bench feed).
    if (this.table !== undefined) return this.table.decide(normalizeEndpoint(endpoint), tick) === SKIP ? 'skip' : 'forward';
    let t = this.ticks.get(endpoint);
    if (t === undefined) {
      t = this.target!.entries.get(normalizeEndpoint(endpoint))?.tick ?? ABSENT;
      // A copy: the endpoint may be a slice of a whole input chunk, which the key would keep alive.
      this.ticks.set(ownString(endpoint), t);
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
