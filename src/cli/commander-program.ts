/**
 * The command line on commander, built from the declarations (commands.ts): commands and their flags, `--help`,
 * "did you mean" for a mistyped command or flag, and the exact errors for anything else. Commander reads the flags
 * only: their values, the environment and the --config file are layered and checked by config.ts.
 *
 * Loaded when needed (program.ts): for help, and for a command line that node:util's parseArgs, driven by the same
 * declarations, does not take as it is. Loading commander costs ~10 ms, which `plan` on a pipe should not pay.
 */
import { Command, CommanderError, Option } from 'commander';
import { SdataError } from '../protocol/errors.ts';
import { COMMAND_NAMES, COMMANDS, CONFIG_OPTION, credentialsNote, type CommandDecl, type CommandName } from './commands.ts';
import { commandNotes, defaultNote, ROOT_NOTE, usageLine } from './help-text.ts';
import { flagOf, type ArgDecl, type Opt } from './option-types.ts';
import { missingArgument, type Parsed } from './program.ts';

const helpWidth = (): number => (process.stdout.isTTY ? Math.max(80, process.stdout.columns) : 100);

/** Text after the options, wrapped as commander wraps the rest. */
function wrap(c: Command, text: string): string {
  return c.createHelp().boxWrap(text, helpWidth());
}

function commandFor(name: CommandName, onAction: (c: Command) => void, argsOptional = false): Command {
  const decl: CommandDecl = COMMANDS[name];
  const c = new Command(name)
    .summary(decl.summary)
    .description(decl.description ?? decl.summary)
    .usage(usageLine(decl))
    .helpOption('-h, --help', 'show this help')
    .allowExcessArguments(true) // counted against the declaration by program.ts, to say which one was not expected
    .action(() => onAction(c));
  for (const a of Object.values<ArgDecl>(decl.args ?? {})) {
    const v = a.variadic ? '...' : '';
    c.argument(a.required && !argsOptional ? `<${a.name}${v}>` : `[${a.name}${v}]`, a.opt.help);
  }
  for (const [key, opt] of Object.entries<Opt>(decl.options)) {
    const note = defaultNote(opt);
    const o = new Option(`${opt.short ? `-${opt.short}, ` : ''}${flagOf(key)}${opt.type === 'bool' ? '' : ` <${opt.arg ?? 'VALUE'}>`}`, `${opt.help}${note ? ` (${note})` : ''}`);
    if (opt.repeatable) o.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    c.addOption(o);
    // --no-strict turns off what the environment or the file turned on.
    if (opt.type === 'bool' && !opt.cliOnly) c.addOption(new Option(`--no-${flagOf(key).slice(2)}`).hideHelp());
  }
  c.addOption(new Option(`--config <FILE>`, CONFIG_OPTION.help));
  c.addHelpText('after', () => `\n${wrap(c, commandNotes(name, decl))}`);
  return c;
}

function program(onAction: (name: CommandName, c: Command) => void): Command {
  const root: Command = new Command('sdata-sync')
    .usage('<command> [options]')
    .description('Streaming SData 1.1 synchronization: engine, pipe tools and a reference provider.')
    .helpOption('-h, --help', 'show this help')
    .helpCommand('help [command]', "show a command's help")
    .showSuggestionAfterError(true)
    .addHelpText('after', () => `\n${wrap(root, ROOT_NOTE)}`);
  for (const name of COMMAND_NAMES) root.addCommand(commandFor(name, (c) => onAction(name, c)));
  configure(root);
  return root;
}

/**
 * Errors come back to us (as exceptions) instead of being printed and exited on; help goes to stdout, as wide as the
 * terminal, or 100 columns into a pipe or a file.
 */
function configure(c: Command): void {
  c.exitOverride().configureOutput({ writeOut: (s) => void process.stdout.write(s), writeErr: () => undefined, outputError: () => undefined });
  c.configureHelp({ helpWidth: helpWidth() });
  for (const sub of c.commands) configure(sub);
}

/** Commander's wording, made ours: one line, no "error:" prefix, "did you mean" on the same line. */
function usageFrom(e: CommanderError, name: CommandName | undefined): SdataError {
  let m = e.message.replace(/^error: /, '').replace(/\n\(Did you mean (.*)\?\)$/, ' (did you mean $1?)');
  if (e.code === 'commander.unknownOption' && /token|passw|secret|user/i.test(m)) {
    m += `; ${credentialsNote(name)}`;
  }
  const missing = /^missing required argument '(.*)'$/.exec(m);
  if (missing && name) {
    const decl: CommandDecl = COMMANDS[name];
    const a = Object.values<ArgDecl>(decl.args ?? {}).find((x) => x.name === missing[1]);
    if (a) m = missingArgument(a);
  }
  const noValue = /^option '(\S+) <(\S+)>' argument missing$/.exec(m);
  if (noValue) m = `${noValue[1]} needs a value (${noValue[2]})`;
  return new SdataError('SDATA_E_USAGE', m);
}

/** The whole command line: the command it names and what it said, or the exit code of a help printed. */
export async function parseCommandLine(argv: readonly string[]): Promise<{ name: CommandName; parsed: Parsed } | { exit: number }> {
  let chosen: { name: CommandName; parsed: Parsed } | undefined;
  const root = program((name, c) => {
    chosen = { name, parsed: { flags: c.opts(), args: c.args } };
  });
  try {
    await root.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') return { exit: e.exitCode };
    throw usageFrom(e, (COMMAND_NAMES as string[]).includes(argv[0] ?? '') ? argv[0] as CommandName : undefined);
  }
  return chosen ?? { exit: 0 }; // `help COMMAND`: printed
}

/** One command's flags, its arguments optional (`config --print -- FLAGS`). */
export async function parseCommand(name: CommandName, argv: readonly string[]): Promise<Parsed> {
  let parsed: Parsed | undefined;
  const c = commandFor(name, (cmd) => {
    parsed = { flags: cmd.opts(), args: cmd.args };
  }, true);
  configure(c);
  try {
    await c.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) throw usageFrom(e, name);
    throw e;
  }
  return parsed ?? { flags: {}, args: [] };
}

/** A command's --help, as printed (without its trailing notes' wrapping to a terminal: 100 columns). */
export function helpFor(name: CommandName): string {
  const c = commandFor(name, () => undefined);
  configure(c);
  return `${c.helpInformation()}\n${wrap(c, commandNotes(name, COMMANDS[name]))}\n`;
}

/** `sdata-sync` alone: the commands, on stdout. */
export function rootHelp(): string {
  const root = program(() => undefined);
  return `${root.helpInformation()}\n${wrap(root, ROOT_NOTE)}\n`;
}
