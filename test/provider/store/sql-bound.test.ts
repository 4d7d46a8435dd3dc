import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * SQL only through bound parameters (issue 13 point 5): every `prepare(…)` and `exec(…)` in the store takes string
 * literals joined by `+`, or template literals whose `${…}` parts are listed below with the reason each is not a
 * value from a request. Anything else (a variable, a call, a new interpolation) fails this test until it is bound
 * with `?` or added here with its reason.
 */

const STORE = fileURLToPath(new URL('../../../src/provider/store/', import.meta.url));

/** file → interpolations or bare arguments allowed there, each with why it is safe. */
const ALLOWED: Record<string, Record<string, string>> = {
  'listing.ts': {
    RESOURCE_COLUMNS: 'a constant list of column names (resources.ts)',
    live: 'one of two string literals chosen just above (all live rows, or linked ones only)',
  },
  'resources.ts': {
    RESOURCE_COLUMNS: 'a constant list of column names, defined in this file',
    R_RESOURCE_COLUMNS: 'the same constant list with an `r.` alias, computed once from it in this file',
    alias: 'a string literal assigned just above (the join of uuid_aliases and resources, with ? parameters)',
  },
  'contexts.ts': { dead: 'a string literal assigned just above (the subquery naming the contexts a dead process left busy)' },
  'selection.ts': { where: 'a string literal assigned just above, the same WHERE with ? parameters for three queries' },
  'store.ts': {
    SCHEMA: 'the constant schema text (schema.ts)',
    cacheKiB: 'a number computed by Math.round from the cacheMiB option (a PRAGMA takes no bound parameter)',
    WAL_AUTOCHECKPOINT: 'a numeric constant of this file',
    'this.#busyTimeoutMs': 'a whole number (Math.floor of the busyTimeoutMs option) (a PRAGMA takes no bound parameter)',
    pages: 'a whole number computed with Math.floor/Math.max from the --max-db-mib option and the page size',
    'on ? 4 * WAL_AUTOCHECKPOINT : WAL_AUTOCHECKPOINT': 'one of two numbers derived from a numeric constant',
  },
};

/** The parts of every prepare/exec argument that are not plain string literals: `${…}` contents and bare expressions. */
export function dynamicParts(text: string): string[] {
  const out: string[] = [];
  // exec on a database (db, this.#db), not RegExp.prototype.exec.
  for (const m of text.matchAll(/\.prepare\(|\bdb\.exec\(/g)) {
    let i = m.index + m[0].length;
    let depth = 0;
    let bare = '';
    const flushBare = (): void => {
      if (bare.trim() !== '') out.push(bare.trim());
      bare = '';
    };
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (c === "'" || c === '"') {
        const start = i;
        i = text.indexOf(c, i + 1);
        while (text[i - 1] === '\\') i = text.indexOf(c, i + 1);
        // A literal inside a call is part of that expression; at the top level it is SQL text.
        if (depth > 0) bare += text.slice(start, i + 1);
        else flushBare();
      } else if (c === '`') {
        flushBare();
        for (i++; text[i] !== '`'; i++) {
          if (text[i] === '$' && text[i + 1] === '{') {
            const end = text.indexOf('}', i);
            out.push(text.slice(i + 2, end).trim());
            i = end;
          }
        }
      } else if (c === '(') {
        depth++;
        bare += c;
      } else if (c === ')') {
        if (depth === 0) break;
        depth--;
        bare += c;
      } else if (c === '+' || /\s/.test(c)) {
        if (depth > 0) bare += c;
        else flushBare();
      } else {
        bare += c;
      }
    }
    flushBare();
  }
  return out;
}

test('the store builds SQL from literals: every interpolation is a listed constant, values go through ? parameters', () => {
  const found: string[] = [];
  const used = new Set<string>();
  for (const f of readdirSync(STORE).filter((n) => n.endsWith('.ts'))) {
    for (const part of dynamicParts(readFileSync(join(STORE, f), 'utf8'))) {
      if (ALLOWED[f]?.[part] !== undefined) used.add(`${f}:${part}`);
      else found.push(`${f}: ${part}`);
    }
  }
  assert.deepEqual(found, [], `SQL built from something other than literals and listed constants:\n  ${found.join('\n  ')}`);
  // An entry that no longer matches anything would allow something unchecked later.
  const stale = Object.entries(ALLOWED).flatMap(([f, parts]) => Object.keys(parts).map((p) => `${f}:${p}`)).filter((k) => !used.has(k));
  assert.deepEqual(stale, [], 'allow-list entries that match nothing: remove them');
  // The constants are what the list says: plain literals.
  assert.match(readFileSync(join(STORE, 'resources.ts'), 'utf8'), /export const RESOURCE_COLUMNS = '[a-z_, ]+';/);
  assert.match(readFileSync(join(STORE, 'selection.ts'), 'utf8'), /const where = '[^'$`]+';/);
  assert.match(readFileSync(join(STORE, 'schema.ts'), 'utf8'), /export const SCHEMA = `[^$`]+`;/);
});

test('the scan finds what would break the rule', () => {
  assert.deepEqual(dynamicParts("db.prepare(`SELECT * FROM t WHERE a = ${name}`)"), ['name']);
  assert.deepEqual(dynamicParts("db.prepare('SELECT * FROM t WHERE a = ' + value + ' AND b = ?')"), ['value']);
  assert.deepEqual(dynamicParts('db.exec(sql)'), ['sql']);
  assert.deepEqual(dynamicParts("db.prepare(build('x'))"), ["build('x')"]);
  assert.deepEqual(dynamicParts("db.prepare('SELECT 1 ' +\n  'FROM t WHERE \\'x\\' = ?').get(1)"), []);
});
