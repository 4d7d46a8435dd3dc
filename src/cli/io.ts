import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { SdataError } from '../protocol/errors.ts';

/** A file as a byte stream, with a clear SDATA_E_IO error naming the file if it cannot be opened. */
export async function openInput(path: string): Promise<AsyncIterable<Uint8Array>> {
  try {
    const s = await stat(path);
    if (s.isDirectory()) throw new Error('is a directory');
  } catch (e) {
    throw new SdataError('SDATA_E_IO', `${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { source: path, cause: e });
  }
  return createReadStream(path, { highWaterMark: 64 * 1024 });
}

/** Write a diagnostic line to stderr (stdout carries data only). */
export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}
