import { readFileSync } from 'node:fs';
import { errnoCode, fileError, isSdataError, type SdataErrorCode } from '../protocol/errors.ts';
import { jsonLine, logFormatOf } from '../engine/log.ts';
import type { CommandName, Runnable } from './commands.ts';
import { EXIT, exitCodeFor } from './exit-codes.ts';
import { adoptHeldSignals, releaseHeldSignals, type HeldSignals } from './signals.ts';

// Light on purpose: the command line (commander, the declarations, valibot) is loaded by main() below, and a
// command's own modules only once it is known, so that `plan` on a pipe pays for neither undici nor SQLite and
// anything the bin sets up first (signal handlers) is in place before the slower imports.

/** Each command's module, loaded once the command line names it: `plan` on a pipe should not pay for undici or SQLite. */
const LOADERS: Record<CommandName, () => Promise<Runnable>> = {
  plan: () => import('./plan.ts'),
  gen: () => import('./gen.ts'),
  serve: () => import('./serve.ts'),
  seed: () => import('./seed.ts'),
  'hash-password': () => import('./hash-password.ts'),
  run: () => import('./run.ts'),
  link: () => import('./link.ts'),
  verify: () => import('./verify.ts'),
  digest: () => import('./digest.ts'),
  pull: () => import('./pull.ts'),
  push: () => import('./push.ts'),
  demo: () => import('./demo.ts'),
  health: () => import('./health.ts'),
  config: () => import('./config-print.ts'),
};

/**
 * The commands that handle SIGINT and SIGTERM themselves (signals.ts handleSignals: contexts released, stores closed);
 * the others get the default action, also for a signal that came while they loaded.
 */
const HANDLES_SIGNALS: ReadonlySet<CommandName> = new Set(['serve', 'run', 'link', 'verify', 'pull', 'push', 'demo']);

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Runs a command line; `onCommand` learns the command's name once known (the prefix of any later message),
 * `onSettled` its option values once resolved.
 */
export async function main(argv: string[], onCommand: (name: string) => void = () => undefined,
  onSettled: (values: Readonly<Record<string, unknown>>) => void = () => undefined): Promise<number> {
  const [cmd] = argv;
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(`sdata-sync ${version()} (node ${process.versions.node})\n`);
    return EXIT.OK;
  }
  const program = await import('./program.ts');
  if (cmd === undefined) {
    process.stdout.write(await program.rootHelp());
    return EXIT.USAGE;
  }
  return program.invoke(argv, onCommand, async (name) => {
    const mod = await LOADERS[name]();
    if (!HANDLES_SIGNALS.has(name)) releaseHeldSignals();
    return mod;
  }, onSettled);
}

/**
 * Entry point used by bin/sdata-sync.mjs: maps every failure to its documented exit code. `held`: the signals the
 * bin held while this loaded (signals.ts).
 */
export async function run(argv: string[], held?: HeldSignals): Promise<void> {
  adoptHeldSignals(held);
  let stdoutBroken = false;
  let name: string | undefined;
  // Once the options are known, a command with a log format says its failure in it (JSON off a terminal).
  let json = false;
  /** A failure as one line on stderr, in the command's log format, and its exit code. */
  const say = (message: string, code: number, error?: SdataErrorCode): void => {
    const prefix = name === undefined ? 'sdata-sync' : `sdata-sync ${name}`;
    process.stderr.write(json ? jsonLine('error', message, { event: 'error', ...(error ? { error } : {}), exitCode: code }) : `${prefix}: ${message}\n`);
    process.exitCode = code;
  };
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') {
      // The reader went away (`| head`): stop quietly with our own code, nothing to report.
      stdoutBroken = true;
      process.exit(EXIT.EPIPE);
    }
    if (errnoCode(e) !== undefined) {
      // A file stdout was redirected to cannot be written (ENOSPC on a full disk): an I/O failure said as one line,
      // not an uncaught exception with its stack.
      const f = fileError('stdout', 'write', e);
      say(f.message, exitCodeFor(f.code), f.code);
      process.exit();
    }
    throw e;
  });
  try {
    const code = await main(argv, (n) => {
      name = n;
    }, (values) => {
      const f = values['logFormat'];
      json = (f === 'auto' || f === 'text' || f === 'json') && logFormatOf(f) === 'json';
    });
    process.exitCode = code;
  } catch (e) {
    if (stdoutBroken) process.exit(EXIT.EPIPE);
    if (isSdataError(e)) {
      // A usage error is its line and where to look: no help text, no paragraph.
      const see = e.code === 'SDATA_E_USAGE' && !json ? `\nsee 'sdata-sync${name === undefined ? '' : ` ${name}`} --help'` : '';
      say(`${e.message}${see}`, exitCodeFor(e.code), e.code);
    } else if ((e as NodeJS.ErrnoException)?.code === 'EPIPE') {
      process.exitCode = EXIT.EPIPE;
    } else {
      say(`internal error: ${(e as Error)?.stack ?? String(e)}`, EXIT.INTERNAL);
    }
  }
}
