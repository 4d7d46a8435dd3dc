import { tickLess, type Tick } from '../protocol/ticks.ts';

/** What a look-up found: the entry is skipped, forwarded, or its endpoint (as written) is no key of the digest. */
export const SKIP = 1;
export const FORWARD = 0;
export const UNKNOWN = -1;
export type Found = typeof SKIP | typeof FORWARD | typeof UNKNOWN;

/**
 * The target digest's ticks by endpoint, laid out for the per-entry look-up of a pass over many endpoints
 * (docs/decisions/0044-endpoint-tick-table.md). In a Map of 10,000 endpoints a look-up in the middle of a pass costs
 * ~1 µs on these machines, nearly all of it waiting for memory: the bucket, the entry, the key string and the parent
 * it is a slice of, the digest entry, its tick string, each somewhere else on the heap and evicted by the ~1 KB of
 * feed scanned between two look-ups. Here a look-up reads one 32-byte slot (hash, where the key's characters are, its
 * length, the tick as a number) and the key's characters, kept one after another in one byte array; and `decideAll`
 * reads the slots and keys of a whole batch of entries before comparing any, so that their misses overlap.
 *
 * Open addressing with linear probing at a load of at most 1/2; hashes are 32-bit MurmurHash3. A digest
 * whose keys crowd into a run of more than MAX_RUN slots (only keys made to collide could) is not laid out: `of`
 * returns undefined and the caller keeps its Map, so that no look-up ever walks more than MAX_RUN slots.
 */
export class EndpointTicks {
  /** Per slot: [hash, key offset, key length (0: an empty slot), key index] as Int32, then the tick as a Float64 (UNREAD, NaN). */
  private readonly ints: Int32Array;
  private readonly nums: Float64Array;
  private readonly mask: number;
  private readonly chars: Uint8Array;
  /** The ticks as strings by key index, for the comparisons a double cannot make exactly (more than 15 digits). */
  private readonly ticks: Tick[];
  private hashes = new Int32Array(256);
  /** What the loops that only bring slots and keys into cache read: kept, so that no compiler drops the reads. */
  private touched = 0;

  private constructor(capacity: number, chars: Uint8Array, count: number) {
    const buf = new ArrayBuffer(capacity * SLOT_BYTES);
    this.ints = new Int32Array(buf);
    this.nums = new Float64Array(buf);
    this.mask = capacity - 1;
    this.chars = chars;
    this.ticks = new Array<Tick>(count);
  }

  /**
   * The table for `keys` (normalised endpoints) and their `ticks` (a key given twice: the last counts, as in a
   * digest's Map), or undefined where a Map serves: no keys, an empty key, a character beyond Latin-1, or keys that
   * crowd together. This runs once a pass, before anything is compiled: every key is hashed and put in one loop
   * (`fill`), which V8 compiles while it runs; a call per key had cost ~10 ms more for 10,000 keys, mostly interpreted.
   */
  static of(keys: readonly string[], ticks: readonly Tick[]): EndpointTicks | undefined {
    if (keys.length === 0) return undefined;
    let length = 0;
    for (const k of keys) length += k.length;
    // Written key by key: joining them first made a copy as large, in fresh memory.
    const chars = Buffer.allocUnsafe(length);
    for (let k = 0, at = 0; k < keys.length; k++) {
      const key = keys[k]!;
      if (NOT_LATIN1.test(key)) return undefined;
      at += chars.write(key, at, 'latin1');
    }
    let capacity = 8;
    while (capacity < keys.length * 2) capacity *= 2;
    const t = new EndpointTicks(capacity, chars, keys.length);
    return t.fill(keys, ticks) && t.longestRun() <= MAX_RUN ? t : undefined;
  }

  /** Puts every key in the first free slot from its hash, or gives an equal one put before it its tick; false for an empty key. */
  private fill(keys: readonly string[], ticks: readonly Tick[]): boolean {
    const { ints, nums, chars, mask } = this;
    for (let index = 0, at = 0; index < keys.length; index++) {
      const length = keys[index]!.length;
      if (length === 0) return false;
      const h = hashBytes(chars, at, at + length);
      let slot = h & mask;
      for (; ints[slot * SLOT_INTS + 2] !== 0; slot = (slot + 1) & mask) {
        const i = slot * SLOT_INTS;
        if (ints[i] !== h || ints[i + 2] !== length) continue;
        const offset = ints[i + 1]!;
        let k = 0;
        while (k < length && chars[offset + k] === chars[at + k]) k++;
        if (k === length) break;
      }
      const i = slot * SLOT_INTS;
      if (ints[i + 2] === 0) {
        ints[i] = h;
        ints[i + 1] = at;
        ints[i + 2] = length;
        ints[i + 3] = index;
      }
      nums[slot * SLOT_NUMS + 2] = UNREAD;
      this.ticks[ints[i + 3]!] = ticks[index]!;
      at += length;
    }
    return true;
  }

  /** The longest run of occupied slots, wrapping round: the most a look-up of an absent key walks. */
  private longestRun(): number {
    const { ints, mask } = this;
    // From an empty slot (at a load of 1/2 there are many) once round: every run is then seen whole.
    let from = 0;
    while (ints[from * SLOT_INTS + 2] !== 0) from++;
    let longest = 0;
    let run = 0;
    for (let n = 1; n <= mask; n++) {
      if (ints[((from + n) & mask) * SLOT_INTS + 2] === 0) run = 0;
      else if (++run > longest) longest = run;
    }
    return longest;
  }

  /** SKIP when the target has seen `tick` or a later one from `endpoint` (exactly a key), FORWARD when not. */
  decide(endpoint: string, tick: Tick): Found {
    const slot = this.find(endpoint, hashOf(endpoint));
    return slot < 0 ? UNKNOWN : this.skips(slot, tick);
  }

  /**
   * `decide` for entries 0 … n-1 into out[0 … n-1]. Where `at[k]` is not -1, entry k's endpoint is also the bytes of
   * `bytes` from there on (PieceScanner's endpointAt): those are hashed and compared rather than the string, which
   * costs ~3 ns a character against ~1 for the bytes (a string cut from a piece is a slice of it, and reading its
   * characters goes through the slice every time). The slots and keys of all n are read before any is compared, in
   * loops whose reads do not wait for each other, so that their cache misses are waited for together.
   */
  decideAll(endpoints: readonly string[], ticks: readonly Tick[], n: number, out: Int8Array, bytes: Uint8Array, at: readonly number[]): void {
    if (this.hashes.length < n) this.hashes = new Int32Array(Math.max(n, 2 * this.hashes.length));
    const { hashes, ints, chars, mask } = this;
    for (let k = 0; k < n; k++) {
      const from = at[k]!;
      hashes[k] = from < 0 ? hashOf(endpoints[k]!) : hashBytes(bytes, from, from + endpoints[k]!.length);
    }
    let touched = this.touched;
    for (let k = 0; k < n; k++) touched ^= ints[(hashes[k]! & mask) * SLOT_INTS + 1]!;
    for (let k = 0; k < n; k++) {
      const i = (hashes[k]! & mask) * SLOT_INTS;
      const offset = ints[i + 1]!;
      const length = ints[i + 2]!;
      touched ^= chars[offset]! ^ chars[length > 0 ? offset + length - 1 : offset]!;
    }
    this.touched = touched;
    for (let k = 0; k < n; k++) {
      const from = at[k]!;
      const slot = from < 0 ? this.find(endpoints[k]!, hashes[k]!) : this.findBytes(bytes, from, endpoints[k]!.length, hashes[k]!);
      out[k] = slot < 0 ? UNKNOWN : this.skips(slot, ticks[k]!);
    }
  }

  /** The slot of key `endpoint`, whose hash is `h`; -1 when no key is. */
  private find(endpoint: string, h: number): number {
    const n = endpoint.length;
    const { ints, chars, mask } = this;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const i = slot * SLOT_INTS;
      const length = ints[i + 2]!;
      if (length === 0) return -1;
      if (ints[i] !== h || length !== n) continue;
      const offset = ints[i + 1]!;
      let k = 0;
      while (k < n && chars[offset + k] === endpoint.charCodeAt(k)) k++;
      if (k === n) return slot;
    }
  }

  /**
   * find for the key that is the `n` bytes at `from`: find's twin rather than one loop reading characters through a
   * function, whose call per character would cost what reading the bytes saves.
   */
  private findBytes(bytes: Uint8Array, from: number, n: number, h: number): number {
    const { ints, chars, mask } = this;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const i = slot * SLOT_INTS;
      const length = ints[i + 2]!;
      if (length === 0) return -1;
      if (ints[i] !== h || length !== n) continue;
      const offset = ints[i + 1]!;
      let k = 0;
      while (k < n && chars[offset + k] === bytes[from + k]) k++;
      if (k === n) return slot;
    }
  }

  /** SKIP when `tick` is less than the tick in `slot`. */
  private skips(slot: number, tick: Tick): Found {
    const j = slot * SLOT_NUMS + 2;
    let t = this.nums[j]!;
    // Made a number at its first look-up rather than in `fill`, which runs mostly before anything is compiled.
    if (t === UNREAD) {
      const s = this.ticks[this.ints[slot * SLOT_INTS + 3]!]!;
      t = this.nums[j] = s.length <= EXACT_DIGITS ? digits(s) : NaN;
    }
    const less = tick.length <= EXACT_DIGITS && t === t ? digits(tick) < t : tickLess(tick, this.ticks[this.ints[slot * SLOT_INTS + 3]!]!);
    return less ? SKIP : FORWARD;
  }
}

const SLOT_BYTES = 32;
const SLOT_INTS = SLOT_BYTES / 4;
const SLOT_NUMS = SLOT_BYTES / 8;
/** At a load of 1/2 a run this long comes by chance with a probability too small to matter. */
const MAX_RUN = 64;
/** Canonical ticks of up to 15 digits are exact as doubles. */
const EXACT_DIGITS = 15;
/** A slot's tick not made a number yet (ticks are never negative); NaN: one of more than 15 digits. */
const UNREAD = -1;
const NOT_LATIN1 = /[^\x00-\xff]/;

/**
 * MurmurHash3 (32-bit) of the Latin-1 string `s`, four characters a step: a hash a byte at a time (FNV-1a) waits on
 * a multiplication per byte, ~2.5 ns a byte measured inside plan, and hashing was a third of a look-up.
 */
export function hashOf(s: string): number {
  const n = s.length;
  const end = n & ~3;
  let h = SEED;
  for (let i = 0; i < end; i += 4) {
    h = step(h, s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24));
  }
  let k = 0;
  for (let i = n - 1; i >= end; i--) k = (k << 8) | s.charCodeAt(i);
  return finish(h, k, n);
}

/** hashOf the Latin-1 string that is bytes[from … to). */
function hashBytes(b: Uint8Array, from: number, to: number): number {
  const end = from + ((to - from) & ~3);
  let h = SEED;
  for (let i = from; i < end; i += 4) h = step(h, b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24));
  let k = 0;
  for (let i = to - 1; i >= end; i--) k = (k << 8) | b[i]!;
  return finish(h, k, to - from);
}

const SEED = 0x9747b28c | 0;
const C1 = 0xcc9e2d51 | 0;
const C2 = 0x1b873593;

function scramble(k: number): number {
  k = Math.imul(k, C1);
  return Math.imul((k << 15) | (k >>> 17), C2);
}

function step(h: number, k: number): number {
  h ^= scramble(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The last 0–3 characters (`k`, the first of them lowest), the length, and murmur3's final mix. */
function finish(h: number, k: number, length: number): number {
  if (length & 3) h ^= scramble(k);
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** A canonical tick of at most 15 digits as a number. */
function digits(tick: Tick): number {
  let v = 0;
  for (let i = 0; i < tick.length; i++) v = v * 10 + (tick.charCodeAt(i) - 48);
  return v;
}
