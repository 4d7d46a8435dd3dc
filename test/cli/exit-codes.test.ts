import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { exitCodeFor } from '../../src/cli/exit-codes.ts';
import { ERROR_CODES, EXIT, type SdataErrorCode } from '../../src/protocol/errors.ts';

/** README "Exit codes": the rows of its table, code → meaning. */
function readmeTable(): Map<number, string> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Exit codes'));
  const rows = new Map<number, string>();
  for (const m of section.slice(0, section.indexOf('\n\n', section.indexOf('| code |'))).matchAll(/^\| (\d+) \| (.+) \|$/gm)) {
    rows.set(Number(m[1]), m[2]!);
  }
  return rows;
}

test('README documents exactly the exit codes the CLI uses', () => {
  const documented = readmeTable();
  assert.deepEqual([...documented.keys()].sort((a, b) => a - b), Object.values(EXIT).sort((a, b) => a - b));
});

test('every error code maps to an error exit code and an HTTP error status', () => {
  const outcomes: number[] = [EXIT.OK, EXIT.INTERNAL, EXIT.PARTIAL, EXIT.EPIPE];
  for (const [code, m] of Object.entries(ERROR_CODES)) {
    assert.ok(!outcomes.includes(m.exit), `${code} exits with ${m.exit}, an outcome rather than an error`);
    assert.equal(exitCodeFor(code as SdataErrorCode), m.exit);
    assert.ok(m.http >= 400 && m.http < 600, `${code}: HTTP ${m.http}`);
  }
  assert.equal(exitCodeFor(undefined), EXIT.INTERNAL);
  // The README's words for a few of them, so that a remapping shows up as a documentation change too.
  const documented = readmeTable();
  assert.match(documented.get(ERROR_CODES.SDATA_E_DOCTYPE.exit)!, /DOCTYPE/);
  assert.match(documented.get(ERROR_CODES.SDATA_E_TARGET_REJECTED.exit)!, /target rejected/);
  assert.match(documented.get(ERROR_CODES.SDATA_E_ABORTED.exit)!, /interrupted/);
  assert.equal(ERROR_CODES.SDATA_E_ENTRY_TOO_LARGE.http, 413);
});
