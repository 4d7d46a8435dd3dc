#!/usr/bin/env node
// SIGINT/SIGTERM are held from this first line until the command takes them over (src/cli/signals.ts): loading a
// command takes ~200 ms, and a signal meanwhile would end the process by the default action (exit 143), before a
// run could release anything. A second one while holding quits at once, as it does once the command runs.
const held = [];
const hold = (sig) => {
  if (held.push(sig) > 1) process.exit(130);
};
process.on('SIGINT', hold).on('SIGTERM', hold);
const stop = () => process.off('SIGINT', hold).off('SIGTERM', hold);

// The runtimes package.json "engines" names: Node 22 from 22.16 (node:sqlite unflagged since 22.13, its
// isTransaction since 22.16, process.execve since 22.15) and Node 24 on. Others get a clear message, not a stack.
const [major, minor] = process.versions.node.split('.').map(Number);
if (!(major >= 24 || (major === 22 && minor >= 16))) {
  process.stderr.write(`sdata-sync needs Node.js 22 (22.16 or later) or 24 or later; this is ${process.version}.\n`);
  process.exit(2);
}

// A checkout runs its TypeScript sources (src/), as npm start and npm test do; the installed package runs what
// `npm pack` compiled (dist/). A copy under node_modules is always the package: Node never strips types there.
const { existsSync } = await import('node:fs');
const { fileURLToPath } = await import('node:url');
const self = fileURLToPath(import.meta.url);
const checkout = !self.split(/[\\/]/).includes('node_modules') && existsSync(new URL('../src/cli/main.ts', import.meta.url));
if (checkout && !process.features.typescript) {
  process.stderr.write(`sdata-sync: this checkout runs its TypeScript sources, which needs a Node.js that strips types (24, or 22.18+; this is ${process.version}): run it through npm (npm start, npx sdata-sync), which uses the pinned Node 24.\n`);
  process.exit(2);
}
const load = async (module) => {
  const url = new URL(checkout ? `../src/${module}.ts` : `../dist/${module}.js`, import.meta.url);
  try {
    return await import(url.href);
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !e.message.includes(fileURLToPath(url))) throw e;
    process.stderr.write(`sdata-sync: ${fileURLToPath(url)} is missing: a checkout without src/ must be built first (npm run build)\n`);
    process.exit(1);
  }
};

// Cache compiled code across runs, from the first module of ours on: pipes start often and small. Worker threads
// (the provider thread of `serve`, the demo's providers) and child processes do not inherit enableCompileCache();
// they read NODE_COMPILE_CACHE, so pass the directory on. In a checkout a warm cache also saves memory: without it
// every thread that loads our .ts files instantiates Node's TypeScript stripper (~12-18 MiB RSS each; loading
// cli/heap-flags.ts before this: +13 MiB peak for `plan`). Where the directory cannot be written (a read-only
// root) Node carries on without it.
const { enableCompileCache } = await import('node:module');
const cache = enableCompileCache?.(process.env.NODE_COMPILE_CACHE);
if (cache?.directory && !process.env.NODE_COMPILE_CACHE) process.env.NODE_COMPILE_CACHE = cache.directory;

// The V8 heap bounds of the command (src/cli/heap-flags.ts) hold however this was started: without them (or without
// the environment the command starts with), start again with them.
const heap = await load('cli/heap-flags');
// Read (and cleared) whether flags are missing or not: the mark must not reach the command or its children.
const restarted = heap.wasRestarted();
const args = process.argv.slice(2);
const missing = heap.missingHeapFlags(undefined, undefined, heap.heapFlagsFor(args));
const env = heap.missingEnv();
if ((missing.length > 0 || Object.keys(env).length > 0) && !restarted) {
  // Nothing is open yet: a signal that came meanwhile ends this start, as it would have a moment later.
  if (held.length > 0) process.exit(130);
  await heap.restartWithHeapFlags(missing, process.argv[1] ?? self, args, stop, env);
}

const { run } = await load('cli/main');
await run(args, { held, stop });
