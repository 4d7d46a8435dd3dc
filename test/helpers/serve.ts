import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { BIN, binFlags, NODE } from './cli.ts';

/**
 * `sdata-sync serve` as a child process, as users run it: started, waited for (bounded), stopped or killed. The one
 * helper every test that needs a real `serve` process uses.
 */

export interface ServeProcess {
  child: ChildProcess;
  /** The dataset URL it printed. */
  url: string;
  stderr(): string;
  /** Resolves with the exit code and signal once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ServeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Bounds every wait on a child: a hung server fails the test instead of hanging it. */
const START_TIMEOUT_MS = 30_000;

function launch(args: string[], opts: SpawnOptions): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<ServeExit> } {
  const child = spawn(NODE, [...binFlags(['serve']), BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  // Rejects if the process could not be started at all (spawn's EPERM, ENOENT).
  const exited = new Promise<ServeExit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  return { child, out: () => out, err: () => err, exited };
}

/**
 * Starts `serve --port 0 ARGS` and resolves once it printed its URL and its start-up line (the one that says how it is
 * guarded: authentication, TLS); rejects if it exits or hangs first.
 */
export async function startServe(args: string[], opts: SpawnOptions = {}): Promise<ServeProcess> {
  const { child, out, err, exited } = launch(['--port', '0', ...args], opts);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not print its URL within ${START_TIMEOUT_MS} ms; stderr: ${err()}`));
    }, START_TIMEOUT_MS);
    const onData = (): void => {
      const line = out().split('\n')[0]!;
      if (out().includes('\n') && line.startsWith('http') && err().includes('Ctrl-C to stop')) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        resolve(line);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    exited.then((r) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${r.code ?? r.signal}) before printing its URL; stderr: ${r.stderr}`));
    }, (e: unknown) => {
      clearTimeout(timer);
      reject(e instanceof Error ? e : new Error(String(e)));
    });
  });
  return { child, url, stderr: err, exited: exited.then((r) => ({ code: r.code, signal: r.signal })) };
}

export type Served = ServeProcess & { stop(): Promise<number | null> };

/** `startServe` with extra environment, and a `stop()` that sends SIGTERM and resolves with the exit code. */
export async function serveProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const s = await startServe(args, { env: { ...process.env, ...env } });
  return {
    ...s,
    stop: async () => {
      s.child.kill('SIGTERM');
      return (await s.exited).code;
    },
  };
}

/** Runs `serve ARGS` expecting it to fail at startup; resolves with how it ended (killed if it starts instead). */
export async function serveFailure(args: string[], opts: SpawnOptions = {}): Promise<ServeExit> {
  // Its one line as text, as on a terminal (off one, the default is a JSON log line: README "Logs").
  const { child, out, exited } = launch(['--port', '0', '--log-format', 'text', ...args], opts);
  const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
  const onData = (): void => {
    if (out().startsWith('http')) child.kill('SIGTERM'); // it started: the caller's assertions will say so
  };
  child.stdout!.on('data', onData);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}
