import { parseArgs, type ParseArgsConfig } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { SdataError } from '../protocol/errors.ts';
import { DEFAULT_MAX_ENTRY_BYTES } from '../xml/feed-types.ts';

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

/**
 * `--max-entry-bytes`, checked against this process's V8 heap. The reader holds one entry at a time (its pieces,
 * then the joined text: up to twice the bytes as UTF-16), so the need is ~3x the cap plus a working set. Measured:
 * three 16 MiB entries (two-byte text) pass through plan with the old generation capped at 48 MiB; the bin caps it
 * at 64 (bin/sdata-sync.mjs) so that memory stays flat. Larger caps need a larger heap, asked for by running node
 * with --max-old-space-size.
 */
export function parseEntryCap(text: string | undefined): number {
  const n = text === undefined ? DEFAULT_MAX_ENTRY_BYTES : parseSize(text, '--max-entry-bytes');
  const limitMiB = Math.floor(getHeapStatistics().heap_size_limit / 2 ** 20);
  const needMiB = Math.ceil((3 * n) / 2 ** 20) + 32;
  if (needMiB > limitMiB) {
    throw new SdataError('SDATA_E_USAGE', `--max-entry-bytes ${text ?? `${n} (the default)`}: entries that large need about ${needMiB} MiB of heap and this process has ${limitMiB} MiB; ` +
      `run it with a larger one: node --max-old-space-size=${needMiB} "$(command -v sdata-sync)" …`);
  }
  return n;
}

export function parseCount(text: string, flag: string, min = 1): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new SdataError('SDATA_E_USAGE', `${flag}: '${text}' is not a whole number ≥ ${min}`);
  return n;
}
