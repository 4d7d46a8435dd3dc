import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/**
 * Caps V8's young generation for a long transfer. The engine's live heap is small (about 20 MB: one entry, one
 * chunk being built, counters) but it allocates fast, and V8 doubles the semi-spaces whenever enough bytes have
 * survived scavenges in total, so any long pass ends with them at their maximum: ~100 MB more RSS, never returned
 * while the pass runs (measured: 266 MB peak at 100k entries, 337 MB at 300k, still rising). Once the new space
 * reaches `mb`, the growth factor is set to 1 (V8 reads it when it would grow, so setting it at run time works).
 * Measured on 200k entries: peak RSS ~195-220 MB instead of ~290-310, for ~4% more CPU; pinning at the initial
 * size instead costs ~10% CPU (scavenges too frequent, more garbage promoted).
 * Returns a function that stops watching. SDATA_SYNC_V8_DEFAULTS=1 leaves V8 alone.
 */
export function capYoungGeneration(mb = 16): () => void {
  if (process.env['SDATA_SYNC_V8_DEFAULTS'] === '1') return () => undefined;
  const limit = mb * 1024 * 1024;
  const timer = setInterval(() => {
    const ns = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    if (ns && ns.space_size >= limit) {
      setFlagsFromString('--semi-space-growth-factor=1');
      clearInterval(timer);
    }
  }, 100);
  timer.unref();
  return () => clearInterval(timer);
}
