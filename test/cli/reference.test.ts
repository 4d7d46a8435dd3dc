import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { COMMAND_NAMES, COMMANDS } from '../../src/cli/commands.ts';
import { helpFor } from '../../src/cli/commander-program.ts';
import { flagOf, type Opt } from '../../src/cli/option-types.ts';
import { cliReference, REFERENCE_END, REFERENCE_START } from '../../src/cli/reference.ts';

/** README's command reference and --help come from the same declarations; README must hold what the script writes. */

test("README's command reference is what `npm run docs:cli` writes (run it after changing a command or an option)", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf(REFERENCE_START);
  const end = readme.indexOf(REFERENCE_END);
  assert.ok(start >= 0 && end > start, 'README has the reference markers');
  const section = readme.slice(start, end + REFERENCE_END.length);
  // One line at a time first, for a readable failure.
  const want = cliReference().split('\n');
  section.split('\n').forEach((line, i) => assert.equal(line, want[i], `README line ${i + 1} of the reference differs: run npm run docs:cli`));
  assert.equal(section, cliReference(), 'README is out of date: run npm run docs:cli');
});

test('--help and the reference show every option of every command, with its default', () => {
  const reference = cliReference();
  for (const name of COMMAND_NAMES) {
    // Continuation lines (deeply indented) joined to their option's line.
    const help = helpFor(name).replace(/\n {10,}/g, ' ');
    for (const [key, opt] of Object.entries<Opt>(COMMANDS[name].options)) {
      assert.ok(help.includes(flagOf(key)), `${name} --help shows ${flagOf(key)}`);
      const escaped = opt.default === undefined ? '' : opt.show(opt.default).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (opt.default !== undefined) assert.match(help, new RegExp(`^ +(-\\w, )?${flagOf(key)}\\b.*\\(default ${escaped}\\)$`, 'm'), `${name} ${flagOf(key)}`);
    }
    assert.ok(reference.includes(`### sdata-sync ${name}\n`), `the reference has ${name}`);
  }
});
