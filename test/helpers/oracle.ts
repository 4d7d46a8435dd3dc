import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Independent XML parsers as oracles: libxml2 (xmllint) for well-formedness, expat (Python's ElementTree) for
 * meaning. `entriesMeaning` returns, for each atom:entry of a document, a namespace-resolved canonical form
 * (expanded names, attributes by expanded name, text incl. CDATA content), which is what must survive forwarding.
 */
const PY = String.raw`
import sys, json, xml.etree.ElementTree as ET
A = '{http://www.w3.org/2005/Atom}'
def canon(e):
    return [e.tag, sorted(e.attrib.items()), e.text or '', [canon(c) + [c.tail or ''] for c in e]]
root = ET.parse(sys.argv[1]).getroot()
print(json.dumps([canon(e) for e in root.findall(A + 'entry')], ensure_ascii=False))
`;

export function hasXmllint(): boolean {
  return spawnSync('xmllint', ['--version']).status === 0;
}

export function hasPython(): boolean {
  return spawnSync('python3', ['-c', 'import xml.etree.ElementTree']).status === 0;
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

/** libxml2's verdict: '' when well-formed, else its error text. */
export function xmllintErrors(text: string | Uint8Array): string {
  return withFile(text, (path) => {
    const r = spawnSync('xmllint', ['--noout', '--nonet', path], { encoding: 'utf8' });
    return r.status === 0 ? '' : r.stderr || `xmllint exit ${r.status}`;
  });
}

export function entriesMeaning(text: string | Uint8Array): unknown[] {
  return withFile(text, (path) => {
    const r = spawnSync('python3', ['-c', PY, path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`expat oracle failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown[];
  });
}
