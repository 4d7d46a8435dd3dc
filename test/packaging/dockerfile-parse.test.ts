import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DockerIgnore } from '../../scripts/dockerfile/ignore.ts';
import { execForm, pairs, parseDockerfile, substitute, words } from '../../scripts/dockerfile/parse.ts';

/** The replay's reading of a Dockerfile and a .dockerignore, and its refusals (scripts/check-dockerfile.ts). */

test('instructions: directives and comments dropped, continuations joined, flags apart, line numbers kept', () => {
  const ins = parseDockerfile('# syntax=docker/dockerfile:1\n# a comment\nARG B=node:24.1.2-bookworm-slim\n\nFROM ${B} AS build\nRUN --mount=type=cache,target=/root/.npm \\\n  # inside\n  npm ci \\\n  --omit=dev\ncopy --chown=node:node --from=build /a /b\n');
  assert.deepEqual(ins.map((i) => [i.op, i.line, [...i.flags], i.args]), [
    ['ARG', 3, [], 'B=node:24.1.2-bookworm-slim'],
    ['FROM', 5, [], '${B} AS build'],
    ['RUN', 6, [['mount', ['type=cache,target=/root/.npm']]], 'npm ci    --omit=dev'],
    ['COPY', 10, [['chown', ['node:node']], ['from', ['build']]], '/a /b'],
  ]);
});

test('exec form, KEY=value pairs, substitution and words as the builder reads them', () => {
  const [cmd] = parseDockerfile('CMD ["node", "a b"]\n');
  assert.deepEqual(execForm(cmd!), ['node', 'a b']);
  const [bad] = parseDockerfile('CMD ["node", 1]\n');
  assert.throws(() => execForm(bad!), /Dockerfile:1: CMD: not a JSON array of strings/);
  const [env] = parseDockerfile('ENV A=1 B="two words" C=x\\ y\n');
  assert.deepEqual(pairs(env!, env!.args), [['A', '1'], ['B', 'two words'], ['C', 'x y']]);
  const [legacy] = parseDockerfile('ENV A one two\n');
  assert.deepEqual(pairs(legacy!, legacy!.args), [['A', 'one two']]);
  const vars = new Map([['A', 'x'], ['E', '']]);
  assert.equal(substitute('$A-${A}-${E:-d}-${A:+alt}-${N}-\\$A', vars), 'x-x-d-alt--$A');
  assert.deepEqual(words(`a "b c" 'd'`), ['a', 'b c', 'd']);
});

test('.dockerignore: directories exclude what is under them, ! takes a path back, the last rule wins', () => {
  const d = new DockerIgnore('# c\nnode_modules\nscripts\n!scripts/build.ts\n**/*.db\n*.md\n');
  assert.deepEqual(['node_modules/x/y.js', 'scripts/faults.ts', 'scripts/build.ts', 'src/a.db', 'a.db', 'README.md', 'src/provider/README.md', 'src/x.ts']
    .map((p) => d.excluded(p)), [true, true, false, true, true, true, false, false]);
});

test('the replay refuses what it cannot honour: an unknown instruction, an unpinned base, a shell-form ENTRYPOINT', () => {
  const script = fileURLToPath(new URL('../../scripts/check-dockerfile.ts', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'sdata-dockerfile-'));
  try {
    const cases: Array<[string, RegExp]> = [
      [`FROM node:${process.versions.node}-bookworm-slim\nSTOPSIGNAL SIGTERM\n`, /Dockerfile:2: STOPSIGNAL: not an instruction this replay knows/],
      ['FROM node:24-bookworm-slim\n', /Dockerfile:1: FROM: node:24-bookworm-slim: .*pin the image by its full tag/],
      [`FROM node:${process.versions.node}-bookworm-slim\nENTRYPOINT node /app/bin/sdata-sync.mjs\n`, /Dockerfile:2: ENTRYPOINT: use the exec form/],
      [`FROM node:${process.versions.node}-bookworm-slim\nCOPY test ./test\n`, /Dockerfile:2: COPY: test is excluded by \.dockerignore/],
    ];
    for (const [text, why] of cases) {
      const f = join(dir, 'Dockerfile');
      writeFileSync(f, text);
      const r = spawnSync(process.execPath, [script, '--dockerfile', f], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, why);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
