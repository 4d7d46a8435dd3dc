import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readConfigFile } from '../../src/cli/config.ts';
import { REFERENCE_END, REFERENCE_START } from '../../src/cli/reference.ts';

/**
 * README's tutorial runs as written: every ```sh block between its markers, in order, in one bash, from the checkout,
 * with the PATH of a user's shell: `npm test` puts node_modules/.bin (and its Node 24) first, a reader's shell does
 * not, so those entries are taken out and the tutorial must bring the pinned Node itself. Strict: `set -euo pipefail` (an undefined variable fails, as `$S` did), and job control on (`set -m`),
 * as in the interactive shell the tutorial is written for. The other sh blocks are the quick start (the CI itself)
 * or say that they are illustrations.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const START = '<!-- tutorial:start';
const END = '<!-- tutorial:end -->';

const shBlocks = (text: string): string[] => [...text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);

function tutorial(): string[] {
  const start = README.indexOf(START);
  const end = README.indexOf(END);
  assert.ok(start >= 0 && end > start, `README has the tutorial between '${START}' and '${END}'`);
  const blocks = shBlocks(README.slice(start, end));
  assert.ok(blocks.length >= 8, `the tutorial's sh blocks (${blocks.length})`);
  return blocks;
}

/** Processes of a session (Linux /proc): the bash we started and whatever it left running, background jobs included. */
function sessionMembers(sid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp session …; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[3]) === sid) out.push(Number(d));
  }
  return out;
}

const TIMEOUT_MS = 100_000;

test("README's tutorial runs as written, block after block, in one shell", async () => {
  const blocks = tutorial();
  const dir = mkdtempSync(join(tmpdir(), 'sdata-readme-'));
  const script = [
    'set -euo pipefail',
    'set -m',
    // The block that failed, and the command: printed once, by the first failure.
    `trap 'echo "@@ block $BLOCK failed (exit $?): $BASH_COMMAND" >&2' ERR`,
    ...blocks.flatMap((b, i) => [`BLOCK=${i + 1}`, b]),
    'echo "@@ done"',
  ].join('\n');
  writeFileSync(join(dir, 'tutorial.sh'), script);
  const started = performance.now();
  // Its own session: whatever it leaves running (a serve the last block failed to stop) can be found and ended.
  const bash = spawn('bash', [join(dir, 'tutorial.sh')], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PATH: (process.env['PATH'] ?? '').split(':').filter((d) => !/node_modules[\\/]\.bin[\\/]?$/.test(d)).join(':'),
      TMPDIR: dir, // mktemp -d: inside the directory this test removes
      npm_config_update_notifier: 'false',
    },
  });
  let stdout = '';
  let stderr = '';
  bash.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  bash.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => bash.on('exit', (code) => resolve(code)));
  // The pipes close once every process holding them ended (background jobs inherit stderr).
  const closed = new Promise<void>((resolve) => bash.on('close', () => resolve()));
  const killSession = (): number[] => {
    const members = sessionMembers(bash.pid!);
    for (const pid of members) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch { /* ended meanwhile */ }
    }
    return members;
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killSession();
  }, TIMEOUT_MS);
  const code = await exited;
  clearTimeout(timer);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const leftover = killSession();
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
  rmSync(dir, { recursive: true, force: true });
  const failed = /^@@ block (\d+) failed/m.exec(stderr);
  const block = failed ? blocks[Number(failed[1]) - 1] : undefined;
  const context = `${timedOut ? `timed out after ${TIMEOUT_MS / 1000} s; ` : ''}exit ${code}${block ? `\n--- failing block ${failed![1]}:\n${block}` : ''}` +
    `\n--- stdout (end):\n${stdout.slice(-3000)}\n--- stderr (end):\n${stderr.slice(-3000)}`;
  assert.equal(code, 0, context);
  assert.match(stdout, /^@@ done$/m, context);
  assert.deepEqual(leftover, [], `the last block stopped every process the tutorial started\n${context}`);
  // What the text says happens: the second pass has nothing to send, both stores end equal.
  assert.match(stdout, /accounts: up to date/, context);
  assert.match(stdout, /^201 201 same data$/m, context);
  process.stderr.write(`# README tutorial: ${blocks.length} blocks in ${seconds} s\n`);
});

test("README's other sh blocks are the quick start or say they are illustrations", () => {
  const start = README.indexOf(START);
  const end = README.indexOf(END);
  const refStart = README.indexOf(REFERENCE_START);
  const refEnd = README.indexOf(REFERENCE_END);
  // Outside the tutorial and the generated command reference (whose examples come from src/cli/commands.ts).
  const rest = README.slice(0, start) + README.slice(end, refStart) + README.slice(refEnd);
  const blocks = shBlocks(rest);
  const [quick, ...others] = blocks;
  // The quick start is what .ci/run does: npm ci, npm start, npm test.
  assert.match(quick!, /^npm ci && npm start\b[\s\S]*^npm test\b/m, 'the first sh block is the quick start');
  assert.ok(others.length > 0);
  for (const b of others) assert.match(b, /^# illustration: /, `an sh block that does not run as written says so on its first line:\n${b}`);
});

test("README's configuration example is a file the CLI reads", async () => {
  const from = README.indexOf('\n## Configuration\n');
  const section = README.slice(from, README.indexOf('\n## ', from + 1));
  const json = /^```json\n([\s\S]*?)^```$/m.exec(section);
  assert.ok(json, 'Configuration has a json block');
  const dir = mkdtempSync(join(tmpdir(), 'sdata-readme-'));
  try {
    writeFileSync(join(dir, 'config.json'), json[1]!);
    const file = await readConfigFile(join(dir, 'config.json'));
    assert.deepEqual(Object.keys(file.sections).sort(), ['run', 'serve']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
