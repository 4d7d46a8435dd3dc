import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, binFlags } from '../../bench/bin-flags.ts';

export { BIN };
/** The pinned runtime (the one `npm test` runs on). */
export const NODE = process.execPath;

/** The flags the bin's shebang passes (heap bounds): CLI tests run the bin as users run it. */
export const BIN_FLAGS = binFlags();

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * XDG_STATE_HOME of every command a test runs: run, pull and push keep their journal of open contexts under it
 * (src/engine/journal.ts), which must not land in the home of whoever runs the tests. One per test process, so that
 * a command run after another that was killed finds its journal, as a user's would.
 */
const STATE_HOME = mkdtempSync(join(tmpdir(), 'sdata-test-state-'));
process.once('exit', () => rmSync(STATE_HOME, { recursive: true, force: true }));
export const TEST_ENV = { XDG_STATE_HOME: STATE_HOME };

export function runCli(args: string[], opts: { stdin?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [...BIN_FLAGS, BIN, ...args], { cwd: opts.cwd, env: { ...process.env, ...TEST_ENV, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // the child may exit before reading everything
    child.stdin.end(opts.stdin ?? '');
  });
}
