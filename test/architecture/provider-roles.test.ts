import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The reference provider's folders are roles (src/provider/README.md): http/ serves, handlers/ answer one URL family
 * each, sync/ is protocol logic, payload/ transforms resource XML, store/ is the only code that knows SQLite. These
 * rules keep them so. Paths are relative to the repository; an entry ending in `/` is a folder.
 */

interface ImportRule {
  /** Files the rule applies to (a folder). */
  scope: string;
  /** Folders within the scope it does not apply to. */
  except?: string[];
  /** Modules (bare specifiers) and repository paths these files must not import... */
  forbid: string[];
  /** ...except these. */
  allow?: string[];
  why: string;
}

const HTTP_MODULES = ['node:http', 'node:https', 'node:http2', 'http', 'https', 'undici'];

const IMPORT_RULES: ImportRule[] = [
  {
    scope: 'src/', except: ['src/provider/store/', 'src/engine/scratch-file.ts'], forbid: ['node:sqlite'],
    why: "only the provider store knows SQLite (and the engine's own scratch file, where link and verify join two collections)",
  },
  {
    scope: 'src/provider/', forbid: ['src/gen/', 'src/engine/', 'src/http/', 'src/cli/', 'src/seeder/'],
    why: 'the server stands alone: no generator, engine, HTTP client, CLI or seeder',
  },
  {
    scope: 'src/provider/sync/',
    forbid: [...HTTP_MODULES, 'src/provider/store/', 'src/provider/handlers/', 'src/provider/http/'],
    allow: ['src/provider/store/repositories.ts'],
    why: 'protocol logic: no HTTP, and the store only through its repository interfaces',
  },
  {
    scope: 'src/provider/payload/',
    forbid: [...HTTP_MODULES, 'src/provider/store/', 'src/provider/sync/', 'src/provider/handlers/', 'src/provider/http/'],
    why: 'payload transformations work on resource XML alone',
  },
  {
    scope: 'src/provider/store/',
    forbid: [...HTTP_MODULES, 'src/xml/', 'src/provider/payload/', 'src/provider/sync/', 'src/provider/handlers/', 'src/provider/http/'],
    why: 'the store knows rows, not XML, HTTP or protocol decisions',
  },
  {
    scope: 'src/provider/handlers/', forbid: ['src/provider/http/server.ts', 'src/provider/http/worker.ts'],
    why: 'handlers are routed to by the server; they use http/ only for request and response I/O',
  },
];

interface CodeRule {
  scope: string;
  except?: string[];
  /** A pattern of code the files must not contain. */
  pattern: RegExp;
  why: string;
}

const CODE_RULES: CodeRule[] = [
  {
    scope: 'src/provider/', except: ['src/provider/store/'], pattern: /\.prepare\(|\.exec\(\s*['"`]|['"`]\s*(?:SELECT\s.*\sFROM\s|INSERT\s+(?:OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|PRAGMA\s)/,
    why: 'SQL is written and prepared in the store only: everything else calls its repositories',
  },
];

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? sourceFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
}

/** Import and export specifiers of a module, relative ones resolved to repository paths. */
function importsOf(path: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|[\s;])(?:import|export)\s[^;'"]*?from\s+['"]([^'"]+)['"]|(?:^|[\s;])import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
    const spec = (m[1] ?? m[2] ?? m[3])!;
    out.push(spec.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(path), spec)) : spec);
  }
  return out;
}

const within = (path: string, folder: string): boolean => path.startsWith(folder);
const inScope = (path: string, r: { scope: string; except?: string[] }): boolean =>
  within(path, r.scope) && !(r.except ?? []).some((e) => within(path, e));
const names = (spec: string, entry: string): boolean => (entry.endsWith('/') ? spec.startsWith(entry) : spec === entry || spec.startsWith(`${entry}/`));

interface Violation {
  /** File, or file:line. */
  at: string;
  /** What it imports or contains. */
  what: string;
  why: string;
}

/** Every breach of the rules in `files` (repository path → text). */
function violations(files: ReadonlyMap<string, string>, imports: readonly ImportRule[], code: readonly CodeRule[]): Violation[] {
  const out: Violation[] = [];
  for (const [path, text] of files) {
    const specs = importsOf(path, text);
    for (const r of imports) {
      if (!inScope(path, r)) continue;
      for (const spec of specs) {
        if (r.forbid.some((f) => names(spec, f)) && !(r.allow ?? []).some((a) => names(spec, a))) out.push({ at: path, what: `imports ${spec}`, why: r.why });
      }
    }
    for (const r of code) {
      if (!inScope(path, r)) continue;
      text.split('\n').forEach((line, i) => {
        if (r.pattern.test(line)) out.push({ at: `${path}:${i + 1}`, what: line.trim().slice(0, 100), why: r.why });
      });
    }
  }
  return out;
}

test('the provider keeps its roles: SQL in the store, no HTTP or store internals in sync/ and payload/, no engine, generator or CLI', () => {
  const files = new Map(sourceFiles(join(ROOT, 'src')).map((f) => [relative(ROOT, f), readFileSync(f, 'utf8')]));
  // A rule whose folder has gone (renamed, moved) would pass without checking anything.
  for (const r of [...IMPORT_RULES, ...CODE_RULES]) assert.ok([...files.keys()].some((p) => inScope(p, r)), `no file in ${r.scope}: update the rule`);
  const found = violations(files, IMPORT_RULES, CODE_RULES);
  assert.equal(found.length, 0, `${found.length} violation(s) of the provider's roles:\n${found.map((v) => `  ${v.at}: ${v.what} (${v.why})`).join('\n')}`);
});

test('the role rules find what breaks them', () => {
  const files = new Map([
    ['src/provider/sync/a.ts', "import type { Store } from '../store/store.ts';\nimport { x } from '../store/repositories.ts';\nimport { request } from 'undici';"],
    ['src/provider/payload/b.ts', "import { DatabaseSync } from 'node:sqlite';\nexport { y } from '../sync/a.ts';"],
    ['src/provider/handlers/c.ts', "import { seedStore } from '../../seeder/seed-store.ts';\nconst s = db.prepare('SELECT 1');"],
    ['src/provider/store/d.ts', "import { DatabaseSync } from 'node:sqlite';\nimport { a } from '../sync/a.ts';"],
    ['src/provider/http/e.ts', "import { createServer } from 'node:http';\nimport { h } from '../handlers/c.ts';"],
  ]);
  assert.deepEqual(violations(files, IMPORT_RULES, CODE_RULES).map((v) => `${v.at} ${v.what}`), [
    'src/provider/sync/a.ts imports src/provider/store/store.ts',
    'src/provider/sync/a.ts imports undici',
    'src/provider/payload/b.ts imports node:sqlite',
    'src/provider/payload/b.ts imports src/provider/sync/a.ts',
    'src/provider/handlers/c.ts imports src/seeder/seed-store.ts',
    "src/provider/handlers/c.ts:2 const s = db.prepare('SELECT 1');",
    'src/provider/store/d.ts imports src/provider/sync/a.ts',
  ]);
});
