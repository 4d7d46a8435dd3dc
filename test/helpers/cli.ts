import { spawn } from 'node:child_process';
import { BIN, binFlags } from '../../bench/bin-flags.ts';

export { BIN };
/** The pinned runtime (the one `npm test` runs on). */
export const NODE = process.execPath;

/** The heap bounds the bin runs with (src/cli/heap-flags.ts): CLI tests run the bin as users run it, in one process. */
export const BIN_FLAGS = binFlags();

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { stdin?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [...BIN_FLAGS, BIN, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
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
