/**
 * `sdata-sync config --print [--command NAME] [--config FILE] [-- FLAGS]`: the configuration a command would run
 * with, each option's value and its source (flag, environment, file, default), through the same layers and checks
 * as the command itself (program.ts settle). Credential variables are named as set or not set, never shown.
 */
import { SdataError } from '../protocol/errors.ts';
import { COMMAND_NAMES, COMMANDS, CONFIG_ENV, type CommandDecl, type CommandName, type Input } from './commands.ts';
import { EXIT } from './exit-codes.ts';
import { envOf, flagOf, type Opt } from './option-types.ts';
import { parseFor, settle } from './program.ts';
import { didYouMean } from './suggest.ts';

/** A value as the --config file would take it back: sizes and durations with their units, lists as arrays. */
function fileForm(opt: Opt, value: unknown): unknown {
  if (value === undefined) return null;
  return opt.type === 'size' || opt.type === 'duration' ? opt.show(value) : value;
}

export async function run({ values, args, configPath }: Input<typeof COMMANDS.config>): Promise<number> {
  if (!(COMMAND_NAMES as string[]).includes(values.command)) {
    throw new SdataError('SDATA_E_USAGE', `--command: no command '${values.command}'${didYouMean(values.command, COMMAND_NAMES)}`);
  }
  const name = values.command as CommandName;
  const decl: CommandDecl = COMMANDS[name];
  const parsed = await parseFor(name, args.flags);
  const flags = { ...parsed.flags };
  if (flags['config'] === undefined && configPath !== undefined) flags['config'] = configPath;
  const { resolution, file } = await settle(name, { flags, args: parsed.args }, process.env, true);
  const credentials = Object.fromEntries((decl.credentials ?? []).map((n) => [n, process.env[n] ? 'set' : 'not set']));
  const rows = Object.entries(decl.options).filter(([, o]) => !o.cliOnly).map(([key, opt]) => {
    const o = resolution.origins[key];
    return { key, opt, value: resolution.values[key], source: o?.layer ?? null, from: o === undefined ? null : o.layer === 'default' ? null : o.where };
  });
  if (values.json) {
    const doc = {
      command: name,
      configFile: file?.path ?? null,
      precedence: ['flag', 'env', 'file', 'default'],
      options: Object.fromEntries(rows.map((r) => [r.key, { value: fileForm(r.opt, r.value), source: r.source, from: r.from, flag: flagOf(r.key), env: envOf(r.key) }])),
      credentials,
      problems: resolution.problems,
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    const out: string[] = [
      `# sdata-sync ${name}: effective configuration (flags > environment > ${file ? file.path : 'config file (none: --config or ' + CONFIG_ENV + ')'} > defaults)`,
    ];
    const cells = rows.map((r) => [r.key, r.value === undefined ? '-' : r.opt.show(r.value as never), r.source ?? 'unset', r.from ?? '']);
    const w = [0, 1, 2].map((i) => Math.max(...cells.map((c) => c[i]!.length)));
    for (const c of cells) out.push(`${c[0]!.padEnd(w[0]!)}  ${c[1]!.padEnd(w[1]!)}  ${c[2]!.padEnd(w[2]!)}  ${c[3]}`.trimEnd());
    const names = Object.keys(credentials);
    if (names.length > 0) out.push(`# credentials (values never shown): ${names.map((n) => `${n} ${credentials[n]}`).join(', ')}`);
    for (const p of resolution.problems) out.push(`# problem: ${p}`);
    process.stdout.write(`${out.join('\n')}\n`);
  }
  return resolution.problems.length > 0 ? EXIT.USAGE : EXIT.OK;
}
