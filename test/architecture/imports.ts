import { readdirSync, readFileSync } from 'node:fs';
import { posix, relative, join } from 'node:path';
import ts from 'typescript';

/** One import between two files of src/, as paths relative to src/ ('provider/seed.ts' → 'gen/rng.ts'). */
export interface Import {
  from: string;
  to: string;
}

/** An import the graph forbids but that is tolerated for now, with the reason and when it goes. */
export interface Exception extends Import {
  why: string;
}

export const layerOf = (path: string): string => path.split('/')[0]!;

/**
 * The imports of one file, type-only ones included (they couple layers just the same): static and dynamic imports,
 * re-exports and `import('…')` types as TypeScript's own scanner finds them (comments and strings are not
 * imports), plus worker entry points (`new URL('./x.ts', import.meta.url)`). Specifiers leaving src/ are dropped.
 */
export function importsOfSource(from: string, text: string): Import[] {
  const specs = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
  for (const m of text.matchAll(/new URL\(\s*['"](\.[^'"]+\.ts)['"]\s*,\s*import\.meta\.url\s*\)/g)) specs.push(m[1]!);
  return specs.filter((s) => s.startsWith('.'))
    .map((s) => ({ from, to: posix.normalize(posix.join(posix.dirname(from), s)) }))
    .filter((i) => !i.to.startsWith('../'));
}

/** Every import between files of the tree under `src`. */
export function importsUnder(src: string): Import[] {
  const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
  return files(src).flatMap((f) => importsOfSource(relative(src, f).split('\\').join('/'), readFileSync(f, 'utf8')));
}

const excepted = (i: Import, exceptions: readonly Exception[]): boolean => exceptions.some((e) => e.from === i.from && e.to === i.to);

/** Imports across layers that the graph does not allow, and files in no layer of it. */
export function layerViolations(imports: readonly Import[], mayImport: Readonly<Record<string, readonly string[]>>, exceptions: readonly Exception[] = []): string[] {
  const out = new Set<string>();
  for (const i of imports) {
    for (const p of [i.from, i.to]) if (!(layerOf(p) in mayImport)) out.add(`${p} is in no layer of the graph (${layerOf(p)}/)`);
    const [a, b] = [layerOf(i.from), layerOf(i.to)];
    if (a === b || !(a in mayImport) || !(b in mayImport) || mayImport[a]!.includes(b) || excepted(i, exceptions)) continue;
    out.add(`${i.from} imports ${i.to}: ${a} may import ${mayImport[a]!.join(', ') || 'nothing'}`);
  }
  return [...out];
}

/** Exceptions that match no import any more: the rule holds without them, so they must go. */
export function staleExceptions(imports: readonly Import[], exceptions: readonly Exception[]): string[] {
  return exceptions.filter((e) => !imports.some((i) => i.from === e.from && i.to === e.to))
    .map((e) => `${e.from} no longer imports ${e.to}: remove its exception (${e.why})`);
}

/**
 * Files whose imports, followed transitively, reach a file of a `guarded` layer although they are not among
 * `allowed` (nor in a guarded layer themselves), each with one path that gets there.
 */
export function reachViolations(imports: readonly Import[], guarded: readonly string[], allowed: readonly string[]): string[] {
  const next = new Map<string, string[]>();
  for (const i of imports) next.set(i.from, [...(next.get(i.from) ?? []), i.to]);
  const isGuarded = (p: string): boolean => guarded.includes(layerOf(p));
  const out: string[] = [];
  for (const start of next.keys()) {
    if (isGuarded(start) || allowed.includes(start)) continue;
    const via = new Map<string, string>([[start, '']]);
    const queue = [start];
    for (let k = 0; k < queue.length; k++) {
      const at = queue[k]!;
      if (isGuarded(at)) {
        const path = [at];
        for (let p = via.get(at)!; p; p = via.get(p)!) path.unshift(p);
        out.push(`${start} reaches ${at}: ${path.join(' → ')}`);
        break;
      }
      for (const n of next.get(at) ?? []) {
        if (via.has(n)) continue;
        via.set(n, at);
        queue.push(n);
      }
    }
  }
  return out;
}

/** A module's exported names, and the names other modules take from it ('*': all of them). */
export interface ModuleNames {
  exports: string[];
  /** Resolved path of an imported module → the names taken from it. */
  uses: Map<string, Set<string>>;
}

/** What one file exports and what it takes from the relative modules it imports (paths resolved against `path`). */
export function namesOfSource(path: string, text: string): ModuleNames {
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, false);
  const exports: string[] = [];
  const uses = new Map<string, Set<string>>();
  const take = (spec: string, names: readonly string[]): void => {
    if (!spec.startsWith('.')) return;
    const target = posix.join(posix.dirname(path), spec);
    const set = uses.get(target) ?? new Set<string>();
    for (const n of names) set.add(n);
    uses.set(target, set);
  };
  const exported = (n: ts.Node): boolean => ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  for (const n of sf.statements) {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      const c = n.importClause;
      const b = c?.namedBindings;
      take(n.moduleSpecifier.text, !c || !b || ts.isNamespaceImport(b) ? ['*'] : b.elements.map((e) => (e.propertyName ?? e.name).text));
      if (c?.name) take(n.moduleSpecifier.text, ['default']);
    } else if (ts.isExportDeclaration(n)) {
      const names = n.exportClause && ts.isNamedExports(n.exportClause) ? n.exportClause.elements : undefined;
      if (n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) take(n.moduleSpecifier.text, names ? names.map((e) => (e.propertyName ?? e.name).text) : ['*']);
      else for (const e of names ?? []) exports.push(e.name.text);
    } else if (exported(n)) {
      if (ts.isVariableStatement(n)) for (const d of n.declarationList.declarations) exports.push(d.name.getText(sf));
      else if ((ts.isFunctionDeclaration(n) || ts.isClassDeclaration(n) || ts.isInterfaceDeclaration(n) || ts.isTypeAliasDeclaration(n) || ts.isEnumDeclaration(n)) && n.name) exports.push(n.name.text);
    }
  }
  // Dynamic imports: `(await import('./x.ts')).name`, `const { a, b } = await import('./x.ts')`; any other use takes all.
  for (const m of text.matchAll(/(?:\(\s*await\s+import\(\s*['"](\.[^'"]+)['"]\s*\)\s*\)\.(\w+))|(?:\{([^}]*)\}\s*=\s*await\s+import\(\s*['"](\.[^'"]+)['"]\s*\))|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    if (m[1]) take(m[1], [m[2]!]);
    else if (m[4]) take(m[4], m[3]!.split(',').map((s) => s.split(':')[0]!.trim()).filter(Boolean));
    else take(m[5]!, ['*']);
  }
  return { exports, uses };
}

/**
 * Exports of the files under `owned` that nothing uses: no file imports them and their own file does not mention
 * them again. Exported but used only at home is a different matter (an API surface); this is dead code.
 */
export function deadExports(files: ReadonlyMap<string, string>, owned: (path: string) => boolean): string[] {
  const names = new Map([...files].map(([p, t]) => [p, namesOfSource(p, t)] as const));
  const taken = new Map<string, Set<string>>();
  for (const m of names.values()) {
    for (const [target, set] of m.uses) taken.set(target, new Set([...(taken.get(target) ?? []), ...set]));
  }
  const out: string[] = [];
  for (const [path, m] of names) {
    if (!owned(path)) continue;
    const used = taken.get(path) ?? new Set<string>();
    for (const name of m.exports) {
      if (used.has('*') || used.has(name)) continue;
      const mentions = files.get(path)!.match(new RegExp(`(?<![\\w$])(?<![\\w$)\\]]\\.)${name.replace(/\$/g, '\\$')}(?![\\w$])`, 'g'))?.length ?? 0;
      if (mentions <= 1) out.push(`${path}: ${name}`);
    }
  }
  return out;
}
