/**
 * From a command line to a command run: the flags and arguments (read by node:util's parseArgs, configured from
 * the declarations in commands.ts), the layers (config.ts: flags > environment > --config file > defaults), the
 * arguments checked, and the command's module loaded and run.
 *
 * Commander (commander-program.ts) does help, "did you mean", and every command line parseArgs does not take as
 * it is (an unknown flag, a value that starts with a dash, …): it is loaded only then, because it costs ~10 ms of
 * start-up that `plan` on a pipe should not pay. Both read the same declarations; test/cli/program.test.ts checks
 * that they read command lines alike.
 */
import { parseArgs } from 'node:util';
import { SdataError } from '../protocol/errors.ts';
import { COMMAND_NAMES, COMMANDS, type CommandDecl, type CommandName, type Runnable } from './commands.ts';
import { checkEnvNames, configPath, labelOf, loadValibot, parseValue, readConfigFile, resolve, type ConfigFile, type Resolution } from './config.ts';
import { flagOf, type ArgDecl, type Opt } from './option-types.ts';

/** What the command line said, before the layers: flags given (camelCase keys, raw values) and arguments. */
export interface Parsed {
  flags: Record<string, unknown>;
  args: string[];
}

/** A command ready to run: its Input (commands.ts), and how it came about (for `config --print`). */
export interface Settled {
  input: { values: Record<string, unknown>; args: Record<string, unknown>; given(key: string): boolean; label(key: string): string; configPath: string | undefined };
  resolution: Resolution;
  file: ConfigFile | undefined;
}

const usage = (message: string): SdataError => new SdataError('SDATA_E_USAGE', message);

/** A required argument not given: `missing N (the number of entries)` (commander-program.ts says it alike). */
export const missingArgument = (a: ArgDecl): string => `missing ${a.name} (${a.opt.help})`;

const isCommand = (s: string | undefined): s is CommandName => (COMMAND_NAMES as (string | undefined)[]).includes(s);

/**
 * A command's flags and arguments as parseArgs reads them, or undefined where commander must: --help, and anything
 * parseArgs refuses (it is strict: an unknown flag, a missing value, a value that looks like a flag). The flags
 * and their types are the declarations'; `--no-X` for switches the environment or the file may turn on.
 */
export function quickParse(name: CommandName, argv: readonly string[]): Parsed | undefined {
  const decl: CommandDecl = COMMANDS[name];
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  const keyOf = new Map<string, string>();
  for (const [key, opt] of Object.entries<Opt>(decl.options)) {
    const long = flagOf(key).slice(2);
    keyOf.set(long, key);
    options[long] = { type: opt.type === 'bool' ? 'boolean' : 'string', ...(opt.short ? { short: opt.short } : {}), ...(opt.repeatable ? { multiple: true } : {}) };
  }
  let r: ReturnType<typeof parseArgs>;
  try {
    r = parseArgs({ args: [...argv], options, allowPositionals: true, allowNegative: true, strict: true });
  } catch {
    return undefined;
  }
  if (r.values['help'] !== undefined || r.values['config'] === false) return undefined;
  const flags: Record<string, unknown> = {};
  for (const [long, value] of Object.entries(r.values)) {
    const key = keyOf.get(long) ?? long;
    if (value === false && decl.options[key]?.cliOnly) return undefined; // no --no-X for these: commander says so
    flags[key] = value;
  }
  return { flags, args: r.positionals };
}

/** A command's flags and arguments, its arguments optional (`config --print -- FLAGS` shows what they would do). */
export async function parseFor(name: CommandName, argv: readonly string[]): Promise<Parsed> {
  return quickParse(name, argv) ?? (await import('./commander-program.ts')).parseCommand(name, argv);
}

/** The layers applied to what the command line said: values, arguments, their origins. */
export async function settle(name: CommandName, parsed: Parsed, env: NodeJS.ProcessEnv, lenient = false): Promise<Settled> {
  const decl: CommandDecl = COMMANDS[name];
  const declared = Object.entries<ArgDecl>(decl.args ?? {});
  // The arguments' number first: a missing or a stray argument is the first thing to say.
  const slots = declared.map(([, a]) => (a.variadic ? Infinity : 1)).reduce((x, y) => x + y, 0);
  if (parsed.args.length > slots) throw usage(`unexpected argument '${parsed.args[slots]}'${decl.argsHint ? ` (${decl.argsHint})` : ''}`);
  const missing = declared.find(([, a], i) => a.required && parsed.args.length <= i);
  if (missing && !lenient) throw usage(missingArgument(missing[1]));
  await checkEnvNames(env);
  const { config, ...flags } = parsed.flags as { config?: string };
  const where = configPath(config, env);
  const file = where === undefined ? undefined : await readConfigFile(where.path, where.from);
  const resolution = await resolve(name, flags, env, file, lenient);
  const args: Record<string, unknown> = {};
  let i = 0;
  for (const [key, a] of declared) {
    const take = a.variadic ? parsed.args.slice(i) : parsed.args.slice(i, i + 1);
    i += take.length;
    const checked: unknown[] = [];
    for (const raw of take) checked.push(await checkArg(a, raw));
    args[key] = a.variadic ? checked : checked[0];
  }
  const { values, origins } = resolution;
  const given = (k: string): boolean => origins[k] !== undefined && origins[k].layer !== 'default';
  const label = (k: string): string => labelOf(k, origins[k], decl.options[k]!);
  return { input: { values, args, given, label, configPath: where?.path }, resolution, file };
}

async function checkArg(a: ArgDecl, raw: string): Promise<unknown> {
  const r = parseValue(await loadValibot(), a.opt, raw);
  if ('problem' in r) throw usage(`${a.name}: ${r.problem}`);
  const problem = a.opt.check?.(r.value);
  if (problem) throw usage(`${a.name}: ${problem}`);
  return r.value;
}

/**
 * Parses `argv`, applies the layers and runs the command (its module from `load`). `onCommand` learns the command's
 * name as soon as it is known, for the prefix of any message that follows; `onSettled` its values once they are
 * (the log format of a failure's message).
 */
export async function invoke(argv: readonly string[], onCommand: (name: CommandName) => void, load: (name: CommandName) => Promise<Runnable>,
  onSettled: (values: Readonly<Record<string, unknown>>) => void = () => undefined): Promise<number> {
  const [first, ...rest] = argv;
  let name: CommandName | undefined;
  let parsed: Parsed | undefined;
  if (isCommand(first)) {
    onCommand(first);
    name = first;
    parsed = quickParse(first, rest);
  }
  if (parsed === undefined) {
    const r = await (await import('./commander-program.ts')).parseCommandLine(argv);
    if ('exit' in r) return r.exit;
    ({ name, parsed } = r);
  }
  const settled = await settle(name!, parsed, process.env);
  onSettled(settled.input.values);
  const mod = await load(name!);
  return (mod.run as (input: Settled['input']) => Promise<number>)(settled.input);
}

/** `sdata-sync` alone: the commands. */
export async function rootHelp(): Promise<string> {
  return (await import('./commander-program.ts')).rootHelp();
}
