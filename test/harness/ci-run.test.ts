import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * scripts/check-oracles and .ci/run with a PATH we make: the real shell tools they need, and stand-ins for the
 * oracles, apt-get and npm. .ci/run runs from a copy, so whatever it does (rm -rf node_modules) stays in a temp dir.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TOOLS = ['bash', 'dirname', 'rm', 'env', 'timeout', 'chmod'];

function which(tool: string): string {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) if (dir && existsSync(join(dir, tool))) return join(dir, tool);
  throw new Error(`${tool} is not on PATH`);
}

let root: string;
let bin: string;
let log: string;

function script(name: string, body: string): void {
  writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}
/** Stand-ins that run: the probes of scripts/check-oracles only ask for exit status 0. */
const provideOracles = (...names: string[]): void => names.forEach((n) => script(n, 'exit 0'));
const logged = (): string[] => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sdata-ci-'));
  bin = join(root, 'bin');
  log = join(root, 'calls.log');
  for (const d of ['bin', 'repo/.ci', 'repo/scripts', 'repo/node_modules']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(join(REPO, '.ci/run'), join(root, 'repo/.ci/run'));
  copyFileSync(join(REPO, 'scripts/check-oracles'), join(root, 'repo/scripts/check-oracles'));
  chmodSync(join(root, 'repo/.ci/run'), 0o755);
  chmodSync(join(root, 'repo/scripts/check-oracles'), 0o755);
  for (const t of TOOLS) symlinkSync(which(t), join(bin, t));
  // APT_MODE: fail (the install fails), noop (it succeeds and installs nothing), install (it provides the oracles).
  script('apt-get', `echo "apt-get $*" >> "$CALLS"
case "$APT_MODE:$1" in
  fail:*) exit 100 ;;
  install:install) for o in xmllint python3; do printf '#!/bin/sh\\nexit 0\\n' > "$FAKE_BIN/$o"; chmod +x "$FAKE_BIN/$o"; done ;;
esac`);
  script('sudo', 'exec "$@"');
  script('npm', 'echo "npm $* SDATA_REQUIRE_ORACLES=${SDATA_REQUIRE_ORACLES-}" >> "$CALLS"');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function run(file: string, args: string[] = [], aptMode = 'noop'): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(file, args, { encoding: 'utf8', env: { PATH: bin, CALLS: log, FAKE_BIN: bin, APT_MODE: aptMode } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const checkOracles = (...args: string[]) => run(join(root, 'repo/scripts/check-oracles'), args);
const ciRun = (aptMode: string) => run(join(root, 'repo/.ci/run'), [], aptMode);

test('check-oracles names each missing oracle and its Debian package, and fails', () => {
  const none = checkOracles();
  assert.equal(none.status, 1);
  assert.deepEqual(none.stderr.trim().split('\n'), [
    'missing oracle: xmllint (libxml2) does not run here: install the Debian package libxml2-utils',
    'missing oracle: python3 with expat (pyexpat, xml.etree.ElementTree) does not run here: install the Debian package python3',
  ]);
  assert.equal(checkOracles('--packages').stdout, 'libxml2-utils python3\n');
  provideOracles('xmllint');
  const one = checkOracles();
  assert.equal(one.status, 1);
  assert.match(one.stderr, /^missing oracle: python3 with expat .*python3\n$/);
  assert.equal(checkOracles('xmllint').status, 0, 'only the oracles asked for are checked');
  assert.equal(checkOracles('--packages').stdout, 'python3\n');
  provideOracles('python3');
  assert.deepEqual(checkOracles(), { status: 0, stdout: '', stderr: '' });
  assert.equal(checkOracles('--packages').stdout, '\n');
  assert.equal(checkOracles('xmlwf').status, 2, 'an unknown oracle is a usage error');
});

test('.ci/run stops before npm when installing the oracles fails', () => {
  const r = ciRun('fail');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /error: could not install the test oracles \(libxml2-utils python3\)/);
  assert.deepEqual(logged(), ['apt-get update -qq']);
});

test('.ci/run stops before npm when the install succeeds but an oracle still does not run', () => {
  const r = ciRun('noop');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /missing oracle: xmllint \(libxml2\)/);
  assert.match(r.stderr, /missing oracle: python3 with expat/);
  assert.deepEqual(logged(), ['apt-get update -qq', 'apt-get install -y -qq libxml2-utils python3']);
});

test('.ci/run installs the missing oracles, then runs npm ci and npm test with the oracles required', () => {
  const r = ciRun('install');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(logged(), [
    'apt-get update -qq', 'apt-get install -y -qq libxml2-utils python3',
    'npm ci --no-audit --no-fund SDATA_REQUIRE_ORACLES=1', 'npm test SDATA_REQUIRE_ORACLES=1',
  ]);
  assert.equal(existsSync(join(root, 'repo/node_modules')), false, 'a clean install');
});

test('.ci/run with the oracles present installs nothing', () => {
  provideOracles('xmllint', 'python3');
  const r = ciRun('fail');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(logged(), ['npm ci --no-audit --no-fund SDATA_REQUIRE_ORACLES=1', 'npm test SDATA_REQUIRE_ORACLES=1']);
});
