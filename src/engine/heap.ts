import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** Set to 1: a transfer leaves V8's heap sizing alone (the two settings below); not an option, so named here once. */
export const V8_DEFAULTS_ENV = 'SDATA_SYNC_V8_DEFAULTS';

/**
 * Makes V8 start marking the old generation later during a transfer: when half the room left under its limit is used
 * (docs/decisions/0024-engine-cpu.md). Under the bin's 64 MiB old-space bound V8 sizes the heap as a memory-constrained
 * one (growth factor 1.3): after a full collection the next limit is only ~16 MB above the live size, which is no more
 * than the new space's capacity, the margin at which V8 (its default, 0) starts incremental marking. So marking
 * began as soon as anything at all was promoted, and the engine, whose chunks in flight outlive a few scavenges,
 * ran a mark-compact every ~3 scavenges: 29–33 in a 250k-entry pass against the null peers, ~10% of its CPU. The
 * limit itself is unchanged. SDATA_SYNC_V8_DEFAULTS=1 leaves V8 alone. Measured against the null peers: 5–6
 * mark-compacts, CPU 4.21–4.34 against 4.79–5.01 s, peak RSS 149–157 against 150–154 MiB; end to end at 1M the
 * engine took 21% less CPU and peaked ~20 MiB higher (176–177 against 152 MiB).
 */
export function startMarkingLater(): void {
  if (process.env[V8_DEFAULTS_ENV] === '1') return;
  setFlagsFromString('--incremental-marking-soft-trigger=50');
}

/**
 * Caps V8's young generation for a long transfer. The engine's live heap is small (about 20 MB: one entry, one
 * chunk being built, counters) but it allocates fast, and V8 doubles the semi-spaces whenever enough bytes have
 * survived scavenges in total, so any long pass ends with them at their maximum: ~100 MB more RSS, never returned
 * while the pass runs (measured: 266 MB peak at 100k entries, 337 MB at 300k, still rising). Once the new space
 * reaches `mb`, the growth factor is set to 1 (V8 reads it when it would grow, so setting it at run time works).
 * The size is checked after every garbage collection, so the cap holds however fast the heap grows (a timer
 * missed fast growth). Measured: uncapped, the new space went 8 → 16 → 32 → 64 → 128 MB within a 200k-entry pass;
 * capped, peak RSS was 200-250 MiB instead of 300+ (1M entries end to end: 199-251 MiB over several runs, flat
 * with feed size), for ~4% more CPU. Pinning at the initial size instead costs ~10% CPU (scavenges too frequent,
 * more garbage promoted).
 * Returns a function that stops watching. SDATA_SYNC_V8_DEFAULTS=1 leaves V8 alone.
 */
export function capYoungGeneration(mb = 16): () => void {
  if (process.env[V8_DEFAULTS_ENV] === '1') return () => undefined;
  const limit = mb * 1024 * 1024;
  let done = false;
  const check = (): void => {
    if (done) return;
    const ns = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    if (ns && ns.space_size >= limit) {
      setFlagsFromString('--semi-space-growth-factor=1');
      stop();
    }
  };
  const obs = new PerformanceObserver(check);
  obs.observe({ entryTypes: ['gc'] });
  const stop = (): void => {
    done = true;
    obs.disconnect();
  };
  return stop;
}

/**
 * The heap settings of a long transfer — `run`, `push` and `pull` alike: the young generation capped and the old one
 * marked later (above). Returns a function that stops watching. `push` had neither: 79–91 mark-compacts posting 250k
 * entries to a `serve` target, ~1.1 s of GC; with them 10–11 and ~0.5 s.
 */
export function transferHeap(): () => void {
  const stop = capYoungGeneration();
  startMarkingLater();
  return stop;
}
