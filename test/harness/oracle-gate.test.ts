import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { oracleTest } from '../helpers/oracle.ts';

/** The oracle gate cannot switch a check off quietly: without the oracles it is reported skipped, or fails when required. */

const FIXTURE = fileURLToPath(new URL('./fixtures/needs-oracles.ts', import.meta.url));
const EMPTY = mkdtempSync(join(tmpdir(), 'sdata-no-oracles-'));
after(() => rmSync(EMPTY, { recursive: true, force: true }));

/** The fixture's TAP report, run with PATH replaced (EMPTY: no xmllint, no python3) and SDATA_REQUIRE_ORACLES as given. */
function runFixture(path: string | undefined, require: boolean): { status: number | null; tap: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['SDATA_REQUIRE_ORACLES'];
  delete env['NODE_TEST_CONTEXT']; // set for this file's own run: the fixture must report to its own runner
  if (require) env['SDATA_REQUIRE_ORACLES'] = '1';
  if (path !== undefined) env['PATH'] = path;
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', FIXTURE], { encoding: 'utf8', env });
  return { status: r.status, tap: r.stdout + r.stderr };
}

const count = (tap: string, what: string): number => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(tap)?.[1]);

test('without the oracles on PATH, every oracle check is reported as skipped, with what to install', () => {
  const { status, tap } = runFixture(EMPTY, false);
  assert.equal(status, 0, tap);
  assert.equal(count(tap, 'skipped'), 3, tap); // node counts a skipped suite's line, not among the tests
  assert.equal(count(tap, 'fail'), 0, tap);
  assert.equal(count(tap, 'pass'), 1, tap); // the test around the skipped check still runs its own assertions
  const skips = tap.split('\n').filter((l) => / # SKIP /.test(l));
  assert.equal(skips.length, 4, tap);
  assert.match(skips[0]!, /needs xmllint # SKIP missing oracle: xmllint \(libxml2\) .*install the Debian package libxml2-utils$/);
  assert.match(skips[1]!, /needs expat # SKIP missing oracle: python3 with expat .*install the Debian package python3$/);
  assert.match(skips[2]!, /its oracle check # SKIP .*libxml2-utils.*; .*python3$/);
  assert.match(skips[3]!, /a suite that needs expat # SKIP missing oracle: python3 with expat .*python3$/);
});

test('without the oracles on PATH and SDATA_REQUIRE_ORACLES=1, every oracle check fails, saying what to install', () => {
  const { status, tap } = runFixture(EMPTY, true);
  assert.equal(status, 1, tap);
  assert.equal(count(tap, 'skipped'), 0, tap);
  assert.equal(count(tap, 'pass'), 0, tap);
  assert.equal(count(tap, 'fail'), 5, tap); // four checks, and the test holding one of them
  assert.match(tap, /not ok 1 - fixture: a test that needs xmllint\n/);
  assert.match(tap, /not ok 4 - fixture: a suite that needs expat\n/);
  assert.match(tap, /error: 'missing oracle: xmllint \(libxml2\) does not run here: install the Debian package libxml2-utils \[SDATA_REQUIRE_ORACLES=1/);
  assert.match(tap, /error: 'missing oracle: python3 with expat .* install the Debian package python3 \[SDATA_REQUIRE_ORACLES=1/);
});

oracleTest('with the oracles on PATH, the same checks run and pass, required or not', ['xmllint', 'expat'], () => {
  for (const require of [false, true]) {
    const { status, tap } = runFixture(undefined, require);
    assert.equal(status, 0, tap);
    assert.deepEqual([count(tap, 'pass'), count(tap, 'skipped'), count(tap, 'fail')], [5, 0, 0], tap);
  }
});
