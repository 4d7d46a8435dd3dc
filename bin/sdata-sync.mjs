#!/usr/bin/env node
// Node >= 24 runs our TypeScript sources directly (type stripping); older runtimes get a clear message, not a
// syntax error. `npm ci` brings a pinned Node 24 (devDependency "node"), used by npm scripts.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(`sdata-sync needs Node.js 24 or later (this is ${process.version}); run it through npm (npm start / npx sdata-sync), which uses the pinned runtime.\n`);
  process.exit(2);
}
const { run } = await import('../src/cli/main.ts');
await run(process.argv.slice(2));
