/**
 * The words that --help (commander-program.ts) and README's command reference (reference.ts) share, from the
 * declarations: how a flag, a default and a usage line are written, and the notes every help ends with.
 */
import { EXIT_LINE, type CommandDecl } from './commands.ts';
import { flagOf, type ArgDecl, type Opt } from './option-types.ts';

export const CONFIG_NOTE = 'Every option can also be set as SDATA_SYNC_<OPTION> in the environment (--chunk-entries: SDATA_SYNC_CHUNK_ENTRIES) ' +
  'or in a --config FILE (JSON, a section per command: {"run": {"chunkEntries": 500}}). Flags win over the environment, ' +
  "the environment over the file. 'sdata-sync config --print --command NAME' shows where each value comes from.";

export const ROOT_NOTE = `Run 'sdata-sync <command> --help' for a command's options.\n\n${CONFIG_NOTE}\n\n${EXIT_LINE}`;

/** `default 8MiB`, `default: the store's, or 'hub'`, `required`, or nothing. */
export function defaultNote(opt: Opt): string {
  if (opt.required) return 'required';
  if (opt.default !== undefined) return `default ${opt.show(opt.default)}`;
  return opt.defaultText === undefined ? '' : `default: ${opt.defaultText}`;
}

/** The flag as usage lines show it: `-q, --quiet`, `--digest FILE`. */
export function flagText(key: string, opt: Opt): string {
  return `${opt.short ? `-${opt.short}, ` : ''}${flagOf(key)}${opt.type === 'bool' ? '' : ` ${opt.arg ?? 'VALUE'}`}`;
}

/** `N [options]`, `--source URL --target URL [options]`: required flags, the arguments, then `[options]`. */
export function usageLine(decl: CommandDecl): string {
  const required = Object.entries(decl.options).filter(([, o]) => o.required).map(([k, o]) => flagText(k, o));
  const args = Object.values<ArgDecl>(decl.args ?? {}).map((a) => (a.required ? a.name : `[${a.name}${a.variadic ? ' ...' : ''}]`));
  return [...required, ...args, '[options]'].join(' ');
}

/** Notes after a command's options: the configuration note (not for `config` itself), then the command's own. */
export function commandNotes(name: string, decl: CommandDecl): string {
  return [name === 'config' ? undefined : CONFIG_NOTE, decl.notes].filter((n) => n !== undefined).join('\n\n');
}
