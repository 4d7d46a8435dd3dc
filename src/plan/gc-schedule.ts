import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | null | undefined;

/** V8's full collection. `--expose-gc` puts `gc` into contexts created after it is set; the flag changes nothing else. */
function fullGc(): (() => void) | null {
  if (collect === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    } catch {
      collect = null;
    }
  }
  return collect;
}

/** Collections after these many pieces, then one every EVERY pieces. */
const EARLY = [16, 256];
const EVERY = 4096;
/** Pieces between two looks at the ArrayBuffers' bytes (a look costs ~10 µs: process.memoryUsage reads /proc). */
const LOOK_EVERY = 64;
/** ArrayBuffer bytes more than after our last collection that make one now. */
export const BUFFERS_GROWN = 12 * 2 ** 20;

/**
 * Full collections between pieces, for a thread that reads pieces (segmented planning).
 *
 * Left alone, V8 starts a mark-compact when the old generation reaches its limit, in the middle of some piece. A full
 * collection promotes every young object its marking finds alive, and with both cores busy parsing, concurrent
 * marking runs long enough to find a lot: the helper's old generation was left with 5 to 28 MB of finished pieces'
 * garbage (run to run, on the same 237 MB feed), which V8 never collected again because nothing more was promoted;
 * peak RSS followed, 121 to 172 MB. Between two pieces nothing of either is alive, so a collection there frees all
 * of it, and V8 sets its next limit from the real live size (~5 MB); one every few thousand pieces keeps V8's own
 * from coming first. Each cost 4–8 ms then (the engine's take ~20 ms now: decision 0045). The first comes after 16
 * pieces, before warm-up has promoted much (at 256 only: 119–169 MB peak over 7 runs; at 16 and 256: 121–132 MB,
 * same speed). Collections after the 1st and 4th piece as well made the run ~10% slower: they disturb the optimising
 * compiler while it warms up.
 *
 * Since the piece scanner lets go of its pieces (docs/decisions/0035-pieces-let-go.md) only the engine keeps them
 * (SegmentedOptions.scheduledGc): `run` of 1M entries between null peers peaked at 137–143 MiB with them and
 * 138–151 without (six runs each, medians 143 and 147; at 250k 131.7 and 131.4), which its ±10% flatness bar from
 * 250k to 1M cannot spare; `plan` without them is as flat (2.5 GB: 101–105 MiB against ~100 for 250 MB) and faster.
 *
 * And one whenever the ArrayBuffers' bytes have grown by BUFFERS_GROWN since our last collection
 * (docs/decisions/0045-collect-on-buffers.md). Against a target slower than the engine, the engine waits between
 * chunks, and the Buffers it holds meanwhile (socket reads, pieces) outlive two scavenges: promoted, they die in the
 * old generation, which is far below its limit, so V8 frees their bytes only at its next mark-compact (or when
 * external memory has grown by 64 MiB). Their bytes, 10–30 MiB at any time, are malloc'd on the main heap, and its
 * high-water mark crept: at 1M entries end to end the engine's peak was 155–160 MiB against 142–147 at 250k. A
 * collection when they have grown by 12 MiB: 135 → 144 MiB in a first check, 151 → 147 and 151 → 144 in two bench
 * runs (~40 more collections per million, ~20 ms each, while the engine waits on the target); against the null
 * peers, which answer at once, they never grow that much: no more collections than before.
 */
export class GcSchedule {
  private pieces = 0;
  private early = 0;
  private next = EARLY[0]!;
  /** The ArrayBuffers' bytes after our last collection. */
  private after = 0;
  private readonly collect: () => void;
  private readonly buffers: () => number;

  /** `collect` and `buffers` (the ArrayBuffers' bytes now) are V8's and process.memoryUsage's unless a test gives its own. */
  constructor(o: { collect?: () => void; buffers?: () => number } = {}) {
    this.collect = o.collect ?? (() => fullGc()?.());
    this.buffers = o.buffers ?? (() => process.memoryUsage().arrayBuffers);
  }

  /** Call between two pieces. */
  betweenPieces(): void {
    const due = ++this.pieces >= this.next;
    if (!due && (this.pieces % LOOK_EVERY !== 0 || this.buffers() - this.after <= BUFFERS_GROWN)) return;
    if (due) this.next = EARLY[++this.early] ?? this.next + EVERY;
    this.collect();
    this.after = this.buffers();
  }
}
