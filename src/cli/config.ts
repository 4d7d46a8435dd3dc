/**
 * A command's effective options, from four layers: flags > environment (SDATA_SYNC_<OPTION>) > the --config file
 * (its section for the command) > the declared default. Every value goes through its option's one schema
 * (option-types.ts), and every message names where the bad value was: the flag, the variable, or the file and key.
 *
 * The file is JSON, one section per command, each key an option of that command (its config key):
 *   { "run": { "source": "https://crm.example.com/sdata/crm/crm/-", "chunkEntries": 500 }, "serve": { "port": 8080 } }
 * so one file (a Kubernetes ConfigMap) can serve several commands. The whole file is checked whichever command
 * reads it: an unknown section or key is an error, with the name it was probably meant to be. Credentials are never
 * read from it (nor from flags): only from their SDATA_SOURCE_* / SDATA_TARGET_* variables.
 */
import { readFile } from 'node:fs/promises';
import { SdataError } from '../protocol/errors.ts';
import { V8_DEFAULTS_ENV } from '../engine/heap.ts';
import { COMMAND_NAMES, COMMANDS, CONFIG_ENV, credentialsNote, type CommandDecl, type CommandName } from './commands.ts';
import { fileStep } from './common.ts';
import { ENV_PREFIX, envOf, flagOf, type Opt, type Valibot } from './option-types.ts';
import { redactUrl } from '../http/url.ts';

export type Layer = 'flag' | 'env' | 'file' | 'default';

/** Where a value came from. */
export interface Origin {
  layer: Layer;
  /** `--chunk-entries`, `SDATA_SYNC_CHUNK_ENTRIES`, `config.json: run.chunkEntries`, or the flag for a default. */
  where: string;
  /** The value as it was written (text, or JSON from the file). */
  raw: unknown;
}

export interface Resolution {
  values: Record<string, unknown>;
  origins: Record<string, Origin | undefined>;
  /** With `lenient` only (config --print): what would stop the command (a required option missing, a conflict). */
  problems: string[];
}

export interface ConfigFile {
  path: string;
  sections: Partial<Record<CommandName, Record<string, unknown>>>;
}

const usage = (message: string): SdataError => new SdataError('SDATA_E_USAGE', message);

let valibot: Promise<Valibot> | undefined;
/** valibot, loaded when a value is to be checked: `plan` with nothing to check does without (start-up time). */
export function loadValibot(): Promise<Valibot> {
  return (valibot ??= import('valibot'));
}

/** Options a command takes from the environment and the file (all but the command line's own switches). */
export function layeredKeys(decl: CommandDecl): string[] {
  return Object.entries(decl.options).filter(([, o]) => !o.cliOnly).map(([k]) => k);
}

/** `--max-entry-bytes 64MiB`, `SDATA_SYNC_RUN_NAME=nightly`, `config.json: run.chunkEntries = 500`. */
export function labelOf(key: string, o: Origin | undefined, opt: Opt): string {
  if (!o) return flagOf(key);
  switch (o.layer) {
    case 'flag': return opt.type === 'bool' ? o.where : `${o.where} ${String(o.raw)}`;
    case 'env': return `${o.where}=${String(o.raw)}`;
    case 'file': return `${o.where} = ${JSON.stringify(o.raw)}`;
    case 'default': return `${o.where} ${opt.show(o.raw)} (the default)`;
  }
}

const CREDENTIAL_WORD = /token|passw|secret|user|credential|apikey|bearer/i;

function shown(raw: unknown, opt: Opt): string {
  const text = JSON.stringify(opt.type === 'url' && typeof raw === 'string' ? redactUrl(raw) : raw) ?? String(raw);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/** One value through its option's schema: the value, or what is wrong with it (for a message that says where). */
export function parseValue(v: Valibot, opt: Opt, raw: unknown): { value: unknown } | { problem: string } {
  const r = v.safeParse(opt.schema(v), raw);
  if (r.success) return { value: r.output };
  const m = r.issues[0].message;
  return { problem: m === opt.expected ? `expected ${m}, got ${shown(raw, opt)}` : m };
}

function fileSchema(v: Valibot): ReturnType<Opt<ConfigFile['sections']>['schema']> {
  const sections: Record<string, ReturnType<Opt['schema']>> = {};
  for (const name of COMMAND_NAMES) {
    const keys = layeredKeys(COMMANDS[name]);
    if (keys.length === 0) continue;
    const opts = COMMANDS[name].options as Record<string, Opt>;
    sections[name] = v.optional(v.strictObject(Object.fromEntries(keys.map((k) => [k, v.optional(opts[k]!.schema(v))]))));
  }
  return v.strictObject(sections);
}

/** Reads and checks a --config file whole: every section, every key, every value. `from` names where the path came from. */
export async function readConfigFile(path: string, from = '--config'): Promise<ConfigFile> {
  const text = await fileStep(`${from} ${path}`, 'read', () => readFile(path, 'utf8'));
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw usage(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw usage(`${path}: expected an object with a section per command, e.g. {"run": {"chunkEntries": 500}}`);
  }
  const v = await loadValibot();
  const r = v.safeParse(fileSchema(v), doc);
  // The values as written: resolve() checks each again (the same schema), and keeps them for `config --print`.
  if (r.success) return { path, sections: doc };
  const issue = r.issues[0];
  const keys = (issue.path ?? []).map((p) => String(p.key));
  const at = `${path}: ${keys.join('.')}`;
  if (issue.type === 'strict_object' && issue.expected === 'never') {
    const bad = keys.at(-1)!;
    const { didYouMean } = await import('./suggest.ts'); // errors only: not loaded on the way to a command
    if (keys.length === 1) {
      const known = COMMAND_NAMES.filter((n) => layeredKeys(COMMANDS[n]).length > 0);
      throw usage(`${at}: not a command with options${didYouMean(bad, known)}; sections are ${known.join(', ')}`);
    }
    if (CREDENTIAL_WORD.test(bad)) throw usage(`${at}: ${credentialsNote(keys[0] as CommandName)}, never from a file`);
    throw usage(`${at}: no such option of '${keys[0]}'${didYouMean(bad, layeredKeys(COMMANDS[keys[0] as CommandName]))}`);
  }
  if (keys.length === 1) throw usage(`${at}: expected an object of options, got ${JSON.stringify(issue.input)}`);
  const opt = (COMMANDS[keys[0] as CommandName].options as Record<string, Opt>)[keys[1]!]!;
  const raw = (doc as Record<string, Record<string, unknown>>)[keys[0]!]![keys[1]!];
  throw usage(issue.message === opt.expected ? `${at}: expected ${opt.expected}, got ${shown(raw, opt)}` : `${at}: ${issue.message}`);
}

/** Every SDATA_SYNC_* variable must name an option of some command: a typo is an error, not silently ignored. */
export async function checkEnvNames(env: NodeJS.ProcessEnv): Promise<void> {
  const ours = Object.keys(env).filter((n) => n.startsWith(ENV_PREFIX) && env[n] !== undefined);
  if (ours.length === 0) return;
  const known = new Set<string>([CONFIG_ENV, V8_DEFAULTS_ENV]);
  for (const name of COMMAND_NAMES) for (const k of layeredKeys(COMMANDS[name])) known.add(envOf(k));
  for (const name of ours) {
    if (known.has(name)) continue;
    if (CREDENTIAL_WORD.test(name.slice(ENV_PREFIX.length))) throw usage(`${name}: credentials are read from their own variables (SDATA_SOURCE_*, SDATA_TARGET_*, SDATA_SERVE_*), never from SDATA_SYNC_*`);
    const { didYouMean } = await import('./suggest.ts');
    throw usage(`${name}: no command has this option${didYouMean(name, known)}`);
  }
}

/** The config file a command reads, and what named it: --config, else SDATA_SYNC_CONFIG, else none. */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv): { path: string; from: string } | undefined {
  if (flag !== undefined) return { path: flag, from: '--config' };
  const e = env[CONFIG_ENV];
  return e ? { path: e, from: CONFIG_ENV } : undefined;
}

/**
 * A command's options from the four layers. `flags` holds what the command line gave (text, string lists for
 * repeatable options, booleans for switches); an empty environment variable counts as unset.
 */
export async function resolve(name: CommandName, flags: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv, file?: ConfigFile, lenient = false): Promise<Resolution> {
  const decl: CommandDecl = COMMANDS[name];
  const values: Record<string, unknown> = {};
  const origins: Record<string, Origin | undefined> = {};
  const problems: string[] = [];
  const problem = (message: string): void => {
    if (!lenient) throw usage(message);
    problems.push(message);
  };
  const section = file?.sections[name] ?? {};
  for (const [key, opt] of Object.entries(decl.options)) {
    const e = opt.cliOnly ? undefined : env[envOf(key)];
    let o: Origin | undefined;
    if (flags[key] !== undefined) o = { layer: 'flag', where: opt.type === 'bool' && flags[key] === false ? `--no-${flagOf(key).slice(2)}` : flagOf(key), raw: flags[key] };
    else if (e !== undefined && e !== '') o = { layer: 'env', where: envOf(key), raw: e };
    else if (!opt.cliOnly && section[key] !== undefined) o = { layer: 'file', where: `${file!.path}: ${name}.${key}`, raw: section[key] };
    else if (opt.default !== undefined) o = { layer: 'default', where: flagOf(key), raw: opt.default };
    origins[key] = o;
    if (!o) continue;
    let value = o.raw;
    if (o.layer !== 'default') {
      const r = parseValue(await loadValibot(), opt, o.raw);
      if ('problem' in r) throw usage(`${o.where}: ${r.problem}`);
      value = r.value;
    }
    const wrong = opt.check?.(value);
    if (wrong) throw usage(`${labelOf(key, o, opt)}: ${wrong}`);
    values[key] = value;
  }
  // Missing ones after every given value was checked: a wrong value is the more precise thing to say.
  for (const [key, opt] of Object.entries(decl.options)) {
    if (opt.required && values[key] === undefined) {
      problem(`${flagOf(key)} is required${opt.cliOnly ? '' : ` (or ${envOf(key)}, or "${key}" in the "${name}" section of --config)`}`);
    }
  }
  const given = (k: string): boolean => origins[k] !== undefined && origins[k].layer !== 'default';
  const label = (k: string): string => labelOf(k, origins[k], decl.options[k]!);
  for (const group of decl.exclusive ?? []) {
    const set = group.filter(given);
    if (set.length > 1) problem(`${set.map(label).join(' and ')} exclude each other`);
  }
  for (const [k, needed] of Object.entries(decl.needs ?? {})) {
    if (given(k) && values[needed] === undefined) problem(`${label(k)} needs ${flagOf(needed)}`);
  }
  return { values, origins, problems };
}
