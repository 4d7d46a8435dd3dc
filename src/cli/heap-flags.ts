import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { getHeapStatistics } from 'node:v8';

/**
 * The V8 heap bounds every command runs with (docs/decisions/0004-v8-memory-bounds.md).
 * --max-semi-space-size=8: a streaming workload makes short-lived garbage at a steady rate and gains nothing from
 * V8's default young generation, which grows to tens of MiB: capping it keeps peak RSS ~40 MiB lower at the same
 * throughput (measured on a 118 MB feed). --max-old-space-size=64: the live heap is ~20 MiB whatever the feed
 * size, but with a large limit V8 lets the old generation (and its pool of freed pages) grow far beyond it before
 * collecting: `run` of 1M entries peaked at 189-199 MiB RSS by default, 178-192 with 128, 161 with 64, 180 with 96,
 * at the same speed (+3% CPU at 64; bench/e2e.ts). 64 holds entries at the default 16 MiB cap (three such entries
 * pass through plan even at 48); larger --max-entry-bytes ask for a larger heap (cli/commands.ts heapRoomFor).
 * npm start and the Dockerfile's ENTRYPOINT pass the same flags (test/packaging/runtime-flags.test.ts).
 */
export const HEAP_FLAGS = ['--max-semi-space-size=8', '--max-old-space-size=64'] as const;

/**
 * `verify`'s (docs/decisions/0030-verify-two-threads.md): it reads its two sides on two threads, each with a heap of
 * its own (the worker takes the same bound, engine/verify/side-thread.ts), and a thread holds an entry, the reader's
 * characters of it and its canonical form at once: an entry of 15.7 MB did not fit in 128 MiB of old generation and
 * did in 152 and 160 (test/engine/verify-large.test.ts), hence 192 for the default 16 MiB cap (VERIFY_BYTES_FACTOR).
 * A larger limit costs nothing until used: peak RSS at 1M resources per side was the same with 80, 160 and 192. A
 * 2 MiB semi-space rather than 8: with two heaps the young generations cost ~20 MiB of peak RSS at the same speed.
 */
export const VERIFY_HEAP_FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=192'] as const;
/** Heap a verify thread needs per byte of --max-entry-bytes (plus a working set): see VERIFY_HEAP_FLAGS. */
export const VERIFY_BYTES_FACTOR = 10;
/**
 * The environment every command starts with on Linux (glibc reads it at start only): malloc arenas capped at 2
 * rather than 8 per core. Each thread that allocates (the main one, a worker, V8's GC helpers, libuv's pool) can
 * otherwise get an arena of its own, and their free space is RSS: at 1M entries end to end, peak RSS engine 175 → 151,
 * target 172 → 161 MiB; verify's second thread ~20 MiB; `plan --threads 2` 161–189 → 152–158 MB; CPU unchanged
 * (docs/decisions/0032-malloc-arenas.md).
 */
const START_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/**
 * `plan`'s: the same 88 MiB heap with a young generation of at most 4 MiB per semi-space and an old one of 76, and
 * V8's allocation-site pretenuring off (docs/decisions/0042-plan-young-generation.md).
 *
 * The smaller young generation: the two ~2.5 MB digests of a 10,000-endpoint pass survive their first scavenges, and
 * V8 grows the semi-space to its cap. V8 starts incremental marking whenever the old generation's room under its
 * limit is less than the young generation's capacity; at 8 MiB (16 MiB of capacity) and with a limit ~15 MiB above
 * the live size, that was right after every mark-compact: 6–8 of them per 100 MB against 1–2 with 3 endpoints, whose
 * semi-space stays near 4 MiB anyway. At 4: 3, all during the start; the 10,000-endpoint plan 1.38 → 1.29 s, the
 * 3-endpoint one unchanged (1.085 / 1.10 s, 10 alternating runs each), `--threads 2` on 250 MB 2.23 → 2.08 s and
 * 142 → 126 MiB. The old generation takes the 12 MiB the young one gives up, so an entry at the default 16 MiB cap
 * still fits (heapRoomFor). `run` measured no better with it (3.77 against 3.87 CPU-s at 250k, 4 rounds): the
 * common bounds stay.
 *
 * Pretenuring off: with a 10,000-endpoint digest V8 decided, in about one run in three, to allocate the scanners'
 * short-lived objects straight into the old generation: 60–68 mark-compacts instead of 13–18, ~1 CPU-s more on
 * 250 MB. Without pretenuring none such run in 8, the 10,000-endpoint median 2.78 → 2.38 s and the 3-endpoint one
 * unchanged (1.93 / 1.94 s, 7 alternating runs); `run` and `serve` measured the same with and without
 * (docs/decisions/0033-plan-pretenuring.md).
 */
export const PLAN_HEAP_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=76', '--no-allocation-site-pretenuring'] as const;

/**
 * The commands whose heap flags are not HEAP_FLAGS. `serve` keeps the common bounds: a growing factor of 2 saved the
 * source side a quarter of its CPU but let the target side's peak RSS creep with the size of what it applied (140 →
 * 152 → 161 MiB at 100k / 250k / 1M entries, against 142 → 153 → 150 without): docs/decisions/0040-serve-common-heap-flags.md.
 */
const COMMAND_HEAP_FLAGS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ['verify', VERIFY_HEAP_FLAGS], ['plan', PLAN_HEAP_FLAGS],
]);

/** The heap flags of the command `args` start with. */
export function heapFlagsFor(args: readonly string[]): readonly string[] {
  return COMMAND_HEAP_FLAGS.get(args[0] ?? '') ?? HEAP_FLAGS;
}

/** The environment a command must be started with (START_ENV, read by the C library at start) that `env` lacks. */
export function missingEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const want = process.platform === 'linux' ? START_ENV : {};
  return Object.fromEntries(Object.entries(want).filter(([k]) => env[k] === undefined));
}

/**
 * Whether this heap has room for an entry of `bytes`, or what to do. The pipe commands' reader holds one entry at a
 * time (its pieces, then the joined text: up to twice the bytes as UTF-16), so their need is ~3x the cap plus a
 * working set (`factor` 3). Measured: three 16 MiB entries (two-byte text) pass through plan with the old generation
 * capped at 48 MiB; the bin caps it at 64 (bin/sdata-sync.mjs) so that memory stays flat. verify's threads hold more
 * per entry (VERIFY_BYTES_FACTOR). Larger caps need a larger heap, asked for by running node with
 * --max-old-space-size.
 */
export function heapRoomFor(bytes: number, factor = 3): string | undefined {
  const limitMiB = Math.floor(getHeapStatistics().heap_size_limit / 2 ** 20);
  const needMiB = Math.ceil((factor * bytes) / 2 ** 20) + 32;
  return needMiB > limitMiB
    ? `entries that large need about ${needMiB} MiB of heap and this process has ${limitMiB} MiB; run it with a larger one: node --max-old-space-size=${needMiB} "$(command -v sdata-sync)" …`
    : undefined;
}

/** A flag's setting, whatever its spelling: `_` or `-`, and `--no-x` is the setting `--x` (the user's either way). */
const name = (flag: string): string => flag.split('=')[0]!.replace(/_/g, '-').replace(/^--no-/, '--');

/**
 * The `flags` (the command's heap flags: heapFlagsFor) this process was started without: neither on node's command
 * line (which a shebang's flags are) nor in NODE_OPTIONS. A setting the user gave (any value, `_` or `-` spelling,
 * `--x` for our `--no-x`, or --max-old-space-size-percentage) is theirs and is kept.
 */
export function missingHeapFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env['NODE_OPTIONS'] ?? '', flags: readonly string[] = HEAP_FLAGS): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map(name);
  return flags.filter((f) => !given.some((g) => g.startsWith(name(f))));
}

/**
 * Set in the environment of a restarted process only (and removed by it at once): one restart, never a loop. Not an
 * SDATA_SYNC_* name: those are options (cli/config.ts refuses one that no command has).
 */
const RESTARTED = 'SDATA_HEAP_RESTART';

/** True in a process that restartWithHeapFlags started; clears the mark so that no child of ours inherits it. */
export function wasRestarted(): boolean {
  const r = process.env[RESTARTED] === '1';
  delete process.env[RESTARTED];
  return r;
}

/**
 * Runs this command again with the `missing` flags added, so that the bounds hold however the bin was started
 * (`node bin/sdata-sync.mjs`, npm's bin link, npx, a container's entrypoint). In place where Node can
 * (process.execve, Node ≥ 22.15 on POSIX: same pid, same stdio, no second process; this call does not return);
 * elsewhere (Windows) as a child on the same stdio whose exit status this process takes, and to which it passes
 * SIGTERM and SIGHUP. Not SIGINT: Ctrl-C reaches the whole foreground group, the child included, and a second
 * SIGINT would make the child quit at once instead of releasing its contexts. `stopHolding` ends the bin's early
 * signal holding (signals.ts) before the child takes over.
 */
export async function restartWithHeapFlags(missing: readonly string[], script: string, args: readonly string[], stopHolding: () => void, extraEnv: Readonly<Record<string, string>> = {}): Promise<never> {
  const argv = [...missing, ...process.execArgv, script, ...args];
  const env = { ...process.env, ...extraEnv, [RESTARTED]: '1' };
  if (typeof process.execve === 'function') process.execve(process.execPath, [process.execPath, ...argv], env);
  stopHolding();
  const child = spawn(process.execPath, argv, { stdio: 'inherit', env });
  const pass = (sig: NodeJS.Signals): void => void child.kill(sig);
  process.on('SIGTERM', pass).on('SIGHUP', pass).on('SIGINT', () => undefined);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.once('exit', (c, s) => resolve([c, s]));
    child.once('error', (e) => {
      process.stderr.write(`sdata-sync: cannot start ${process.execPath}: ${e.message}\n`);
      resolve([1, null]);
    });
  });
  if (signal) {
    // Die of the same signal, as a shell expects; should it be caught after all, the shell's code for it.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1));
}
