// Compiles src/ to dist/ for the package (`npm run build`; `npm pack` runs it as prepack): JS, .d.ts and declaration
// maps by tsc (tsconfig.build.json), into an emptied dist/ so that nothing of an older layout ships. Then the one
// thing tsc leaves undone: relative `.ts` specifiers in the .d.ts files. tsc rewrites them in the JS only
// (microsoft/TypeScript#61037); tsc itself reads them either way, but other tools (editors, bundlers' dts plugins)
// look for a dist/x.ts that does not exist. Usage: node scripts/build.ts
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

let rewritten = 0;
for (const f of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
  if (!f.endsWith('.d.ts')) continue;
  const path = join(dist, f);
  const text = readFileSync(path, 'utf8');
  const out = text.replace(/(\bfrom\s+|\bimport\s*\(\s*)(['"])(\.{1,2}\/[^'"\n]*?)\.ts\2/g, '$1$2$3.js$2');
  if (out !== text) {
    writeFileSync(path, out);
    rewritten++;
  }
}
process.stderr.write(`build: dist/ from src/ (${rewritten} declaration files with .ts specifiers rewritten to .js)\n`);
