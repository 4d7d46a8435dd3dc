// Writes README's command reference from the option declarations (src/cli/commands.ts), the source --help is made
// from too. `npm run docs:cli` after changing a command or an option; test/cli/reference.test.ts fails until then.
// Usage: node scripts/docs-cli.ts [--check]   (--check: exit 1, and write nothing, when README is out of date)
import { readFileSync, writeFileSync } from 'node:fs';
import { cliReference, REFERENCE_END, REFERENCE_START } from '../src/cli/reference.ts';

const path = new URL('../README.md', import.meta.url);
const readme = readFileSync(path, 'utf8');
const start = readme.indexOf(REFERENCE_START);
const end = readme.indexOf(REFERENCE_END);
if (start < 0 || end < start) {
  process.stderr.write(`docs-cli: README.md has no reference markers:\n${REFERENCE_START}\n${REFERENCE_END}\n`);
  process.exit(2);
}
const next = readme.slice(0, start) + cliReference() + readme.slice(end + REFERENCE_END.length);
if (next === readme) {
  process.stderr.write('docs-cli: README.md is up to date\n');
} else if (process.argv.includes('--check')) {
  process.stderr.write('docs-cli: README.md is out of date: run npm run docs:cli\n');
  process.exit(1);
} else {
  writeFileSync(path, next);
  process.stderr.write('docs-cli: README.md written\n');
}
