import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The design the code cites lives in docs/: every reference in code, tests, scripts, help and READMEs points into it
 * (a section `§N.M`, a decision `A19` / `X5`) or to a spec section, never to a document outside the repository, and
 * every cited section exists.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FILES = execFileSync('git', ['ls-files', 'src', 'test', 'bench', 'scripts', 'bin', 'README.md', 'Dockerfile', '.ci'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n').filter((f) => f !== '' && !f.endsWith('doc-references.test.ts') && existsSync(join(ROOT, f)));

/** Words that name documents outside the repository (the project's original brief and notes). */
const OUTSIDE = [/\bbrief\b/i, /\[Rec\]/, /\bengine rules\b/i, /\.\.\/shared\//, /sdata-sync-protocol\.md/, /(?<!docs\/)\barchitecture\.md\b/];

test('no file cites a document outside the repository', () => {
  const bad: string[] = [];
  for (const f of FILES) {
    readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
      for (const re of OUTSIDE) if (re.test(line)) bad.push(`${f}:${i + 1}: ${line.trim().slice(0, 120)}`);
    });
  }
  assert.deepEqual(bad, []);
});

/** The sections (`§1.3`) and decision ids (`A19`, `X5`) a docs file defines, from its headings and anchors. */
function anchors(doc: string): Set<string> {
  const text = readFileSync(join(ROOT, doc), 'utf8');
  const out = new Set<string>();
  for (const m of text.matchAll(/^#+\s+(§[\d.]+|[AX]\d+)\b/gm)) out.add(m[1]!);
  for (const m of text.matchAll(/^#+\s+§[\d.]+\s+([AX]\d+)[–-]([AX]\d+)/gm)) out.add(`${m[1]}-${m[2]}`);
  return out;
}

test('every docs/ reference names a file that exists and a section or decision it defines', () => {
  const known = new Map<string, Set<string>>();
  const bad: string[] = [];
  let seen = 0;
  for (const f of FILES) {
    readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
      for (const m of line.matchAll(/docs\/([\w./-]+\.md)((?:[ ,]+(?:and )?(?:§[\d.]*\d|[AX]\d+))*)/g)) {
        seen++;
        const doc = `docs/${m[1]}`;
        if (!existsSync(join(ROOT, doc))) {
          bad.push(`${f}:${i + 1}: ${doc} does not exist`);
          continue;
        }
        let have = known.get(doc);
        if (!have) known.set(doc, (have = anchors(doc)));
        for (const ref of m[2]!.match(/§[\d.]*\d|[AX]\d+/g) ?? []) {
          // A section cited as §3.4 also counts when only its parent §3 is a heading.
          const ok = have.has(ref) || (ref.startsWith('§') && have.has(ref.replace(/\.\d+$/, '')));
          if (!ok) bad.push(`${f}:${i + 1}: ${doc} has no ${ref}`);
        }
      }
    });
  }
  assert.ok(seen > 50, `found the references (${seen})`);
  assert.deepEqual(bad, []);
});

test('docs/compliance.md: 117 items, and its summary line counts the table as it is', () => {
  const text = readFileSync(join(ROOT, 'docs/compliance.md'), 'utf8');
  const counts = new Map<string, number>();
  const items = new Set<number>();
  for (const m of text.matchAll(/^\|\s*(\d+)\s*\|[^|]*\|[^|]*\|[^|]*\|\s*(done|partial|not done|n\/a)\s*\|/gm)) {
    items.add(Number(m[1]));
    counts.set(m[2]!, (counts.get(m[2]!) ?? 0) + 1);
  }
  assert.deepEqual([...items].sort((a, b) => a - b), Array.from({ length: 117 }, (_, i) => i + 1));
  const summary = /^\*\*Summary:\*\* (\d+) done, (\d+) partial, (\d+) not done, (\d+) n\/a/m.exec(text);
  assert.ok(summary, 'the summary line is there');
  assert.deepEqual(summary.slice(1).map(Number), ['done', 'partial', 'not done', 'n/a'].map((k) => counts.get(k) ?? 0));
});

/** The documents a newcomer reads: every code path they name must exist (files move; their docs must follow). */
const DOCS = execFileSync('git', ['ls-files', 'docs', 'README.md', '*/README.md'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n').filter((f) => f.endsWith('.md') && existsSync(join(ROOT, f)));

const TESTS = execFileSync('git', ['ls-files', 'test'], { cwd: ROOT, encoding: 'utf8' }).split('\n');

test('every src/, test/, bench/ or scripts/ path named in docs/ and the READMEs exists', () => {
  const bad: string[] = [];
  let seen = 0;
  for (const f of DOCS) {
    readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
      // Paths in backticks or links: `src/x/y.ts`, (test/x/y.test.ts), bench/README.md. A bare folder ends with /.
      for (const m of line.matchAll(/(?<![\w/.-])((?:src|test|bench|scripts|bin|docs)\/[\w./-]*[\w/])/g)) {
        const p = m[1]!.replace(/[.]+$/, '');
        if (!/\.(ts|mjs|md|py|sh|json|yaml)$/.test(p) && !p.endsWith('/')) continue;
        seen++;
        if (!existsSync(join(ROOT, p))) bad.push(`${f}:${i + 1}: ${p} does not exist`);
      }
      // Test files are also named by their place under test/ (`provider/lifecycle.test.ts`) or by name alone.
      for (const m of line.matchAll(/(?<![\w/.-])((?:[\w-]+\/)*[\w-]+\.test\.ts)/g)) {
        const p = m[1]!;
        if (/^(src|test|bench|scripts)\//.test(p)) continue;
        seen++;
        if (!TESTS.some((t) => t === `test/${p}` || t.endsWith(`/${p}`))) bad.push(`${f}:${i + 1}: no test file ${p}`);
      }
    });
  }
  assert.ok(seen > 100, `found the paths (${seen})`);
  assert.deepEqual(bad, []);
});
