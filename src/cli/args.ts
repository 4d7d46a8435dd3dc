import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SdataError } from '../protocol/errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs with our error type, so a bad flag exits with the usage code and a clear message. */
export function parse<O extends Options>(argv: string[], options: O, command: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new SdataError('SDATA_E_USAGE', `${command}: ${(e as Error).message} (see 'sdata-sync ${command} --help')`);
  }
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3 };

/** `8MiB`, `16MB`, `65536` → bytes. */
export function parseSize(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new SdataError('SDATA_E_USAGE', `${flag}: '${text}' is not a size (e.g. 8MiB, 65536)`);
  const n = Math.floor(Number(m[1]) * unit);
  if (n < 1) throw new SdataError('SDATA_E_USAGE', `${flag}: must be at least 1 byte`);
  return n;
}

export function parseCount(text: string, flag: string, min = 1): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new SdataError('SDATA_E_USAGE', `${flag}: '${text}' is not a whole number ≥ ${min}`);
  return n;
}
