import { readFileSync } from 'node:fs';
import { isSdataError } from '../protocol/errors.ts';
import { EXIT, exitCodeFor } from './exit-codes.ts';
import { adoptHeldSignals, releaseHeldSignals, type HeldSignals } from './signals.ts';

const HELP = `Usage: sdata-sync <command> [options]

Commands:
  plan     source feed (files or stdin) + target digest -> target feed / chunk files
  gen      write a deterministic synthetic sync feed
  serve    run the reference SData sync provider on a SQLite store
  seed     fill a provider store with generated resources
  hash-password  a users-file line for serve's Basic authentication (password from stdin or a prompt)
  run      one catch-up pass (or several kinds) from a source to a target over HTTP
  link     link the resources two applications already share, before their first sync ($linked)
  digest   print a target's $syncDigest entry
  pull     stream every page of a source feed to stdout as one feed
  push     POST feeds to a target's $syncTarget, result feed to stdout
  demo     two local providers, a full catch-up, conflicts, convergence (npm start)

Run 'sdata-sync <command> --help' for a command's options. Exit codes: see README.
`;

type Command = (argv: string[]) => Promise<number>;

// Loaded lazily: `plan` on a pipe should not pay for undici or SQLite. `signals`: the command handles SIGINT and
// SIGTERM itself (signals.ts handleSignals); the others keep the default action.
const COMMANDS: Record<string, { load: () => Promise<Command>; signals?: true }> = {
  plan: { load: async () => (await import('./plan.ts')).planCommand },
  gen: { load: async () => (await import('./gen.ts')).genCommand },
  serve: { load: async () => (await import('./serve.ts')).serveCommand, signals: true },
  seed: { load: async () => (await import('./seed.ts')).seedCommand },
  'hash-password': { load: async () => (await import('./hash-password.ts')).hashPasswordCommand },
  run: { load: async () => (await import('./run.ts')).runCommand, signals: true },
  link: { load: async () => (await import('./link.ts')).linkCommand, signals: true },
  digest: { load: async () => (await import('./digest.ts')).digestCommand },
  pull: { load: async () => (await import('./pull.ts')).pullCommand, signals: true },
  push: { load: async () => (await import('./push.ts')).pushCommand, signals: true },
  demo: { load: async () => (await import('./demo.ts')).demoCommand, signals: true },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(`sdata-sync ${version()} (node ${process.versions.node})\n`);
    return EXIT.OK;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    process.stderr.write(`sdata-sync: unknown command '${cmd}'\n\n${HELP}`);
    return EXIT.USAGE;
  }
  const command = await c.load();
  if (!c.signals) releaseHeldSignals();
  return command(rest);
}

/**
 * Entry point used by bin/sdata-sync.mjs: maps every failure to its documented exit code. `held`: the signals the
 * bin held while this loaded (signals.ts).
 */
export async function run(argv: string[], held?: HeldSignals): Promise<void> {
  adoptHeldSignals(held);
  let stdoutBroken = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') {
      // The reader went away (`| head`): stop quietly with our own code, nothing to report.
      stdoutBroken = true;
      process.exit(EXIT.EPIPE);
    }
    throw e;
  });
  try {
    const code = await main(argv);
    process.exitCode = code;
  } catch (e) {
    if (stdoutBroken) process.exit(EXIT.EPIPE);
    const cmd = argv[0] ?? '';
    if (isSdataError(e)) {
      process.stderr.write(`sdata-sync ${cmd}: ${e.message}\n`);
      process.exitCode = exitCodeFor(e.code);
    } else if ((e as NodeJS.ErrnoException)?.code === 'EPIPE') {
      process.exitCode = EXIT.EPIPE;
    } else {
      process.stderr.write(`sdata-sync ${cmd}: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = EXIT.INTERNAL;
    }
  }
}
