import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type SuiteContext, type TestContext, type TestOptions } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * Independent XML parsers as oracles: libxml2 (xmllint) for well-formedness, expat (Python's ElementTree) for
 * meaning. `entriesMeaning` returns, for each atom:entry of a document, a namespace-resolved canonical form
 * (expanded names, attributes by expanded name, text incl. CDATA content), which is what must survive forwarding.
 *
 * Every check that needs one goes through `oracleTest`, `oracleCheck` or `oracleSuite`, so that it cannot switch off quietly:
 * where an oracle is missing the check is reported as skipped with the reason, and with SDATA_REQUIRE_ORACLES=1
 * (as .ci/run sets) it fails, saying what to install.
 */
const PY = String.raw`
import sys, json, xml.etree.ElementTree as ET
A = '{http://www.w3.org/2005/Atom}'
def canon(e):
    return [e.tag, sorted(e.attrib.items()), e.text or '', [canon(c) + [c.tail or ''] for c in e]]
root = ET.parse(sys.argv[1]).getroot()
print(json.dumps([canon(e) for e in root.findall(A + 'entry')], ensure_ascii=False))
`;

export type Oracle = 'xmllint' | 'expat';

/** Which oracles exist, and what to install, is scripts/check-oracles' to say (.ci/run asks it too). */
const CHECK_ORACLES = fileURLToPath(new URL('../../scripts/check-oracles', import.meta.url));
const missing = new Map<Oracle, string>();

/** Why an oracle cannot run here ('' when it can), asked once per process. Absolute /bin/sh: PATH may lack a shell. */
function whyMissing(oracle: Oracle): string {
  let why = missing.get(oracle);
  if (why === undefined) {
    const r = spawnSync('/bin/sh', [CHECK_ORACLES, oracle], { encoding: 'utf8' });
    why = r.status === 0 ? '' : (r.stderr.trim() || `scripts/check-oracles ${oracle}: exit ${r.status ?? r.signal}`);
    missing.set(oracle, why);
  }
  return why;
}

type Gate = { run: true } | { skip: string } | { fail: string };

function gate(needs: readonly Oracle[]): Gate {
  const why = needs.map(whyMissing).filter(Boolean).join('; ');
  if (!why) return { run: true };
  return process.env['SDATA_REQUIRE_ORACLES'] === '1' ? { fail: `${why} [SDATA_REQUIRE_ORACLES=1: oracle checks may not be skipped]` } : { skip: why };
}

/** A top-level test (or one in a describe) that needs oracles: skipped with the reason, or failed when they are required. */
export function oracleTest(name: string, needs: readonly Oracle[], fn: (t: TestContext) => void | Promise<void>, options: TestOptions = {}): void {
  const g = gate(needs);
  if ('fail' in g) test(name, () => assert.fail(g.fail));
  else test(name, 'skip' in g ? { ...options, skip: g.skip } : options, fn);
}

/** A describe() whose tests need oracles (e.g. a peer written on top of one): skipped with the reason, or one failing test when required. */
export function oracleSuite(name: string, needs: readonly Oracle[], options: TestOptions, fn: (s: SuiteContext) => void | Promise<void>): void {
  const g = gate(needs);
  if ('fail' in g) test(name, () => assert.fail(g.fail));
  else describe(name, 'skip' in g ? { ...options, skip: g.skip } : options, fn);
}

/** An oracle's verdict inside a test, reported as a subtest of its own: skipped with the reason, or failed when required. */
export async function oracleCheck(t: TestContext, name: string, needs: readonly Oracle[], fn: () => void | Promise<void>): Promise<void> {
  const g = gate(needs);
  if ('fail' in g) await t.test(name, () => assert.fail(g.fail));
  else await t.test(name, 'skip' in g ? { skip: g.skip } : {}, fn);
}

function withFile<T>(text: string | Uint8Array, f: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'sdata-oracle-'));
  const path = join(dir, 'doc.xml');
  try {
    writeFileSync(path, text);
    return f(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function xmllint(args: readonly string[]): string {
  const r = spawnSync('xmllint', ['--noout', '--nonet', ...args], { encoding: 'utf8' });
  return r.status === 0 ? '' : r.stderr || `xmllint exit ${r.status ?? r.error?.message}`;
}

/** libxml2's verdict: '' when well-formed, else its error text. */
export function xmllintErrors(text: string | Uint8Array): string {
  return withFile(text, (path) => xmllint([path]));
}

/** libxml2's verdict on files read as streams (whatever their size): '' when all are well-formed, else its error text. */
export function xmllintFileErrors(paths: readonly string[]): string {
  return xmllint(['--stream', ...paths]);
}

export function entriesMeaning(text: string | Uint8Array): unknown[] {
  return withFile(text, (path) => {
    const r = spawnSync('python3', ['-c', PY, path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`expat oracle failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown[];
  });
}
