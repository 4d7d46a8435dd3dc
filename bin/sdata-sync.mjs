#!/usr/bin/env -S node --max-semi-space-size=8 --max-old-space-size=64
// --max-semi-space-size=8: a streaming workload makes short-lived garbage at a steady rate and gains nothing from
// V8's default young generation, which grows to tens of MiB: capping it keeps peak RSS ~40 MiB lower at the same
// throughput (measured on a 118 MB feed). --max-old-space-size=64: the live heap is ~20 MiB whatever the feed
// size, but with a large limit V8 lets the old generation (and its pool of freed pages) grow far beyond it before
// collecting: `run` of 1M entries peaked at 189-199 MiB RSS by default, 178-192 with 128, 161 with 64, 180 with 96,
// at the same speed (+3% CPU at 64; bench/e2e.ts). 64 holds entries at the default 16 MiB cap (three such entries
// pass through plan even at 48); larger --max-entry-bytes ask for a larger heap (src/cli/commands.ts heapRoomFor).
// npm scripts and the Dockerfile pass the same flags (test/packaging).
// SIGINT/SIGTERM are held from this first line until the command takes them over (src/cli/signals.ts): loading a
// command takes ~200 ms, and a signal meanwhile would end the process by the default action (exit 143), before a
// run could release anything. A second one while holding quits at once, as it does once the command runs.
const held = [];
const hold = (sig) => {
  if (held.push(sig) > 1) process.exit(130);
};
process.on('SIGINT', hold).on('SIGTERM', hold);
// Node >= 24 runs our TypeScript sources directly (type stripping); older runtimes get a clear message, not a
// syntax error. `npm ci` brings a pinned Node 24 (devDependency "node"), used by npm scripts.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(`sdata-sync needs Node.js 24 or later (this is ${process.version}); run it through npm (npm start / npx sdata-sync), which uses the pinned runtime.\n`);
  process.exit(2);
}
// Cache compiled code (and, on Node 24, the type-stripped sources) across runs: pipes start often and small.
// Worker threads (the provider thread of `serve`, the demo's providers) and child processes do not inherit
// enableCompileCache(); they read NODE_COMPILE_CACHE, so pass the directory on. A warm cache also saves memory:
// without it every thread that loads our .ts files instantiates Node's TypeScript stripper (~12-18 MiB RSS each).
const { enableCompileCache } = await import('node:module');
const cache = enableCompileCache?.(process.env.NODE_COMPILE_CACHE);
if (cache?.directory && !process.env.NODE_COMPILE_CACHE) process.env.NODE_COMPILE_CACHE = cache.directory;
const { run } = await import('../src/cli/main.ts');
await run(process.argv.slice(2), { held, stop: () => process.off('SIGINT', hold).off('SIGTERM', hold) });
