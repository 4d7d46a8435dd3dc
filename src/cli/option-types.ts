/**
 * The value types of command-line options, and the builders commands.ts declares options with. One validation per
 * type, whichever layer a value comes from: a flag or an environment variable gives text, the --config file gives
 * JSON (where `500` and `"500"` are both a whole number). The checks are valibot schemas: one schema per option
 * validates the three layers alike, and an issue's path names the key of the file it came from (config.ts). A schema
 * is built when first used, from the valibot module its caller loaded: a command run with no value to check (`plan`
 * on a pipe) loads no valibot at all.
 *
 * An option's name is its config key (camelCase); its flag and its environment variable are derived from it
 * (flagOf, envOf), so that the three cannot drift apart.
 */
import type * as V from 'valibot';
import { redactUrl } from '../http/url.ts';

/** The valibot module, loaded by config.ts when there is a value to check. */
export type Valibot = typeof V;
type Schema<T> = V.GenericSchema<unknown, T>;

export type OptionType = 'string' | 'int' | 'number' | 'size' | 'duration' | 'bool' | 'enum' | 'list' | 'url' | 'path';

/** What a declaration says besides its type. */
export interface OptionSpec<T> {
  /** One line for --help and the README reference. */
  help: string;
  /** The value's name in help (`--digest FILE`); the type gives a sensible one. */
  arg?: string;
  /** One letter: `-q` for --quiet. */
  short?: string;
  default?: T;
  /** Shown as the default when the value is decided later (by the store, the CPU count, the terminal). */
  defaultText?: string;
  /** The command cannot run without it: a missing value is a usage error naming the flag, variable and key. */
  required?: boolean;
  /** A flag only: no environment variable, no key in the --config file (the `config` command's own switches). */
  cliOnly?: boolean;
  /** A check beyond the type (a value the type admits but this option does not); returns what is wrong. */
  check?(value: T): string | undefined;
}

export interface Opt<T = unknown> extends OptionSpec<T> {
  readonly type: OptionType;
  /** What a valid value is, as the error messages and the reference say it: "a whole number ≥ 1". */
  readonly expected: string;
  /** The schema that validates and converts one value, text or JSON (built once, on first use). */
  readonly schema: (v: Valibot) => Schema<T>;
  /** A value as a user would write it (8MiB, 10s): help, `config --print`. */
  show(value: T): string;
  /** Lists: repeatable on the command line (`--kind a --kind b`), and comma-separated anywhere. */
  readonly repeatable?: boolean;
  /** Enums: the allowed values. */
  readonly choices?: readonly string[];
}

/** The value an option gives a command: present when it has a default or is required, else maybe undefined. */
export type ValueOf<O> = O extends Opt<infer T> ? (O extends { readonly default: unknown } | { readonly required: true } ? T : T | undefined) : never;

// --- names -------------------------------------------------------------------------------------------------------

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** `chunkEntries` → `--chunk-entries`. */
export const flagOf = (key: string): string => `--${kebab(key)}`;

/** `chunkEntries` → `SDATA_SYNC_CHUNK_ENTRIES`. */
export const envOf = (key: string): string => `${ENV_PREFIX}${kebab(key).replace(/-/g, '_').toUpperCase()}`;

export const ENV_PREFIX = 'SDATA_SYNC_';

// --- text forms --------------------------------------------------------------------------------------------------

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3 };

/** `8MiB`, `16MB`, `65536` → bytes; undefined when it is not a size. */
export function sizeFromText(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  return m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : undefined;
}

export function showSize(bytes: number): string {
  for (const [unit, n] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return String(bytes);
}

const TIME: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `10s`, `2m`, `1h`, or a bare number in `bare` units → milliseconds; undefined when it is not one. */
function durationFromText(text: string, bare: 'ms' | 's'): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  return m ? Math.round(Number(m[1]) * TIME[m[2] ?? bare]!) : undefined;
}

export function showDuration(ms: number): string {
  for (const [unit, n] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= n && ms % n === 0) return `${ms / n}${unit}`;
  }
  return `${ms}ms`;
}

// --- builders ----------------------------------------------------------------------------------------------------

function declare<T, S extends OptionSpec<T>>(type: OptionType, expected: string, build: (v: Valibot) => Schema<T>, show: (value: T) => string, spec: S, extra: Partial<Opt<T>> = {}): Opt<T> & S {
  let built: Schema<T> | undefined;
  const schema = (v: Valibot): Schema<T> => (built ??= build(v));
  return { ...spec, ...extra, type, expected, schema, show };
}

/** A number given as JSON, or as text that is one (`v.transform(Number)` alone would take '' for 0). */
const numeric = (v: Valibot, message: string, text: RegExp): Schema<number> =>
  v.union([v.number(message), v.pipe(v.string(message), v.trim(), v.regex(text, message), v.transform(Number))], message);

const bounds = (min: number | undefined, max: number | undefined, show: (n: number) => string): string =>
  min !== undefined && max !== undefined ? (max - min === 1 ? `${show(min)} or ${show(max)}` : `within ${show(min)}..${show(max)}`)
    : min !== undefined ? `≥ ${show(min)}` : max !== undefined ? `≤ ${show(max)}` : '';

const ranged = <T extends number>(v: Valibot, s: Schema<T>, message: string, min?: number, max?: number): Schema<T> =>
  v.pipe(s, v.check((n) => Number.isFinite(n) && (min === undefined || n >= min) && (max === undefined || n <= max), message));

interface IntSpec extends OptionSpec<number> { min?: number; max?: number }

export function int<const S extends IntSpec>(spec: S): Opt<number> & S {
  const expected = spec.min !== undefined && spec.max !== undefined && spec.max - spec.min === 1
    ? bounds(spec.min, spec.max, String) : `a whole number${bounds(spec.min, spec.max, String) ? ` ${bounds(spec.min, spec.max, String)}` : ''}`;
  const schema = (v: Valibot): Schema<number> => ranged(v, v.pipe(numeric(v, expected, /^[+-]?\d+$/), v.safeInteger(expected)), expected, spec.min, spec.max);
  return declare('int', expected, schema, String, { arg: 'N', ...spec });
}

interface NumberSpec extends OptionSpec<number> { min?: number; max?: number }

export function number<const S extends NumberSpec>(spec: S): Opt<number> & S {
  const expected = `a number${bounds(spec.min, spec.max, String) ? ` ${bounds(spec.min, spec.max, String)}` : ''}`;
  return declare('number', expected, (v) => ranged(v, numeric(v, expected, /^[+-]?(\d+\.?\d*|\.\d+)$/), expected, spec.min, spec.max), String, { arg: 'R', ...spec });
}

interface SizeSpec extends OptionSpec<number> { min?: number }

/** Bytes: `8MiB`, `16MB`, `64k`, `65536` (JSON: a number of bytes, or the same text). */
export function size<const S extends SizeSpec>(spec: S): Opt<number> & S {
  const min = spec.min ?? 1;
  const expected = `a size such as 8MiB, 16MB or 65536${min > 1 ? ` (≥ ${showSize(min)})` : ''}`;
  const schema = (v: Valibot): Schema<number> => {
    const text = v.pipe(v.string(expected), v.rawTransform<string, number>(({ dataset, addIssue, NEVER }) => {
      const n = sizeFromText(dataset.value);
      if (n === undefined) {
        addIssue({ message: expected });
        return NEVER;
      }
      return n;
    }));
    return ranged(v, v.union([v.pipe(v.number(expected), v.integer(expected)), text], expected), expected, min);
  };
  return declare('size', expected, schema, showSize, { arg: 'SIZE', ...spec });
}

interface DurationSpec extends OptionSpec<number> { min?: number; /** The unit of a bare number (what the option took before units). */ bare: 'ms' | 's' }

/** Milliseconds, written `500ms`, `10s`, `2m`, `1h`, or as a bare number in the option's `bare` unit. */
export function duration<const S extends DurationSpec>(spec: S): Opt<number> & S {
  const min = spec.min ?? 1;
  const expected = `a duration such as ${spec.bare === 'ms' ? '500 (ms), 500ms' : '30 (s)'}, 10s or 2m${min !== 1 ? ` (≥ ${showDuration(min)})` : ''}`;
  const schema = (v: Valibot): Schema<number> => {
    const fromText = v.pipe(v.string(expected), v.rawTransform<string, number>(({ dataset, addIssue, NEVER }) => {
      const n = durationFromText(dataset.value, spec.bare);
      if (n === undefined) {
        addIssue({ message: expected });
        return NEVER;
      }
      return n;
    }));
    const fromNumber = v.pipe(v.number(expected), v.minValue(0, expected), v.transform((n: number) => Math.round(n * TIME[spec.bare]!)));
    return ranged(v, v.union([fromNumber, fromText], expected), expected, min);
  };
  return declare('duration', expected, schema, showDuration, { arg: spec.bare === 'ms' ? 'MS' : 'SECONDS', ...spec });
}

const BOOL_TEXT = { 1: true, true: true, 0: false, false: false } as const;

/** A switch: `--strict` (and `--no-strict` to turn off what the environment or the file turned on); 1/0/true/false. */
export function bool<const S extends OptionSpec<boolean>>(spec: S): Opt<boolean> & S {
  const expected = 'true, false, 1 or 0';
  const schema = (v: Valibot): Schema<boolean> =>
    v.union([v.boolean(expected), v.pipe(v.string(expected), v.trim(), v.toLowerCase(), v.picklist(['1', '0', 'true', 'false'], expected), v.transform((s) => BOOL_TEXT[s]))], expected);
  return declare('bool', expected, schema, String, spec);
}

export function choice<const C extends readonly string[], const S extends OptionSpec<C[number]>>(choices: C, spec: S): Opt<C[number]> & S {
  const expected = `one of ${choices.join(', ')}`;
  const schema = (v: Valibot): Schema<C[number]> => v.pipe(v.string(expected), v.trim(), v.picklist(choices, expected));
  return declare('enum', expected, schema, String, { arg: choices.join('|'), ...spec }, { choices });
}

interface ListSpec extends OptionSpec<string[]> { item?: { pattern: RegExp; what: string } }

/** Names, comma-separated (`a,b`), repeatable on the command line; a JSON array in the file. */
export function list<const S extends ListSpec>(spec: S): Opt<string[]> & S {
  const expected = `a comma-separated list${spec.item ? ` of ${spec.item.what}` : ''}`;
  const items = (xs: string[]): string[] => xs.flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '');
  const schema = (v: Valibot): Schema<string[]> => v.pipe(
    v.union([v.pipe(v.string(expected), v.transform((s) => [s])), v.array(v.string(expected), expected)], expected),
    v.transform(items),
    v.minLength(1, expected),
    v.check((xs) => !spec.item || xs.every((x) => spec.item!.pattern.test(x)), expected),
  );
  return declare('list', expected, schema, (xs) => xs.join(','), { arg: 'LIST', ...spec }, { repeatable: true });
}

interface StringSpec extends OptionSpec<string> { pattern?: { re: RegExp; what: string } }

export function string<const S extends StringSpec>(spec: S): Opt<string> & S {
  const expected = spec.pattern ? spec.pattern.what : 'a non-empty text';
  const schema = (v: Valibot): Schema<string> =>
    v.pipe(v.string(expected), v.trim(), v.nonEmpty(expected), v.check((s) => !spec.pattern || spec.pattern.re.test(s), expected));
  return declare('string', expected, schema, String, { arg: 'NAME', ...spec });
}

/** A file or directory name; relative names are relative to the working directory, wherever they were given. */
export function path<const S extends OptionSpec<string>>(spec: S): Opt<string> & S {
  const expected = 'a file name';
  return declare('path', expected, (v) => v.pipe(v.string(expected), v.nonEmpty(expected)), String, { arg: 'FILE', ...spec });
}

const CREDENTIALS_IN_URL = 'credentials in URLs are refused (they would end up in logs and shell history); use the SDATA_SOURCE_* or SDATA_TARGET_* variables';

/** An absolute http(s) URL without credentials in it. */
export function url<const S extends OptionSpec<string>>(spec: S): Opt<string> & S {
  const expected = 'an absolute http(s) URL';
  const schema = (v: Valibot): Schema<string> => v.pipe(
    v.string(expected), v.trim(), v.regex(/^https?:\/\/[^/?#\s]+/i, expected), v.url(expected),
    v.check((s) => !/^https?:\/\/[^/?#]*@/i.test(s), CREDENTIALS_IN_URL),
  );
  return declare('url', expected, schema, redactUrl, { arg: 'URL', ...spec });
}

/** A positional argument: an option's type and help, placed by position. */
export interface ArgDecl<T = unknown> {
  /** Its name in usage lines: N, URL, PAGE.xml. */
  name: string;
  opt: Opt<T>;
  required?: boolean;
  /** Takes every remaining argument (last only). */
  variadic?: boolean;
}

export type ArgValueOf<A> = A extends ArgDecl<infer T> ? (A extends { variadic: true } ? T[] : A extends { required: true } ? T : T | undefined) : never;

export function arg<T, const A extends Omit<ArgDecl<T>, 'opt'>>(opt: Opt<T>, a: A): A & { opt: Opt<T> } {
  return { ...a, opt };
}
