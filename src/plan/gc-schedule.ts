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

/**
 * Full collections between pieces, for a thread that reads pieces (segmented planning).
 *
 * Left alone, V8 starts a mark-compact when the old generation reaches its limit, in the middle of some piece. A full
 * collection promotes every young object its marking finds alive, and with both cores busy parsing, concurrent
 * marking runs long enough to find a lot: the helper's old generation was left with 5 to 28 MB of finished pieces'
 * garbage (run to run, on the same 237 MB feed), which V8 never collected again because nothing more was promoted;
 * peak RSS followed, 121 to 172 MB. Between two pieces nothing of either is alive, so a collection there frees all
 * of it, and V8 sets its next limit from the real live size (~5 MB); one every few thousand pieces keeps V8's own
 * from coming first. Each costs 4–8 ms. The first comes after 16 pieces, before warm-up has promoted much (at 256
 * only: 119–169 MB peak over 7 runs; at 16 and 256: 121–132 MB, same speed). Collections after the 1st and 4th
 * piece as well made the run ~10% slower: they disturb the optimising compiler while it warms up.
 *
 * Since the piece scanner lets go of its pieces (docs/decisions/0035-pieces-let-go.md) only the engine keeps them
 * (SegmentedOptions.scheduledGc): `run` of 1M entries between null peers peaked at 137–143 MiB with them and
 * 138–151 without (six runs each, medians 143 and 147; at 250k 131.7 and 131.4), which its ±10% flatness bar from
 * 250k to 1M cannot spare; `plan` without them is as flat (2.5 GB: 101–105 MiB against ~100 for 250 MB) and faster.
 */
export class GcSchedule {
  private pieces = 0;
  private early = 0;
  private next = EARLY[0]!;

  /** Call between two pieces. */
  betweenPieces(): void {
    if (++this.pieces < this.next) return;
    this.next = EARLY[++this.early] ?? this.next + EVERY;
    fullGc()?.();
  }
}
