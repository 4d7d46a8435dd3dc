import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { BIN, BIN_FLAGS, NODE } from './cli.ts';

export interface Served {
  child: ChildProcess;
  /** The dataset URL serve printed first. */
  url: string;
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** `sdata-sync serve --port 0 ARGS` as a process, as users run it, once it has printed its URL. */
export async function serveProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const child = spawn(NODE, [...BIN_FLAGS, BIN, 'serve', '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = once(child, 'close');
  // Started: the URL on stdout, then its start-up line on stderr.
  const started = (): boolean => out.includes('\n') && err.includes('Ctrl-C to stop');
  for (let i = 0; i < 400 && !started() && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(started(), `serve did not start: ${err}`);
  return {
    child, url: out.split('\n')[0]!, stderr: () => err,
    stop: async () => {
      child.kill('SIGTERM');
      return ((await exited) as [number | null])[0];
    },
  };
}
